//! Many seeds of one scenario, and several configurations side by side. The core part
//! is single-threaded and order-free: `RunSummary::of` condenses one run, and
//! `SweepReport::from_runs` computes every figure from the runs sorted by seed, so the
//! result does not depend on how many threads produced the runs or in which order
//! (the binary spreads seeds over threads with rayon). Shards of a sweep carry their
//! runs; `merge` joins them and recomputes, which gives exactly the unsharded report.
//!
//! Percentiles are nearest-rank: p_k is the smallest value with at least k % of the
//! samples at or below it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::{Component, Plane, RunOutcome};
use crate::report::text::{Style, seconds};
use crate::report::{PlaneName, ScenarioInfo, dur, round4};
use crate::scenario::Scenario;

pub const SWEEP_FORMAT: &str = "hasim-sweep-report";
pub const COMPARE_FORMAT: &str = "hasim-compare-report";
/// How many of the worst runs a summary names.
pub const WORST: usize = 5;

/// What a sweep keeps of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunSummary {
    pub seed: u64,
    /// Safety and every expectation held.
    pub passed: bool,
    /// Expectations that did not hold (`safety` when an invariant broke).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// Availability ratio per plane that had requests, in `PlaneName` order.
    pub availability: Vec<(PlaneName, f64)>,
    /// Seconds to the slowest answer per plane that had one, in `PlaneName` order.
    #[serde(default)]
    pub slowest: Vec<(PlaneName, f64)>,
    /// Length of every outage, in seconds.
    pub outages: Vec<f64>,
    /// Seconds to recover from each fault that caused an outage.
    pub recovery: Vec<f64>,
    pub leader_changes: u64,
    pub split_brain: SplitCounts,
}

/// How many split-brain windows (or requests) of each kind one run had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SplitCounts {
    pub etcd_leaders: u64,
    pub scheduler: u64,
    pub controller_manager: u64,
    pub stale_reads: u64,
    pub misrouted: u64,
}

impl RunSummary {
    /// Condenses a run of `s`.
    pub fn of(s: &Scenario, out: &RunOutcome) -> RunSummary {
        let results = s.evaluate(out);
        let failed: Vec<String> = results.iter().filter(|r| !r.held).map(|r| r.name.clone()).collect();
        let cp = out.control_plane.as_ref();
        let overlaps = |c: Component| cp.map_or(0, |x| x.overlaps.iter().filter(|o| o.component == c).count()) as u64;
        RunSummary {
            seed: out.seed,
            passed: failed.is_empty(),
            failed,
            availability: cp
                .map(|cp| {
                    Plane::ALL
                        .iter()
                        .map(|&p| (p, cp.plane(p)))
                        .filter(|(_, a)| a.ok + a.failed > 0)
                        .map(|(p, a)| (p.into(), round4(a.ratio())))
                        .collect()
                })
                .unwrap_or_default(),
            slowest: cp
                .map(|cp| {
                    Plane::ALL
                        .iter()
                        .map(|&p| (p, cp.plane(p)))
                        .filter(|(_, a)| a.ok > 0)
                        .map(|(p, a)| (p.into(), dur(a.slowest)))
                        .collect()
                })
                .unwrap_or_default(),
            outages: cp.map(|cp| cp.outages.iter().map(|o| dur(o.end.since(o.start))).collect()).unwrap_or_default(),
            // A fault never recovered from counts as the rest of the run.
            recovery: cp
                .map(|cp| {
                    cp.recovery
                        .iter()
                        .filter_map(
                            |r| if r.ongoing { Some(dur(out.end.since(r.at))) } else { r.recovered_after.map(dur) },
                        )
                        .collect()
                })
                .unwrap_or_default(),
            leader_changes: out.leader_history.len().saturating_sub(1) as u64,
            split_brain: SplitCounts {
                etcd_leaders: out.etcd_overlaps.len() as u64,
                scheduler: overlaps(Component::Scheduler),
                controller_manager: overlaps(Component::ControllerManager),
                stale_reads: cp.map_or(0, |c| c.stale_reads),
                misrouted: cp.map_or(0, |c| c.misrouted.len() as u64),
            },
        }
    }

