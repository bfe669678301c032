//! Scenario files: the YAML language users write clusters and failures in.
//!
//! `load` reads a file's text into a `Scenario` (types below, read with serde-saphyr:
//! unknown keys and duplicate keys are errors, input size, nesting and aliases are
//! bounded), then `validate` checks what the types cannot: node names that exist,
//! faults in time order and before the end, timings etcd and client-go themselves
//! would refuse. Every problem becomes a `Diagnostic` with file, line and column.
//! `Scenario::builder` turns a valid scenario into a `ClusterBuilder`; `expect`
//! evaluates its `expect:` block against the outcome. The JSON Schema comes from the
//! same types (`schema`).

pub mod diag;
pub mod duration;
pub mod expect;
pub mod faults;
mod validate;

use schemars::JsonSchema;
use serde::Deserialize;

pub use diag::Diagnostic;
pub use duration::{Dur, SignedDur};
pub use expect::{Expect, ExpectResult};
pub use faults::{FaultEntry, FaultKind};

use crate::time::SimDuration;

/// Largest scenario file accepted.
pub const MAX_BYTES: usize = 1 << 20;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, shown in reports.
    pub name: String,
    /// What happens and what a learner should watch for.
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice in the run (override with `--seed`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated time to run for.
    pub duration: Dur,
    pub topology: Topology,
    /// Overrides of component timings; every value defaults to the real default.
    #[serde(default)]
    pub timing: Timing,
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Faults in time order.
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
    /// Conditions on the outcome, checked by `hasim check`.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Alternative configurations run against the same faults and seeds (`hasim
    /// compare`). Each names the sections it replaces; the rest comes from above.
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// One configuration of a scenario with `variants:`. A section given here replaces the
/// scenario's section of the same name as a whole.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Shown in reports and tables; unique within the file.
    pub name: String,
    #[serde(default)]
    pub topology: Option<Topology>,
    #[serde(default)]
    pub timing: Option<Timing>,
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    /// This variant's own conditions; they replace the scenario's `expect` whole
    /// (otherwise the scenario's apply).
    #[serde(default)]
    pub expect: Option<Expect>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdTopology {
    /// One etcd member on each control-plane node (kubeadm's default).
    #[default]
    Stacked,
    /// etcd members on their own hosts, `etcd-1`…
    External,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    #[serde(default)]
    pub etcd: EtcdTopology,
    /// Control-plane nodes `cp-1`… (1–7).
    pub control_planes: u8,
    /// etcd members (1–7); external topology only (stacked has one per node).
    #[serde(default)]
    pub etcd_members: Option<u8>,
    /// Extra members that start as learners (at most 1, etcd's limit).
    #[serde(default)]
    pub learners: u8,
    /// Hosts with no member at the start, for `add_member` (named after the etcd hosts).
    #[serde(default)]
    pub spare_hosts: u8,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    /// A second LB host with keepalived sharing a VIP (lb-1 gets priority + 1).
    #[serde(default)]
    pub vip: Option<Vip>,
    /// How long before the run kubeadm signed the certificates (default 30d, under
    /// 365d). Their notBefore is 5 minutes (kubeadm's backdate) before that, their
    /// notAfter 365 days after it; a verifier whose clock reads outside that window
    /// refuses them, so a clock stepped back by more than the cluster's age plus 5
    /// minutes (less the time run so far) sees them as not yet valid.
    #[serde(default)]
    pub cluster_age: Option<Dur>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LbKind {
    /// HAProxy with active health checks.
    #[default]
    Haproxy,
    /// nginx stream proxy: passive failover only.
    Nginx,
    /// No LB: clients talk to cp-1 (the single control plane baseline).
    None,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// TCP connect to :6443 (HAProxy's default).
    #[default]
    Tcp,
    /// `option httpchk GET /readyz`.
    Http,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BalanceKind {
    #[default]
    Roundrobin,
    Leastconn,
}

/// Load-balancer settings; unset values take HAProxy's (or nginx's) defaults.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    #[serde(default)]
    pub kind: LbKind,
    #[serde(default)]
    pub check: CheckKind,
    pub inter: Option<Dur>,
    pub fastinter: Option<Dur>,
    pub downinter: Option<Dur>,
    pub fall: Option<u32>,
    pub rise: Option<u32>,
    #[serde(default)]
    pub balance: BalanceKind,
    /// `on-marked-down shutdown-sessions`.
    #[serde(default)]
    pub shutdown_sessions: bool,
    pub retries: Option<u32>,
    /// `option redispatch`: HAProxy's last retry goes to another server.
    #[serde(default)]
    pub redispatch: bool,
    pub timeout_connect: Option<Dur>,
    pub timeout_server: Option<Dur>,
    /// HAProxy's `timeout check`: once a check has connected, how long it waits for the
    /// answer (kubeadm's HA guide sets 10s). Unset, `inter` bounds the whole check; set,
    /// the connect may take the lesser of `inter` and `timeout_connect`.
    pub timeout_check: Option<Dur>,
    /// nginx: failures before a server is skipped.
    pub max_fails: Option<u32>,
    /// nginx: how long a failed server is skipped.
    pub fail_timeout: Option<Dur>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vip {
    pub advert_int: Option<Dur>,
    pub priority: Option<u8>,
    pub preempt: Option<bool>,
    /// keepalived's `track_script` running kubeadm's check_apiserver.sh (`curl
    /// --max-time 2` of / through the local HAProxy; any HTTP answer passes).
    /// `track_script: {}` takes kubeadm's values.
    #[serde(default)]
    pub track_script: Option<TrackScriptSpec>,
}

/// kubeadm's HA guide: `interval 3`, `weight -2`, `fall 10`, `rise 2`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackScriptSpec {
    /// How often the script runs (default 3s).
    pub interval: Option<Dur>,
    /// Added to the priority: a negative weight while the script is failed, a
    /// positive one while it is good (default -2); 0 puts the instance in FAULT state
    /// while the script is failed.
    pub weight: Option<i16>,
    /// Failures in a row that mark the script failed (default 10).
    pub fall: Option<u32>,
    /// Successes in a row that mark it good again (default 2).
    pub rise: Option<u32>,
    /// How long a run may take before keepalived kills it and counts it failed
    /// (default: the interval, as keepalived does when `timeout` is not set).
    pub timeout: Option<Dur>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    #[serde(default)]
    pub etcd: EtcdTiming,
    #[serde(default)]
    pub leader_election: LeaderElectionTiming,
    #[serde(default)]
    pub network: NetworkTiming,
    #[serde(default)]
    pub disk: DiskTiming,
    /// The apiserver's etcd health-check timeout (2 s).
    pub etcd_check_timeout: Option<Dur>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EtcdTiming {
    /// `--heartbeat-interval` (100ms).
    pub heartbeat_interval: Option<Dur>,
    /// `--election-timeout` (1s).
    pub election_timeout: Option<Dur>,
    /// `--pre-vote` (true since etcd 3.5).
    pub pre_vote: Option<bool>,
    /// `--snapshot-count` (10000).
    pub snapshot_count: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaderElectionTiming {
    /// `--leader-elect-lease-duration` (15s).
    pub lease_duration: Option<Dur>,
    /// `--leader-elect-renew-deadline` (10s).
    pub renew_deadline: Option<Dur>,
    /// `--leader-elect-retry-period` (2s).
    pub retry_period: Option<Dur>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkTiming {
    /// One-way delay of every link.
    pub latency: Option<Dur>,
    /// Extra delay up to this much, uniformly.
    pub jitter: Option<Dur>,
    /// Share of messages lost, 0 to 1.
    pub loss: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskTiming {
    pub fsync: Option<Dur>,
    pub fsync_jitter: Option<Dur>,
}

/// Client traffic through the control-plane endpoint.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    #[serde(default = "twenty")]
    pub writes_per_sec: u32,
    #[serde(default = "twenty")]
    pub quorum_reads_per_sec: u32,
    #[serde(default = "twenty")]
    pub cache_reads_per_sec: u32,
    /// Worker kubelets renewing their node Lease every 10 s.
    #[serde(default)]
    pub worker_nodes: u32,
    /// A client gives up after this long (10s; more than 0, at most 1h).
    pub timeout: Option<Dur>,
    /// Clients start after this warm-up (5s).
    pub start_after: Option<Dur>,
    /// Long-lived connections shared by the clients (kubelets then keep one each);
    /// unset: a new connection per request, as kubectl does.
    pub connections: Option<u32>,
    /// Retries of a failed request, within the timeout.
    #[serde(default)]
    pub retries: u32,
    pub retry_backoff: Option<Dur>,
}

fn twenty() -> u32 {
    20
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            writes_per_sec: 20,
            quorum_reads_per_sec: 20,
            cache_reads_per_sec: 20,
            worker_nodes: 0,
            timeout: None,
            start_after: None,
            connections: None,
            retries: 0,
            retry_backoff: None,
        }
    }
}

/// A scenario that loaded and passed validation, with its warnings.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
    pub file: String,
}

/// Reads and validates scenario text. `file` names it in diagnostics.
pub fn load(file: &str, text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let at = |line, column, message: String, hint: Option<String>| Diagnostic {
        file: file.to_string(),
        line,
        column,
        message,
        found: None,
        hint,
    };
    if text.len() > MAX_BYTES {
        return Err(vec![at(
            0,
            0,
            format!("the file is {} bytes; scenarios are limited to {} bytes", text.len(), MAX_BYTES),
            None,
        )]);
    }
    if text.trim().is_empty() {
        return Err(vec![at(
            1,
            1,
            "the file is empty".into(),
            Some("a scenario needs at least `name`, `duration` and `topology`".into()),
        )]);
    }
    if let Some(offset) = text.find('\0') {
        let line = text[..offset].matches('\n').count() as u64 + 1;
        let column = (offset - text[..offset].rfind('\n').map_or(0, |p| p + 1)) as u64 + 1;
        return Err(vec![at(line, column, "this is not a text file (it contains NUL bytes)".into(), None)]);
    }
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 24;
    budget.max_aliases = 200;
    budget.max_anchors = 200;
    budget.max_nodes = 50_000;
    budget.max_events = 200_000;
    budget.max_recorded_anchor_events = 20_000;
    budget.flow_nesting_limit = 24;
    options.budget = Some(budget);
    options.with_snippet = false;
    let scenario: Scenario = match serde_saphyr::from_str_with_options(text, options) {
        Ok(s) => s,
        Err(e) => return Err(vec![from_yaml_error(file, text, &e)]),
    };
    let (errors, warnings) = validate::check_all(file, text, &scenario);
    if errors.is_empty() { Ok(Loaded { scenario, warnings, file: file.to_string() }) } else { Err(errors) }
}

fn from_yaml_error(file: &str, text: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
    let plain = e.without_snippet().to_string();
    // The reader appends " at line L, column C"; we print the place ourselves. (Other
    // places inside the message, such as where an alias was defined, stay.)
    let raw = match plain.rsplit_once(" at line ") {
        Some((head, tail))
            if tail.split_once(", column ").is_some_and(|(l, c)| {
                !l.is_empty() && !c.is_empty() && l.bytes().chain(c.bytes()).all(|b| b.is_ascii_digit())
            }) =>
        {
            head.to_string()
        }
        _ => plain,
    };
    let (line, column) = diag::refine_location(text, &raw, line, column);
    let found = diag::token_at(text, line, column);
    let (message, mut hint) = diag::explain(&raw, found.as_deref());
    if hint.is_none() {
        hint = diag::node_value_hint(text, &raw, line, column);
    }
    if let Some(unclosed) = diag::unclosed_hint(text, line, column) {
        hint = Some(unclosed);
    }
    Diagnostic { file: file.to_string(), line, column, message, found, hint }
}

/// The JSON Schema of scenario files.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Scenario)).expect("a schema is plain JSON")
}

impl Scenario {
    pub fn duration(&self) -> SimDuration {
        self.duration.0
    }

    /// Its `expect` conditions evaluated against `out` (safety only, without any).
    pub fn evaluate(&self, out: &crate::cluster::RunOutcome) -> Vec<ExpectResult> {
        match &self.expect {
            Some(e) => e.evaluate(out),
            None => Expect::default().evaluate(out),
        }
    }

    /// The scenario as `v` configures it (with no variants of its own).
    pub fn with_variant(&self, v: &Variant) -> Scenario {
        let mut s = self.clone();
        s.variants = Vec::new();
        if let Some(t) = &v.topology {
            s.topology = t.clone();
        }
        if let Some(t) = &v.timing {
            s.timing = t.clone();
        }
        if let Some(w) = &v.workload {
            s.workload = w.clone();
        }
        if let Some(e) = &v.expect {
            s.expect = Some(e.clone());
        }
        s
    }

    /// What runs: each variant by name, or the scenario itself (named None) when it has
    /// no variants.
    pub fn configurations(&self) -> Vec<(Option<String>, Scenario)> {
        if self.variants.is_empty() {
            vec![(None, self.clone())]
        } else {
            self.variants.iter().map(|v| (Some(v.name.clone()), self.with_variant(v))).collect()
        }
    }

    /// The configuration called `name`; the error lists the names there are.
    pub fn variant(&self, name: &str) -> Result<Scenario, String> {
        match self.variants.iter().find(|v| v.name == name) {
            Some(v) => Ok(self.with_variant(v)),
            None if self.variants.is_empty() => Err(format!("{} has no variants", self.name)),
            None => {
                let names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
                let hint = diag::did_you_mean(name, names.iter().copied())
                    .map(|d| format!(" (did you mean `{d}`?)"))
                    .unwrap_or_default();
                Err(format!("no variant `{name}` in {}{hint}; it has: {}", self.name, names.join(", ")))
            }
        }
    }
}

pub use validate::build;
