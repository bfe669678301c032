//! What the types cannot check, and the step from a scenario to a run: node names
//! resolved through the run's own host layout, faults in order and before the end,
//! counts in range, and the timings etcd and client-go refuse at start-up.

use serde_saphyr::Location;

use super::diag::{Diagnostic, did_you_mean, token_at};
use super::faults::{CertName, FaultEntry, FaultKind, Node, ProcessName};
use super::*;
use crate::cluster::{ClientLoad, ClusterBuilder, ControlPlaneSpec, EtcdPlacement, Frontend, NginxConfig, Plane};
use crate::engine::{DiskProfile, LinkProfile};
use crate::fault::{Fault, Process, Target};
use crate::ids::HostId;
use crate::model::certs::CertKind;
use crate::model::etcd::EtcdSettings;
use crate::model::keepalived::{TrackScript, VrrpConfig};
use crate::model::lb::{Balance, HaproxyConfig, HealthCheck};
use crate::model::lease::ElectionTimings;

const ROLES: &[&str] = &["etcd-leader", "etcd-follower", "scheduler-leader", "controller-manager-leader", "lb-active"];

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    /// The lines [from, to) searched first for a key: the variant being checked.
    lines: (usize, usize),
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn diag(&self, loc: Pos, message: String, hint: Option<String>) -> Diagnostic {
        Diagnostic {
            file: self.file.to_string(),
            line: loc.0,
            column: loc.1,
            message,
            found: token_at(self.text, loc.0, loc.1),
            hint,
        }
    }

    fn error(&mut self, loc: impl Into<Pos>, message: String, hint: Option<String>) {
        let d = self.diag(loc.into(), message, hint);
        self.errors.push(d);
    }

    fn warn(&mut self, loc: impl Into<Pos>, message: String, hint: Option<String>) {
        let d = self.diag(loc.into(), message, hint);
        self.warnings.push(d);
    }

    /// Where a key is first written (in block or flow style), for checks on values that
    /// carry no location of their own.
    fn key(&self, key: &str) -> Pos {
        self.key_of(&[key])
    }

    /// Where the first of `keys` that is written is; the first line when none is.
    fn key_of(&self, keys: &[&str]) -> Pos {
        keys.iter().find_map(|k| self.find_key(k)).unwrap_or(Pos(1, 1))
    }

    /// Where `key: value` is written for the `nth` time (1-based).
    fn find_value(&self, key: &str, value: &str, nth: usize) -> Option<Pos> {
        let needle = format!("{key}: {value}");
        self.text
            .lines()
            .enumerate()
            .filter_map(|(i, line)| {
                line.find(&needle).map(|at| Pos(i as u64 + 1, line[..at].chars().count() as u64 + 1))
            })
            .nth(nth - 1)
    }

    /// Where `key:` is first written, searching from the `from` line (where the
    /// variant being checked starts) and then from the top.
    fn find_key(&self, key: &str) -> Option<Pos> {
        self.find_key_in(key, self.lines.0, self.lines.1).or_else(|| self.find_key_in(key, 0, usize::MAX))
    }

    /// Where `key:` is first written within lines [from, to) (0-based).
    fn find_key_in(&self, key: &str, from: usize, to: usize) -> Option<Pos> {
        let needle = format!("{key}:");
        for (i, line) in self.text.lines().enumerate().take(to).skip(from) {
            for (at, _) in line.match_indices(&needle) {
                // At the start of a line or `- ` entry, or after `{` or `,` in a flow mapping.
                let before = line[..at].trim();
                let after = &line[at + needle.len()..];
                if (before.chars().all(|c| c == '-' || c == ' ') || before.ends_with(['{', ',']))
                    && (after.is_empty() || after.starts_with(' '))
                {
                    let column = line[..at].chars().count() as u64 + 1;
                    return Some(Pos(i as u64 + 1, column));
                }
            }
        }
        None
    }
}

/// A place in the file (1-based line and column).
#[derive(Clone, Copy, Debug)]
struct Pos(u64, u64);

impl From<Location> for Pos {
    fn from(l: Location) -> Pos {
        Pos(l.line(), l.column())
    }
}

/// Checks a parsed scenario; returns (errors, warnings).
/// Checks the scenario, or each of its variants as it will run. A problem the variants
/// share is reported once, for the first variant that has it.
pub(super) fn check_all(file: &str, text: &str, s: &Scenario) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    if s.variants.is_empty() {
        return check(file, text, s);
    }
    let (mut errors, mut warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = (Vec::new(), Vec::new());
    let c = Checker { file, text, lines: (0, 0), errors: Vec::new(), warnings: Vec::new() };
    for (i, v) in s.variants.iter().enumerate() {
        if s.variants[..i].iter().any(|w| w.name == v.name) {
            let at = c.find_value("name", &v.name, 2).unwrap_or_else(|| c.key("variants"));
            errors.push(c.diag(
                at,
                format!("two variants are called `{}`", v.name),
                Some("variant names label the columns of `hasim compare`: make them unique".into()),
            ));
        }
    }
    let mut seen: Vec<(u64, u64, String)> = Vec::new();
    // Each variant's own lines run from its `name:` to the next variant's; a key it
    // does not set is the scenario's, found from the top.
    let starts: Vec<usize> = s
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let nth = s.variants[..=i].iter().filter(|w| w.name == v.name).count() + usize::from(s.name == v.name);
            c.find_value("name", &v.name, nth).map_or(0, |p| p.0 as usize - 1)
        })
        .collect();
    for (i, v) in s.variants.iter().enumerate() {
        let to = starts.get(i + 1).copied().filter(|&t| t > starts[i]).unwrap_or(usize::MAX);
        let (e, w) = check_from(file, text, &s.with_variant(v), (starts[i], to));
        for (into, found) in [(&mut errors, e), (&mut warnings, w)] {
            for mut d in found {
                let key = (d.line, d.column, d.message.clone());
                if !seen.contains(&key) {
                    seen.push(key);
                    d.message = format!("variant `{}`: {}", v.name, d.message);
                    into.push(d);
                }
            }
        }
    }
    (errors, warnings)
}