    pub fn longest_outage(&self) -> f64 {
        self.outages.iter().copied().fold(0.0, f64::max)
    }

    fn ratio(&self, p: PlaneName) -> Option<f64> {
        self.availability.iter().find(|(q, _)| *q == p).map(|(_, r)| *r)
    }

    fn slowest(&self, p: PlaneName) -> Option<f64> {
        self.slowest.iter().find(|(q, _)| *q == p).map(|(_, s)| *s)
    }

    /// Split-brain kinds this run had, by name.
    fn split_kinds(&self) -> Vec<String> {
        let s = &self.split_brain;
        [
            ("etcd_leaders", s.etcd_leaders),
            ("scheduler", s.scheduler),
            ("controller_manager", s.controller_manager),
            ("stale_reads", s.stale_reads),
            ("misrouted", s.misrouted),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, _)| k.to_string())
        .collect()
    }
}

/// Seeds `first`, `first + 1`, … (`count` of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeedRange {
    pub first: u64,
    pub count: u64,
}

impl SeedRange {
    /// The seeds shard `shard` runs (all of them without a shard), in order.
    pub fn seeds(self, shard: Option<Shard>) -> impl Iterator<Item = u64> {
        let (index, of) = shard.map_or((1, 1), |s| (s.index, s.of));
        (0..self.count).filter(move |k| k % of == index - 1).map(move |k| self.first.wrapping_add(k))
    }
}

/// Part `index` (1-based) of `of`: seed number k of the range (0-based) belongs to
/// shard `k % of + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shard {
    pub index: u64,
    pub of: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("`{s}` is not a shard: write I/N with 1 <= I <= N, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let of: u64 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || of == 0 || index > of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// min, percentiles and max of a sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Distribution {
    pub count: u64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Distribution {
    /// None for an empty sample.
    pub fn of(mut values: Vec<f64>) -> Option<Distribution> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let rank = |p: u64| {
            let n = values.len() as u64;
            let k = (p * n).div_ceil(100).max(1);
            values[(k - 1) as usize]
        };
        Some(Distribution {
            count: values.len() as u64,
            min: values[0],
            p50: rank(50),
            p90: rank(90),
            p99: rank(99),
            max: values[values.len() - 1],
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlaneDistribution {
    pub plane: PlaneName,
    pub availability: Distribution,
}

/// How long the slowest answer of one plane took, over the runs in which that plane
/// answered at all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlaneSlowest {
    pub plane: PlaneName,
    /// Seconds from sending to the slowest answer of each run.
    pub slowest: Distribution,
}

/// Share of runs (0–1) that had at least one split-brain window of each kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SplitShares {
    pub etcd_leaders: f64,
    pub scheduler: f64,
    pub controller_manager: f64,
    pub stale_reads: f64,
    pub misrouted: f64,
}

/// One of the worst runs, ready to replay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorstSeed {
    pub seed: u64,
    pub longest_outage: f64,
    /// Write availability (1 when there were no writes).
    pub writes: f64,
    pub split_brain: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// The command that replays it.
    pub replay: String,
}

/// The figures of a set of runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepSummary {
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    /// Runs in which a Raft safety invariant broke (a bug in hasim).
    pub safety_violations: u64,
    /// The longest outage of each run (0 for a run without one), seconds.
    pub longest_outage: Option<Distribution>,
    /// Every outage of every run, seconds.
    pub outage_length: Option<Distribution>,
    /// Every fault's recovery time in every run, seconds.
    pub recovery: Option<Distribution>,
    /// Availability per plane over runs.
    pub availability: Vec<PlaneDistribution>,
    /// The slowest answer per plane over runs: how long a client waited out retries,
    /// Retry-After or a connect timeout and still got its answer.
    #[serde(default)]
    pub slowest_answer: Vec<PlaneSlowest>,
    pub leader_changes: Option<Distribution>,
    pub split_brain: SplitShares,
    /// The worst runs: longest outage first, then lowest write availability.
    pub worst_seeds: Vec<WorstSeed>,
    /// Every seed whose expectations or safety failed.
    pub failed_seeds: Vec<u64>,
}

