//! Property test: random scenarios, written as YAML the way a user would, load, run and
//! produce a report that agrees with itself, the same one every time.
//!
//! Each case draws a topology (stacked or external etcd, 1–5 control-plane nodes,
//! HAProxy with TCP or HTTP checks, nginx, or no LB, with or without a keepalived VIP),
//! spare hosts, a workload (rates, shared connections, worker kubelets, client retries)
//! and up to eight faults of every kind that cannot lose acknowledged data by design
//! (all but `wipe`, which `random_faults.rs` covers at the Raft level), membership
//! changes included, each aimed at a host or at a role resolved when it fires, half of
//! the undoable ones undone by `for:`.
//! The whole stack runs: etcd, apiservers, the LB and its checks, keepalived, leases,
//! kubelets, certificates and clocks, then the report is built.
//!
//! What must hold whatever the schedule: Raft safety; each plane's totals are the sums
//! of its per-second series; every failed request belongs to exactly one outage, a
//! plane's outages are more than 1 s apart, and only its last can still be going at
//! the end (and then lasts until it); each fault's recovery is what its outages say;
//! everything reported is dated within the run and in order; and a second run
//! gives byte-identical JSON. `HASIM_RANDOM_SCENARIOS=N` runs N cases instead of the
//! default (for a longer hunt on a fast machine); a failure prints the scenario file.

use hasim_sim::report::{Report, ScenarioInfo};
use hasim_sim::scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[derive(Clone, Debug)]
struct Topo {
    external: bool,
    control_planes: u8,
    etcd_members: u8,
    /// 0 haproxy tcp, 1 haproxy http, 2 nginx, 3 none.
    lb: u8,
    vip: bool,
    /// Hosts with no member at the start, for `add_member`.
    spares: u8,
}

impl Topo {
    fn hosts(&self) -> Vec<String> {
        let mut h: Vec<String> = (1..=self.control_planes).map(|i| format!("cp-{i}")).collect();
        if self.external {
            h.extend((1..=self.etcd_members).map(|i| format!("etcd-{i}")));
        }
        h.extend(self.spare_hosts());
        h
    }

    /// Spare hosts are named after the etcd hosts, numbered on.
    fn spare_hosts(&self) -> Vec<String> {
        let (stem, after) = if self.external { ("etcd", self.etcd_members) } else { ("cp", self.control_planes) };
        (1..=self.spares).map(|i| format!("{stem}-{}", after + i)).collect()
    }

    fn lbs(&self) -> Vec<String> {
        match (self.lb, self.vip) {
            (3, _) => vec![],
            (_, true) => vec!["lb-1".into(), "lb-2".into()],
            _ => vec!["lb-1".into()],
        }
    }

    /// Whether `node` (a host or a role) runs `PROCESSES[p]`: validation refuses a
    /// process fault anywhere else. A spare host runs etcd once a member was added there
    /// (`added`); a role counts when any host it can stand for runs it.
    fn runs(&self, node: &str, p: usize, added: &[String]) -> bool {
        let etcd = p == 0;
        match node {
            "etcd-leader" | "etcd-follower" => etcd || !self.external,
            "scheduler-leader" | "controller-manager-leader" => !etcd || !self.external,
            "lb-active" => false,
            n if n.starts_with("lb-") => false,
            n if self.spare_hosts().iter().any(|h| h == n) => etcd && added.iter().any(|h| h == n),
            n if n.starts_with("etcd-") => etcd,
            _ => !(etcd && self.external),
        }
    }

    fn yaml(&self) -> String {
        let mut s = String::from("topology:\n");
        if self.external {
            s += &format!("  etcd: external\n  etcd_members: {}\n", self.etcd_members);
        } else {
            s += "  etcd: stacked\n";
        }
        s += &format!("  control_planes: {}\n", self.control_planes);
        if self.spares > 0 {
            s += &format!("  spare_hosts: {}\n", self.spares);
        }
        s += match self.lb {
            0 => "  load_balancer: { kind: haproxy, check: tcp }\n",
            1 => "  load_balancer: { kind: haproxy, check: http }\n",
            2 => "  load_balancer: { kind: nginx }\n",
            _ => "  load_balancer: { kind: none }\n",
        };
        if self.vip {
            s += "  vip: {}\n";
        }
        s
    }
}