pub(super) fn check(file: &str, text: &str, s: &Scenario) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    check_from(file, text, s, (0, 0))
}

fn check_from(file: &str, text: &str, s: &Scenario, lines: (usize, usize)) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
    let mut c = Checker { file, text, lines, errors: Vec::new(), warnings: Vec::new() };
    let t = &s.topology;
    if !(1..=7).contains(&t.control_planes) {
        c.error(
            c.key("control_planes"),
            format!("control_planes must be 1 to 7, not {}", t.control_planes),
            Some("kubeadm HA clusters use 3 or 5".into()),
        );
    }
    let members = match (t.etcd, t.etcd_members) {
        (EtcdTopology::Stacked, Some(m)) if m != t.control_planes => {
            c.error(
                c.key("etcd_members"),
                format!("a stacked topology has one member per control-plane node ({}), not {m}", t.control_planes),
                Some("remove `etcd_members`, or use `etcd: external`".into()),
            );
            m
        }
        (EtcdTopology::Stacked, _) => t.control_planes,
        (EtcdTopology::External, None) => {
            c.error(
                c.key("etcd"),
                "an external topology needs `etcd_members`".into(),
                Some("add `etcd_members: 3`".into()),
            );
            3
        }
        (EtcdTopology::External, Some(m)) => m,
    };
    if !(1..=7).contains(&members) {
        // A stacked topology's count is `control_planes`, checked above.
        if t.etcd == EtcdTopology::External {
            c.error(c.key("etcd_members"), format!("etcd_members must be 1 to 7, not {members}"), None);
        }
    } else if members % 2 == 0 {
        let quorum = members / 2 + 1;
        c.warn(
            c.key(if t.etcd == EtcdTopology::Stacked { "control_planes" } else { "etcd_members" }),
            format!(
                "{members} etcd members need {quorum} for quorum and so tolerate {}, the same as {}",
                count(members - quorum, "failure", "failures"),
                count(members - 1, "member", "members")
            ),
            Some(format!("an even member count adds a failure point without adding tolerance; use {}", members - 1)),
        );
    }
    if t.learners > 1 {
        c.error(
            c.key("learners"),
            format!("etcd allows at most 1 learner at a time, not {}", t.learners),
            Some("etcd's --max-learners defaults to 1".into()),
        );
    }
    if t.spare_hosts > 4 {
        c.error(c.key("spare_hosts"), format!("spare_hosts must be 0 to 4, not {}", t.spare_hosts), None);
    }
    let lb = &t.load_balancer;
    if lb.kind == LbKind::None && t.vip.is_some() {
        c.error(c.key("vip"), "a VIP needs a load balancer".into(), Some("set `load_balancer.kind: haproxy`".into()));
    }
    if lb.kind == LbKind::Nginx && t.vip.is_some() {
        c.error(c.key("vip"), "the keepalived pair is modelled with HAProxy only".into(), None);
    }
    if let Some(script) = t.vip.as_ref().and_then(|v| v.track_script.as_ref()) {
        if script.weight.is_some_and(|w| !(-253..=253).contains(&w)) {
            c.error(c.key("weight"), "a `track_script` weight must be -253 to 253 (keepalived's range)".into(), None);
        }
        for (key, v) in [("fall", script.fall), ("rise", script.rise)] {
            if v == Some(0) {
                c.error(c.key_of(&["track_script", key]), format!("`track_script.{key}` must be at least 1"), None);
            }
        }
        for (key, v) in [("interval", script.interval), ("timeout", script.timeout)] {
            if v.is_some_and(|d| d.0 < SimDuration::from_millis(10)) {
                c.error(c.key_of(&["track_script", key]), format!("`track_script.{key}` must be at least 10ms"), None);
            }
        }
    }
    if t.cluster_age.is_some_and(|d| d.0 >= crate::model::certs::LEAF_VALIDITY) {
        c.error(
            c.key("cluster_age"),
            "a cluster this old has had every certificate expire (kubeadm signs them for 365 days) before the run starts"
                .into(),
            Some("keep `cluster_age` under 365d; to expire one certificate on purpose use an `expire_cert` fault".into()),
        );
    }
    if lb.kind != LbKind::Nginx && (lb.max_fails.is_some() || lb.fail_timeout.is_some()) {
        c.error(
            c.key(if lb.max_fails.is_some() { "max_fails" } else { "fail_timeout" }),
            "`max_fails` and `fail_timeout` are nginx settings".into(),
            Some("set `kind: nginx`, or use `fall`/`rise`/`inter` for HAProxy".into()),
        );
    }
    if lb.redispatch && lb.kind != LbKind::Haproxy {
        c.error(c.key("redispatch"), "`redispatch` is an HAProxy setting".into(), Some("set `kind: haproxy`".into()));
    } else if lb.redispatch && lb.retries == Some(0) {
        c.error(
            c.key("redispatch"),
            "`redispatch` moves a retry to another server, so it needs `retries` of at least 1".into(),
            Some("kubeadm's HA guide uses `retries: 1` with `redispatch: true`".into()),
        );
    }
    if lb.timeout_check.is_some() && lb.kind != LbKind::Haproxy {
        c.error(
            c.key("timeout_check"),
            "`timeout_check` is an HAProxy setting: nginx's stream module does not check actively".into(),
            Some("set `kind: haproxy`".into()),
        );
    } else if lb.timeout_check.is_some_and(|d| d.0 < SimDuration::from_millis(10)) {
        c.error(c.key("timeout_check"), "`timeout_check` must be at least 10ms".into(), None);
    }
    for (key, v) in [("fall", lb.fall), ("rise", lb.rise)] {
        if v == Some(0) {
            c.error(c.key(key), format!("`{key}` must be at least 1"), None);
        }
    }
    if lb.inter.is_some_and(|d| d.0 < SimDuration::from_millis(10)) {
        c.error(c.key("inter"), "`inter` must be at least 10ms".into(), None);
    }
    if lb.timeout_connect.is_some_and(|d| d.0 < SimDuration::from_millis(1)) {
        c.error(
            c.key("timeout_connect"),
            "`timeout_connect` must be at least 1ms".into(),
            Some("HAProxy reads `timeout connect 0` as no timeout at all".into()),
        );
    }
    if let Some(r) = lb.retries.filter(|&r| r > MAX_LB_RETRIES) {
        c.error(c.key("retries"), format!("`retries` must be at most {MAX_LB_RETRIES}, not {r}"), None);
    }
    check_timings(&mut c, s);
    let w = &s.workload;
    if w.worker_nodes > 100_000 {
        c.error(c.key("worker_nodes"), format!("worker_nodes must be at most 100000, not {}", w.worker_nodes), None);
    }
    for (key, rate) in [
        ("writes_per_sec", w.writes_per_sec),
        ("quorum_reads_per_sec", w.quorum_reads_per_sec),
        ("cache_reads_per_sec", w.cache_reads_per_sec),
    ] {
        if rate > 10_000 {
            c.error(c.key(key), format!("{key} must be at most 10000, not {rate}"), None);
        }
    }
    if w.connections == Some(0) || w.connections.is_some_and(|n| n > 10_000) {
        c.error(c.key("connections"), "connections must be 1 to 10000 (leave it out for one per request)".into(), None);
    }
    // An hour bounds how long the end of a run waits for the requests still in flight.
    if let Some(t) = w.timeout
        && (t.0 == SimDuration::ZERO || t.0 > SimDuration::from_secs(3600))
    {
        c.error(c.key("timeout"), "a client timeout must be more than 0 and at most 1h".into(), None);
    }
    if s.duration.0 == SimDuration::ZERO || s.duration.0 > SimDuration::from_secs(24 * 3600) {
        c.error(c.key("duration"), format!("duration must be more than 0 and at most 24h, not {}", s.duration), None);
    }
    if c.errors.is_empty() {
        check_faults(&mut c, s);
    }
    if let Some(e) = &s.expect {
        check_planes_sent(&mut c, s, e);
        for problem in e.problems() {
            let loc = c.key(problem.0);
            c.error(loc, problem.1, None);
        }
    }
    (c.errors, c.warnings)
}

