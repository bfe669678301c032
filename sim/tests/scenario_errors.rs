//! Malformed scenario files: each gets a first diagnostic at the offending key, value or
//! token, with a message (and hint) a scenario author can act on; no input at all makes
//! the loader panic or hang; the JSON Schema covers the language.
//!
//! Most rows break one thing in `BASE`, a copy of `scenarios/stacked-3-lose-one.yaml`
//! kept here so that the expected lines and columns do not move when the shipped file is
//! edited.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hasim_sim::SimDuration;
use hasim_sim::scenario::{self, Diagnostic, Loaded};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// `scenarios/stacked-3-lose-one.yaml`. Line numbers, for reading the table below:
/// 1 `name`, 2–10 `description`, 11 `seed`, 12 `duration: 2m`, 13 `topology:`,
/// 14 `etcd`, 15 `control_planes`, 16 `load_balancer:`, 17 `kind`, 18 `check`,
/// 19 `workload:`, 20–22 rates, 23 `faults:`, 24 `- at: 30s`, 25 `for: 60s`,
/// 26 `crash: cp-2`, 27 `expect:`, 28 `availability:`, 29 `writes`, 30 `cache_reads`,
/// 31 `longest_outage`, 32 `recovery`, 33 `split_brain:`, 34–36 its counts.
const BASE: &str = r#"name: stacked-3-lose-one
description: |
  Three stacked control-plane nodes behind HAProxy (TCP checks, kubeadm defaults).
  cp-2 loses power at 30 s and comes back at 90 s.

  Watch for: the LB keeps sending about a third of new connections to the dead node
  until it has failed `fall` (3) checks, each waiting out its 2 s timeout — about
  8-12 s. Writes and quorum reads going there fail; etcd keeps quorum with two of
  three members, so everything else works. After the restart cp-2 rejoins and is
  marked UP again after `rise` (2) good checks.
seed: 1
duration: 2m
topology:
  etcd: stacked
  control_planes: 3
  load_balancer:
    kind: haproxy
    check: tcp
workload:
  writes_per_sec: 20
  quorum_reads_per_sec: 20
  cache_reads_per_sec: 20
faults:
  - at: 30s
    for: 60s
    crash: cp-2
expect:
  availability:
    writes: { min: 0.85, max: 0.99 }
    cache_reads: { min: 0.85 }
  longest_outage: { max: 13s }
  recovery: { max: 13s }
  split_brain:
    etcd_leaders: 0
    controller_manager: 0
    scheduler: 0
"#;

const FILE: &str = "bad.yaml";

/// `BASE` with the one occurrence of `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur exactly once in BASE");
    BASE.replacen(from, to, 1)
}

/// `BASE` with a `timing:` block (lines 19…) before `workload:`.
fn with_timing(block: &str) -> String {
    with("workload:\n", &format!("timing:\n{block}workload:\n"))
}

/// `BASE` with its fault entry (lines 24–26) replaced.
fn with_faults(entries: &str) -> String {
    with("  - at: 30s\n    for: 60s\n    crash: cp-2\n", entries)
}

/// The load balancer block (lines 16–18) replaced.
fn with_lb(block: &str) -> String {
    with("  load_balancer:\n    kind: haproxy\n    check: tcp\n", block)
}

/// The billion laughs, where a fault's node groups go: each level is nine aliases of
/// the one before, 9^9 names if it were expanded.
fn billion_laughs() -> String {
    let mut entry = String::from(
        "  - at: 30s\n    partition:\n      - &a [cp-1, cp-1, cp-1, cp-1, cp-1, cp-1, cp-1, cp-1, cp-1]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        entry.push_str(&format!("      - &{} [{refs}]\n", w[1]));
    }
    with_faults(&entry)
}

/// The classic form: top-level keys `a`…`i`, each nine aliases of the one before.
fn billion_laughs_classic() -> String {
    let mut text =
        String::from("a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let refs = vec![format!("*{}", w[0]); 9].join(", ");
        text.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
    }
    text
}

/// `depth` block sequences, each nested in the one before, as the fault list.
fn deep_block_sequences(depth: usize) -> String {
    let mut entries = String::new();
    for i in 0..depth {
        entries.push_str(&" ".repeat(2 + 2 * i));
        entries.push_str("-\n");
    }
    with_faults(&entries)
}

struct Row {
    name: &'static str,
    text: String,
    /// (line, column) of the first diagnostic.
    at: (u64, u64),
    message: &'static str,
    hint: Option<&'static str>,
}

fn row(name: &'static str, text: String, at: (u64, u64), message: &'static str, hint: Option<&'static str>) -> Row {
    Row { name, text, at, message, hint }
}

