//! The subcommands: read scenario files, run them through the core (on many threads
//! for sweeps and comparisons), and print what the core produced. Nothing here
//! simulates or computes a figure; every number comes from `hasim_sim::report` and
//! `hasim_sim::sweep`.

use std::path::{Path, PathBuf};

use hasim_sim::SimTime;
use hasim_sim::report::{self, Report, ScenarioInfo};
use hasim_sim::scenario::{self, Loaded, Scenario};
use hasim_sim::sweep::{self, CompareReport, RunSummary, SeedRange, Shard, SweepReport};

use crate::output::{self, Destination, say};
use crate::{Failure, Format, crash, parallel, progress};

/// A scenario file as read and validated.
struct Source {
    loaded: Loaded,
    text: String,
}

/// Which seeds to run, and on how many threads.
pub struct Seeds {
    pub count: u64,
    pub first: Option<u64>,
    pub jobs: Option<u64>,
}

/// Reads and validates one scenario file; warnings go to stderr at once, errors come
/// back to be rendered by `main`.
fn load(path: &Path) -> Result<Source, Failure> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Failure::bad(format!("cannot read {name}: {e}")))?;
    // Not UTF-8: say where, rather than guess at an encoding.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            return Err(Failure::bad(format!(
                "{name}:{line}:{column}: not UTF-8 text (a scenario is a YAML text file)"
            )));
        }
    };
    match scenario::load(&name, &text) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                output::warning(&w.to_string());
            }
            Ok(Source { loaded, text })
        }
        Err(errors) => Err(Failure::BadInput(errors.iter().map(|e| e.to_string()).collect())),
    }
}

impl Source {
    /// The configuration to run: the scenario itself, or the variant asked for. A file
    /// with variants needs one named.
    fn configuration(&self, variant: Option<&str>) -> Result<(ScenarioInfo, Scenario), Failure> {
        let s = &self.loaded.scenario;
        let file = &self.loaded.file;
        let chosen = match variant {
            Some(v) => s.variant(v).map_err(|e| Failure::bad(format!("{file}: {e}")))?,
            None if !s.variants.is_empty() => {
                let names: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
                return Err(Failure::bad(format!(
                    "{file} has variants ({}): pick one with --variant NAME, or run them side by side with `hasim compare {file}`",
                    names.join(", ")
                )));
            }
            None => s.clone(),
        };
        Ok((ScenarioInfo::new(file, &self.text, &chosen, variant), chosen))
    }
}

fn run_report(info: ScenarioInfo, s: &Scenario, seed: Option<u64>) -> Report {
    // The report is built inside too: it reads this seed's outcome, so a panic there
    // is as much this run's as one in the simulation.
    let (file, variant) = (info.file.clone(), info.variant.clone());
    crash::simulating(&file, variant.as_deref(), seed.unwrap_or(s.seed), || {
        let mut sim = scenario::build(s, seed).build();
        progress::run_until(&mut sim, SimTime::ZERO + s.duration(), &s.name);
        Report::new(info, s, &sim.finish())
    })
}

pub fn run(
    path: &Path,
    seed: Option<u64>,
    variant: Option<&str>,
    timeline: bool,
    to: &Destination,
) -> Result<(), Failure> {
    to.not_over(&[path.to_path_buf()])?;
    let source = load(path)?;
    let (info, s) = source.configuration(variant)?;
    let r = run_report(info, &s, seed);
    match to.format() {
        Format::Json => to.write(&r.to_json())?,
        Format::Text => to.write(&report::render_text(&r, timeline, to.colour()))?,
    }
    if r.verdict.passed {
        Ok(())
    } else {
        if to.format() == Format::Json {
            output::error(&format!("expectations not met (reproduce with seed={})", r.seed));
        }
        Err(Failure::Unmet)
    }
}

/// `count` seeds from `first`, refused when they would run past the last seed (and
/// wrap around to seed 0, repeating seeds a sweep of the low range also runs).
fn seed_range(first: u64, count: u64) -> Result<SeedRange, Failure> {
    match first.checked_add(count.saturating_sub(1)) {
        Some(_) => Ok(SeedRange { first, count }),
        None => Err(Failure::bad(format!(
            "{count} seeds from seed {first} run past the last seed ({}): give --first-seed {} or lower, or fewer --seeds",
            u64::MAX,
            u64::MAX - (count - 1)
        ))),
    }
}

/// Runs `seeds` of `s` on threads; one summary per seed, in seed order.
fn run_seeds(
    info: &ScenarioInfo,
    s: &Scenario,
    seeds: &[u64],
    jobs: Option<u64>,
    label: &str,
) -> Result<Vec<RunSummary>, Failure> {
    parallel::map_seeds(seeds, jobs, label, |seed| {
        crash::simulating(&info.file, info.variant.as_deref(), seed, || {
            RunSummary::of(s, &scenario::build(s, Some(seed)).run_for(s.duration()))
        })
    })
}