impl SweepSummary {
    /// The figures of `runs` (in any order). `replay` gives the command for a seed.
    pub fn of(runs: &[RunSummary], replay: &dyn Fn(u64) -> String) -> SweepSummary {
        let mut sorted: Vec<&RunSummary> = runs.iter().collect();
        sorted.sort_by_key(|r| r.seed);
        let n = sorted.len() as u64;
        let share = |has: &dyn Fn(&SplitCounts) -> bool| {
            if n == 0 { 0.0 } else { round4(sorted.iter().filter(|r| has(&r.split_brain)).count() as f64 / n as f64) }
        };
        let mut worst = sorted.clone();
        worst.sort_by(|a, b| {
            b.longest_outage()
                .total_cmp(&a.longest_outage())
                .then(a.ratio(PlaneName::Writes).unwrap_or(1.0).total_cmp(&b.ratio(PlaneName::Writes).unwrap_or(1.0)))
                .then(a.seed.cmp(&b.seed))
        });
        SweepSummary {
            runs: n,
            passed: sorted.iter().filter(|r| r.passed).count() as u64,
            failed: sorted.iter().filter(|r| !r.passed).count() as u64,
            safety_violations: sorted.iter().filter(|r| r.failed.iter().any(|f| f == "safety")).count() as u64,
            longest_outage: Distribution::of(sorted.iter().map(|r| r.longest_outage()).collect()),
            outage_length: Distribution::of(sorted.iter().flat_map(|r| r.outages.iter().copied()).collect()),
            recovery: Distribution::of(sorted.iter().flat_map(|r| r.recovery.iter().copied()).collect()),
            availability: per_plane(&sorted, RunSummary::ratio)
                .map(|(plane, availability)| PlaneDistribution { plane, availability })
                .collect(),
            slowest_answer: per_plane(&sorted, RunSummary::slowest)
                .map(|(plane, slowest)| PlaneSlowest { plane, slowest })
                .collect(),
            leader_changes: Distribution::of(sorted.iter().map(|r| r.leader_changes as f64).collect()),
            split_brain: SplitShares {
                etcd_leaders: share(&|s| s.etcd_leaders > 0),
                scheduler: share(&|s| s.scheduler > 0),
                controller_manager: share(&|s| s.controller_manager > 0),
                stale_reads: share(&|s| s.stale_reads > 0),
                misrouted: share(&|s| s.misrouted > 0),
            },
            worst_seeds: worst
                .iter()
                .take(WORST)
                .map(|r| WorstSeed {
                    seed: r.seed,
                    longest_outage: r.longest_outage(),
                    writes: r.ratio(PlaneName::Writes).unwrap_or(1.0),
                    split_brain: r.split_kinds(),
                    failed: r.failed.clone(),
                    replay: replay(r.seed),
                })
                .collect(),
            failed_seeds: sorted.iter().filter(|r| !r.passed).map(|r| r.seed).collect(),
        }
    }
}

/// For each plane that some run has a figure for, the distribution of that figure.
fn per_plane<'a>(
    runs: &'a [&RunSummary],
    figure: fn(&RunSummary, PlaneName) -> Option<f64>,
) -> impl Iterator<Item = (PlaneName, Distribution)> + 'a {
    PlaneName::ALL
        .into_iter()
        .filter_map(move |p| Distribution::of(runs.iter().filter_map(|r| figure(r, p)).collect()).map(|d| (p, d)))
}