/// An availability bound on a plane the workload never sends: the share of nothing
/// has no value to bound, so such an expectation could only pass by convention.
fn check_planes_sent(c: &mut Checker, s: &Scenario, e: &Expect) {
    let Some(a) = &e.availability else { return };
    let w = &s.workload;
    let start = w.start_after.map_or(ClientLoad::default().start_after, |d| d.0);
    for (key, plane, b) in a.bounds() {
        if b.is_none() {
            continue;
        }
        let (rate_key, rate) = match plane {
            Plane::Write => ("writes_per_sec", w.writes_per_sec),
            Plane::QuorumRead => ("quorum_reads_per_sec", w.quorum_reads_per_sec),
            Plane::CacheRead => ("cache_reads_per_sec", w.cache_reads_per_sec),
            Plane::NodeLease => ("worker_nodes", w.worker_nodes),
        };
        let (message, hint) = if rate == 0 {
            (
                format!("availability.{key} bounds {}, but the workload sends none (`{rate_key}` is 0)", plane.name()),
                format!("set `workload.{rate_key}`, or remove this bound"),
            )
        } else if start >= s.duration.0 {
            (
                format!(
                    "availability.{key} bounds {}, but none are sent: clients start after {start}, at or after the end of the run ({})",
                    plane.name(),
                    s.duration
                ),
                "lower `workload.start_after` or raise `duration`".into(),
            )
        } else {
            continue;
        };
        let at = c.key(key);
        c.error(at, message, Some(hint));
    }
}

