//! A small hand-made report for unit tests: three stacked control-plane nodes and an
//! LB; cp-2 leads etcd, crashes at 10 s, cp-3 takes over, the LB marks cp-2 DOWN at 14 s,
//! cp-2 comes back at 30 s. Small enough that a test can say exactly what it expects.

use hasim_sim::cluster::{
    ApiserverView, BackendView, ElectedView, EtcdRole, EtcdView, EventKind, HostState, LbView, Power,
};
use hasim_sim::report::*;

fn cp(role: EtcdRole, term: u64, leading: bool) -> HostState {
    HostState {
        power: Power::Up,
        etcd: Some(EtcdView { role, term, paused: false }),
        apiserver: Some(ApiserverView { ready: true, paused: false }),
        scheduler: Some(ElectedView { leading, paused: false }),
        controller_manager: Some(ElectedView { leading, paused: false }),
        lb: None,
        expired_certs: vec![],
    }
}

fn down() -> HostState {
    HostState {
        power: Power::Down,
        etcd: None,
        apiserver: None,
        scheduler: None,
        controller_manager: None,
        lb: None,
        expired_certs: vec![],
    }
}

fn lb(cp2_up: bool) -> HostState {
    let backend = |host: &str, up| BackendView { host: host.to_string(), up };
    HostState {
        lb: Some(LbView {
            backends: vec![backend("cp-1", true), backend("cp-2", cp2_up), backend("cp-3", true)],
            holds_vip: None,
            proxy_stopped: false,
            proxy_frozen: false,
        }),
        ..down()
    }
    .powered()
}

trait Powered {
    fn powered(self) -> Self;
}

impl Powered for HostState {
    fn powered(mut self) -> Self {
        self.power = Power::Up;
        self
    }
}

fn state(at: f64, host: &str, state: HostState) -> StateChange {
    StateChange { at, host: host.to_string(), state }
}

fn event(at: f64, host: Option<&str>, kind: EventKind, text: &str) -> TimelineEvent {
    TimelineEvent { at, host: host.map(str::to_string), kind, text: text.to_string() }
}

fn plane(plane: PlaneName, failed_at: &[usize]) -> PlaneReport {
    let ok: Vec<u32> = (0..60).map(|s| if failed_at.contains(&s) { 10 } else { 20 }).collect();
    let failed: Vec<u32> = (0..60).map(|s| if failed_at.contains(&s) { 10 } else { 0 }).collect();
    PlaneReport {
        plane,
        ok: ok.iter().map(|&x| u64::from(x)).sum(),
        failed: failed.iter().map(|&x| u64::from(x)).sum(),
        ratio: 0.97,
        slow: 0,
        slowest: 0.02,
        per_second: PerSecond { ok, failed },
    }
}

fn outage(plane: PlaneName, start: f64, end: f64) -> OutageReport {
    OutageReport {
        plane,
        start,
        end,
        duration: end - start,
        failed: 40,
        cause: "the load balancer kept sending new connections to cp-2".to_string(),
        ongoing: false,
    }
}

