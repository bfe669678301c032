//! The `expect:` block: conditions on a run's figures, each a bound (`{min: …, max: …}`
//! or a single value meaning exactly that). Every run must also be safe: a Raft safety
//! violation fails every scenario, whatever it expects.
//!
//! ```yaml
//! expect:
//!   availability: { writes: { min: 0.9 } }
//!   longest_outage: { max: 15s }
//!   split_brain: { controller_manager: 0 }
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::duration::Dur;
use crate::cluster::{Component, Plane, RunOutcome};
use crate::time::SimDuration;

/// An inclusive range; either end may be open.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Range_of_{T}")]
struct BoundMap<T> {
    min: Option<T>,
    max: Option<T>,
}

impl<T: JsonSchema> JsonSchema for Bound<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Bound_of_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let exact = generator.subschema_for::<T>();
        let range = generator.subschema_for::<BoundMap<T>>();
        schemars::json_schema!({
            "description": "`{ min: …, max: … }` (either may be left out), or one value meaning exactly that.",
            "anyOf": [exact, range],
        })
    }
}

impl<'de, T: DeserializeOwned + Clone> Deserialize<'de> for Bound<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: DeserializeOwned + Clone> Visitor<'de> for V<T> {
            type Value = Bound<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bound: `{ min: …, max: … }` or a single value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Bound<T>, A::Error> {
                let m = BoundMap::<T>::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Bound { min: m.min, max: m.max })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bound<T>, E> {
                exact(T::deserialize(v.into_deserializer()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bound<T>, E> {
                exact(T::deserialize(v.into_deserializer()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bound<T>, E> {
                exact(T::deserialize(v.into_deserializer()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bound<T>, E> {
                exact(T::deserialize(v.into_deserializer()))
            }
        }
        fn exact<T: Clone, E: de::Error>(v: Result<T, E>) -> Result<Bound<T>, E> {
            let v = v?;
            Ok(Bound { min: Some(v.clone()), max: Some(v) })
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: PartialOrd + Copy + fmt::Display> Bound<T> {
    fn holds(&self, v: T) -> bool {
        self.min.is_none_or(|m| v >= m) && self.max.is_none_or(|m| v <= m)
    }

    fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => format!("= {a}"),
            (Some(a), Some(b)) => format!("in [{a}, {b}]"),
            (Some(a), None) => format!(">= {a}"),
            (None, Some(b)) => format!("<= {b}"),
            (None, None) => "anything".to_string(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// Share of writes that succeeded (0 to 1).
    pub writes: Option<Bound<f64>>,
    pub quorum_reads: Option<Bound<f64>>,
    pub cache_reads: Option<Bound<f64>>,
    pub node_leases: Option<Bound<f64>>,
}

impl Availability {
    /// Each bound with its key (as written) and the plane it bounds.
    pub(super) fn bounds(&self) -> [(&'static str, Plane, &Option<Bound<f64>>); 4] {
        [
            ("writes", Plane::Write, &self.writes),
            ("quorum_reads", Plane::QuorumRead, &self.quorum_reads),
            ("cache_reads", Plane::CacheRead, &self.cache_reads),
            ("node_leases", Plane::NodeLease, &self.node_leases),
        ]
    }
}

#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitBrain {
    /// Windows with two members believing they lead etcd.
    pub etcd_leaders: Option<Bound<u64>>,
    /// Windows with two active kube-schedulers.
    pub scheduler: Option<Bound<u64>>,
    /// Windows with two active kube-controller-managers.
    pub controller_manager: Option<Bound<u64>>,
    /// Cache reads answered at least 1 s stale.
    pub stale_reads: Option<Bound<u64>>,
    /// Requests the LB sent to a backend that could not serve them.
    pub misrouted: Option<Bound<u64>>,
}

/// Conditions on a run's figures.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub availability: Option<Availability>,
    /// The longest outage of any plane (first to last failed request).
    pub longest_outage: Option<Bound<Dur>>,
    /// Number of outages over all planes.
    pub outages: Option<Bound<u64>>,
    /// etcd elections won after the first leader.
    pub leader_changes: Option<Bound<u64>>,
    /// The longest time from a fault to the end of the outages it started.
    pub recovery: Option<Bound<Dur>>,
    pub split_brain: Option<SplitBrain>,
}

/// One condition and whether it held (as reports print it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, Deserialize, JsonSchema)]
pub struct ExpectResult {
    /// Dotted name, as in the file: `availability.writes`.
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub held: bool,
}

impl Expect {
    /// Bounds that can never hold (min above max, ratios outside 0–1), as (key, message).
    pub(super) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        // A range no figure can be in: the same check for every kind of bound.
        fn crossed<T: PartialOrd + fmt::Display + Copy>(
            out: &mut Vec<(&'static str, String)>,
            key: &'static str,
            name: &str,
            b: Option<&Bound<T>>,
        ) {
            if let Some(Bound { min: Some(lo), max: Some(hi) }) = b
                && lo > hi
            {
                out.push((key, format!("{name}: min {lo} is above max {hi}")));
            }
        }
        crossed(&mut out, "longest_outage", "longest_outage", self.longest_outage.as_ref());
        crossed(&mut out, "recovery", "recovery", self.recovery.as_ref());
        crossed(&mut out, "outages", "outages", self.outages.as_ref());
        crossed(&mut out, "leader_changes", "leader_changes", self.leader_changes.as_ref());
        if let Some(sb) = &self.split_brain {
            for (key, b) in [
                ("etcd_leaders", &sb.etcd_leaders),
                ("scheduler", &sb.scheduler),
                ("controller_manager", &sb.controller_manager),
                ("stale_reads", &sb.stale_reads),
                ("misrouted", &sb.misrouted),
            ] {
                crossed(&mut out, key, &format!("split_brain.{key}"), b.as_ref());
            }
        }
        if let Some(a) = &self.availability {
            for (key, _, b) in a.bounds() {
                if let Some(b) = b {
                    let bad = |v: Option<f64>| v.is_some_and(|x| !(0.0..=1.0).contains(&x));
                    if bad(b.min) || bad(b.max) {
                        out.push((key, format!("availability.{key} is a share from 0 to 1")));
                    }
                    if let (Some(lo), Some(hi)) = (b.min, b.max)
                        && lo > hi
                    {
                        out.push((key, format!("availability.{key}: min {lo} is above max {hi}")));
                    }
                }
            }
        }
        out
    }

    /// Evaluates every condition against `out`; safety is always checked.
    pub fn evaluate(&self, out: &RunOutcome) -> Vec<ExpectResult> {
        let mut results = vec![ExpectResult {
            name: "safety".into(),
            expected: "no violations".into(),
            actual: format!("{} violation(s)", out.violations.len()),
            held: out.violations.is_empty(),
        }];
        let mut push = |name: String, expected: String, actual: String, held: bool| {
            results.push(ExpectResult { name, expected, actual, held });
        };
        let cp = out.control_plane.as_ref();
        if let Some(a) = &self.availability {
            for (key, plane, b) in a.bounds() {
                if let Some(b) = b {
                    let name = format!("availability.{key}");
                    let stats = cp.map(|c| c.plane(plane)).filter(|p| p.ok + p.failed > 0);
                    let Some(stats) = stats else {
                        // With nothing sent there is no share to bound: a bound on it
                        // would pass or fail by convention, not by what happened.
                        push(name, b.describe(), format!("no {} were sent", plane.name()), false);
                        continue;
                    };
                    // Compared at the precision reports print (4 decimals).
                    let r = crate::report::round4(stats.ratio());
                    push(name, b.describe(), format!("{r:.4}"), b.holds(r));
                }
            }
        }
        let outages = cp.map_or(&[][..], |c| &c.outages[..]);
        if let Some(b) = &self.longest_outage {
            let longest = outages.iter().map(|o| o.end.since(o.start)).max().unwrap_or(SimDuration::ZERO);
            push("longest_outage".into(), b.describe(), longest.to_string(), b.holds(Dur(longest)));
        }
        if let Some(b) = &self.outages {
            let n = outages.len() as u64;
            push("outages".into(), b.describe(), n.to_string(), b.holds(n));
        }
        if let Some(b) = &self.leader_changes {
            let n = out.leader_history.len().saturating_sub(1) as u64;
            push("leader_changes".into(), b.describe(), n.to_string(), b.holds(n));
        }
        if let Some(b) = &self.recovery {
            let recovery = cp.map_or(&[][..], |c| &c.recovery[..]);
            match recovery.iter().find(|r| r.ongoing) {
                // Not recovered: at least as long as the rest of the run.
                Some(r) => {
                    let lower = out.end.since(r.at);
                    push("recovery".into(), b.describe(), format!("not recovered (> {lower})"), b.holds(Dur(lower)));
                }
                None => {
                    let worst = recovery.iter().filter_map(|r| r.recovered_after).max().unwrap_or(SimDuration::ZERO);
                    push("recovery".into(), b.describe(), worst.to_string(), b.holds(Dur(worst)));
                }
            }
        }
        if let Some(sb) = &self.split_brain {
            let overlaps =
                |c: Component| cp.map_or(0, |x| x.overlaps.iter().filter(|o| o.component == c).count()) as u64;
            let figures = [
                ("etcd_leaders", &sb.etcd_leaders, out.etcd_overlaps.len() as u64),
                ("scheduler", &sb.scheduler, overlaps(Component::Scheduler)),
                ("controller_manager", &sb.controller_manager, overlaps(Component::ControllerManager)),
                ("stale_reads", &sb.stale_reads, cp.map_or(0, |c| c.stale_reads)),
                ("misrouted", &sb.misrouted, cp.map_or(0, |c| c.misrouted.len() as u64)),
            ];
            for (key, b, n) in figures {
                if let Some(b) = b {
                    push(format!("split_brain.{key}"), b.describe(), n.to_string(), b.holds(n));
                }
            }
        }
        results
    }
}