/// "1 member", "3 members".
fn count(n: u8, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn check_timings(c: &mut Checker, s: &Scenario) {
    let e = etcd_settings(s);
    if e.election_timeout < e.heartbeat_interval.saturating_mul(5) {
        c.error(
            c.key_of(&["election_timeout", "heartbeat_interval"]),
            format!(
                "etcd refuses an election timeout ({}) under 5 × the heartbeat interval ({})",
                e.election_timeout, e.heartbeat_interval
            ),
            Some("etcd's rule: --election-timeout must be at least 5 times --heartbeat-interval".into()),
        );
    }
    if e.election_timeout > SimDuration::from_secs(50) {
        c.error(c.key("election_timeout"), "etcd refuses an election timeout over 50s".into(), None);
    }
    if e.heartbeat_interval < SimDuration::from_millis(1) {
        c.error(c.key("heartbeat_interval"), "the heartbeat interval must be at least 1ms".into(), None);
    }
    let le = election_timings(s);
    // client-go's NewLeaderElector refuses these.
    let jittered = le.retry_period.as_micros() as f64 * 1.2;
    if le.retry_period == SimDuration::ZERO {
        c.error(c.key("retry_period"), "retry_period must be greater than zero (client-go refuses it)".into(), None);
    } else if le.lease_duration <= le.renew_deadline {
        c.error(
            c.key_of(&["lease_duration", "renew_deadline"]),
            format!(
                "client-go refuses lease_duration ({}) not greater than renew_deadline ({})",
                le.lease_duration, le.renew_deadline
            ),
            Some("leaseDuration must be greater than renewDeadline".into()),
        );
    } else if le.renew_deadline.as_micros() as f64 <= jittered {
        c.error(
            c.key_of(&["renew_deadline", "retry_period"]),
            format!(
                "client-go refuses renew_deadline ({}) not greater than 1.2 × retry_period ({})",
                le.renew_deadline, le.retry_period
            ),
            Some("renewDeadline must be greater than retryPeriod*JitterFactor (1.2)".into()),
        );
    }
    for (key, v) in [("loss", s.timing.network.loss)] {
        if v.is_some_and(|l| !(0.0..=1.0).contains(&l)) {
            c.error(c.key(key), format!("`{key}` is a share from 0 to 1"), None);
        }
    }
}

/// The names a fault may aim at: every host of the layout, and the roles.
fn host_names(s: &Scenario) -> Vec<String> {
    let spec = base_builder(s).spec().clone();
    spec.host_layout().into_iter().map(|h| h.name).filter(|n| n != "client").collect()
}

fn check_faults(c: &mut Checker, s: &Scenario) {
    let names = host_names(s);
    let mut last = SimDuration::ZERO;
    let end = s.duration.0;
    let check_node = |c: &mut Checker, node: &Node| {
        let n = node.value.as_str();
        if names.iter().any(|h| h == n) || ROLES.contains(&n) {
            return;
        }
        let all: Vec<&str> = names.iter().map(String::as_str).chain(ROLES.iter().copied()).collect();
        // `cp-9` in a 3-node topology is no typo: the node does not exist, so list them.
        let stem = |x: &str| x.trim_end_matches(|ch: char| ch.is_ascii_digit()).to_string();
        let hint = match did_you_mean(n, all.iter().copied()) {
            Some(best) if stem(best) != stem(n) || !n.ends_with(|ch: char| ch.is_ascii_digit()) => {
                format!("did you mean `{best}`?")
            }
            _ => format!("this topology has: {}", all.join(", ")),
        };
        c.error(node.referenced, format!("unknown node `{n}`"), Some(hint));
    };
    let hosts = host_kinds(s);
    for (i, f) in s.faults.iter().enumerate() {
        let at = f.at.value.0;
        if at < last {
            c.error(
                f.at.referenced,
                format!("faults must be in time order: this one at {} comes after one at {last}", f.at.value),
                Some("move this entry up".into()),
            );
        }
        last = last.max(at);
        if at >= end {
            c.error(
                f.at.referenced,
                format!("this fault at {} is at or after the end of the run ({})", f.at.value, s.duration),
                Some("raise `duration` or move the fault earlier".into()),
            );
        }
        if let Some(lasts) = &f.lasts {
            if lasts.value.0 == SimDuration::ZERO {
                c.error(lasts.referenced, "`for` must be longer than 0".into(), None);
            }
            if !revertible(&f.kind) {
                c.error(
                    lasts.referenced,
                    format!("`{}` cannot be undone automatically, so it takes no `for`", f.kind_name),
                    Some("schedule the opposite fault yourself (e.g. `renew_certs` after `expire_cert`)".into()),
                );
            }
        }
        for node in nodes_of(&f.kind) {
            check_node(c, node);
        }
        check_processes(c, &hosts, f, &s.faults[..i]);
        // The nodes of a link, a one-way cut, a bridge or a partition are sides apart:
        // a node on both sides (or twice in one group) cuts nothing, or is ambiguous.
        // `etcd-follower` may come twice: each mention draws a follower of its own.
        let sides: Vec<&Node> = match &f.kind {
            FaultKind::Link(l) => l.between.iter().collect(),
            FaultKind::OneWay(o) => vec![&o.from, &o.to],
            FaultKind::Bridge(b) => b.side_a.iter().chain(&b.side_b).collect(),
            FaultKind::Partition(groups) => groups.iter().flatten().collect(),
            _ => Vec::new(),
        };
        if let Some((_, twice)) = sides
            .iter()
            .enumerate()
            .find(|(i, n)| n.value != "etcd-follower" && sides[..*i].iter().any(|m| m.value == n.value))
        {
            c.error(
                twice.referenced,
                format!("`{}` names `{}` twice", f.kind_name, twice.value),
                Some(match &f.kind {
                    FaultKind::Partition(_) => "name each node once, in one group".into(),
                    _ => "name two different nodes".into(),
                }),
            );
        }
        match &f.kind {
            FaultKind::LbFailure(n) if !n.value.starts_with("lb-") => {
                c.error(n.referenced, format!("`lb_failure` needs an LB host, not `{}`", n.value), None);
            }
            // A member is added to a host, not to whoever holds a role.
            FaultKind::AddMember(a) if ROLES.contains(&a.node.value.as_str()) => {
                c.error(
                    a.node.referenced,
                    format!("`add_member` needs a spare host by name, not the role `{}`", a.node.value),
                    Some("name one of the `spare_hosts`".into()),
                );
            }
            FaultKind::MessageLoss(p) if !(0.0..=1.0).contains(p) => {
                c.error(f.kind_at, "`message_loss` is a share from 0 to 1".into(), None);
            }
            FaultKind::ClockDrift(d) if !(d.rate.value > 0.0 && d.rate.value <= 10.0) => {
                c.error(d.rate.referenced, format!("clock rate {} must be above 0 and at most 10", d.rate.value), None);
            }
            FaultKind::Link(l) if l.between.len() != 2 => {
                c.error(f.kind_at, "`link.between` names exactly two nodes".into(), None);
            }
            FaultKind::Link(l) if l.loss.is_some_and(|p| !(0.0..=1.0).contains(&p)) => {
                c.error(f.kind_at, "`link.loss` is a share from 0 to 1".into(), None);
            }
            FaultKind::Partition(groups) if groups.is_empty() => {
                c.error(f.kind_at, "a partition needs at least one group".into(), None);
            }
            _ => {}
        }
    }
}

/// What a host runs, as far as a fault aimed at one of its processes is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HostKind {
    /// kube-apiserver, kube-scheduler and kube-controller-manager, and etcd when stacked.
    ControlPlane { etcd: bool },
    /// An external etcd member's host.
    Etcd,
    /// A host with no member at the start (`spare_hosts`): it runs nothing until an
    /// `add_member` starts etcd there, and never runs the control-plane components.
    Spare,
    /// A load balancer (and keepalived, with a VIP): HAProxy, or nginx.
    Lb { nginx: bool },
}