fn rows() -> Vec<Row> {
    vec![
        // YAML syntax.
        row(
            "unclosed bracket",
            with("    crash: cp-2\n", "    partition: [[cp-1], [cp-2, cp-3]\n"),
            (27, 7),
            "illegal placement of ':'",
            Some("the `[` at line 26, column 16 is never closed"),
        ),
        row(
            "unclosed brace swallowing the next key",
            with("recovery: { max: 13s }", "recovery: { max: 13s"),
            (32, 20),
            "unknown unit",
            Some("the `{` at line 32, column 13 is never closed"),
        ),
        row(
            "unclosed flow mapping in topology",
            with_lb("  load_balancer: { kind: haproxy, check: tcp\n"),
            (16, 42),
            "unknown value `tcp workload`",
            Some("the `{` at line 16, column 18 is never closed"),
        ),
        row(
            "key indented off its siblings",
            with("    check: tcp", "   check: tcp"),
            (18, 4),
            "did not find expected key",
            Some("check the indentation"),
        ),
        row("tab indentation", with("    check: tcp", "\tcheck: tcp"), (18, 1), "found a tab", Some("spaces only")),
        row("second YAML document", format!("{BASE}---\nname: again\n"), (37, 1), "a second one starts here", None),
        // Wrong types.
        row(
            "string where a number is expected",
            with("control_planes: 3", "control_planes: three"),
            (15, 19),
            "expected a whole number from 0 to 255, found `three`",
            None,
        ),
        row(
            "number where a mapping is expected",
            with_lb("  load_balancer: 5\n"),
            (16, 18),
            "expected a mapping (`key: value` entries), found `5`",
            None,
        ),
        row(
            "string where a list is expected",
            with_faults("").replace("faults:\n", "faults: cp-2\n"),
            (23, 9),
            "expected a list, found `cp-2`",
            None,
        ),
        row(
            "a process given to a fault kind that takes a node",
            with_faults("  - at: 30s\n    stop: { node: lb-1, process: haproxy }\n"),
            (25, 11),
            "expected a single value, found `{ node: lb-1`",
            Some(
                "`stop` takes a node name (a graceful stop of its etcd); for one process write `stop_process: { node: lb-1, process: haproxy }`",
            ),
        ),
        row(
            "a process given to a fault kind that takes a node, block style",
            with_faults("  - at: 30s\n    crash:\n      node: cp-1\n      process: kube-apiserver\n"),
            (26, 7),
            "expected a single value, found `node: cp-1`",
            Some("`crash` takes a node name (power loss of the whole node); for one process write `kill:"),
        ),
        row(
            "a list given to a fault kind that takes one node",
            with_faults("  - at: 30s\n    isolate: [cp-1, cp-2]\n"),
            (25, 14),
            "expected a single value, found `[cp-1`",
            Some("`isolate` takes a node name, such as `isolate: cp-1`"),
        ),
        row(
            "list where a string is expected",
            with("name: stacked-3-lose-one", "name: [a, b]"),
            (1, 7),
            "expected a single value",
            None,
        ),
        row(
            "not a boolean",
            with("    check: tcp\n", "    check: tcp\n    shutdown_sessions: maybe\n"),
            (19, 24),
            "expected `true` or `false`",
            None,
        ),
        row("not a number", with_timing("  network:\n    loss: high\n"), (21, 11), "expected a number", None),
        row("fault entry that is not a mapping", with_faults("  - crash cp-2\n"), (24, 5), "expected a mapping", None),
        // Unknown names.
        row(
            "unknown top-level key",
            with("topology:", "topolgy:"),
            (13, 1),
            "unknown key `topolgy`",
            Some("did you mean `topology`?"),
        ),
        row(
            "unknown nested key",
            with_lb("  load_balancer: {chek: http}\n"),
            (16, 19),
            "unknown key `chek`",
            Some("did you mean `check`?"),
        ),
        row(
            "unknown enum value",
            with("etcd: stacked", "etcd: stackd"),
            (14, 9),
            "unknown value `stackd`",
            Some("did you mean `stacked`?"),
        ),
        row(
            "missing required key",
            with("name: stacked-3-lose-one\n", ""),
            (1, 1),
            "missing key `name`",
            Some("add `name:`"),
        ),
        // Fault entries.
        row(
            "unknown fault kind",
            with("crash: cp-2", "crsh: cp-1"),
            (26, 5),
            "unknown fault kind `crsh`",
            Some("did you mean `crash`?"),
        ),
        row(
            "unknown fault kind, nothing close",
            with("crash: cp-2", "zzzzzz: cp-2"),
            (26, 5),
            "unknown fault kind `zzzzzz`",
            Some("expected one of: crash, restart"),
        ),
        row(
            "fault without `at`",
            with_faults("  - for: 60s\n    crash: cp-2\n"),
            (24, 5),
            "this fault has no `at:`",
            None,
        ),
        row(
            "fault without a kind",
            with_faults("  - at: 30s\n    for: 60s\n"),
            (24, 5),
            "this fault names no kind",
            None,
        ),
        row(
            "two kinds in one fault entry",
            with("    crash: cp-2\n", "    crash: cp-2\n    restart: cp-2\n"),
            (27, 5),
            "one fault per entry (this entry already has `crash`), found a second fault kind `restart`",
            Some("start a new `- at:` entry"),
        ),
        row(
            "`at` twice in one fault entry",
            with("    for: 60s\n", "    at: 40s\n"),
            (25, 5),
            "duplicate key `at`",
            None,
        ),
        row("node that does not exist", with("crash: cp-2", "crash: cp-9"), (26, 12), "unknown node `cp-9`", None),
        row(
            "misspelt node",
            with("crash: cp-2", "crash: cp1"),
            (26, 12),
            "unknown node `cp1`",
            Some("did you mean `cp-1`?"),
        ),
        row(
            "fault at the end of the run",
            with("at: 30s", "at: 2m"),
            (24, 9),
            "at or after the end of the run",
            Some("raise `duration`"),
        ),
        row(
            "faults out of time order",
            with("    crash: cp-2\n", "    crash: cp-2\n  - at: 10s\n    crash: cp-1\n"),
            (27, 9),
            "faults must be in time order",
            Some("move this entry up"),
        ),
        row(
            "`for` on a fault that cannot be undone",
            with("    crash: cp-2\n", "    expire_cert: { node: cp-2, cert: etcd-peer }\n"),
            (25, 10),
            "`expire_cert` cannot be undone automatically",
            Some("renew_certs"),
        ),
        row("`for: 0s`", with("for: 60s", "for: 0s"), (25, 10), "`for` must be longer than 0", None),
        row(
            "one-way cut from a node to itself",
            with("crash: cp-2", "one_way: { from: cp-2, to: cp-2 }"),
            (26, 32),
            "`one_way` names `cp-2` twice",
            Some("name two different nodes"),
        ),
        row(
            "a node in two partition groups",
            with("crash: cp-2", "partition: [[cp-1, cp-2], [cp-2]]"),
            (26, 32),
            "`partition` names `cp-2` twice",
            Some("name each node once, in one group"),
        ),
        row(
            "`add_member` aimed at a role",
            with("    for: 60s\n    crash: cp-2\n", "    add_member: { node: etcd-leader }\n"),
            (25, 25),
            "`add_member` needs a spare host by name",
            Some("spare_hosts"),
        ),
        // Faults aimed at a process the host does not run.
        row(
            "etcd paused on an LB host",
            with("crash: cp-2", "pause: { node: lb-1, process: etcd }"),
            (26, 20),
            "lb-1 runs no etcd (it runs haproxy)",
            Some("etcd runs on cp-1, cp-2, cp-3"),
        ),
        row(
            "an LB host wiped",
            with("    for: 60s\n    crash: cp-2\n", "    wipe: lb-1\n"),
            (25, 11),
            "lb-1 runs no etcd (it runs haproxy)",
            Some("to fail `lb-1` itself, use `crash`"),
        ),
        row(
            "a slow disk on an LB host",
            with("crash: cp-2", "slow_disk: { node: lb-1, fsync: 50ms }"),
            (26, 24),
            "lb-1 runs no etcd",
            None,
        ),
        row(
            "an apiserver certificate expired on an LB host",
            with("    for: 60s\n    crash: cp-2\n", "    expire_cert: { node: lb-1, cert: apiserver }\n"),
            (25, 26),
            "lb-1 has no `apiserver` certificate, which belongs to kube-apiserver (it runs haproxy)",
            Some("kube-apiserver runs on cp-1, cp-2, cp-3"),
        ),
        row(
            "certificates renewed on an LB host",
            with("    for: 60s\n    crash: cp-2\n", "    renew_certs: lb-1\n"),
            (25, 18),
            "lb-1 has no kubeadm certificates to renew",
            None,
        ),
        row(
            "a process fault on the active LB",
            with("crash: cp-2", "kill: { node: lb-active, process: kube-apiserver }"),
            (26, 19),
            "`lb-active` is always a load balancer host, which runs no kube-apiserver",
            None,
        ),
        row(
            "etcd stopped on a control-plane node of an external topology",
            with("etcd: stacked", "etcd: external\n  etcd_members: 3").replace("crash: cp-2", "stop: cp-1"),
            (27, 11),
            "cp-1 runs no etcd (with external etcd it runs kube-apiserver, kube-scheduler and kube-controller-manager)",
            Some("etcd runs on etcd-1, etcd-2, etcd-3"),
        ),
        row(
            "kube-scheduler killed on an external etcd host",
            with("etcd: stacked", "etcd: external\n  etcd_members: 3")
                .replace("crash: cp-2", "kill: { node: etcd-1, process: kube-scheduler }"),
            (27, 19),
            "etcd-1 runs no kube-scheduler (it runs etcd only)",
            Some("kube-scheduler runs on cp-1, cp-2, cp-3"),
        ),
        row(
            "etcd paused on the scheduler leader of an external topology",
            with("etcd: stacked", "etcd: external\n  etcd_members: 3")
                .replace("crash: cp-2", "pause: { node: scheduler-leader, process: etcd }"),
            (27, 20),
            "`scheduler-leader` is always a control-plane node, which runs no etcd",
            None,
        ),
        row(
            "kube-apiserver killed on the etcd leader of an external topology",
            with("etcd: stacked", "etcd: external\n  etcd_members: 3")
                .replace("crash: cp-2", "kill: { node: etcd-leader, process: kube-apiserver }"),
            (27, 19),
            "`etcd-leader` is always an external etcd host, which runs no kube-apiserver",
            None,
        ),
        row(
            "etcd stopped on a spare host before any member was added",
            with("  control_planes: 3\n", "  control_planes: 3\n  spare_hosts: 1\n")
                .replace("crash: cp-2", "stop: cp-4"),
            (27, 11),
            "cp-4 runs no etcd (it is a spare host: it runs nothing until an earlier `add_member` adds a member there)",
            None,
        ),
        row(
            "kube-apiserver killed on a spare host",
            with("  control_planes: 3\n", "  control_planes: 3\n  spare_hosts: 1\n")
                .replace("crash: cp-2", "kill: { node: cp-4, process: kube-apiserver }"),
            (27, 19),
            "cp-4 runs no kube-apiserver (it is a spare host: it runs etcd only",
            None,
        ),
        // Expectations that cannot be measured or met.
        row(
            "availability of writes when none are sent",
            with("  writes_per_sec: 20\n", "  writes_per_sec: 0\n"),
            (29, 5),
            "availability.writes bounds writes, but the workload sends none (`writes_per_sec` is 0)",
            Some("set `workload.writes_per_sec`, or remove this bound"),
        ),
        row(
            "availability when clients start after the end",
            with("  cache_reads_per_sec: 20\n", "  cache_reads_per_sec: 20\n  start_after: 2m\n"),
            (30, 5),
            "availability.writes bounds writes, but none are sent: clients start after 2m",
            Some("lower `workload.start_after`"),
        ),
        row(
            "longest outage with min above max",
            with("longest_outage: { max: 13s }", "longest_outage: { max: 10s, min: 20s }"),
            (31, 3),
            "longest_outage: min 20.000s is above max 10.000s",
            None,
        ),
        row(
            "a split-brain count with min above max",
            with("    etcd_leaders: 0\n", "    etcd_leaders: { min: 2, max: 1 }\n"),
            (34, 5),
            "split_brain.etcd_leaders: min 2 is above max 1",
            None,
        ),
        row(
            "clock drift rate out of range",
            with("crash: cp-2", "clock_drift: { node: cp-2, rate: -1 }"),
            (26, 38),
            "clock rate -1 must be above 0 and at most 10",
            None,
        ),
        // Durations.
        row("negative duration", with("at: 30s", "at: -5s"), (24, 9), "a duration cannot be negative", None),
        row("unknown unit", with("at: 30s", "at: 5 parsecs"), (24, 9), "unknown unit ` parsecs`", None),
        row("duration without a unit", with("at: 30s", "at: 30"), (24, 9), "`30` needs a unit", None),
        // Numbers out of range.
        row(
            "client timeout over an hour",
            with("  cache_reads_per_sec: 20\n", "  cache_reads_per_sec: 20\n  timeout: 24h\n"),
            (23, 3),
            "a client timeout must be more than 0 and at most 1h",
            None,
        ),
        row(
            "client timeout of zero",
            with("  cache_reads_per_sec: 20\n", "  cache_reads_per_sec: 20\n  timeout: 0s\n"),
            (23, 3),
            "a client timeout must be more than 0 and at most 1h",
            None,
        ),
        row(
            "u8 overflow",
            with("control_planes: 3", "control_planes: 300"),
            (15, 19),
            "expected a whole number from 0 to 255, found `300`",
            None,
        ),
        row(
            "control planes out of range",
            with("control_planes: 3", "control_planes: 9"),
            (15, 3),
            "control_planes must be 1 to 7, not 9",
            Some("3 or 5"),
        ),
        row(
            "external members out of range",
            with("etcd: stacked", "etcd: external\n  etcd_members: 9"),
            (15, 3),
            "etcd_members must be 1 to 7, not 9",
            None,
        ),
        row(
            "availability above 1",
            with("writes: { min: 0.85, max: 0.99 }", "writes: { min: 1.5 }"),
            (29, 5),
            "availability.writes is a share from 0 to 1",
            None,
        ),
        row(
            "availability above 1, flow style",
            with(
                "  availability:\n    writes: { min: 0.85, max: 0.99 }\n    cache_reads: { min: 0.85 }\n",
                "  availability: { writes: { min: 1.5 } }\n",
            ),
            (28, 19),
            "availability.writes is a share from 0 to 1",
            None,
        ),
        // Duplicate keys.
        row(
            "duplicate top-level key",
            with("seed: 1\n", "seed: 1\nseed: 2\n"),
            (12, 1),
            "duplicate key `seed`",
            Some("each key may appear once"),
        ),
        row(
            "duplicate nested key",
            with("    check: tcp\n", "    check: tcp\n    check: http\n"),
            (19, 5),
            "duplicate key `check`",
            None,
        ),
        // Not a scenario at all.
        row("empty file", String::new(), (1, 1), "the file is empty", Some("`name`, `duration` and `topology`")),
        row("whitespace only", " \n\t\n   \n\n".into(), (1, 1), "the file is empty", None),
        row(
            "binary garbage",
            "name: x\n\u{1}\u{7f}\0\u{ff}\u{fffd}garbage".into(),
            (2, 3),
            "not a text file (it contains NUL bytes)",
            None,
        ),
        // Bombs and depth: refused without expanding or recursing.
        row("billion laughs", billion_laughs(), (27, 13), "found `*a` (defined at line 26, column 12)", None),
        row("billion laughs, classic form", billion_laughs_classic(), (1, 1), "unknown key `a`", None),
        row(
            "too many aliases",
            with("    crash: cp-2\n", &format!("    partition: [[&n cp-1, {}]]\n", vec!["*n"; 300].join(", "))),
            (26, 827),
            "too many aliases",
            Some("aliases that expand exponentially are refused"),
        ),
        row(
            "hundreds of nested `[`",
            format!("{}{}", "[".repeat(500), "]".repeat(500)),
            (1, 25),
            "nested too deeply",
            None,
        ),
        row(
            "hundreds of nested `[` as the fault list",
            with_faults("").replace("faults:\n", &format!("faults: {}{}\n", "[".repeat(300), "]".repeat(300))),
            (23, 33),
            "nested too deeply",
            None,
        ),
        row(
            "hundreds of nested `{`",
            format!("{}1{}", "{a: ".repeat(300), "}".repeat(300)),
            (1, 97),
            "nested too deeply",
            None,
        ),
        row("hundreds of nested block sequences", deep_block_sequences(300), (25, 5), "expected a mapping", None),
        // Timings etcd and client-go refuse.
        row(
            "renew_deadline not below lease_duration",
            with_timing("  leader_election:\n    lease_duration: 10s\n    renew_deadline: 10s\n"),
            (21, 5),
            "lease_duration (10.000s) not greater than renew_deadline (10.000s)",
            Some("leaseDuration must be greater than renewDeadline"),
        ),
        row(
            "renew_deadline above the default lease_duration",
            with_timing("  leader_election:\n    renew_deadline: 20s\n"),
            (21, 5),
            "not greater than renew_deadline (20.000s)",
            None,
        ),
        row(
            "renew_deadline not above 1.2 × retry_period",
            with_timing("  leader_election:\n    renew_deadline: 2s\n    retry_period: 2s\n"),
            (21, 5),
            "renew_deadline (2.000s) not greater than 1.2 × retry_period (2.000s)",
            Some("JitterFactor"),
        ),
        row(
            "election timeout under 5 × heartbeat",
            with_timing("  etcd:\n    heartbeat_interval: 300ms\n    election_timeout: 1s\n"),
            (22, 5),
            "election timeout (1.000s) under 5 × the heartbeat interval (300ms)",
            Some("at least 5 times"),
        ),
        row(
            "heartbeat too slow for the default election timeout",
            with_timing("  etcd:\n    heartbeat_interval: 300ms\n"),
            (21, 5),
            "under 5 × the heartbeat interval",
            None,
        ),
        // Topology.
        row(
            "stacked with a different member count",
            with("  control_planes: 3\n", "  control_planes: 3\n  etcd_members: 5\n"),
            (16, 3),
            "a stacked topology has one member per control-plane node (3), not 5",
            Some("use `etcd: external`"),
        ),
        row(
            "external without etcd_members",
            with("etcd: stacked", "etcd: external"),
            (14, 3),
            "an external topology needs `etcd_members`",
            Some("add `etcd_members: 3`"),
        ),
        row(
            "nginx setting under haproxy",
            with("    check: tcp\n", "    check: tcp\n    max_fails: 3\n"),
            (19, 5),
            "`max_fails` and `fail_timeout` are nginx settings",
            Some("set `kind: nginx`"),
        ),
        row(
            "nginx setting under haproxy, flow style",
            with_lb("  load_balancer: { kind: haproxy, fail_timeout: 10s }\n"),
            (16, 35),
            "are nginx settings",
            None,
        ),
        row(
            "timeout_check with nginx",
            with_lb("  load_balancer: { kind: nginx, timeout_check: 10s }\n"),
            (16, 33),
            "`timeout_check` is an HAProxy setting",
            Some("set `kind: haproxy`"),
        ),
        row(
            "timeout_connect of zero",
            with("    check: tcp\n", "    check: tcp\n    timeout_connect: 0s\n"),
            (19, 5),
            "`timeout_connect` must be at least 1ms",
            Some("no timeout at all"),
        ),
        row(
            "retries beyond any real configuration",
            with("    check: tcp\n", "    check: tcp\n    retries: 4294967295\n"),
            (19, 5),
            "`retries` must be at most 100, not 4294967295",
            None,
        ),
        row(
            "track_script timeout too short",
            with_lb("  load_balancer: { kind: haproxy }\n  vip: { track_script: { timeout: 1ms } }\n"),
            (17, 10),
            "`track_script.timeout` must be at least 10ms",
            None,
        ),
        row(
            "timeout_check too short",
            with_lb("  load_balancer: { kind: haproxy, timeout_check: 1ms }\n"),
            (16, 35),
            "`timeout_check` must be at least 10ms",
            None,
        ),
        row(
            "timeout_check misspelt",
            with_lb("  load_balancer: { kind: haproxy, check_timeout: 10s }\n"),
            (16, 35),
            "unknown key `check_timeout`",
            Some("did you mean `timeout_check`?"),
        ),
        row(
            "track_script weight out of keepalived's range",
            with_lb("  load_balancer: { kind: haproxy }\n  vip:\n    track_script: { weight: 300 }\n"),
            (18, 21),
            "a `track_script` weight must be -253 to 253",
            None,
        ),
        row(
            "track_script fall of 0",
            with_lb("  load_balancer: { kind: haproxy }\n  vip:\n    track_script: { fall: 0 }\n"),
            (18, 5),
            "`track_script.fall` must be at least 1",
            None,
        ),
        row(
            "track_script misspelt",
            with_lb("  load_balancer: { kind: haproxy }\n  vip:\n    tracks_script: {}\n"),
            (18, 5),
            "unknown key `tracks_script`",
            Some("did you mean `track_script`?"),
        ),
        row(
            "cluster older than its certificates",
            with_lb("  load_balancer: { kind: haproxy }\n  cluster_age: 400d\n"),
            (17, 3),
            "every certificate expire",
            Some("keep `cluster_age` under 365d"),
        ),
        row(
            "haproxy on a control-plane node",
            with("crash: cp-2", "kill: { node: cp-2, process: haproxy }"),
            (26, 19),
            "cp-2 runs no haproxy",
            Some("haproxy runs on lb-1"),
        ),
        row(
            "vip without a load balancer",
            with_lb("  load_balancer:\n    kind: none\n  vip:\n    priority: 100\n"),
            (18, 3),
            "a VIP needs a load balancer",
            Some("load_balancer.kind: haproxy"),
        ),
    ]
}

