//! The `hasim` binary end to end.

use std::process::Command;

fn hasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hasim")).args(args).output().expect("hasim runs")
}

#[test]
fn demo_reports_a_failover_and_holds_every_invariant() {
    let out = hasim(&["demo", "--seed", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("crashed (power loss"), "{text}");
    assert!(text.contains("became leader of term"), "{text}");
    assert!(text.contains("New leader"), "{text}");
    assert!(text.contains("Safety: all Raft invariants held"), "{text}");
}

#[test]
fn demo_output_is_identical_across_processes() {
    let a = hasim(&["demo", "--seed", "8", "--members", "5"]);
    let b = hasim(&["demo", "--seed", "8", "--members", "5"]);
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, hasim(&["demo", "--seed", "9", "--members", "5"]).stdout);
}

#[test]
fn a_two_member_cluster_gets_no_new_leader() {
    let out = hasim(&["demo", "--members", "2"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("No new leader after the crash"), "{text}");
}

#[test]
fn bad_arguments_are_rejected_with_a_usage_message() {
    let out = hasim(&["demo", "--members", "9"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--members"), "{err}");
    let out = hasim(&["demo", "--sead", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--seed"), "did-you-mean suggestion");
}

/// A scratch directory, removed when the test that made it ends (pass or fail), so
/// repeated test runs do not pile up directories in the temp dir.
struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

fn scratch(name: &str) -> Scratch {
    Scratch(tempfile::Builder::new().prefix(&format!("hasim-cli-{name}-")).tempdir().unwrap())
}

const SHIPPED: &str = "scenarios/stacked-3-lose-one.yaml";

fn shipped_with(replace: &str, by: &str) -> String {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    assert!(text.contains(replace), "the shipped scenario changed: {replace}");
    text.replace(replace, by)
}

#[test]
fn run_prints_availability_and_expectations_and_exits_0() {
    let out = hasim(&["run", SHIPPED]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Availability:"), "{text}");
    assert!(text.contains("Expectations:"), "{text}");
    assert!(text.contains("ok   availability.writes"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn run_output_is_identical_across_processes_and_moves_with_the_seed() {
    let a = hasim(&["run", SHIPPED, "--timeline"]);
    let b = hasim(&["run", SHIPPED, "--timeline"]);
    assert_eq!(a.stdout, b.stdout);
    let c = hasim(&["run", SHIPPED, "--timeline", "--seed", "99"]);
    assert_ne!(a.stdout, c.stdout);
    assert!(String::from_utf8_lossy(&c.stdout).contains("seed 99"));
}

#[test]
fn a_failing_expectation_exits_1_and_names_the_seed() {
    let dir = scratch("unmet");
    let file = dir.join("unmet.yaml");
    std::fs::write(&file, shipped_with("writes: { min: 0.85, max: 0.99 }", "writes: { min: 0.999 }")).unwrap();
    let out = hasim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL availability.writes"));
    let check = hasim(&["check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("reproduce with seed=1"), "{text}");
    assert!(text.contains("0 passed, 1 failed, 0 invalid"), "{text}");
}

#[test]
fn an_invalid_scenario_exits_2_with_file_line_and_column() {
    let dir = scratch("invalid");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, shipped_with("crash: cp-2", "crsh: cp-2")).unwrap();
    let out = hasim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:26:5: unknown fault kind `crsh`"), "{err}");
    assert!(err.contains("did you mean `crash`"), "{err}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    let check = hasim(&["check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn a_missing_file_and_a_bad_flag_exit_2() {
    let out = hasim(&["run", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/file.yaml"));
    let out = hasim(&["run", SHIPPED, "--sed", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seed"), "clap suggests the right flag");
}

#[test]
fn check_passes_the_shipped_library() {
    let out = hasim(&["check", "scenarios"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failed, 0 invalid"), "{text}");
}

#[test]
fn schema_prints_the_scenario_json_schema() {
    let out = hasim(&["schema", "scenario"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_start().starts_with('{') && text.contains("\"$defs\"") && text.contains("\"topology\""));
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn run_json_is_a_versioned_report_identical_across_processes_and_to_the_output_file() {
    let a = hasim(&["run", SHIPPED, "--format", "json"]);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    let b = hasim(&["run", SHIPPED, "--format", "json"]);
    assert_eq!(a.stdout, b.stdout, "two processes, same bytes");
    let report: serde_json::Value = serde_json::from_slice(&a.stdout).expect("valid JSON");
    assert_eq!(report["format"], "hasim-run-report");
    assert_eq!(report["version"], 1);
    assert_eq!(report["seed"], 1);
    assert_eq!(report["verdict"]["passed"], true);
    let first_keys: Vec<&String> = report.as_object().unwrap().keys().take(4).collect();
    assert_eq!(first_keys, ["format", "version", "hasim", "scenario"], "declaration order, not sorted");
    let dir = scratch("run-json");
    let file = dir.join("report.json");
    let c = hasim(&["run", SHIPPED, "-o", file.to_str().unwrap()]);
    assert_eq!(c.status.code(), Some(0), "{}", stderr(&c));
    assert!(c.stdout.is_empty(), "the report went to the file");
    assert_eq!(std::fs::read(&file).unwrap(), a.stdout, "-o FILE.json writes JSON, the same bytes");
}

#[test]
fn run_text_is_plain_when_not_a_terminal() {
    let out = hasim(&["run", SHIPPED]);
    assert!(!stdout(&out).contains('\u{1b}'), "no colour codes in a pipe");
}

#[test]
fn run_text_says_an_outage_still_going_at_the_end_has_no_end() {
    // cp-1 crashes at 1m20 and quorum is lost for the rest of the run.
    let out = hasim(&["run", "scenarios/member-replace-add-before-remove.yaml"]);
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("1m20.003s ..")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(".. end of run  writes"), "{line}");
    assert!(text.contains("Not recovered from the fault at 1m20.000s (crash cp-1)"), "{text}");
}

#[test]
fn run_output_to_an_unwritable_place_exits_2_and_writes_nothing() {
    let out = hasim(&["run", SHIPPED, "-o", "/no/such/dir/report.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot write /no/such/dir/report.json"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

const VARIANTS: &str = "scenarios/compare-member-counts.yaml";

/// Writing through a rename would have replaced a device or a pipe with a plain file
/// (once, `-o /dev/null` as root did exactly that to /dev/null).
#[cfg(unix)]
#[test]
fn output_to_a_pipe_is_written_through_and_leaves_the_pipe_a_pipe() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch("fifo");
    let fifo = dir.join("report.pipe");
    let _ = std::fs::remove_file(&fifo);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).expect("the pipe reads"))
    };
    let out = hasim(&["run", SHIPPED, "--format", "json", "-o", fifo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Checked before joining: a reader of a replaced pipe would wait forever.
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the pipe was replaced");
    let text = reader.join().expect("reader thread");
    assert!(text.starts_with('{') && text.contains("\"hasim-run-report\""), "{text}");
}

#[cfg(unix)]
#[test]
fn output_to_a_symlink_replaces_the_file_it_names_and_keeps_the_link() {
    let dir = scratch("symlink");
    let (target, link) = (dir.join("report.json"), dir.join("latest.json"));
    std::fs::write(&target, "old").unwrap();
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = hasim(&["run", SHIPPED, "-o", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert!(std::fs::read_to_string(&target).unwrap().contains("\"hasim-run-report\""));
    // A relative link to a file not written yet (one directory down) works the same.
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    let (fresh, dangling) = (dir.join("reports/new.json"), dir.join("next.json"));
    let _ = std::fs::remove_file(&fresh);
    let _ = std::fs::remove_file(&dangling);
    std::os::unix::fs::symlink("reports/new.json", &dangling).unwrap();
    let out = hasim(&["run", SHIPPED, "-o", dangling.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink(), "the link was replaced");
    assert!(std::fs::read_to_string(&fresh).unwrap().contains("\"hasim-run-report\""));
}

/// `-o /dev/stdout` names the file the shell redirected into; appending to it keeps
/// what `>>` put there before (a rename, or a write from its start, would not).
#[cfg(unix)]
#[test]
fn output_to_dev_stdout_appends_to_the_redirected_file() {
    let dir = scratch("devstdout");
    let log = dir.join("all.log");
    std::fs::write(&log, "earlier line\n").unwrap();
    let file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(["run", SHIPPED, "-o", "/dev/stdout"])
        .stdout(file)
        .output()
        .expect("hasim runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("earlier line\n") && text.contains("stacked-3-lose-one"), "{text}");
}

#[test]
fn a_file_with_variants_needs_one_named_to_run() {
    let out = hasim(&["run", VARIANTS]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("has variants (members-3, members-4, members-5)"), "{err}");
    assert!(err.contains("hasim compare"), "{err}");
    let out = hasim(&["run", VARIANTS, "--variant", "members-6"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no variant `members-6`"), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean"), "{}", stderr(&out));
    let out = hasim(&["run", VARIANTS, "--variant", "members-5", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["scenario"]["variant"], "members-5");
    assert_eq!(report["hosts"].as_array().unwrap().iter().filter(|h| h["roles"][0] == "etcd").count(), 5);
}

#[test]
fn sweep_output_does_not_depend_on_the_thread_count() {
    let one = hasim(&["sweep", SHIPPED, "--seeds", "24", "--jobs", "1", "--format", "json"]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let four = hasim(&["sweep", SHIPPED, "--seeds", "24", "--jobs", "4", "--format", "json"]);
    assert_eq!(one.stdout, four.stdout, "--jobs 1 and --jobs 4 print the same bytes");
    let r: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(r["format"], "hasim-sweep-report");
    assert_eq!(r["summary"]["runs"], 24);
    assert_eq!(r["runs"].as_array().unwrap().len(), 24);
    let worst = &r["summary"]["worst_seeds"][0];
    assert!(worst["replay"].as_str().unwrap().starts_with("hasim run scenarios/stacked-3-lose-one.yaml --seed "));
    for key in ["min", "p50", "p90", "p99", "max"] {
        assert!(r["summary"]["longest_outage"][key].is_number(), "{key}");
    }
}

#[test]
fn sweep_text_shows_distributions_and_worst_seeds() {
    let out = hasim(&["sweep", SHIPPED, "--seeds", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("8 of 8 runs met every expectation"), "{text}");
    let one = hasim(&["sweep", SHIPPED, "--seeds", "1"]);
    assert!(stdout(&one).contains(": 1 run of seeds 1..1,"), "{}", stdout(&one));
    assert!(text.contains("p99") && text.contains("longest outage per run"), "{text}");
    assert!(text.contains("slowest write") && text.contains("slowest cache read"), "{text}");
    assert!(text.contains("Worst seeds:") && text.contains("--seed"), "{text}");
    assert!(text.contains("Share of runs with split brain"), "{text}");
    assert!(stderr(&out).is_empty(), "no progress bar when stderr is not a terminal: {}", stderr(&out));
}

#[test]
fn merged_shards_equal_the_unsharded_sweep() {
    let dir = scratch("shards");
    let whole = hasim(&["sweep", SHIPPED, "--seeds", "10", "--format", "json"]);
    let mut parts = Vec::new();
    for i in 1..=3 {
        let file = dir.join(format!("shard-{i}.json"));
        let out =
            hasim(&["sweep", SHIPPED, "--seeds", "10", "--shard", &format!("{i}/3"), "-o", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        parts.push(file.to_str().unwrap().to_string());
    }
    let shard: serde_json::Value = serde_json::from_slice(&std::fs::read(&parts[0]).unwrap()).unwrap();
    assert_eq!(shard["shard"]["index"], 1);
    assert_eq!(shard["summary"]["runs"], 4, "seeds 1, 4, 7, 10");
    let merged = hasim(&["merge", &parts[2], &parts[0], &parts[1], "--format", "json"]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(merged.stdout, whole.stdout, "merge of the shards, in any order, is the unsharded report");

    let missing = hasim(&["merge", &parts[0], &parts[1]]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("shard 3 of 3 is missing"), "{}", stderr(&missing));
    let two_missing = hasim(&["merge", &parts[0]]);
    assert!(stderr(&two_missing).contains("shards 2, 3 of 3 are missing"), "{}", stderr(&two_missing));
    let twice = hasim(&["merge", &parts[0], &parts[0], &parts[1], &parts[2]]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(stderr(&twice).contains("shard 1/3 is given twice"), "{}", stderr(&twice));
    let not_json = hasim(&["merge", SHIPPED]);
    assert_eq!(not_json.status.code(), Some(2));
    assert!(
        stderr(&not_json).contains("stacked-3-lose-one.yaml:1:2: not a sweep report (expected ident)"),
        "{}",
        stderr(&not_json)
    );
}

/// CI jobs may name the scenario differently (relative here, absolute there): the
/// shards are of the same file all the same, so they merge.
#[test]
fn shards_of_one_scenario_merge_whatever_its_path_was_spelt() {
    let dir = scratch("shard-paths");
    let absolute = std::fs::canonicalize(SHIPPED).unwrap();
    let whole = hasim(&["sweep", SHIPPED, "--seeds", "4", "--format", "json"]);
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let out = hasim(&["sweep", SHIPPED, "--seeds", "4", "--shard", "1/2", "-o", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out =
        hasim(&["sweep", absolute.to_str().unwrap(), "--seeds", "4", "--shard", "2/2", "-o", b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged = hasim(&["merge", a.to_str().unwrap(), b.to_str().unwrap(), "--format", "json"]);
    assert_eq!(merged.status.code(), Some(0), "{}", stderr(&merged));
    assert_eq!(merged.stdout, whole.stdout, "named as the first shard names it");

    // Two variants of one file are different scenarios, and the message says which.
    let (c, d) = (dir.join("c.json"), dir.join("d.json"));
    for (file, variant, shard) in [(&c, "members-3", "1/2"), (&d, "members-5", "2/2")] {
        let out = hasim(&[
            "sweep",
            VARIANTS,
            "--variant",
            variant,
            "--seeds",
            "2",
            "--shard",
            shard,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert!(file.exists(), "{}", stderr(&out));
    }
    let mixed = hasim(&["merge", c.to_str().unwrap(), d.to_str().unwrap()]);
    assert_eq!(mixed.status.code(), Some(2));
    assert!(stderr(&mixed).contains(", variant members-3 vs "), "{}", stderr(&mixed));
}

#[test]
fn a_bad_shard_or_seed_count_is_refused() {
    for (args, needle) in [
        (vec!["--seeds", "5", "--shard", "0/3"], "not a shard"),
        (vec!["--seeds", "5", "--shard", "4/3"], "not a shard"),
        (vec!["--seeds", "0"], "--seeds"),
        (vec!["--seeds", "5", "--jobs", "0"], "--jobs"),
    ] {
        let mut all = vec!["sweep", SHIPPED];
        all.extend(args.iter());
        let out = hasim(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(stderr(&out).contains(needle), "{all:?}: {}", stderr(&out));
    }
}

#[test]
fn a_sweep_with_a_failing_seed_exits_1_and_lists_it() {
    let dir = scratch("sweep-unmet");
    let file = dir.join("tight.yaml");
    std::fs::write(&file, shipped_with("longest_outage: { max: 13s }", "longest_outage: { max: 10500ms }")).unwrap();
    let out = hasim(&["sweep", file.to_str().unwrap(), "--seeds", "12"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("Failed seeds:"), "{text}");
    assert!(text.contains("FAILED longest_outage"), "{text}");
}

#[test]
fn compare_puts_variants_side_by_side() {
    let out = hasim(&["compare", VARIANTS, "--seeds", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().find(|l| l.contains("members-3")).expect("a header row");
    assert!(header.contains("members-4") && header.contains("members-5"), "{header}");
    assert!(text.contains("writes p50 / min"), "{text}");
    let json = hasim(&["compare", VARIANTS, "--seeds", "3", "--format", "json"]);
    let r: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(r["format"], "hasim-compare-report");
    let labels: Vec<&str> = r["variants"].as_array().unwrap().iter().map(|v| v["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["members-3", "members-4", "members-5"]);
    let writes = |i: usize| r["variants"][i]["summary"]["availability"][0]["availability"]["p50"].as_f64().unwrap();
    assert!(writes(2) > 0.8 && writes(0) < 0.6 && writes(1) < 0.6, "5 members keep quorum, 3 and 4 do not");
}

#[test]
fn compare_of_two_files_labels_each_and_one_file_alone_is_refused() {
    let out = hasim(&["compare", SHIPPED, "scenarios/members-3-lose-one.yaml", "--seeds", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("stacked-3-lose-one") && stdout(&out).contains("members-3-lose-one"));
    let alone = hasim(&["compare", SHIPPED]);
    assert_eq!(alone.status.code(), Some(2));
    assert!(stderr(&alone).contains("compare needs two configurations"), "{}", stderr(&alone));
}

#[test]
fn check_writes_junit_with_a_case_per_configuration_and_the_failing_seed() {
    let dir = scratch("junit");
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::copy(SHIPPED, scenarios.join("a-ok.yaml")).unwrap();
    std::fs::write(
        scenarios.join("b-unmet.yaml"),
        shipped_with("writes: { min: 0.85, max: 0.99 }", "writes: { min: 0.999 }"),
    )
    .unwrap();
    let xml_path = dir.join("junit.xml");
    let out = hasim(&["check", scenarios.to_str().unwrap(), "--junit", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("reproduce with seed=1"), "{xml}");
    assert!(xml.contains("availability.writes expected &gt;= 0.999"), "escaped: {xml}");

    let all = hasim(&["check", VARIANTS, "--junit", xml_path.to_str().unwrap()]);
    assert_eq!(all.status.code(), Some(0), "{}", stdout(&all));
    assert!(stdout(&all).contains("ok    scenarios/compare-member-counts.yaml [members-4]"), "{}", stdout(&all));
    assert_eq!(std::fs::read_to_string(&xml_path).unwrap().matches("<testcase ").count(), 3);
}

#[test]
fn schema_prints_each_document_schema() {
    for (of, field) in [("report", "timeline"), ("sweep", "worst_seeds"), ("compare", "variants")] {
        let out = hasim(&["schema", of]);
        assert!(out.status.success(), "{of}");
        let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert!(schema.to_string().contains(field), "{of} schema mentions {field}");
    }
    let out = hasim(&["schema", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn compare_exits_1_when_a_run_fails_its_expectations() {
    let dir = scratch("compare-unmet");
    let file = dir.join("tight.yaml");
    std::fs::write(&file, shipped_with("writes: { min: 0.85, max: 0.99 }", "writes: { min: 0.999 }")).unwrap();
    let out = hasim(&["compare", SHIPPED, file.to_str().unwrap(), "--seeds", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("stacked-3-lose-one"), "the table is still printed: {}", stdout(&out));
    let help = hasim(&["compare", "--help"]);
    assert!(stdout(&help).contains("Exits 1 when"), "{}", stdout(&help));
}

/// Seeds past u64::MAX would wrap around to 0, 1, … and silently repeat low seeds.
#[test]
fn seeds_past_the_last_seed_and_unreadable_counts_are_refused() {
    for (cmd, file) in [("sweep", SHIPPED), ("compare", VARIANTS)] {
        let out = hasim(&[cmd, file, "--first-seed", "18446744073709551615", "--seeds", "3"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("run past the last seed"), "{cmd}: {}", stderr(&out));
        assert!(stderr(&out).contains("--first-seed 18446744073709551613 or lower"), "{cmd}: {}", stderr(&out));
        for bad in ["abc", "99999999999999999999", "0"] {
            let out = hasim(&[cmd, SHIPPED, "--seeds", bad]);
            assert_eq!(out.status.code(), Some(2), "{cmd} --seeds {bad}");
            assert!(stderr(&out).contains("expected how many seeds to run"), "{cmd}: {}", stderr(&out));
            assert!(!stderr(&out).contains("invalid digit"), "{cmd}: {}", stderr(&out));
        }
    }
    let out = hasim(&["sweep", SHIPPED, "--seeds", "2", "--first-seed", "x"]);
    assert!(
        stderr(&out).contains("expected a seed: a whole number from 0 to 18446744073709551615"),
        "{}",
        stderr(&out)
    );
    let help = hasim(&["compare", "--help"]);
    assert!(stdout(&help).contains("a tenth of sweep's"), "the caps differ, and --help says why");
}

/// One million writes a second took 7 GB; the demo takes what a scenario file may ask.
#[test]
fn demo_refuses_a_write_rate_above_the_scenario_cap() {
    let out = hasim(&["demo", "--writes-per-sec", "1000000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("expected writes per second: a whole number from 0 to 10000"), "{}", stderr(&out));
}

#[test]
fn tui_refuses_a_seed_or_variant_given_with_a_report() {
    for extra in [["--seed", "2"], ["--variant", "x"]] {
        let out = hasim(&["tui", "--report", "full.json", extra[0], extra[1]]);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(stderr(&out).contains("cannot be used with"), "{extra:?}: {}", stderr(&out));
    }
}

#[test]
fn a_report_is_never_written_over_its_own_scenario() {
    let dir = scratch("self");
    let file = dir.join("self.yaml");
    std::fs::copy(SHIPPED, &file).unwrap();
    let f = file.to_str().unwrap();
    for args in [vec!["run", f, "-o", f], vec!["sweep", f, "--seeds", "1", "-o", f], vec!["check", f, "--junit", f]] {
        let out = hasim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains("is also an input"), "{args:?}: {}", stderr(&out));
        assert_eq!(std::fs::read(&file).unwrap(), std::fs::read(SHIPPED).unwrap(), "{args:?} replaced the scenario");
    }
}

#[test]
fn dash_output_means_stdout_and_the_json_extension_is_read_in_any_case() {
    let dir = scratch("dash");
    let out = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(["run", std::fs::canonicalize(SHIPPED).unwrap().to_str().unwrap(), "-o", "-"])
        .current_dir(&*dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Availability:"), "{}", stdout(&out));
    assert!(!dir.join("-").exists(), "no file named `-`");
    let upper = dir.join("up.JSON");
    let out = hasim(&["run", SHIPPED, "-o", upper.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&upper).unwrap().starts_with('{'), "UP.JSON gets JSON");
}

#[test]
fn a_failed_write_names_the_target_not_a_temporary_file() {
    let dir = scratch("nodir");
    let target = dir.join("missing/report.txt");
    let out = hasim(&["run", SHIPPED, "-o", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot write {}: No such file or directory", target.display())), "{err}");
    assert!(!err.contains(".tmp") && !err.contains("at path"), "{err}");
}

#[test]
fn an_unwritable_junit_path_is_refused_before_any_scenario_runs() {
    let dir = scratch("junit-nodir");
    let xml = dir.join("missing/junit.xml");
    let out = hasim(&["check", SHIPPED, "--junit", xml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(&format!("cannot write {}", xml.display())), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));
}

fn hasim_panicking_at(seed: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hasim"))
        .env("HASIM_TEST_PANIC_SEED", seed)
        .args(args)
        .output()
        .expect("hasim runs")
}

#[test]
fn a_crash_in_one_seed_of_a_sweep_names_that_seed_and_writes_nothing() {
    let dir = scratch("crash-sweep");
    let report = dir.join("out.json");
    let out = hasim_panicking_at(
        "12",
        &["sweep", SHIPPED, "--seeds", "4", "--first-seed", "10", "--jobs", "2", "-o", report.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(101), "a crash is neither a failed expectation nor bad input");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("hasim crashed simulating {SHIPPED} with seed=12")), "{err}");
    assert!(err.contains(&format!("reproduce with: hasim run {SHIPPED} --seed 12")), "{err}");
    assert!(!report.exists(), "no half-written report");
}

#[test]
fn a_crash_during_check_is_a_junit_error_and_the_other_scenarios_still_run() {
    let dir = scratch("crash-check");
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(scenarios.join("a-crashes.yaml"), shipped_with("seed: 1\n", "seed: 7\n")).unwrap();
    std::fs::copy(SHIPPED, scenarios.join("b-ok.yaml")).unwrap();
    let xml_path = dir.join("junit.xml");
    let out = hasim_panicking_at("7", &["check", scenarios.to_str().unwrap(), "--junit", xml_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(101), "a crash outranks every other outcome: {}", stdout(&out));
    let text = stdout(&out);
    let crashed = scenarios.join("a-crashes.yaml").display().to_string();
    assert!(text.contains(&format!("CRASH {crashed} (reproduce with: hasim run {crashed} --seed 7)")), "{text}");
    assert!(text.contains("ok    ") && text.contains("b-ok.yaml"), "the next scenario still ran: {text}");
    assert!(text.contains("1 passed, 0 failed, 0 invalid, 1 crashed"), "{text}");
    assert!(stderr(&out).contains("hasim crashed simulating"), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&xml_path).expect("the JUnit file is written despite the crash");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    assert!(xml.contains("hasim crashed with seed=7"), "{xml}");
    assert!(xml.contains("HASIM_TEST_PANIC_SEED=7 asked this run to panic"), "the panic message: {xml}");
}

#[test]
fn a_crash_in_the_demo_names_the_demo_command_that_replays_it() {
    let out = hasim_panicking_at("4", &["demo", "--seed", "4", "--members", "5", "--no-pre-vote"]);
    assert_eq!(out.status.code(), Some(101));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("hasim crashed simulating the built-in demo with seed=4"), "{err}");
    assert!(
        err.contains("reproduce with: hasim demo --seed 4 --members 5 --writes-per-sec 100 --no-pre-vote"),
        "{err}"
    );
}

#[test]
fn a_crash_names_the_variant_and_the_run_that_resolved_the_seed() {
    // No --seed: the run takes the scenario's own seed (1), and the note says so.
    let out = hasim_panicking_at("1", &["run", VARIANTS, "--variant", "members-5"]);
    assert_eq!(out.status.code(), Some(101));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("(variant members-5) with seed=1"), "{err}");
    assert!(err.contains(&format!("reproduce with: hasim run {VARIANTS} --variant members-5 --seed 1")), "{err}");
    // Other seeds are untouched by the test switch.
    let fine = hasim_panicking_at("2", &["run", VARIANTS, "--variant", "members-5", "--format", "json"]);
    assert!(matches!(fine.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&fine.stderr));
}

/// Runs hasim with a reader that takes `keep` bytes of its stdout and then closes the
/// pipe, as `| head -c` does; returns how it exited and its stderr.
fn with_reader_gone(args: &[&str], keep: usize) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hasim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hasim runs");
    let mut stdout = child.stdout.take().expect("piped");
    let mut head = vec![0; keep];
    stdout.read_exact(&mut head).expect("some output");
    drop(stdout);
    let out = child.wait_with_output().expect("hasim ends");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_reader_that_goes_away_early_is_no_crash() {
    // println! panicked on the broken pipe (exit 101, "hasim crashed"). `check` prints
    // a line per scenario, so its second comes after the reader left; a schema fits in
    // the pipe's buffer and only fails when the reader leaves first, as `head` may.
    for args in [
        &["schema", "report"][..],
        &["schema", "scenario"][..],
        &["check", "scenarios/stacked-3-lose-one.yaml", "scenarios/single-control-plane.yaml"][..],
        &["demo"][..],
    ] {
        let (status, stderr) = with_reader_gone(args, 5);
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