fn topo() -> impl Strategy<Value = Topo> {
    (any::<bool>(), 1u8..=5, 1u8..=5, 0u8..4, any::<bool>(), prop_oneof![2 => Just(0u8), 1 => 1u8..=2]).prop_map(
        |(external, cp, members, lb, vip, spares)| {
            // kind: none means one control-plane node and no LB host to share a VIP.
            let control_planes = if lb == 3 { 1 } else { cp };
            Topo { external, control_planes, etcd_members: members, lb, vip: vip && lb < 2, spares }
        },
    )
}

/// A fault, with indices into the topology's hosts (taken modulo their number).
#[derive(Clone, Debug)]
enum Kind {
    Crash(usize),
    CrashRole(usize),
    /// Graceful stop of etcd (a leader hands over first).
    Stop(usize),
    LbFailure(usize),
    Process(usize, usize, usize),
    PauseHost(usize),
    Isolate(usize),
    Partition(Vec<usize>),
    OneWay(usize, usize),
    Bridge(usize, usize),
    Heal,
    MessageLoss(u32),
    Link(usize, usize, u64, u32),
    SlowDisk(usize, u64),
    ClockStep(usize, i64),
    ClockDrift(usize, u32),
    ExpireCert(usize, usize),
    RenewCerts(usize),
    /// `etcdctl member add` for a spare host, as a learner or a voter.
    AddMember(usize, bool),
    RemoveMember(usize),
    PromoteLearner(usize),
}

const ROLES: [&str; 5] = ["etcd-leader", "etcd-follower", "scheduler-leader", "controller-manager-leader", "lb-active"];
const PROCESSES: [&str; 4] = ["etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"];
/// kill / stop_process / pause, each undone by `for:` (start / start / resume).
const PROCESS_FAULTS: [&str; 3] = ["kill", "stop_process", "pause"];
const CERTS: [&str; 6] = [
    "etcd-peer",
    "etcd-server",
    "apiserver-etcd-client",
    "apiserver",
    "scheduler-kubeconfig",
    "controller-manager-kubeconfig",
];

fn kind() -> impl Strategy<Value = Kind> {
    let h = 0usize..12;
    prop_oneof![
        3 => h.clone().prop_map(Kind::Crash),
        2 => (0usize..ROLES.len()).prop_map(Kind::CrashRole),
        1 => h.clone().prop_map(Kind::Stop),
        1 => (0usize..3).prop_map(Kind::LbFailure),
        3 => (0usize..16, 0..PROCESS_FAULTS.len(), 0..PROCESSES.len()).prop_map(|(a, f, p)| Kind::Process(a, f, p)),
        1 => h.clone().prop_map(Kind::PauseHost),
        2 => h.clone().prop_map(Kind::Isolate),
        2 => proptest::collection::vec(0usize..16, 1..5).prop_map(Kind::Partition),
        1 => (0usize..16, 0usize..16).prop_map(|(a, b)| Kind::OneWay(a, b)),
        2 => (0usize..16, 0usize..16).prop_map(|(a, b)| Kind::Bridge(a, b)),
        1 => Just(Kind::Heal),
        1 => (0u32..40).prop_map(Kind::MessageLoss),
        1 => (0usize..16, 0usize..16, 1u64..400, 0u32..30).prop_map(|(a, b, l, loss)| Kind::Link(a, b, l, loss)),
        1 => (h.clone(), 10u64..3_000).prop_map(|(a, d)| Kind::SlowDisk(a, d)),
        1 => (h.clone(), -600i64..3_600).prop_map(|(a, s)| Kind::ClockStep(a, s)),
        1 => (h.clone(), 50u32..300).prop_map(|(a, r)| Kind::ClockDrift(a, r)),
        1 => (h.clone(), 0..CERTS.len()).prop_map(|(a, c)| Kind::ExpireCert(a, c)),
        1 => h.clone().prop_map(Kind::RenewCerts),
        2 => (0usize..2, any::<bool>()).prop_map(|(i, l)| Kind::AddMember(i, l)),
        1 => h.prop_map(Kind::RemoveMember),
        1 => (0usize..2).prop_map(Kind::PromoteLearner),
    ]
}

/// One fault entry: when (in thousandths of the run), for how long (ms, when undone),
/// what.
type Entry = (u64, Option<u64>, Kind);

#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    duration_s: u64,
    topo: Topo,
    rates: (u32, u32, u32),
    connections: Option<u32>,
    workers: u32,
    retries: u32,
    /// The client timeout in ms (default 10 s when None).
    timeout_ms: Option<u64>,
    faults: Vec<Entry>,
}