fn render(ds: &[Diagnostic]) -> String {
    ds.iter().map(|d| format!("    {}", d.to_string().replace('\n', "\n    "))).collect::<Vec<_>>().join("\n")
}

fn check_row(r: &Row) -> Result<(), String> {
    let started = Instant::now();
    let result = scenario::load(FILE, &r.text);
    let took = started.elapsed();
    let ds = match result {
        Ok(_) => return Err("loaded without errors".into()),
        Err(ds) => ds,
    };
    let Some(d) = ds.first() else { return Err("Err with no diagnostics".into()) };
    let mut problems = Vec::new();
    if (d.line, d.column) != r.at {
        problems.push(format!("at {}:{}, expected {}:{}", d.line, d.column, r.at.0, r.at.1));
    }
    if !d.message.contains(r.message) {
        problems.push(format!("message lacks {:?}", r.message));
    }
    if let Some(h) = r.hint
        && !d.hint.as_deref().is_some_and(|hint| hint.contains(h))
    {
        problems.push(format!("hint lacks {h:?}"));
    }
    let prefix = format!("{FILE}:{}:{}: ", d.line, d.column);
    if !d.to_string().starts_with(&prefix) {
        problems.push(format!("to_string() does not start with {prefix:?}"));
    }
    if d.file != FILE {
        problems.push(format!("file is {:?}", d.file));
    }
    if took > Duration::from_millis(500) {
        problems.push(format!("took {took:?}"));
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}; diagnostics:\n{}", problems.join("; "), render(&ds))) }
}