/// Every host a fault may name, with what it runs, in the run's own host layout.
struct Hosts {
    hosts: Vec<(String, HostKind)>,
    /// What an LB host runs, for messages: "haproxy and keepalived".
    lb_runs: &'static str,
}

fn host_kinds(s: &Scenario) -> Hosts {
    let t = &s.topology;
    let stacked = t.etcd == EtcdTopology::Stacked;
    let members = usize::from(if stacked { t.control_planes } else { t.etcd_members.unwrap_or(3) }.clamp(1, 7));
    let n_members = members + usize::from(t.learners);
    let spec = base_builder(s).spec().clone();
    // `host_layout` puts the etcd hosts first (members, then spares), then the
    // control-plane nodes of an external topology, then the LBs and the client.
    let hosts = spec
        .host_layout()
        .into_iter()
        .enumerate()
        .filter(|(_, h)| h.name != "client")
        .map(|(i, h)| {
            let kind = if h.name.starts_with("lb-") {
                HostKind::Lb { nginx: t.load_balancer.kind == LbKind::Nginx }
            } else if h.control_plane {
                HostKind::ControlPlane { etcd: stacked }
            } else if i < n_members {
                HostKind::Etcd
            } else {
                HostKind::Spare
            };
            (h.name, kind)
        })
        .collect();
    let lb_runs = match (t.load_balancer.kind, t.vip.is_some()) {
        (LbKind::Nginx, _) => "nginx",
        (_, true) => "haproxy and keepalived",
        _ => "haproxy",
    };
    Hosts { hosts, lb_runs }
}

fn process_name(p: ProcessName) -> &'static str {
    match p {
        ProcessName::Etcd => "etcd",
        ProcessName::KubeApiserver => "kube-apiserver",
        ProcessName::KubeScheduler => "kube-scheduler",
        ProcessName::KubeControllerManager => "kube-controller-manager",
        ProcessName::Haproxy => "haproxy",
        ProcessName::Nginx => "nginx",
    }
}

const EVERY_PROCESS: &[ProcessName] =
    &[ProcessName::Etcd, ProcessName::KubeApiserver, ProcessName::KubeScheduler, ProcessName::KubeControllerManager];

/// The processes a fault acts on (any one of them will do), and the node it aims at;
/// None for faults that act on any host (power, network, clock) or on none.
fn needs(kind: &FaultKind) -> Option<(&Node, &'static [ProcessName])> {
    const ETCD: &[ProcessName] = &[ProcessName::Etcd];
    Some(match kind {
        FaultKind::Stop(n) | FaultKind::Wipe(n) | FaultKind::RemoveMember(n) | FaultKind::PromoteLearner(n) => {
            (n, ETCD)
        }
        FaultKind::SlowDisk(d) => (&d.node, ETCD),
        FaultKind::Kill(p)
        | FaultKind::Start(p)
        | FaultKind::StopProcess(p)
        | FaultKind::Pause(p)
        | FaultKind::Resume(p) => {
            let one: &'static [ProcessName] = match p.process {
                ProcessName::Etcd => ETCD,
                ProcessName::KubeApiserver => &[ProcessName::KubeApiserver],
                ProcessName::KubeScheduler => &[ProcessName::KubeScheduler],
                ProcessName::KubeControllerManager => &[ProcessName::KubeControllerManager],
                ProcessName::Haproxy => &[ProcessName::Haproxy],
                ProcessName::Nginx => &[ProcessName::Nginx],
            };
            (&p.node, one)
        }
        // Each certificate belongs to the process that presents it.
        FaultKind::ExpireCert(d) => (
            &d.node,
            match d.cert {
                CertName::EtcdPeer | CertName::EtcdServer => ETCD,
                CertName::ApiserverEtcdClient | CertName::Apiserver => &[ProcessName::KubeApiserver],
                CertName::SchedulerKubeconfig => &[ProcessName::KubeScheduler],
                CertName::ControllerManagerKubeconfig => &[ProcessName::KubeControllerManager],
            },
        ),
        FaultKind::RenewCerts(n) => (n, EVERY_PROCESS),
        _ => return None,
    })
}

impl HostKind {
    /// Whether a host of this kind runs `p` (a spare host: once a member was added).
    fn runs(self, p: ProcessName, member_added: bool) -> bool {
        match self {
            HostKind::ControlPlane { etcd } => match p {
                ProcessName::Etcd => etcd,
                ProcessName::KubeApiserver | ProcessName::KubeScheduler | ProcessName::KubeControllerManager => true,
                ProcessName::Haproxy | ProcessName::Nginx => false,
            },
            HostKind::Etcd => p == ProcessName::Etcd,
            HostKind::Spare => p == ProcessName::Etcd && member_added,
            HostKind::Lb { nginx } => p == if nginx { ProcessName::Nginx } else { ProcessName::Haproxy },
        }
    }

    /// What it runs, in words: "it runs haproxy and keepalived" (a spare host's story
    /// depends on whether etcd is what the fault wanted).
    fn describe(self, lb_runs: &str, member_added: bool, etcd_wanted: bool) -> String {
        match self {
            HostKind::ControlPlane { etcd: true } => {
                "it runs etcd, kube-apiserver, kube-scheduler and kube-controller-manager".into()
            }
            HostKind::ControlPlane { etcd: false } => {
                "with external etcd it runs kube-apiserver, kube-scheduler and kube-controller-manager".into()
            }
            HostKind::Etcd => "it runs etcd only".into(),
            HostKind::Spare if member_added || !etcd_wanted => {
                "it is a spare host: it runs etcd only, once `add_member` adds a member there".into()
            }
            HostKind::Spare => {
                "it is a spare host: it runs nothing until an earlier `add_member` adds a member there".into()
            }
            HostKind::Lb { .. } => format!("it runs {lb_runs}"),
        }
    }
}