fn case() -> impl Strategy<Value = Case> {
    let entry = (20u64..980, proptest::option::of(500u64..40_000), kind());
    (
        any::<u64>(),
        30u64..90,
        topo(),
        prop_oneof![3 => (0u32..8, 0u32..8, 0u32..8), 1 => (0u32..40, 0u32..40, 0u32..40)],
        proptest::option::of(1u32..6),
        prop_oneof![3 => Just(0u32), 1 => 1u32..30],
        (0u32..3, proptest::option::of(200u64..30_000)),
        proptest::collection::vec(entry, 0..9),
    )
        .prop_map(|(seed, duration_s, topo, rates, connections, workers, (retries, timeout_ms), faults)| Case {
            seed,
            duration_s,
            topo,
            rates,
            connections,
            workers,
            retries,
            timeout_ms,
            faults,
        })
}

impl Case {
    fn yaml(&self) -> String {
        let t = &self.topo;
        let hosts = t.hosts();
        let host = |i: usize| hosts[i % hosts.len()].clone();
        // Indices past 11 aim at a role, resolved when the fault fires.
        let node = |i: usize| if i >= 12 { ROLES[i - 12].to_string() } else { host(i) };
        // Two different nodes (validation refuses a node on both sides of a cut; each
        // `etcd-follower` draws its own).
        let two = |a: usize, b: usize| {
            let b = if a < 12 && b < 12 && b % hosts.len() == a % hosts.len() { b + 1 } else { b };
            let (a, b) = (node(a), node(b));
            (a != b || a == "etcd-follower").then_some((a, b))
        };
        let mut s = format!(
            "name: random\ndescription: A random schedule.\nseed: {}\nduration: {}s\n{}",
            self.seed,
            self.duration_s,
            t.yaml()
        );
        let (w, q, c) = self.rates;
        s += &format!(
            "workload:\n  writes_per_sec: {w}\n  quorum_reads_per_sec: {q}\n  cache_reads_per_sec: {c}\n  worker_nodes: {}\n  retries: {}\n",
            self.workers, self.retries
        );
        if let Some(n) = self.connections {
            s += &format!("  connections: {n}\n");
        }
        if let Some(ms) = self.timeout_ms {
            s += &format!("  timeout: {ms}ms\n");
        }
        let lbs = t.lbs();
        let spares = t.spare_hosts();
        let mut entries = Vec::new();
        let mut faults = self.faults.clone();
        faults.sort_by_key(|(at, _, _)| *at);
        // Spare hosts an earlier entry added a member to: they run etcd from then on.
        let mut added: Vec<String> = Vec::new();
        // The process a certificate belongs to (an index into PROCESSES).
        let owner = |c: usize| [0, 0, 1, 1, 2, 3][c];
        for (at, undo, k) in &faults {
            let skip = match k {
                Kind::Stop(i) | Kind::SlowDisk(i, _) | Kind::RemoveMember(i) => !t.runs(&host(*i), 0, &added),
                Kind::Process(i, _, p) => !t.runs(&node(*i), *p, &added),
                Kind::ExpireCert(i, c) => !t.runs(&host(*i), owner(*c), &added),
                Kind::RenewCerts(i) => !(0..PROCESSES.len()).any(|p| t.runs(&host(*i), p, &added)),
                Kind::PromoteLearner(i) if !spares.is_empty() => !added.contains(&spares[i % spares.len()]),
                _ => false,
            };
            if skip {
                continue;
            }
            if let Kind::AddMember(i, _) = k
                && !spares.is_empty()
            {
                added.push(spares[i % spares.len()].clone());
            }
            let (line, undoable) = match k {
                Kind::Crash(i) => (format!("crash: {}", host(*i)), true),
                Kind::CrashRole(r) if ROLES[*r] == "lb-active" && !t.vip => continue,
                Kind::CrashRole(r) => (format!("crash: {}", ROLES[*r]), true),
                Kind::Stop(i) => (format!("stop: {}", host(*i)), true),
                Kind::LbFailure(_) if lbs.is_empty() => continue,
                Kind::LbFailure(i) => (format!("lb_failure: {}", lbs[i % lbs.len()]), true),
                Kind::Process(i, f, p) => {
                    (format!("{}: {{ node: {}, process: {} }}", PROCESS_FAULTS[*f], node(*i), PROCESSES[*p]), true)
                }
                Kind::PauseHost(i) => (format!("pause_host: {}", host(*i)), true),
                Kind::Isolate(i) => (format!("isolate: {}", host(*i)), true),
                Kind::Partition(g) => {
                    // Each node once, dealt alternately into (up to) two groups.
                    let mut names: Vec<String> = Vec::new();
                    for n in g.iter().map(|&i| node(i)) {
                        if !names.contains(&n) {
                            names.push(n);
                        }
                    }
                    let group = |k: usize| names.iter().skip(k).step_by(2).cloned().collect::<Vec<_>>().join(", ");
                    let groups = if names.len() > 1 {
                        format!("[{}], [{}]", group(0), group(1))
                    } else {
                        format!("[{}]", group(0))
                    };
                    (format!("partition: [{groups}]"), true)
                }
                _ if hosts.len() < 2 && matches!(k, Kind::OneWay(..) | Kind::Bridge(..) | Kind::Link(..)) => continue,
                Kind::OneWay(a, b) => {
                    let Some((a, b)) = two(*a, *b) else { continue };
                    (format!("one_way: {{ from: {a}, to: {b} }}"), true)
                }
                Kind::Bridge(a, b) => {
                    let Some((a, b)) = two(*a, *b) else { continue };
                    (format!("bridge: {{ side_a: [{a}], side_b: [{b}] }}"), true)
                }
                Kind::Heal => ("heal: all".into(), false),
                Kind::MessageLoss(p) => (format!("message_loss: 0.{p:02}"), true),
                Kind::Link(a, b, l, loss) => {
                    let Some((a, b)) = two(*a, *b) else { continue };
                    (format!("link: {{ between: [{a}, {b}], latency: {l}ms, loss: 0.{loss:02} }}"), true)
                }
                Kind::SlowDisk(i, d) => (format!("slow_disk: {{ node: {}, fsync: {d}ms }}", host(*i)), true),
                Kind::ClockStep(i, by) => (format!("clock_step: {{ node: {}, by: {by}s }}", host(*i)), false),
                Kind::ClockDrift(i, r) => {
                    (format!("clock_drift: {{ node: {}, rate: {}.{:02} }}", host(*i), r / 100, r % 100), true)
                }
                Kind::ExpireCert(i, c) => {
                    (format!("expire_cert: {{ node: {}, cert: {} }}", host(*i), CERTS[*c]), false)
                }
                Kind::RenewCerts(i) => (format!("renew_certs: {}", host(*i)), false),
                Kind::AddMember(..) | Kind::PromoteLearner(_) if spares.is_empty() => continue,
                Kind::AddMember(i, learner) => {
                    (format!("add_member: {{ node: {}, learner: {learner} }}", spares[i % spares.len()]), false)
                }
                Kind::PromoteLearner(i) => (format!("promote_learner: {}", spares[i % spares.len()]), false),
                Kind::RemoveMember(i) => (format!("remove_member: {}", host(*i)), false),
            };
            let mut e = format!("  - at: {}ms\n", self.duration_s * at);
            if let (Some(d), true) = (undo, undoable) {
                e += &format!("    for: {d}ms\n");
            }
            e += &format!("    {line}\n");
            entries.push(e);
        }
        if !entries.is_empty() {
            s += "faults:\n";
            s += &entries.concat();
        }
        s
    }
}