#[test]
fn the_base_scenario_is_valid_and_quiet() {
    let loaded = scenario::load(FILE, BASE).unwrap_or_else(|ds| panic!("BASE does not load:\n{}", render(&ds)));
    assert!(loaded.warnings.is_empty(), "{}", render(&loaded.warnings));
    assert_eq!(loaded.scenario.faults.len(), 1);
}

#[test]
fn malformed_scenarios_get_a_precise_first_diagnostic() {
    let rows = rows();
    assert!(rows.len() >= 28, "{} rows", rows.len());
    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for r in &rows {
        assert!(names.insert(r.name), "two rows named {:?}", r.name);
        if let Err(e) = check_row(r) {
            failures.push(format!("{}: {e}", r.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let text = format!("{BASE}#{}\n", "x".repeat(scenario::MAX_BYTES));
    let started = Instant::now();
    let ds = scenario::load(FILE, &text).expect_err("over the size limit");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!((ds[0].line, ds[0].column), (0, 0), "no single place");
    assert!(ds[0].message.contains("limited to"), "{}", ds[0]);
}

/// Only faults that cannot act are refused: a role that may stand for a host running
/// the process, a spare host once a member was added there, and power and network
/// faults on any host all load.
#[test]
fn faults_on_hosts_that_run_or_may_run_the_process_load() {
    let external =
        |fault: &str| with("etcd: stacked", "etcd: external\n  etcd_members: 3").replace("crash: cp-2", fault);
    let spare = |faults: &str| {
        with("  control_planes: 3\n", "  control_planes: 3\n  spare_hosts: 1\n")
            .replace("  - at: 30s\n    for: 60s\n    crash: cp-2\n", faults)
    };
    for text in [
        with("crash: cp-2", "kill: { node: etcd-leader, process: kube-apiserver }"),
        with("crash: cp-2", "pause: { node: scheduler-leader, process: etcd }"),
        with("crash: cp-2", "crash: lb-1"),
        with("crash: cp-2", "isolate: lb-active"),
        with("crash: cp-2", "clock_drift: { node: lb-1, rate: 1.5 }"),
        external("stop: etcd-2"),
        external("pause: { node: etcd-follower, process: etcd }"),
        external("kill: { node: controller-manager-leader, process: kube-scheduler }"),
        external("crash: cp-1"),
        spare("  - at: 20s\n    add_member: { node: cp-4 }\n  - at: 40s\n    for: 5s\n    stop: cp-4\n"),
    ] {
        if let Err(ds) = scenario::load(FILE, &text) {
            panic!("does not load:\n{}\n{text}", render(&ds));
        }
    }
}

fn loads_with_warning(text: &str) -> Loaded {
    scenario::load(FILE, text).unwrap_or_else(|ds| panic!("does not load:\n{}", render(&ds)))
}

#[test]
fn an_even_member_count_loads_with_a_quorum_warning() {
    let stacked = loads_with_warning(&with("control_planes: 3", "control_planes: 4"));
    let w = stacked.warnings.first().expect("a warning for 4 stacked members");
    assert!(w.message.contains("quorum"), "{w}");
    assert_eq!((w.line, w.column), (15, 3), "at `control_planes`: {w}");
    assert!(w.hint.as_deref().is_some_and(|h| h.contains("use 3")), "{w}");
    let two = loads_with_warning(&with("control_planes: 3", "control_planes: 2"));
    let w = two.warnings.first().expect("a warning for 2 stacked members");
    assert!(w.message.ends_with("tolerate 0 failures, the same as 1 member"), "{w}");

    let external = loads_with_warning(&with("etcd: stacked", "etcd: external\n  etcd_members: 4"));
    let w = external.warnings.first().expect("a warning for 4 external members");
    assert!(w.message.contains("quorum"), "{w}");
    assert_eq!((w.line, w.column), (15, 3), "at `etcd_members`: {w}");
}

#[test]
fn every_fault_kind_is_a_fault_entry_key() {
    let (fixed, kinds) = scenario::faults::ENTRY_KEYS.split_at(2);
    assert_eq!(fixed, ["at", "for"]);
    assert_eq!(kinds, scenario::faults::FAULT_KINDS);
}

// ---------------------------------------------------------------------------------------
// Properties: nothing makes the loader panic, every error has a place and a message, and
// whatever loads can be built and run.

/// Checks one input; `Err` describes what was wrong.
fn load_never_misbehaves(text: &str) -> Result<(), TestCaseError> {
    match scenario::load(FILE, text) {
        Err(ds) => {
            prop_assert!(!ds.is_empty(), "Err with no diagnostics");
            let lines = text.lines().count() as u64;
            for d in &ds {
                prop_assert!(d.line >= 1, "no line: {d}\n--- input:\n{text}");
                prop_assert!(d.line <= lines + 1, "line past the end ({lines} lines): {d}\n--- input:\n{text}");
                prop_assert!(d.column >= 1, "no column: {d}\n--- input:\n{text}");
                prop_assert!(!d.message.trim().is_empty(), "empty message: {d:?}");
                let prefix = format!("{FILE}:{}:{}: ", d.line, d.column);
                prop_assert!(d.to_string().starts_with(&prefix), "{d}");
            }
        }
        Ok(loaded) => {
            for w in &loaded.warnings {
                prop_assert!(w.line >= 1 && !w.message.is_empty(), "{w}");
            }
            // Cheap: clients start after 5 s and the shipped faults come later still.
            let _ = scenario::build(&loaded.scenario, None).run_for(SimDuration::from_secs(2));
        }
    }
    Ok(())
}

/// Pieces of YAML and of the scenario language, to get past the first byte.
const PIECES: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    "\n  - ",
    " ",
    ": ",
    ":",
    "- ",
    "-",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: ",
    "|",
    ">",
    "'",
    "\"",
    "#",
    "---\n",
    "...\n",
    "? ",
    "!!str ",
    "!x ",
    "~",
    "null",
    "\t",
    "name",
    "duration",
    "topology",
    "faults",
    "expect",
    "timing",
    "workload",
    "etcd",
    "control_planes",
    "etcd_members",
    "load_balancer",
    "kind",
    "vip",
    "at",
    "for",
    "crash",
    "restart",
    "partition",
    "expire_cert",
    "cp-1",
    "cp-9",
    "etcd-1",
    "lb-1",
    "etcd-leader",
    "30s",
    "-5s",
    "0s",
    "2m",
    "1h",
    "30",
    "300",
    "-1",
    "0.5",
    "1e400",
    "nan",
    "true",
    "yes",
    "stacked",
    "external",
    "haproxy",
    "nginx",
    "none",
    "é",
    "—",
    "\u{feff}",
    "\r\n",
];

fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(PIECES), 0..80).prop_map(|v| v.concat())
}

/// One edit of a text, by position fractions so that it applies to any length.
#[derive(Clone, Debug)]
enum Mutation {
    DeleteRange { at: f64, len: usize },
    Insert { at: f64, text: String },
    DuplicateLine { at: f64 },
    SwapLines { a: f64, b: f64 },
    ReplaceToken { at: f64, text: String },
}

/// Replacement text: random printable characters, or a piece that means something.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        proptest::sample::select(PIECES).prop_map(str::to_string),
        proptest::sample::select(
            &[
                "cp-1",
                "cp-3",
                "cp-4",
                "lb-2",
                "etcd-3",
                "0",
                "1",
                "2",
                "3",
                "4",
                "5",
                "7",
                "8",
                "255",
                "256",
                "10000",
                "10001",
                "100ms",
                "1ms",
                "0ms",
                "59s",
                "2m",
                "24h",
                "25h",
                "1m30s",
                "1.5s",
                "http",
                "leastconn",
                "nginx",
                "none",
                "external",
                "wipe",
                "isolate",
                "heal",
                "stop",
                "0.0",
                "1.0",
                "1.01",
            ][..]
        )
        .prop_map(str::to_string),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        1 => (at.clone(), 1usize..40).prop_map(|(at, len)| Mutation::DeleteRange { at, len }),
        1 => (at.clone(), replacement()).prop_map(|(at, text)| Mutation::Insert { at, text }),
        1 => at.clone().prop_map(|at| Mutation::DuplicateLine { at }),
        1 => (at.clone(), at.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        3 => (at, replacement()).prop_map(|(at, text)| Mutation::ReplaceToken { at, text }),
    ]
}