pub fn sweep(
    path: &Path,
    seeds: &Seeds,
    shard: Option<Shard>,
    variant: Option<&str>,
    to: &Destination,
) -> Result<(), Failure> {
    to.not_over(&[path.to_path_buf()])?;
    let source = load(path)?;
    let (info, s) = source.configuration(variant)?;
    let range = seed_range(seeds.first.unwrap_or(s.seed), seeds.count)?;
    let list: Vec<u64> = range.seeds(shard).collect();
    let runs = run_seeds(&info, &s, &list, seeds.jobs, &s.name)?;
    let r = SweepReport::from_runs(info, range, shard, runs);
    print_sweep(&r, to)
}

fn print_sweep(r: &SweepReport, to: &Destination) -> Result<(), Failure> {
    match to.format() {
        Format::Json => to.write(&r.to_json())?,
        Format::Text => to.write(&sweep::render_sweep_text(r, to.colour()))?,
    }
    if r.summary.failed == 0 { Ok(()) } else { Err(Failure::Unmet) }
}

/// `file:line:column: not a <what> (<why>)<hint>` for JSON that does not read as `what`.
fn not_a(name: &str, e: &serde_json::Error, what: &str, hint: &str) -> Failure {
    // serde_json ends its message with the place, which comes first here.
    let why = e.to_string();
    let why = why.rsplit_once(" at line ").map_or(why.as_str(), |(head, _)| head);
    Failure::bad(format!("{name}:{}:{}: not a {what} ({why}){hint}", e.line(), e.column()))
}

pub fn merge(paths: &[PathBuf], to: &Destination) -> Result<(), Failure> {
    to.not_over(paths)?;
    let mut parts = Vec::new();
    for p in paths {
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p).map_err(|e| Failure::bad(format!("cannot read {name}: {e}")))?;
        let part: SweepReport = serde_json::from_str(&text).map_err(|e| {
            not_a(&name, &e, "sweep report", "; write shards with `hasim sweep --shard I/N --format json -o FILE`")
        })?;
        parts.push((name, part));
    }
    let merged = sweep::merge(parts).map_err(|e| Failure::bad(e.to_string()))?;
    print_sweep(&merged, to)
}

pub fn compare(paths: &[PathBuf], seeds: &Seeds, to: &Destination) -> Result<(), Failure> {
    to.not_over(paths)?;
    let mut sources = Vec::new();
    for p in paths {
        sources.push(load(p)?);
    }
    let many_files = sources.len() > 1;
    let mut configurations: Vec<(String, ScenarioInfo, Scenario)> = Vec::new();
    for src in &sources {
        let s = &src.loaded.scenario;
        for (variant, _) in s.configurations() {
            let (info, chosen) = src.configuration(variant.as_deref())?;
            let label = match &variant {
                Some(v) if many_files => format!("{}/{v}", s.name),
                Some(v) => v.clone(),
                None => s.name.clone(),
            };
            configurations.push((label, info, chosen));
        }
    }
    if configurations.len() < 2 {
        return Err(Failure::bad(
            "compare needs two configurations or more: give several files, or a file with `variants:`",
        ));
    }
    let first = seeds.first.unwrap_or(configurations[0].2.seed);
    let range = seed_range(first, seeds.count)?;
    let list: Vec<u64> = range.seeds(None).collect();
    let mut entries = Vec::new();
    for (label, info, s) in configurations {
        let runs = run_seeds(&info, &s, &list, seeds.jobs, &label)?;
        entries.push((label, info, runs));
    }
    let r = CompareReport::new(range, entries);
    match to.format() {
        Format::Json => to.write(&r.to_json())?,
        Format::Text => to.write(&sweep::render_compare_text(&r, to.colour()))?,
    }
    // As a sweep does: a comparison is a run of expectations too, and CI reads the code.
    if r.variants.iter().all(|v| v.summary.failed == 0) { Ok(()) } else { Err(Failure::Unmet) }
}

/// The scenario files named by `paths`: files as given, directories' *.yaml sorted.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Failure::bad(format!("cannot read directory {}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Failure::bad(format!("{} holds no *.yaml scenario files", p.display())));
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