pub fn report() -> Report {
    let hosts = ["cp-1", "cp-2", "cp-3", "lb-1"];
    let roles = |h: &str| {
        if h.starts_with("cp") {
            vec!["etcd".to_string(), "control-plane".to_string()]
        } else {
            vec!["load-balancer".into()]
        }
    };
    Report {
        format: RUN_FORMAT.to_string(),
        version: VERSION,
        hasim: "0.1.0".to_string(),
        scenario: ScenarioInfo {
            name: "sample".to_string(),
            file: "sample.yaml".to_string(),
            variant: None,
            fingerprint: "fnv1a64:0".to_string(),
            description: "A hand-made report.".to_string(),
            duration: 60.0,
        },
        seed: 7,
        verdict: Verdict { passed: true, safety_held: true, expectations_held: true },
        hosts: hosts.iter().map(|h| HostInfo { name: h.to_string(), roles: roles(h) }).collect(),
        availability: vec![
            plane(PlaneName::Writes, &[10, 11, 12, 13]),
            plane(PlaneName::QuorumReads, &[10, 11, 12, 13, 14]),
            plane(PlaneName::CacheReads, &[35]),
        ],
        outages: vec![
            outage(PlaneName::Writes, 10.0, 13.9),
            outage(PlaneName::QuorumReads, 10.2, 14.2),
            outage(PlaneName::CacheReads, 35.0, 36.0),
        ],
        recovery: vec![],
        etcd: EtcdReport {
            leader_changes: 1,
            campaigns: 2,
            leaders: vec![
                LeaderReport { at: 1.0, host: "cp-2".into(), term: 2 },
                LeaderReport { at: 11.5, host: "cp-3".into(), term: 3 },
            ],
        },
        split_brain: SplitBrainReport {
            etcd_leaders: vec![],
            scheduler: vec![],
            controller_manager: vec![SplitWindow {
                start: 30.0,
                end: Some(32.0),
                hosts: vec!["cp-1".into(), "cp-2".into()],
                cause: "two controller-managers".into(),
            }],
            stale_reads: StaleReads { count: 0, max_staleness: 0.0, windows: vec![] },
            misrouted: Misrouted { count: 0, windows: vec![] },
        },
        leases: vec![
            LeaseSpell {
                component: "kube-controller-manager".into(),
                host: "cp-2".into(),
                start: 2.0,
                end: Some(32.0),
            },
            LeaseSpell { component: "kube-controller-manager".into(), host: "cp-1".into(), start: 30.0, end: None },
        ],
        safety: SafetyReport { held: true, violations: vec![] },
        expectations: vec![],
        timeline: vec![
            event(1.0, Some("cp-2"), EventKind::Etcd, "cp-2 became leader of term 2 with 2 vote(s)"),
            event(10.0, Some("cp-2"), EventKind::Fault, "fault: cp-2 crashed (power loss)"),
            event(11.5, Some("cp-3"), EventKind::Etcd, "cp-3 became leader of term 3 with 2 vote(s)"),
            event(14.0, Some("cp-2"), EventKind::LoadBalancer, "lb-1 marked cp-2 DOWN after 3 failed TCP checks"),
            event(30.0, Some("cp-2"), EventKind::Fault, "fault: cp-2 restarted"),
            event(30.0, None, EventKind::SplitBrain, "split brain: kube-controller-manager is active on cp-1 and cp-2"),
            event(40.0, Some("cp-1"), EventKind::Lease, "kube-scheduler on cp-1 acquired the lease"),
        ],
        states: vec![
            state(0.0, "cp-1", cp(EtcdRole::Follower, 1, false)),
            state(0.0, "cp-2", cp(EtcdRole::Follower, 1, false)),
            state(0.0, "cp-3", cp(EtcdRole::Follower, 1, false)),
            state(0.0, "lb-1", lb(true)),
            state(1.0, "cp-2", cp(EtcdRole::Leader, 2, true)),
            state(10.0, "cp-2", down()),
            state(11.5, "cp-3", cp(EtcdRole::Leader, 3, false)),
            state(14.0, "lb-1", lb(false)),
            state(30.0, "cp-2", cp(EtcdRole::Follower, 3, true)),
        ],
        network: vec![],
        stats: Stats { events: 0, messages_sent: 0, messages_dropped: 0, fsyncs: 0 },
    }
}

/// A sweep of four made-up runs of the sample scenario: seed 3 had the longest outage
/// and a controller-manager split brain, seed 4 failed an expectation.
pub fn sweep() -> hasim_sim::sweep::SweepReport {
    use hasim_sim::sweep::{RunSummary, SeedRange, SplitCounts, SweepReport};
    let run = |seed: u64, outage: f64, writes: f64, kcm: u64, failed: &[&str]| RunSummary {
        seed,
        passed: failed.is_empty(),
        failed: failed.iter().map(|f| f.to_string()).collect(),
        availability: vec![(PlaneName::Writes, writes)],
        slowest: vec![(PlaneName::Writes, outage / 2.0)],
        outages: vec![outage],
        recovery: vec![outage + 1.0],
        leader_changes: 1,
        split_brain: SplitCounts { controller_manager: kcm, ..SplitCounts::default() },
    };
    let runs = vec![
        run(1, 10.0, 0.97, 0, &[]),
        run(2, 11.0, 0.96, 0, &[]),
        run(3, 14.0, 0.95, 1, &[]),
        run(4, 12.0, 0.90, 0, &["availability.writes"]),
    ];
    SweepReport::from_runs(report().scenario, SeedRange { first: 1, count: 4 }, None, runs)
}

/// A comparison of two configurations, each the sample sweep's runs under another label.
pub fn compare() -> hasim_sim::sweep::CompareReport {
    use hasim_sim::sweep::CompareReport;
    let s = sweep();
    let entry = |label: &str| {
        let mut info = s.scenario.clone();
        info.variant = Some(label.to_string());
        (label.to_string(), info, s.runs.clone())
    };
    CompareReport::new(s.seeds, vec![entry("stacked"), entry("external")])
}