/// What `hasim sweep` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepReport {
    /// Always `hasim-sweep-report`.
    pub format: String,
    pub version: u32,
    pub hasim: String,
    pub scenario: ScenarioInfo,
    pub seeds: SeedRange,
    /// Which part of the seeds this is; absent for a whole sweep (or a merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub summary: SweepSummary,
    /// One line per run, by seed: what `merge` recomputes the summary from.
    pub runs: Vec<RunSummary>,
}

/// The command that replays `seed` of the scenario in `info`.
pub fn replay_command(info: &ScenarioInfo, seed: u64) -> String {
    let variant = info.variant.as_deref().map(|v| format!(" --variant {v}")).unwrap_or_default();
    format!("hasim run {} --seed {seed}{variant}", info.file)
}

impl SweepReport {
    pub fn from_runs(info: ScenarioInfo, seeds: SeedRange, shard: Option<Shard>, mut runs: Vec<RunSummary>) -> Self {
        runs.sort_by_key(|r| r.seed);
        let summary = SweepSummary::of(&runs, &|seed| replay_command(&info, seed));
        SweepReport {
            format: SWEEP_FORMAT.to_string(),
            version: crate::report::VERSION,
            hasim: env!("CARGO_PKG_VERSION").to_string(),
            scenario: info,
            seeds,
            shard,
            summary,
            runs,
        }
    }

    pub fn to_json(&self) -> String {
        crate::report::json::to_string(self)
    }
}

/// Why shard outputs cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{0} is not a hasim sweep report (format `{1}`)")]
    NotASweep(String, String),
    #[error("{0} was written by hasim {1} and {2} by hasim {3}: runs differ between versions")]
    Versions(String, String, String, String),
    #[error("{0} and {1} are sweeps of different scenarios ({2} vs {3})")]
    Scenarios(String, String, String, String),
    #[error("{0} and {1} cover different seeds ({2} vs {3})")]
    Seeds(String, String, String, String),
    #[error("{0} is a whole sweep, not a shard")]
    NotAShard(String),
    #[error("{0} and {1} split the sweep differently ({2} vs {3} shards)")]
    ShardCounts(String, String, u64, u64),
    #[error("shard {0} is given twice ({1} and {2})")]
    Duplicate(Shard, String, String),
    #[error("{}", missing_shards(.missing, *.count, *.of))]
    Missing { missing: String, count: usize, of: u64 },
}

/// "shard 3 of 3 is missing", "shards 2, 3 of 3 are missing".
fn missing_shards(missing: &str, count: usize, of: u64) -> String {
    if count == 1 {
        format!("shard {missing} of {of} is missing")
    } else {
        format!("shards {missing} of {of} are missing")
    }
}

/// Joins shards (each with the name it was read from) into the report one unsharded
/// sweep prints.
pub fn merge(parts: Vec<(String, SweepReport)>) -> Result<SweepReport, MergeError> {
    let Some((first_name, first)) = parts.first() else { return Err(MergeError::Empty) };
    let mut seen: Vec<Option<String>> = Vec::new();
    for (name, p) in &parts {
        if p.format != SWEEP_FORMAT {
            return Err(MergeError::NotASweep(name.clone(), p.format.clone()));
        }
        if p.hasim != first.hasim {
            return Err(MergeError::Versions(first_name.clone(), first.hasim.clone(), name.clone(), p.hasim.clone()));
        }
        let which = |r: &SweepReport| match &r.scenario.variant {
            Some(v) => format!("{} {}, variant {v}", r.scenario.file, r.scenario.fingerprint),
            None => format!("{} {}", r.scenario.file, r.scenario.fingerprint),
        };
        // The same file's bytes and variant make the same runs, however its path was
        // spelt (relative in one CI job, absolute in another).
        let same = |a: &ScenarioInfo, b: &ScenarioInfo| a.fingerprint == b.fingerprint && a.variant == b.variant;
        if !same(&p.scenario, &first.scenario) {
            return Err(MergeError::Scenarios(first_name.clone(), name.clone(), which(first), which(p)));
        }
        if p.seeds != first.seeds {
            let show = |s: SeedRange| format!("{} seeds from {}", s.count, s.first);
            return Err(MergeError::Seeds(first_name.clone(), name.clone(), show(first.seeds), show(p.seeds)));
        }
        let Some(shard) = p.shard else { return Err(MergeError::NotAShard(name.clone())) };
        let of = first.shard.map_or(shard.of, |s| s.of);
        if shard.of != of {
            return Err(MergeError::ShardCounts(first_name.clone(), name.clone(), of, shard.of));
        }
        seen.resize(of as usize, None);
        if let Some(other) = &seen[(shard.index - 1) as usize] {
            return Err(MergeError::Duplicate(shard, other.clone(), name.clone()));
        }
        seen[(shard.index - 1) as usize] = Some(name.clone());
    }
    let missing: Vec<String> =
        seen.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| (i + 1).to_string()).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing: missing.join(", "), count: missing.len(), of: seen.len() as u64 });
    }
    let info = first.scenario.clone();
    let seeds = first.seeds;
    let runs: Vec<RunSummary> = parts.into_iter().flat_map(|(_, p)| p.runs).collect();
    Ok(SweepReport::from_runs(info, seeds, None, runs))
}

