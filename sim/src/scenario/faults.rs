//! The fault timeline of a scenario. Each entry is a mapping with `at:`, optionally
//! `for:` (undone automatically that long after), and exactly one fault kind as a key:
//!
//! ```yaml
//! - at: 20s
//!   for: 30s
//!   crash: cp-2
//! - at: 1m
//!   kill: { node: scheduler-leader, process: kube-scheduler }
//! ```
//!
//! The entry is read by hand (not derived) so that a misspelt kind gets "unknown fault
//! kind `crsh`, did you mean `crash`?" at its own line and column.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::duration::{Dur, SignedDur};

/// A node name as written (`cp-1`, `etcd-2`, `lb-1`) or a role resolved when the fault
/// fires (`etcd-leader`, `etcd-follower`, `scheduler-leader`,
/// `controller-manager-leader`, `lb-active`).
pub type Node = Spanned<String>;

/// A process on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessName {
    Etcd,
    KubeApiserver,
    KubeScheduler,
    KubeControllerManager,
    /// The proxy on an LB host (`load_balancer.kind: haproxy`): kill, stop_process
    /// and start only.
    Haproxy,
    /// The proxy on an LB host (`load_balancer.kind: nginx`): kill, stop_process and
    /// start only.
    Nginx,
}

/// A certificate kubeadm issues to a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CertName {
    EtcdPeer,
    EtcdServer,
    ApiserverEtcdClient,
    /// The apiserver's serving certificate.
    Apiserver,
    SchedulerKubeconfig,
    ControllerManagerKubeconfig,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnProcess {
    #[schemars(with = "String")]
    pub node: Node,
    pub process: ProcessName,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneWay {
    #[schemars(with = "String")]
    pub from: Node,
    #[schemars(with = "String")]
    pub to: Node,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BridgeSpec {
    #[schemars(with = "Vec<String>")]
    pub side_a: Vec<Node>,
    #[schemars(with = "Vec<String>")]
    pub side_b: Vec<Node>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The two nodes whose link changes (both directions).
    #[schemars(with = "Vec<String>")]
    pub between: Vec<Node>,
    pub latency: Option<Dur>,
    pub jitter: Option<Dur>,
    /// Share of messages lost, 0 to 1.
    pub loss: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowDiskSpec {
    #[schemars(with = "String")]
    pub node: Node,
    /// Latency of every fsync.
    pub fsync: Dur,
    /// Extra latency up to this much, uniformly.
    #[serde(default)]
    pub jitter: Option<Dur>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockStepSpec {
    #[schemars(with = "String")]
    pub node: Node,
    /// How far the clock jumps (negative: back).
    pub by: SignedDur,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockDriftSpec {
    #[schemars(with = "String")]
    pub node: Node,
    /// The clock's speed relative to true time: 1.5 runs 50 % fast. (Where it is
    /// written is kept for the diagnostic of a rate out of range.)
    #[schemars(with = "f64")]
    pub rate: Spanned<f64>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CertSpec {
    #[schemars(with = "String")]
    pub node: Node,
    pub cert: CertName,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberSpec {
    /// A spare host (`topology.spare_hosts`) that runs no member yet.
    #[schemars(with = "String")]
    pub node: Node,
    #[serde(default)]
    pub learner: bool,
}

/// One kind of fault and its target. In YAML the kind is the key.
#[derive(Clone, Debug, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Power loss: every process on the node dies; unsynced writes are lost. Undone by
    /// `restart`.
    Crash(#[schemars(with = "String")] Node),
    /// Boot a crashed node (or start a stopped etcd).
    Restart(#[schemars(with = "String")] Node),
    /// Graceful stop of etcd on the node (a leader hands over first).
    Stop(#[schemars(with = "String")] Node),
    /// Crash and erase the etcd data directory.
    Wipe(#[schemars(with = "String")] Node),
    /// An LB host fails (a crash of `lb-1`, `lb-2` or `lb-active`).
    LbFailure(#[schemars(with = "String")] Node),
    /// The process dies (SIGKILL); the node stays up. The kubelet starts it again within
    /// a second, or after its crash-loop back-off (10 s, 20 s, ... 300 s) if it exited
    /// within the last 10 minutes.
    Kill(OnProcess),
    /// Start a process that is not running.
    Start(OnProcess),
    /// Graceful stop (SIGTERM) of one process, as when its static pod manifest is moved
    /// away: it stays down until a `start` (or the end of `for`).
    StopProcess(OnProcess),
    /// Freeze one process (SIGSTOP).
    Pause(OnProcess),
    /// Thaw one process (SIGCONT).
    Resume(OnProcess),
    /// Freeze the whole node (a paused VM).
    PauseHost(#[schemars(with = "String")] Node),
    ResumeHost(#[schemars(with = "String")] Node),
    /// Cut every link of the node.
    Isolate(#[schemars(with = "String")] Node),
    /// Symmetric partition into groups; nodes in no group form one more group.
    Partition(#[schemars(with = "Vec<Vec<String>>")] Vec<Vec<Node>>),
    /// `from`'s packets no longer reach `to`.
    OneWay(OneWay),
    /// `side_a` and `side_b` cannot reach each other; everyone else reaches both.
    Bridge(BridgeSpec),
    /// Restore every link (the value is ignored: write `heal: all`).
    Heal(String),
    /// Share of messages lost on every link, 0 to 1.
    MessageLoss(f64),
    /// Latency, jitter and loss of one link.
    Link(LinkSpec),
    SlowDisk(SlowDiskSpec),
    ClockStep(ClockStepSpec),
    ClockDrift(ClockDriftSpec),
    /// A certificate of the node expires now.
    ExpireCert(CertSpec),
    /// `kubeadm certs renew all` on the node, then its static pods restart.
    RenewCerts(#[schemars(with = "String")] Node),
    AddMember(AddMemberSpec),
    RemoveMember(#[schemars(with = "String")] Node),
    PromoteLearner(#[schemars(with = "String")] Node),
}

/// One table names every kind: the list for "did you mean", the keys a fault entry may
/// have, and the reader of each kind's value.
macro_rules! fault_kinds {
    ($($key:literal => $variant:ident,)*) => {
        /// Every fault kind's key, for "did you mean".
        pub const FAULT_KINDS: &[&str] = &[$($key),*];

        /// Every key a fault entry may have: `at`, `for` and the kinds.
        pub const ENTRY_KEYS: &[&str] = &["at", "for", $($key),*];

        fn read_kind<'de, A: MapAccess<'de>>(name: &str, map: &mut A) -> Result<FaultKind, A::Error> {
            Ok(match name {
                $($key => FaultKind::$variant(map.next_value()?),)*
                _ => unreachable!("the caller checked `name` against FAULT_KINDS"),
            })
        }
    };
}

fault_kinds! {
    "crash" => Crash,
    "restart" => Restart,
    "stop" => Stop,
    "wipe" => Wipe,
    "lb_failure" => LbFailure,
    "kill" => Kill,
    "start" => Start,
    "stop_process" => StopProcess,
    "pause" => Pause,
    "resume" => Resume,
    "pause_host" => PauseHost,
    "resume_host" => ResumeHost,
    "isolate" => Isolate,
    "partition" => Partition,
    "one_way" => OneWay,
    "bridge" => Bridge,
    "heal" => Heal,
    "message_loss" => MessageLoss,
    "link" => Link,
    "slow_disk" => SlowDisk,
    "clock_step" => ClockStep,
    "clock_drift" => ClockDrift,
    "expire_cert" => ExpireCert,
    "renew_certs" => RenewCerts,
    "add_member" => AddMember,
    "remove_member" => RemoveMember,
    "promote_learner" => PromoteLearner,
}

/// How the error for a second kind in one entry starts (`diag::explain` adds the hint).
pub(crate) const SECOND_KIND: &str = "a second fault kind";

/// One entry of the fault timeline.
#[derive(Clone, Debug)]
pub struct FaultEntry {
    pub at: Spanned<Dur>,
    pub lasts: Option<Spanned<Dur>>,
    pub kind: FaultKind,
    /// Where the kind key was written.
    pub kind_at: serde_saphyr::Location,
    pub kind_name: &'static str,
}

impl<'de> Deserialize<'de> for FaultEntry {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = FaultEntry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a fault: a mapping with `at:` and one fault kind, such as `crash: cp-1`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FaultEntry, A::Error> {
        let mut at = None;
        let mut lasts = None;
        let mut kind: Option<(FaultKind, &'static str, serde_saphyr::Location)> = None;
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            match key.value.as_str() {
                "at" => {
                    if at.is_some() {
                        return Err(de::Error::custom("duplicate key `at`"));
                    }
                    at = Some(map.next_value()?);
                }
                "for" => {
                    if lasts.is_some() {
                        return Err(de::Error::custom("duplicate key `for`"));
                    }
                    lasts = Some(map.next_value()?);
                }
                other => {
                    // `unknown_field` and `invalid_value` (unlike `custom`) are placed at the
                    // key just read, not at the start of the entry; `diag::explain` words them.
                    let Some(&name) = FAULT_KINDS.iter().find(|k| **k == other) else {
                        return Err(de::Error::unknown_field(other, ENTRY_KEYS));
                    };
                    if let Some((_, first, _)) = &kind {
                        return Err(de::Error::invalid_value(
                            de::Unexpected::Other(&format!("{SECOND_KIND} `{name}`")),
                            &format!("one fault per entry (this entry already has `{first}`)").as_str(),
                        ));
                    }
                    let value = read_kind(name, &mut map)?;
                    kind = Some((value, name, key.referenced));
                }
            }
        }
        let at = at.ok_or_else(|| de::Error::custom("this fault has no `at:` (when it happens, such as `at: 20s`)"))?;
        let (kind, kind_name, kind_at) = kind.ok_or_else(|| {
            de::Error::custom(format!("this fault names no kind; add one of: {}", FAULT_KINDS.join(", ")))
        })?;
        Ok(FaultEntry { at, lasts, kind, kind_at, kind_name })
    }
}

impl JsonSchema for FaultEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Fault".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // One alternative per kind: `at`, optional `for`, and that kind's key.
        let mut kinds = FaultKind::json_schema(generator);
        // Each kind's alternative lists only its own key; `at` and `for` sit beside it.
        if let Some(alternatives) = kinds.get_mut("oneOf").and_then(|v| v.as_array_mut()) {
            for alt in alternatives {
                if let Some(o) = alt.as_object_mut() {
                    o.remove("additionalProperties");
                }
            }
        }
        let at = generator.subschema_for::<Dur>();
        let mut schema = schemars::json_schema!({
            "description": "One fault: `at` (when), optionally `for` (undone that long after), and exactly one fault kind.",
            "type": "object",
            "required": ["at"],
            "properties": { "at": at.clone(), "for": at },
            "allOf": [kinds],
            "minProperties": 2,
        });
        schema.insert("unevaluatedProperties".into(), serde_json::Value::Bool(false));
        schema
    }
}