fn index(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(text: &str, m: &Mutation) -> String {
    let chars: Vec<char> = text.chars().collect();
    match m {
        Mutation::DeleteRange { at, len } => {
            let start = index(*at, chars.len());
            let end = (start + len).min(chars.len());
            chars[..start].iter().chain(&chars[end..]).collect()
        }
        Mutation::Insert { at, text } => {
            let i = index(*at, chars.len() + 1);
            let mut out: String = chars[..i].iter().collect();
            out.push_str(text);
            out.extend(&chars[i..]);
            out
        }
        Mutation::DuplicateLine { at } => {
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.is_empty() {
                return text.to_string();
            }
            let i = index(*at, lines.len());
            lines.insert(i, lines[i]);
            lines.concat()
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let (i, j) = (index(*a, lines.len()), index(*b, lines.len()));
            lines.swap(i, j);
            lines.join("\n")
        }
        Mutation::ReplaceToken { at, text: by } => {
            // Tokens: runs of letters, digits, `_`, `-` and `.`.
            let is_word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
            let mut tokens = Vec::new();
            let mut start = None;
            for (i, &c) in chars.iter().enumerate() {
                match (start, is_word(c)) {
                    (None, true) => start = Some(i),
                    (Some(s), false) => {
                        tokens.push((s, i));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = start {
                tokens.push((s, chars.len()));
            }
            if tokens.is_empty() {
                return text.to_string();
            }
            let (s, e) = tokens[index(*at, tokens.len())];
            let mut out: String = chars[..s].iter().collect();
            out.push_str(by);
            out.extend(&chars[e..]);
            out
        }
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 2_000,
        rng_seed: RngSeed::Fixed(0x5ca1_ab1e_e770),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn random_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        load_never_misbehaves(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_printable_text_never_panics_the_loader(text in "[ -~\n\t]{0,400}") {
        load_never_misbehaves(&text)?;
    }

    #[test]
    fn random_yaml_pieces_never_panic_the_loader(text in yamlish()) {
        load_never_misbehaves(&text)?;
    }

    #[test]
    fn mutations_of_a_valid_scenario_never_panic_the_loader(
        edits in proptest::collection::vec(mutation(), 1..4),
    ) {
        let text = edits.iter().fold(BASE.to_string(), |t, m| apply(&t, m));
        load_never_misbehaves(&text)?;
    }
}

// ---------------------------------------------------------------------------------------
// The JSON Schema.

#[test]
fn the_json_schema_covers_the_example_scenario() {
    let schema = scenario::schema();
    let root = schema.as_object().expect("the schema is a JSON object");
    assert!(root.get("$defs").is_some_and(|d| d.is_object()), "no $defs");
    let properties = root.get("properties").and_then(|p| p.as_object()).expect("top-level properties");
    for key in ["name", "duration", "topology", "faults", "expect"] {
        assert!(properties.contains_key(key), "`{key}` is not in the schema's properties");
    }
    let required: Vec<&str> =
        root.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|v| v.as_str()).collect();
    for key in ["name", "duration", "topology"] {
        assert!(required.contains(&key), "`{key}` is not required: {required:?}");
    }

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/stacked-3-lose-one.yaml");
    let text = std::fs::read_to_string(path).expect("the example scenario is readable");
    let top: BTreeMap<String, serde::de::IgnoredAny> = serde_saphyr::from_str(&text).expect("the example is YAML");
    assert!(top.len() >= 3);
    for key in top.keys() {
        assert!(properties.contains_key(key), "the example's `{key}` is not in the schema's properties");
    }
}