/// What `hasim compare` prints: the same seeds against each configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompareReport {
    /// Always `hasim-compare-report`.
    pub format: String,
    pub version: u32,
    pub hasim: String,
    pub seeds: SeedRange,
    pub variants: Vec<CompareEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompareEntry {
    /// The variant's name, or the scenario's for a file without variants.
    pub label: String,
    pub scenario: ScenarioInfo,
    pub summary: SweepSummary,
}

impl CompareReport {
    pub fn new(seeds: SeedRange, entries: Vec<(String, ScenarioInfo, Vec<RunSummary>)>) -> CompareReport {
        CompareReport {
            format: COMPARE_FORMAT.to_string(),
            version: crate::report::VERSION,
            hasim: env!("CARGO_PKG_VERSION").to_string(),
            seeds,
            variants: entries
                .into_iter()
                .map(|(label, info, runs)| {
                    let summary = SweepSummary::of(&runs, &|seed| replay_command(&info, seed));
                    CompareEntry { label, scenario: info, summary }
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> String {
        crate::report::json::to_string(self)
    }
}

/// The human summary of a sweep.
pub fn render_sweep_text(r: &SweepReport, colour: bool) -> String {
    use std::fmt::Write;
    let st = Style::new(colour);
    let sum = &r.summary;
    let mut o = String::new();
    let variant = r.scenario.variant.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
    let shard = r.shard.map(|s| format!(", shard {s}")).unwrap_or_default();
    let _ = writeln!(
        o,
        "{}{variant}: {} run{} of seeds {}..{}{shard}, {} simulated each",
        st.bold(&r.scenario.name),
        sum.runs,
        if sum.runs == 1 { "" } else { "s" },
        r.seeds.first,
        r.seeds.first.wrapping_add(r.seeds.count.saturating_sub(1)),
        seconds(r.scenario.duration)
    );
    let verdict = format!("{} of {} runs met every expectation", sum.passed, sum.runs);
    let _ = writeln!(o, "{}", if sum.failed == 0 { st.good(&verdict) } else { st.bad(&verdict) });
    if sum.safety_violations > 0 {
        let _ = writeln!(
            o,
            "{}",
            st.bad(&format!("{} runs broke a Raft safety invariant (a hasim bug)", sum.safety_violations))
        );
    }
    let _ = writeln!(o, "\n{:<32} {:>10} {:>10} {:>10} {:>10} {:>10}", "", "min", "p50", "p90", "p99", "max");
    let mut row = |name: &str, d: &Option<Distribution>, fmt: &dyn Fn(f64) -> String| {
        if let Some(d) = d {
            let _ = writeln!(
                o,
                "{name:<32} {:>10} {:>10} {:>10} {:>10} {:>10}",
                fmt(d.min),
                fmt(d.p50),
                fmt(d.p90),
                fmt(d.p99),
                fmt(d.max)
            );
        }
    };
    let secs_fmt = |x: f64| seconds(x);
    let ratio_fmt = |x: f64| format!("{x:.4}");
    let count_fmt = |x: f64| format!("{x}");
    row("longest outage per run", &sum.longest_outage, &secs_fmt);
    row("every outage", &sum.outage_length, &secs_fmt);
    row("recovery per fault", &sum.recovery, &secs_fmt);
    for p in &sum.availability {
        row(&format!("{} availability", p.plane.label()), &Some(p.availability.clone()), &ratio_fmt);
    }
    for p in &sum.slowest_answer {
        row(&format!("slowest {}", p.plane.one()), &Some(p.slowest.clone()), &secs_fmt);
    }
    row("etcd leader changes", &sum.leader_changes, &count_fmt);
    let sb = &sum.split_brain;
    let _ = writeln!(
        o,
        "\nShare of runs with split brain: etcd leaders {}, scheduler {}, controller-manager {}, stale reads {}, misrouted {}",
        pct(sb.etcd_leaders),
        pct(sb.scheduler),
        pct(sb.controller_manager),
        pct(sb.stale_reads),
        pct(sb.misrouted)
    );
    if !sum.worst_seeds.is_empty() {
        let _ = writeln!(o, "\n{}", st.bold("Worst seeds:"));
        for w in &sum.worst_seeds {
            let split = if w.split_brain.is_empty() { "none".to_string() } else { w.split_brain.join(", ") };
            let failed = if w.failed.is_empty() { String::new() } else { format!("  FAILED {}", w.failed.join(", ")) };
            let _ = writeln!(
                o,
                "  seed {:<8} longest outage {:>9}  writes {:.4}  split brain: {split}{failed}",
                w.seed,
                seconds(w.longest_outage),
                w.writes
            );
            let _ = writeln!(o, "    {}", st.dim(&w.replay));
        }
    }
    if !sum.failed_seeds.is_empty() {
        let shown: Vec<String> = sum.failed_seeds.iter().take(20).map(|s| s.to_string()).collect();
        let more = if sum.failed_seeds.len() > 20 {
            format!(" and {} more", sum.failed_seeds.len() - 20)
        } else {
            String::new()
        };
        let _ = writeln!(o, "\n{}", st.bad(&format!("Failed seeds: {}{more}", shown.join(", "))));
    }
    o
}

/// The configurations of a comparison as columns, figures as rows.
pub fn render_compare_text(r: &CompareReport, colour: bool) -> String {
    use std::fmt::Write;
    let st = Style::new(colour);
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, cells: Vec<String>| rows.push((name.to_string(), cells));
    let each = |f: &dyn Fn(&SweepSummary) -> String| r.variants.iter().map(|v| f(&v.summary)).collect::<Vec<_>>();
    let d = |d: &Option<Distribution>, f: &dyn Fn(f64) -> String| {
        d.as_ref().map_or_else(|| "-".to_string(), |d| format!("{} / {}", f(d.p50), f(d.max)))
    };
    add("runs passed", each(&|s| format!("{}/{}", s.passed, s.runs)));
    let availability = plane_rows(
        r,
        |p| format!("{} p50 / min", p.label()),
        |s, p| {
            let a = s.availability.iter().find(|a| a.plane == p)?;
            Some(format!("{:.4} / {:.4}", a.availability.p50, a.availability.min))
        },
    );
    let slowest = plane_rows(
        r,
        |p| format!("slowest {} p50 / max", p.one()),
        |s, p| {
            let a = s.slowest_answer.iter().find(|a| a.plane == p)?;
            Some(format!("{} / {}", seconds(a.slowest.p50), seconds(a.slowest.max)))
        },
    );
    for (name, cells) in availability.into_iter().chain(slowest) {
        add(&name, cells);
    }
    add("longest outage p50 / max", each(&|s| d(&s.longest_outage, &|x| seconds(x))));
    add("recovery p50 / max", each(&|s| d(&s.recovery, &|x| seconds(x))));
    add("leader changes p50 / max", each(&|s| d(&s.leader_changes, &|x| format!("{x}"))));
    add("runs with etcd split brain", each(&|s| pct(s.split_brain.etcd_leaders)));
    add("runs with 2 schedulers", each(&|s| pct(s.split_brain.scheduler)));
    add("runs with 2 controller-mgrs", each(&|s| pct(s.split_brain.controller_manager)));
    add("runs with stale reads", each(&|s| pct(s.split_brain.stale_reads)));
    add("runs with misrouted requests", each(&|s| pct(s.split_brain.misrouted)));
    add("safety violations", each(&|s| s.safety_violations.to_string()));
    let labels: Vec<&str> = r.variants.iter().map(|v| v.label.as_str()).collect();
    let width: Vec<usize> = (0..labels.len())
        .map(|i| rows.iter().map(|(_, c)| c[i].len()).chain([labels[i].len()]).max().unwrap_or(0))
        .collect();
    let mut o = String::new();
    let last = r.seeds.first.wrapping_add(r.seeds.count.saturating_sub(1));
    let _ = writeln!(o, "Compared over seeds {}..{} ({} runs each)\n", r.seeds.first, last, r.seeds.count);
    let mut head = format!("{:<30}", "");
    for (l, w) in labels.iter().zip(&width) {
        head.push_str(&format!("  {l:>w$}"));
    }
    let _ = writeln!(o, "{}", st.bold(head.trim_end()));
    for (name, cells) in &rows {
        let mut line = format!("{name:<30}");
        for (c, w) in cells.iter().zip(&width) {
            line.push_str(&format!("  {c:>w$}"));
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o
}

/// A row per plane that some configuration has a `cell` for ("-" where another has none).
fn plane_rows(
    r: &CompareReport,
    name: impl Fn(PlaneName) -> String,
    cell: impl Fn(&SweepSummary, PlaneName) -> Option<String>,
) -> Vec<(String, Vec<String>)> {
    PlaneName::ALL
        .into_iter()
        .filter_map(|p| {
            let cells: Vec<Option<String>> = r.variants.iter().map(|v| cell(&v.summary, p)).collect();
            cells
                .iter()
                .any(Option::is_some)
                .then(|| (name(p), cells.into_iter().map(|c| c.unwrap_or_else(|| "-".to_string())).collect()))
        })
        .collect()
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// JSON Schemas of the sweep and compare reports.
pub fn sweep_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(SweepReport)).expect("a schema is plain JSON")
}

pub fn compare_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(CompareReport)).expect("a schema is plain JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Distribution::of((1..=100).map(f64::from).collect()).expect("non-empty");
        assert_eq!((d.min, d.p50, d.p90, d.p99, d.max), (1.0, 50.0, 90.0, 99.0, 100.0));
        let one = Distribution::of(vec![7.5]).expect("non-empty");
        assert_eq!((one.p50, one.p99), (7.5, 7.5));
        assert!(Distribution::of(Vec::new()).is_none());
    }

    #[test]
    fn shards_partition_the_seed_range() {
        let range = SeedRange { first: 10, count: 7 };
        let all: Vec<u64> = range.seeds(None).collect();
        assert_eq!(all, (10..17).collect::<Vec<_>>());
        let mut joined: Vec<u64> =
            (1..=3).flat_map(|i| range.seeds(Some(Shard { index: i, of: 3 })).collect::<Vec<_>>()).collect();
        joined.sort();
        assert_eq!(joined, all);
    }

    #[test]
    fn shard_syntax_is_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, of: 4 }));
        for bad in ["0/4", "5/4", "x/2", "3", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