/// Everything the report says that must agree with the rest of it.
fn check_report(r: &Report) -> Result<(), String> {
    let end = r.scenario.duration;
    let fail = |what: String| Err::<(), String>(what);
    if !r.safety.held {
        return fail(format!("safety: {:?}", r.safety.violations));
    }
    for p in &r.availability {
        let ok: u64 = p.per_second.ok.iter().map(|&n| u64::from(n)).sum();
        let failed: u64 = p.per_second.failed.iter().map(|&n| u64::from(n)).sum();
        if (ok, failed) != (p.ok, p.failed) {
            return fail(format!("{:?}: totals {}/{} but per-second sums {ok}/{failed}", p.plane, p.ok, p.failed));
        }
        if !(0.0..=1.0).contains(&p.ratio) || p.slowest < 0.0 || p.slow > p.ok {
            return fail(format!("{:?}: ratio {} slowest {} slow {}", p.plane, p.ratio, p.slowest, p.slow));
        }
        let outages: Vec<_> = r.outages.iter().filter(|o| o.plane == p.plane).collect();
        let in_outages: u64 = outages.iter().map(|o| o.failed).sum();
        if in_outages != p.failed {
            return fail(format!("{:?}: {} failed but outages hold {in_outages}", p.plane, p.failed));
        }
        if let Some(i) = outages.iter().position(|o| o.ongoing)
            && i + 1 != outages.len()
        {
            return fail(format!("{:?}: outage {i} of {} is ongoing", p.plane, outages.len()));
        }
    }
    for o in &r.outages {
        if !(0.0 <= o.start && o.start <= o.end && o.end <= end) || o.failed == 0 {
            return fail(format!("outage out of the run: {o:?}"));
        }
        // One still going lasts until the end.
        if o.ongoing && o.end != end {
            return fail(format!("ongoing outage ends before the run: {o:?}"));
        }
    }
    for p in &r.availability {
        let of_plane: Vec<_> = r.outages.iter().filter(|o| o.plane == p.plane).collect();
        if let Some(w) = of_plane.windows(2).find(|w| w[1].start - w[0].end <= 1.0) {
            return fail(format!("{:?}: outages 1 s apart or less are not one: {w:?}", p.plane));
        }
    }
    // Recovery, checked against the outages. An outage belongs to the last fault applied
    // before its first failure and at most 100 ms after it began (when it failed the
    // report does not show): so each fault's recovery must end with an outage it may
    // have caused (or at the fault, if that outage's requests were all sent before it),
    // and an ongoing one must have one.
    for f in &r.recovery {
        let next = r.recovery.iter().map(|g| g.at).filter(|&t| t > f.at).fold(f64::INFINITY, f64::min);
        let caused: Vec<_> = r.outages.iter().filter(|o| f.at <= o.start + 0.1 + 1e-6 && o.start < next).collect();
        let agree = match f.recovered_after {
            Some(a) => !f.ongoing && caused.iter().any(|o| !o.ongoing && (o.end.max(f.at) - f.at - a).abs() < 1e-5),
            None => !f.ongoing || caused.iter().any(|o| o.ongoing),
        };
        if !agree {
            return fail(format!("recovery {f:?} disagrees with its outages {caused:?}"));
        }
    }
    if r.outages.windows(2).any(|w| w[0].start > w[1].start) {
        return fail("outages out of order".into());
    }
    for f in &r.recovery {
        if f.ongoing && f.recovered_after.is_some() || f.recovered_after.is_some_and(|d| d < 0.0) {
            return fail(format!("recovery: {f:?}"));
        }
    }
    let dated = |what: &str, times: Vec<f64>| -> Result<(), String> {
        if times.iter().any(|&t| !(0.0..=end).contains(&t)) || times.windows(2).any(|w| w[0] > w[1]) {
            return Err(format!("{what} not in order within the run: {times:?}"));
        }
        Ok(())
    };
    dated("timeline", r.timeline.iter().map(|t| t.at).collect())?;
    dated("states", r.states.iter().map(|s| s.at).collect())?;
    dated("network", r.network.iter().map(|n| n.at).collect())?;
    for l in &r.leases {
        if l.end.is_some_and(|e| e < l.start || e > end) || l.start > end {
            return fail(format!("lease spell: {l:?}"));
        }
    }
    Ok(())
}

fn run(text: &str) -> Result<String, String> {
    let loaded = scenario::load("random.yaml", text).map_err(|errors| {
        let e: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("does not load:\n{}", e.join("\n"))
    })?;
    let s = &loaded.scenario;
    let out = scenario::build(s, None).run_for(s.duration());
    let report = Report::new(ScenarioInfo::new("random.yaml", text, s, None), s, &out);
    check_report(&report)?;
    Ok(report.to_json())
}

fn cases() -> u32 {
    std::env::var("HASIM_RANDOM_SCENARIOS").ok().and_then(|v| v.parse().ok()).unwrap_or(200)
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(0x7363_656e),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn random_scenarios_run_safely_and_report_consistently(c in case()) {
        let text = c.yaml();
        let first = run(&text);
        prop_assert!(first.is_ok(), "{}\nreproduce with seed={} and this file:\n{text}", first.unwrap_err(), c.seed);
        let again = run(&text).expect("ran once");
        prop_assert!(first.as_ref().unwrap() == &again, "two runs differ; reproduce with seed={} and this file:\n{text}", c.seed);
    }
}