pub fn check(paths: &[PathBuf], junit: Option<&Path>) -> Result<(), Failure> {
    let files = scenario_files(paths)?;
    // Every scenario runs before the XML is written: a place it cannot go should not
    // take that long to find out.
    if let Some(path) = junit {
        output::not_over(path, &files)?;
        output::check_writable(path)?;
    }
    let (mut bad, mut unmet, mut passed, mut crashed) = (0, 0, 0, 0);
    let mut suites = quick_junit::Report::new("hasim check");
    for f in &files {
        let name = f.display().to_string();
        let mut suite = quick_junit::TestSuite::new(name.clone());
        let source = match load(f) {
            Ok(s) => s,
            Err(e) => {
                bad += 1;
                let messages = match e {
                    Failure::BadInput(m) => m,
                    Failure::Unmet | Failure::Crashed => Vec::new(),
                };
                for m in &messages {
                    output::error(m);
                }
                say!("BAD   {name}");
                let status =
                    not_success(quick_junit::NonSuccessKind::Error, "invalid scenario".into(), messages.join("\n"));
                let case = quick_junit::TestCase::new("load", status);
                suite.add_test_case(case);
                suites.add_test_suite(suite);
                continue;
            }
        };
        for (variant, _) in source.loaded.scenario.configurations() {
            let (info, s) = source.configuration(variant.as_deref())?;
            let label = variant.as_deref().map(|v| format!("{name} [{v}]")).unwrap_or_else(|| name.clone());
            let started = std::time::Instant::now();
            // A crash (a bug in hasim) ends this configuration, not the check: the
            // panic hook has printed its note, and the other scenarios still run, so
            // that CI gets a JUnit file that names the crash beside every other result.
            let file = info.file.clone();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_report(info, &s, None)));
            let elapsed = started.elapsed();
            let status = match run {
                Err(payload) => {
                    crashed += 1;
                    let replay = crash::reproduce_command(&file, variant.as_deref(), s.seed);
                    say!("CRASH {label} (reproduce with: {replay})");
                    let message =
                        format!("hasim crashed with seed={}: a bug in hasim (reproduce with: {replay})", s.seed);
                    not_success(quick_junit::NonSuccessKind::Error, message, crash::panic_message(payload.as_ref()))
                }
                Ok(r) if r.expectations.iter().all(|e| e.held) => {
                    passed += 1;
                    say!("ok    {label}");
                    quick_junit::TestCaseStatus::success()
                }
                Ok(r) => {
                    unmet += 1;
                    say!("FAIL  {label} (reproduce with seed={})", r.seed);
                    let mut lines = Vec::new();
                    for e in r.expectations.iter().filter(|e| !e.held) {
                        let line = format!("{} expected {}, was {}", e.name, e.expected, e.actual);
                        say!("      {line}");
                        lines.push(line);
                    }
                    let message = format!("expectations not met (reproduce with seed={})", r.seed);
                    not_success(quick_junit::NonSuccessKind::Failure, message, lines.join("\n"))
                }
            };
            let mut case = quick_junit::TestCase::new(variant.clone().unwrap_or_else(|| s.name.clone()), status);
            case.set_time(elapsed);
            case.set_classname(name.clone());
            suite.add_test_case(case);
        }
        suites.add_test_suite(suite);
    }
    if crashed > 0 {
        say!("{passed} passed, {unmet} failed, {bad} invalid, {crashed} crashed");
    } else {
        say!("{passed} passed, {unmet} failed, {bad} invalid");
    }
    let written = match junit {
        Some(path) => suites
            .to_string()
            .map_err(|e| Failure::bad(format!("cannot write JUnit XML: {e}")))
            .and_then(|xml| output::write_whole(path, xml.as_bytes())),
        None => Ok(()),
    };
    check_verdict(CheckTally { crashed, bad, unmet }, written)
}

/// What `check` found, by kind of trouble.
struct CheckTally {
    crashed: usize,
    bad: usize,
    unmet: usize,
}

/// How `check` ends: a crash outranks bad input (including a JUnit file that could not
/// be written), which outranks an unmet expectation. A crash still reports the write
/// error, as the crash note was already printed.
fn check_verdict(tally: CheckTally, written: Result<(), Failure>) -> Result<(), Failure> {
    match written {
        Err(Failure::BadInput(messages)) if tally.crashed > 0 => {
            for m in messages {
                output::error(&m);
            }
            Err(Failure::Crashed)
        }
        Err(e) => Err(e),
        Ok(()) if tally.crashed > 0 => Err(Failure::Crashed),
        Ok(()) if tally.bad > 0 => Err(Failure::BadInput(Vec::new())),
        Ok(()) if tally.unmet > 0 => Err(Failure::Unmet),
        Ok(()) => Ok(()),
    }
}