/// A fault that acts on a process (etcd, an apiserver, an elected component, or the
/// files and disk they use) must aim at a host that runs it: elsewhere it would do
/// nothing, or print an effect that cannot happen. A role is refused only when every
/// host it can stand for lacks the process.
fn check_processes(c: &mut Checker, hosts: &Hosts, f: &FaultEntry, earlier: &[FaultEntry]) {
    let Some((node, wanted)) = needs(&f.kind) else { return };
    let added = |name: &str| {
        earlier.iter().any(|e| matches!(&e.kind, FaultKind::AddMember(a) if a.node.value == name))
            || ROLES.contains(&name)
    };
    let kind_of = |name: &str| hosts.hosts.iter().find(|(n, _)| n == name).map(|(_, k)| *k);
    let runs = |name: &str| kind_of(name).is_some_and(|k| wanted.iter().any(|&p| k.runs(p, added(name))));
    // "lb-1 runs no etcd", "lb-1 has no `apiserver` certificate (kube-apiserver's)".
    let (lacks, short) = match (&f.kind, wanted) {
        (FaultKind::RenewCerts(_), _) => {
            ("has no kubeadm certificates to renew".to_string(), "kubeadm certificates are on".to_string())
        }
        (FaultKind::ExpireCert(d), _) => {
            let owner = process_name(wanted[0]);
            (format!("has no `{}` certificate, which belongs to {owner}", cert_key(d.cert)), format!("{owner} runs on"))
        }
        _ => {
            let p = process_name(wanted[0]);
            (format!("runs no {p}"), format!("{p} runs on"))
        }
    };
    let where_runs: Vec<&str> = hosts.hosts.iter().filter(|(n, _)| runs(n)).map(|(n, _)| n.as_str()).collect();
    let hint = if where_runs.is_empty() {
        None
    } else {
        let mut h = format!("{short} {}", where_runs.join(", "));
        if matches!(f.kind, FaultKind::Wipe(_) | FaultKind::Stop(_)) {
            h.push_str(&format!("; to fail `{}` itself, use `crash`", node.value));
        }
        Some(h)
    };
    let etcd_wanted = wanted.contains(&ProcessName::Etcd);
    let n = node.value.as_str();
    let message = match n {
        "etcd-leader" | "etcd-follower" => {
            if hosts.hosts.iter().any(|(name, k)| k.runs(ProcessName::Etcd, true) && runs(name)) {
                return;
            }
            format!("`{n}` is always an external etcd host, which {lacks} (it runs etcd only)")
        }
        "scheduler-leader" | "controller-manager-leader" => {
            if hosts.hosts.iter().any(|(name, k)| matches!(k, HostKind::ControlPlane { .. }) && runs(name)) {
                return;
            }
            format!(
                "`{n}` is always a control-plane node, which {lacks} (with external etcd it runs kube-apiserver, kube-scheduler and kube-controller-manager)"
            )
        }
        "lb-active" => {
            if hosts.hosts.iter().any(|(name, k)| matches!(k, HostKind::Lb { .. }) && runs(name)) {
                return;
            }
            format!("`lb-active` is always a load balancer host, which {lacks} (it runs {})", hosts.lb_runs)
        }
        name => match kind_of(name) {
            // An unknown name was reported already.
            None => return,
            Some(_) if runs(name) => return,
            Some(k) => format!("{name} {lacks} ({})", k.describe(hosts.lb_runs, added(name), etcd_wanted)),
        },
    };
    c.error(node.referenced, message, hint);
}

fn cert_key(c: CertName) -> &'static str {
    match c {
        CertName::EtcdPeer => "etcd-peer",
        CertName::EtcdServer => "etcd-server",
        CertName::ApiserverEtcdClient => "apiserver-etcd-client",
        CertName::Apiserver => "apiserver",
        CertName::SchedulerKubeconfig => "scheduler-kubeconfig",
        CertName::ControllerManagerKubeconfig => "controller-manager-kubeconfig",
    }
}

fn nodes_of(kind: &FaultKind) -> Vec<&Node> {
    match kind {
        FaultKind::Crash(n)
        | FaultKind::Restart(n)
        | FaultKind::Stop(n)
        | FaultKind::Wipe(n)
        | FaultKind::LbFailure(n)
        | FaultKind::PauseHost(n)
        | FaultKind::ResumeHost(n)
        | FaultKind::Isolate(n)
        | FaultKind::RenewCerts(n)
        | FaultKind::RemoveMember(n)
        | FaultKind::PromoteLearner(n) => vec![n],
        FaultKind::Kill(p)
        | FaultKind::Start(p)
        | FaultKind::StopProcess(p)
        | FaultKind::Pause(p)
        | FaultKind::Resume(p) => {
            vec![&p.node]
        }
        FaultKind::Partition(groups) => groups.iter().flatten().collect(),
        FaultKind::OneWay(o) => vec![&o.from, &o.to],
        FaultKind::Bridge(b) => b.side_a.iter().chain(&b.side_b).collect(),
        FaultKind::Link(l) => l.between.iter().collect(),
        FaultKind::SlowDisk(d) => vec![&d.node],
        FaultKind::ClockStep(d) => vec![&d.node],
        FaultKind::ClockDrift(d) => vec![&d.node],
        FaultKind::ExpireCert(d) => vec![&d.node],
        FaultKind::AddMember(d) => vec![&d.node],
        FaultKind::Heal(_) | FaultKind::MessageLoss(_) => vec![],
    }
}

