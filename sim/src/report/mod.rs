//! What one run reports (DESIGN §5): a versioned document built from a `RunOutcome`
//! and the scenario's expectations, serialised with a stable field order (the order
//! below) so the same scenario and seed give the same bytes. Times and durations are
//! seconds of simulated time as decimal numbers (microsecond precision); host names
//! stand for hosts everywhere.
//!
//! `Report` is also read back (`hasim tui --report`, tests), so every type here is
//! `Deserialize` too, and `schema()` describes it. `text` renders the human summary.

pub mod json;
pub(crate) mod text;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster::{Component, EventKind, HostState, Plane, RunOutcome};
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};

pub use text::render_text;

/// The `format` field of a run report.
pub const RUN_FORMAT: &str = "hasim-run-report";
/// Bumped whenever a field changes meaning or is removed (adding fields does not).
pub const VERSION: u32 = 1;

/// Seconds, for the report.
pub fn secs(t: SimTime) -> f64 {
    t.as_micros() as f64 / 1e6
}

pub fn dur(d: SimDuration) -> f64 {
    d.as_micros() as f64 / 1e6
}

/// The report of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Always `hasim-run-report`.
    pub format: String,
    /// Version of this document's layout.
    pub version: u32,
    /// The hasim version that produced it (a run is a function of scenario, seed and this).
    pub hasim: String,
    pub scenario: ScenarioInfo,
    /// The seed of this run.
    pub seed: u64,
    pub verdict: Verdict,
    /// Every host, in the simulation's order.
    pub hosts: Vec<HostInfo>,
    /// Per plane, as clients saw it through the load balancer.
    pub availability: Vec<PlaneReport>,
    /// Windows in which requests of one plane failed, with the main cause. Failures at
    /// most 1 s apart are one outage, and so are failures further apart with no success
    /// in between.
    pub outages: Vec<OutageReport>,
    /// For each fault: how long until the outages it started were over.
    pub recovery: Vec<RecoveryReport>,
    pub etcd: EtcdReport,
    pub split_brain: SplitBrainReport,
    /// Who led kube-scheduler and kube-controller-manager, and when.
    pub leases: Vec<LeaseSpell>,
    pub safety: SafetyReport,
    /// The scenario's `expect` conditions (safety first, always).
    pub expectations: Vec<ExpectationReport>,
    /// Every notable event with a one-line reason.
    pub timeline: Vec<TimelineEvent>,
    /// Each host's state whenever it changed; the entries at 0 cover every host.
    pub states: Vec<StateChange>,
    /// The cut network links whenever they changed.
    pub network: Vec<NetworkChange>,
    pub stats: Stats,
}

/// Which scenario ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioInfo {
    pub name: String,
    /// The file as named on the command line.
    pub file: String,
    /// The variant of the scenario, when it has `variants:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// FNV-1a 64 of the file's bytes: tells apart runs of edited files.
    pub fingerprint: String,
    pub description: String,
    /// Simulated seconds.
    pub duration: f64,
}

impl ScenarioInfo {
    pub fn new(file: &str, text: &str, scenario: &Scenario, variant: Option<&str>) -> ScenarioInfo {
        ScenarioInfo {
            name: scenario.name.clone(),
            file: file.to_string(),
            variant: variant.map(str::to_string),
            fingerprint: fingerprint(text),
            description: scenario.description.trim_end().to_string(),
            duration: dur(scenario.duration()),
        }
    }
}

/// FNV-1a (64 bit) of `text`, as 16 hex digits: stable across platforms and versions.
pub fn fingerprint(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// Safety held and every expectation held.
    pub passed: bool,
    pub safety_held: bool,
    pub expectations_held: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostInfo {
    pub name: String,
    /// What runs there at the start: `etcd`, `control-plane`, `load-balancer`, or
    /// `clients` (the workload); empty for a spare host.
    pub roles: Vec<String>,
}

/// A plane of requests, named as in scenario files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlaneName {
    Writes,
    QuorumReads,
    CacheReads,
    NodeLeases,
}

impl From<Plane> for PlaneName {
    fn from(p: Plane) -> Self {
        match p {
            Plane::Write => PlaneName::Writes,
            Plane::QuorumRead => PlaneName::QuorumReads,
            Plane::CacheRead => PlaneName::CacheReads,
            Plane::NodeLease => PlaneName::NodeLeases,
        }
    }
}

impl PlaneName {
    pub const ALL: [PlaneName; 4] =
        [PlaneName::Writes, PlaneName::QuorumReads, PlaneName::CacheReads, PlaneName::NodeLeases];