/// A JUnit result that is not a pass: a failed expectation or an error (an invalid
/// scenario, a crash), with its one-line message and the full text.
fn not_success(kind: quick_junit::NonSuccessKind, message: String, text: String) -> quick_junit::TestCaseStatus {
    let mut status = quick_junit::TestCaseStatus::non_success(kind);
    if let quick_junit::TestCaseStatus::NonSuccess { message: m, description, .. } = &mut status {
        *m = Some(message.into());
        *description = Some(text.into());
    }
    status
}

/// The terminal UI replaying a fresh run of `path`.
pub fn tui(path: &Path, seed: Option<u64>, variant: Option<&str>) -> Result<(), Failure> {
    need_terminal()?;
    let source = load(path)?;
    let (info, s) = source.configuration(variant)?;
    let r = run_report(info, &s, seed);
    hasim_tui::run_report(r).map_err(|e| Failure::bad(format!("terminal: {e}")))
}

/// The terminal UI on a saved report of any kind (told apart by its `format`).
pub fn tui_report(path: &Path) -> Result<(), Failure> {
    need_terminal()?;
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Failure::bad(format!("cannot read {name}: {e}")))?;
    let bad = |e: serde_json::Error| not_a(&name, &e, "hasim report", "");
    #[derive(serde::Deserialize)]
    struct Kind {
        format: String,
    }
    let kind: Kind = serde_json::from_str(&text).map_err(bad)?;
    let shown = match kind.format.as_str() {
        report::RUN_FORMAT => hasim_tui::run_report(serde_json::from_str(&text).map_err(bad)?),
        sweep::SWEEP_FORMAT => hasim_tui::run_sweep(serde_json::from_str(&text).map_err(bad)?),
        sweep::COMPARE_FORMAT => hasim_tui::run_compare(serde_json::from_str(&text).map_err(bad)?),
        other => {
            return Err(Failure::bad(format!(
                "{name}: a `{other}` document is not a hasim report (expected {}, {} or {})",
                report::RUN_FORMAT,
                sweep::SWEEP_FORMAT,
                sweep::COMPARE_FORMAT
            )));
        }
    };
    shown.map_err(|e| Failure::bad(format!("terminal: {e}")))
}

/// The UI draws on the terminal; refuse early (and clearly) in a pipe or CI log.
fn need_terminal() -> Result<(), Failure> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        Ok(())
    } else {
        Err(Failure::bad(
            "the terminal UI needs a terminal (stdin and stdout); for a pipe or file use `hasim run --format text|json`",
        ))
    }
}

pub fn schema(schema: serde_json::Value) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    say!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(crashed: usize, bad: usize, unmet: usize) -> CheckTally {
        CheckTally { crashed, bad, unmet }
    }

    fn exit_of(r: Result<(), Failure>) -> u8 {
        match r {
            Ok(()) => 0,
            Err(Failure::Unmet) => 1,
            Err(Failure::BadInput(_)) => 2,
            Err(Failure::Crashed) => 101,
        }
    }

    #[test]
    fn a_run_driven_in_steps_for_its_progress_bar_reports_the_same_as_one_run_through() {
        // 95.5 s: the last step is a part of one.
        let text = std::fs::read_to_string("scenarios/stacked-3-lose-one.yaml").unwrap();
        let text = text.replace("duration: 2m", "duration: 95500ms");
        assert!(text.contains("duration: 95500ms"), "the premise: the duration was replaced");
        let loaded = scenario::load("stepped.yaml", &text).expect("a valid scenario");
        let s = &loaded.scenario;
        let info = || ScenarioInfo::new(&loaded.file, &text, s, None);
        for seed in [1, 2] {
            let whole = scenario::build(s, Some(seed)).run_for(s.duration());
            let mut stepped = scenario::build(s, Some(seed)).build();
            progress::run_until(&mut stepped, SimTime::ZERO + s.duration(), "test");
            let (a, b) = (Report::new(info(), s, &whole), Report::new(info(), s, &stepped.finish()));
            assert_eq!(a.to_json(), b.to_json(), "seed={seed}");
        }
    }

    #[test]
    fn a_crash_outranks_a_junit_file_that_could_not_be_written() {
        let unwritable = || Err(Failure::bad("cannot write junit.xml: No space left on device"));
        assert_eq!(exit_of(check_verdict(tally(1, 0, 1), unwritable())), 101);
        assert_eq!(exit_of(check_verdict(tally(0, 0, 1), unwritable())), 2, "bad output outranks a failed expectation");
        assert_eq!(exit_of(check_verdict(tally(1, 1, 1), Ok(()))), 101);
        assert_eq!(exit_of(check_verdict(tally(0, 1, 1), Ok(()))), 2);
        assert_eq!(exit_of(check_verdict(tally(0, 0, 1), Ok(()))), 1);
        assert_eq!(exit_of(check_verdict(tally(0, 0, 0), Ok(()))), 0);
    }
}