fn etcd_settings(s: &Scenario) -> EtcdSettings {
    let mut e = EtcdSettings::default();
    let t = &s.timing.etcd;
    if let Some(d) = t.heartbeat_interval {
        e.heartbeat_interval = d.0;
    }
    if let Some(d) = t.election_timeout {
        e.election_timeout = d.0;
    }
    if let Some(b) = t.pre_vote {
        e.pre_vote = b;
    }
    if let Some(n) = t.snapshot_count {
        e.snapshot_count = n.max(1);
    }
    e
}

fn election_timings(s: &Scenario) -> ElectionTimings {
    let mut le = ElectionTimings::default();
    let t = &s.timing.leader_election;
    if let Some(d) = t.lease_duration {
        le.lease_duration = d.0;
    }
    if let Some(d) = t.renew_deadline {
        le.renew_deadline = d.0;
    }
    if let Some(d) = t.retry_period {
        le.retry_period = d.0;
    }
    le
}

fn ppm(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 1e6).round() as u32
}

/// The cluster a scenario describes, without its faults.
fn base_builder(s: &Scenario) -> ClusterBuilder {
    let t = &s.topology;
    let lb = &t.load_balancer;
    let frontend = match lb.kind {
        LbKind::None => Frontend::Direct,
        LbKind::Haproxy => {
            let d = HaproxyConfig::default();
            Frontend::Haproxy(HaproxyConfig {
                check: match lb.check {
                    CheckKind::Tcp => HealthCheck::Tcp,
                    CheckKind::Http => HealthCheck::HttpReadyz,
                },
                inter: lb.inter.map_or(d.inter, |x| x.0),
                fastinter: lb.fastinter.map(|x| x.0),
                downinter: lb.downinter.map(|x| x.0),
                fall: lb.fall.unwrap_or(d.fall),
                rise: lb.rise.unwrap_or(d.rise),
                balance: match lb.balance {
                    BalanceKind::Roundrobin => Balance::RoundRobin,
                    BalanceKind::Leastconn => Balance::LeastConn,
                },
                shutdown_sessions: lb.shutdown_sessions,
                retries: lb.retries.unwrap_or(d.retries),
                redispatch: lb.redispatch,
                timeout_connect: lb.timeout_connect.map_or(d.timeout_connect, |x| x.0),
                timeout_server: lb.timeout_server.map_or(d.timeout_server, |x| x.0),
                timeout_check: lb.timeout_check.map(|x| x.0),
            })
        }
        LbKind::Nginx => {
            let d = NginxConfig::default();
            Frontend::Nginx(NginxConfig {
                max_fails: lb.max_fails.unwrap_or(d.max_fails),
                fail_timeout: lb.fail_timeout.map_or(d.fail_timeout, |x| x.0),
                connect_timeout: lb.timeout_connect.map_or(d.connect_timeout, |x| x.0),
            })
        }
    };
    let nodes = usize::from(t.control_planes.clamp(1, 7));
    let members = usize::from(t.etcd_members.unwrap_or(3).clamp(1, 7));
    let w = &s.workload;
    let dc = ClientLoad::default();
    let cp = ControlPlaneSpec {
        nodes,
        etcd: match t.etcd {
            EtcdTopology::Stacked => EtcdPlacement::Stacked,
            EtcdTopology::External => EtcdPlacement::External { members },
        },
        frontend,
        clients: ClientLoad {
            writes_per_sec: w.writes_per_sec,
            quorum_reads_per_sec: w.quorum_reads_per_sec,
            cache_reads_per_sec: w.cache_reads_per_sec,
            timeout: w.timeout.map_or(dc.timeout, |d| d.0),
            start_after: w.start_after.map_or(dc.start_after, |d| d.0),
            worker_nodes: w.worker_nodes,
            connections: w.connections,
            retries: w.retries,
            retry_backoff: w.retry_backoff.map_or(dc.retry_backoff, |d| d.0),
        },
        etcd_check_timeout: s.timing.etcd_check_timeout.map_or(SimDuration::from_secs(2), |d| d.0),
        election: election_timings(s),
        vip: t.vip.as_ref().map(|v| {
            let d = VrrpConfig::default();
            VrrpConfig {
                advert_int: v.advert_int.map_or(d.advert_int, |x| x.0),
                priority: v.priority.unwrap_or(d.priority),
                preempt: v.preempt.unwrap_or(d.preempt),
                track_script: v.track_script.as_ref().map(|s| {
                    let k = TrackScript::KUBEADM;
                    TrackScript {
                        interval: s.interval.map_or(k.interval, |x| x.0),
                        weight: s.weight.unwrap_or(k.weight),
                        fall: s.fall.unwrap_or(k.fall),
                        rise: s.rise.unwrap_or(k.rise),
                        timeout: s.timeout.map(|x| x.0),
                    }
                }),
            }
        }),
    };
    let dl = LinkProfile::default();
    let n = &s.timing.network;
    let dd = DiskProfile::default();
    let disk = &s.timing.disk;
    ClusterBuilder::new(3)
        .seed(s.seed)
        .etcd(etcd_settings(s))
        .control_plane(cp)
        .learners(usize::from(t.learners))
        .spare_hosts(usize::from(t.spare_hosts))
        .cluster_age(t.cluster_age.map_or(crate::model::certs::DEFAULT_CLUSTER_AGE, |d| d.0))
        .link(LinkProfile {
            base: n.latency.map_or(dl.base, |d| d.0),
            jitter: n.jitter.map_or(dl.jitter, |d| d.0),
            loss_ppm: n.loss.map_or(dl.loss_ppm, ppm),
        })
        .disk(DiskProfile {
            fsync_base: disk.fsync.map_or(dd.fsync_base, |d| d.0),
            fsync_jitter: disk.fsync_jitter.map_or(dd.fsync_jitter, |d| d.0),
        })
}

/// The most connection retries a load balancer may be given: far more than any real
/// configuration uses (HAProxy's default is 3), few enough that a run never spends
/// long on one request's retries.
const MAX_LB_RETRIES: u32 = 100;