    /// As a learner reads it.
    pub fn label(self) -> &'static str {
        match self {
            PlaneName::Writes => "writes",
            PlaneName::QuorumReads => "quorum reads",
            PlaneName::CacheReads => "cache reads",
            PlaneName::NodeLeases => "node lease renewals",
        }
    }

    /// One request of the plane, as a learner reads it.
    pub fn one(self) -> &'static str {
        match self {
            PlaneName::Writes => "write",
            PlaneName::QuorumReads => "quorum read",
            PlaneName::CacheReads => "cache read",
            PlaneName::NodeLeases => "node lease renewal",
        }
    }

    /// As in scenario files and JSON.
    pub fn key(self) -> &'static str {
        match self {
            PlaneName::Writes => "writes",
            PlaneName::QuorumReads => "quorum_reads",
            PlaneName::CacheReads => "cache_reads",
            PlaneName::NodeLeases => "node_leases",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlaneReport {
    pub plane: PlaneName,
    pub ok: u64,
    pub failed: u64,
    /// ok / (ok + failed), rounded to 4 decimals; 1 when nothing was sent.
    pub ratio: f64,
    /// Answered, but a second or more after they were sent (the client waited out a
    /// 429's Retry-After, the LB's connect retry, or retried itself).
    pub slow: u64,
    /// Seconds from sending to the slowest answer that came back.
    pub slowest: f64,
    /// Requests per second of simulated time (by when they were issued). A request
    /// still waiting for its answer when the run ended counts by the answer it got
    /// afterwards (at the latest, its deadline).
    pub per_second: PerSecond,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PerSecond {
    pub ok: Vec<u32>,
    pub failed: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutageReport {
    pub plane: PlaneName,
    /// First and last failed request (seconds); `end` is the end of the run when the
    /// outage was still going then.
    pub start: f64,
    pub end: f64,
    pub duration: f64,
    pub failed: u64,
    /// Why most of its requests failed.
    pub cause: String,
    /// Still going when the run ended: no request issued after its last failure had
    /// succeeded by then, or that failure came in the run's last second.
    pub ongoing: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecoveryReport {
    /// When the fault was applied.
    pub at: f64,
    pub fault: String,
    /// Seconds from the fault to the end of the outages it started; null when clients
    /// saw no outage, or when one was still going at the end (`ongoing`).
    pub recovered_after: Option<f64>,
    pub ongoing: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EtcdReport {
    /// Elections won after the first.
    pub leader_changes: u64,
    /// Pre-votes and elections started.
    pub campaigns: u64,
    /// Every election won: when, who, which term.
    pub leaders: Vec<LeaderReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LeaderReport {
    pub at: f64,
    pub host: String,
    pub term: u64,
}

/// The split-brain outcomes, each a list of windows with start, end and cause.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SplitBrainReport {
    /// Two or more members that each believed they led etcd (in different terms).
    pub etcd_leaders: Vec<SplitWindow>,
    /// Two kube-scheduler instances active at once.
    pub scheduler: Vec<SplitWindow>,
    /// Two kube-controller-manager instances active at once.
    pub controller_manager: Vec<SplitWindow>,
    /// Cache reads answered at least 1 s behind the committed state.
    pub stale_reads: StaleReads,
    /// Requests the LB sent to a backend that could not serve them.
    pub misrouted: Misrouted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SplitWindow {
    pub start: f64,
    /// null: still open when the run ended.
    pub end: Option<f64>,
    pub hosts: Vec<String>,
    pub cause: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StaleReads {
    pub count: u64,
    /// The stalest answer, in seconds.
    pub max_staleness: f64,
    pub windows: Vec<CountedWindow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Misrouted {
    pub count: u64,
    pub windows: Vec<CountedWindow>,
}

/// Requests of one kind grouped into windows (gaps under 1 s joined).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CountedWindow {
    pub start: f64,
    pub end: f64,
    pub count: u64,
    pub cause: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LeaseSpell {
    /// `kube-scheduler` or `kube-controller-manager`.
    pub component: String,
    pub host: String,
    pub start: f64,
    pub end: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SafetyReport {
    /// Every Raft safety invariant held (a violation is a bug in hasim).
    pub held: bool,
    pub violations: Vec<ViolationReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ViolationReport {
    pub at: f64,
    pub invariant: String,
    pub detail: String,
}

/// An expectation as the report lists it: the dotted name (`availability.writes`),
/// the bound, the figure and whether it held.
pub type ExpectationReport = crate::scenario::ExpectResult;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TimelineEvent {
    pub at: f64,
    /// The host it concerns, if one.
    pub host: Option<String>,
    pub kind: EventKind,
    /// What happened and why, for a learner.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StateChange {
    pub at: f64,
    pub host: String,
    pub state: HostState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkChange {
    pub at: f64,
    /// Directed links that deliver nothing: [from, to].
    pub cut: Vec<[String; 2]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub fsyncs: u64,
}

/// Failures or stale reads closer together than this belong to one window.
const WINDOW_GAP: SimDuration = SimDuration(1_000_000);

impl Report {
    /// The report of `out`, a run of `scenario` described by `info`.
    pub fn new(info: ScenarioInfo, scenario: &Scenario, out: &RunOutcome) -> Report {
        let name = |h: crate::ids::HostId| out.host_names[h.index()].clone();
        let expectations = scenario.evaluate(out);
        let safety_held = out.violations.is_empty();
        let expectations_held = expectations.iter().all(|e| e.held);
        let cp = out.control_plane.as_ref();

        let availability = cp
            .map(|cp| {
                cp.planes
                    .iter()
                    .filter(|(_, a)| a.ok + a.failed > 0)
                    .map(|(p, a)| PlaneReport {
                        plane: (*p).into(),
                        ok: a.ok,
                        failed: a.failed,
                        ratio: round4(a.ratio()),
                        slow: a.slow,
                        slowest: dur(a.slowest),
                        per_second: PerSecond {
                            ok: a.per_second.iter().map(|s| s.0).collect(),
                            failed: a.per_second.iter().map(|s| s.1).collect(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        let outages = cp
            .map(|cp| {
                cp.outages
                    .iter()
                    .map(|o| OutageReport {
                        plane: o.plane.into(),
                        start: secs(o.start),
                        end: secs(o.end),
                        duration: dur(o.end.since(o.start)),
                        failed: o.failed,
                        cause: o.cause.clone(),
                        ongoing: o.ongoing,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let faults: Vec<(SimTime, String)> =
            cp.map(|cp| cp.recovery.iter().map(|r| (r.at, r.fault.clone())).collect()).unwrap_or_default();
        let recovery = cp
            .map(|cp| {
                cp.recovery
                    .iter()
                    .map(|r| RecoveryReport {
                        at: secs(r.at),
                        fault: r.fault.clone(),
                        recovered_after: r.recovered_after.map(dur),
                        ongoing: r.ongoing,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // The fault that came last before `t`, to say what a split-brain window followed.
        let after_fault = |t: SimTime| {
            faults
                .iter()
                .rev()
                .find(|(at, _)| *at <= t)
                .map(|(at, f)| format!(" (after the fault at {}: {f})", SimDuration(at.as_micros())))
                .unwrap_or_default()
        };

        let etcd_leaders = out
            .etcd_overlaps
            .iter()
            .map(|o| {
                let who: Vec<String> = o.leaders.iter().map(|(h, t)| format!("{} (term {t})", name(*h))).collect();
                SplitWindow {
                    start: secs(o.start),
                    end: o.end.map(secs),
                    hosts: o.leaders.iter().map(|(h, _)| name(*h)).collect(),
                    cause: format!(
                        "{} {} believed they led: an old leader keeps leading until CheckQuorum or a higher term reaches it{}",
                        who.join(" and "),
                        if who.len() == 2 { "both" } else { "all" },
                        after_fault(o.start)
                    ),
                }
            })
            .collect();
        let component_windows = |c: Component| -> Vec<SplitWindow> {
            cp.map(|cp| {
                cp.overlaps
                    .iter()
                    .filter(|o| o.component == c)
                    .map(|o| SplitWindow {
                        start: secs(o.start),
                        end: o.end.map(secs),
                        hosts: o.hosts.iter().map(|h| name(*h)).collect(),
                        cause: format!(
                            "{} instances on {} each believed they held the lease{}",
                            c.name(),
                            o.hosts.iter().map(|h| name(*h)).collect::<Vec<_>>().join(" and "),
                            after_fault(o.start)
                        ),
                    })
                    .collect()
            })
            .unwrap_or_default()
        };
        let stale_reads = StaleReads {
            count: cp.map_or(0, |c| c.stale_reads),
            max_staleness: cp.map_or(0.0, |c| dur(c.max_staleness)),
            windows: cp
                .map(|cp| {
                    let marks: Vec<(SimTime, String)> = cp
                        .stale
                        .iter()
                        .map(|(t, h)| (*t, format!("the watch cache of the apiserver on {} was behind", name(*h))))
                        .collect();
                    counted_windows(&marks)
                })
                .unwrap_or_default(),
        };
        let misrouted = Misrouted {
            count: cp.map_or(0, |c| c.misrouted.len() as u64),
            windows: cp
                .map(|cp| {
                    let marks: Vec<(SimTime, String)> = cp
                        .misrouted
                        .iter()
                        .map(|(t, b)| (*t, format!("sent to {}, which could not serve it", name(*b))))
                        .collect();
                    counted_windows(&marks)
                })
                .unwrap_or_default(),
        };
        let split_brain = SplitBrainReport {
            etcd_leaders,
            scheduler: component_windows(Component::Scheduler),
            controller_manager: component_windows(Component::ControllerManager),
            stale_reads,
            misrouted,
        };

        let leases = cp
            .map(|cp| {
                cp.leading
                    .iter()
                    .map(|s| LeaseSpell {
                        component: s.component.name().to_string(),
                        host: name(s.host),
                        start: secs(s.start),
                        end: s.end.map(secs),
                    })
                    .collect()
            })
            .unwrap_or_default();

        let hosts = out
            .host_names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let first = out.states.iter().find(|f| f.host.index() == i).map(|f| &f.state);
                let mut roles = Vec::new();
                if let Some(s) = first {
                    if s.etcd.is_some() {
                        roles.push("etcd".to_string());
                    }
                    if s.apiserver.is_some() {
                        roles.push("control-plane".to_string());
                    }
                    if s.lb.is_some() {
                        roles.push("load-balancer".to_string());
                    }
                }
                // The host the workload's clients run on (see `ClusterSpec::host_layout`).
                if roles.is_empty() && n == "client" {
                    roles.push("clients".to_string());
                }
                HostInfo { name: n.clone(), roles }
            })
            .collect();

        Report {
            format: RUN_FORMAT.to_string(),
            version: VERSION,
            hasim: env!("CARGO_PKG_VERSION").to_string(),
            scenario: info,
            seed: out.seed,
            verdict: Verdict { passed: safety_held && expectations_held, safety_held, expectations_held },
            hosts,
            availability,
            outages,
            recovery,
            etcd: EtcdReport {
                leader_changes: out.leader_history.len().saturating_sub(1) as u64,
                campaigns: out.stats.campaigns,
                leaders: out
                    .leader_history
                    .iter()
                    .map(|l| LeaderReport { at: secs(l.at), host: name(l.host), term: l.term.0 })
                    .collect(),
            },
            split_brain,
            leases,
            safety: SafetyReport {
                held: safety_held,
                violations: out
                    .violations
                    .iter()
                    .map(|v| ViolationReport {
                        at: secs(v.at),
                        invariant: format!("{:?}", v.kind),
                        detail: v.detail.clone(),
                    })
                    .collect(),
            },
            expectations,
            timeline: out
                .timeline
                .iter()
                .map(|t| TimelineEvent { at: secs(t.at), host: t.host.map(name), kind: t.kind, text: t.text.clone() })
                .collect(),
            states: out
                .states
                .iter()
                .map(|f| StateChange { at: secs(f.at), host: name(f.host), state: f.state.clone() })
                .collect(),
            network: out
                .network
                .iter()
                .map(|f| NetworkChange {
                    at: secs(f.at),
                    cut: f.cut.iter().map(|(a, b)| [name(*a), name(*b)]).collect(),
                })
                .collect(),
            stats: Stats {
                events: out.stats.events,
                messages_sent: out.stats.messages_sent,
                messages_dropped: out.stats.messages_dropped,
                fsyncs: out.stats.fsyncs,
            },
        }
    }

    /// The report as hasim prints it (see `json`).
    pub fn to_json(&self) -> String {
        json::to_string(self)
    }

    /// The longest outage of any plane, in seconds (0 without outages).
    pub fn longest_outage(&self) -> f64 {
        self.outages.iter().map(|o| o.duration).fold(0.0, f64::max)
    }
}

/// Marks closer together than `WINDOW_GAP` joined into windows, each with the most
/// common reason (the earliest on a tie).
fn counted_windows(marks: &[(SimTime, String)]) -> Vec<CountedWindow> {
    let mut sorted: Vec<&(SimTime, String)> = marks.iter().collect();
    sorted.sort_by_key(|(t, _)| *t);
    let mut windows = Vec::new();
    for run in crate::time::runs_within(&sorted, |m| m.0, WINDOW_GAP) {
        let group = &sorted[run];
        let mut counts: Vec<(&str, u64)> = Vec::new();
        for (_, why) in group {
            match counts.iter_mut().find(|(w, _)| w == why) {
                Some(c) => c.1 += 1,
                None => counts.push((why, 1)),
            }
        }
        let mut best = counts[0];
        for &c in &counts[1..] {
            if c.1 > best.1 {
                best = c;
            }
        }
        windows.push(CountedWindow {
            start: secs(group[0].0),
            end: secs(group[group.len() - 1].0),
            count: group.len() as u64,
            cause: best.0.to_string(),
        });
    }
    windows
}

/// Ratios are reported to 4 decimals (as `expect` compares them).
pub(crate) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// JSON Schema of `Report`.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).expect("a schema is plain JSON")
}