/// The run a valid scenario describes (faults included), with `seed` overriding the
/// scenario's own.
pub fn build(s: &Scenario, seed: Option<u64>) -> ClusterBuilder {
    let mut b = base_builder(s);
    if let Some(seed) = seed {
        b = b.seed(seed);
    }
    let names: Vec<String> = b.spec().host_layout().into_iter().map(|h| h.name).collect();
    let target = |n: &Node| -> Target {
        match n.value.as_str() {
            "etcd-leader" => Target::EtcdLeader,
            "etcd-follower" => Target::EtcdFollower,
            "scheduler-leader" => Target::SchedulerLeader,
            "controller-manager-leader" => Target::ControllerManagerLeader,
            "lb-active" => Target::LbActive,
            name => Target::Host(HostId(names.iter().position(|h| h == name).unwrap_or(0) as u32)),
        }
    };
    for f in &s.faults {
        let fault = to_fault(&f.kind, &target);
        let fault = match &f.lasts {
            Some(d) => Fault::For { fault: Box::new(fault), lasts: d.value.0 },
            None => fault,
        };
        b = b.fault(f.at.value.0, fault);
    }
    b
}

fn process(p: ProcessName) -> Process {
    match p {
        ProcessName::Etcd => Process::Etcd,
        ProcessName::KubeApiserver => Process::Apiserver,
        ProcessName::KubeScheduler => Process::Scheduler,
        ProcessName::KubeControllerManager => Process::ControllerManager,
        ProcessName::Haproxy | ProcessName::Nginx => Process::LoadBalancer,
    }
}

fn cert(c: CertName) -> CertKind {
    match c {
        CertName::EtcdPeer => CertKind::EtcdPeer,
        CertName::EtcdServer => CertKind::EtcdServer,
        CertName::ApiserverEtcdClient => CertKind::ApiserverEtcdClient,
        CertName::Apiserver => CertKind::ApiserverServing,
        CertName::SchedulerKubeconfig => CertKind::SchedulerKubeconfig,
        CertName::ControllerManagerKubeconfig => CertKind::ControllerManagerKubeconfig,
    }
}

fn to_fault(kind: &FaultKind, target: &impl Fn(&Node) -> Target) -> Fault {
    let host = |n: &Node| match target(n) {
        Target::Host(h) => h,
        _ => HostId(0),
    };
    match kind {
        FaultKind::Crash(n) | FaultKind::LbFailure(n) => Fault::Crash(target(n)),
        FaultKind::Restart(n) => Fault::Restart(target(n)),
        FaultKind::Stop(n) => Fault::Stop(target(n)),
        FaultKind::Wipe(n) => Fault::Wipe(target(n)),
        FaultKind::Kill(p) => Fault::Kill { target: target(&p.node), process: process(p.process) },
        FaultKind::Start(p) => Fault::Start { target: target(&p.node), process: process(p.process) },
        FaultKind::StopProcess(p) => Fault::StopProcess { target: target(&p.node), process: process(p.process) },
        FaultKind::Pause(p) if p.process == ProcessName::Etcd => Fault::Pause(target(&p.node)),
        FaultKind::Resume(p) if p.process == ProcessName::Etcd => Fault::Resume(target(&p.node)),
        FaultKind::Pause(p) => Fault::PauseProcess { target: target(&p.node), process: process(p.process) },
        FaultKind::Resume(p) => Fault::ResumeProcess { target: target(&p.node), process: process(p.process) },
        FaultKind::PauseHost(n) => Fault::PauseHost(target(n)),
        FaultKind::ResumeHost(n) => Fault::ResumeHost(target(n)),
        FaultKind::Isolate(n) => Fault::Isolate(target(n)),
        FaultKind::Partition(groups) => {
            Fault::Partition(groups.iter().map(|g| g.iter().map(target).collect()).collect())
        }
        FaultKind::OneWay(o) => Fault::CutOneWay { from: target(&o.from), to: target(&o.to) },
        FaultKind::Bridge(b) => Fault::Bridge {
            side_a: b.side_a.iter().map(target).collect(),
            side_b: b.side_b.iter().map(target).collect(),
        },
        FaultKind::Heal(_) => Fault::Heal,
        FaultKind::MessageLoss(p) => Fault::MessageLoss { ppm: ppm(*p) },
        FaultKind::Link(l) => {
            let d = LinkProfile::default();
            Fault::Link {
                a: target(&l.between[0]),
                b: target(&l.between[1]),
                profile: LinkProfile {
                    base: l.latency.map_or(d.base, |x| x.0),
                    jitter: l.jitter.map_or(d.jitter, |x| x.0),
                    loss_ppm: l.loss.map_or(0, ppm),
                },
            }
        }
        FaultKind::SlowDisk(d) => Fault::SlowDisk {
            target: target(&d.node),
            profile: DiskProfile { fsync_base: d.fsync.0, fsync_jitter: d.jitter.map_or(SimDuration::ZERO, |j| j.0) },
        },
        FaultKind::ClockStep(d) => Fault::ClockStep { target: target(&d.node), offset_us: d.by.0 },
        FaultKind::ClockDrift(d) => {
            Fault::ClockRate { target: target(&d.node), rate_ppm: (d.rate.value * 1e6).round() as u64 }
        }
        FaultKind::ExpireCert(d) => Fault::ExpireCert { target: target(&d.node), cert: cert(d.cert) },
        FaultKind::RenewCerts(n) => Fault::RenewCerts(target(n)),
        FaultKind::AddMember(d) => Fault::AddMember { host: host(&d.node), learner: d.learner },
        FaultKind::RemoveMember(n) => Fault::RemoveMember(target(n)),
        FaultKind::PromoteLearner(n) => Fault::PromoteLearner(target(n)),
    }
}

/// Whether a fault of this kind can take a `for:` (the core knows how to undo it).
fn revertible(kind: &FaultKind) -> bool {
    to_fault(kind, &|_| Target::Host(HostId(0))).can_be_undone()
}
