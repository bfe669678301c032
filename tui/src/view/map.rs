//! The cluster map: one row per host with its power and each process's state at the
//! cursor (etcd role and term, apiserver readiness, who leads the scheduler and the
//! controller-manager, what the LB thinks of each backend), then a summary of what
//! matters across hosts: etcd leaders, lease holders, the VIP, partitions, expired
//! certificates, outages and split-brain windows in force.

use hasim_sim::cluster::{ElectedView, EtcdRole, HostState, Power};
use hasim_sim::report::PlaneName;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::style::*;
use crate::app::RunView;

/// A cell of the host table.
type Cell = (String, Style);

fn power(s: &HostState) -> Cell {
    match s.power {
        Power::Up => ("up".into(), OK),
        Power::Down => ("DOWN".into(), BAD),
        Power::Frozen => ("FROZEN".into(), PAUSED),
    }
}

pub(crate) fn role_name(role: EtcdRole) -> &'static str {
    match role {
        EtcdRole::Leader => "LEADER",
        EtcdRole::Follower => "follower",
        EtcdRole::Candidate => "candidate",
        EtcdRole::PreCandidate => "pre-vote",
        EtcdRole::Learner => "learner",
    }
}

fn etcd(s: &HostState) -> Cell {
    match &s.etcd {
        None => ("-".into(), DIM),
        Some(e) => {
            let mut text = format!("{} t{}", role_name(e.role), e.term);
            if e.paused {
                text.push_str(" paused");
            }
            let style = match (e.paused, e.role) {
                (true, _) => PAUSED,
                (false, EtcdRole::Leader) => LEADER,
                (false, EtcdRole::Candidate | EtcdRole::PreCandidate) => WARN,
                _ => Style::new(),
            };
            (text, style)
        }
    }
}

fn apiserver(s: &HostState) -> Cell {
    match &s.apiserver {
        None => ("-".into(), DIM),
        // The apiserver's own view keeps its last readiness while the VM is paused; what
        // matters is that nothing on the host runs.
        Some(_) if s.power == Power::Frozen => ("frozen".into(), PAUSED),
        Some(a) if a.paused => ("paused".into(), PAUSED),
        Some(a) if a.ready => ("ready".into(), OK),
        Some(_) => ("NOT READY".into(), BAD),
    }
}

fn elected(e: Option<&ElectedView>) -> Cell {
    match e {
        None => ("-".into(), DIM),
        Some(e) => {
            let mut text = if e.leading { "LEADER".to_string() } else { "standby".to_string() };
            if e.paused {
                text.push_str(" paused");
            }
            let style = match (e.paused, e.leading) {
                (true, _) => PAUSED,
                (false, true) => LEADER,
                (false, false) => Style::new(),
            };
            (text, style)
        }
    }
}

/// The LB's view of its backends, and whether it holds the VIP.
fn lb_spans(s: &HostState) -> Vec<Span<'static>> {
    let Some(lb) = &s.lb else {
        return vec![Span::styled("-", DIM)];
    };
    let down = if lb.proxy_stopped {
        Some("proxy stopped: connections refused")
    } else if lb.proxy_frozen {
        Some("proxy frozen: nothing relayed")
    } else {
        None
    };
    if let Some(text) = down {
        let mut spans = vec![Span::styled(text, BAD)];
        if lb.holds_vip == Some(true) {
            spans.push(Span::styled("  [VIP]", LEADER));
        }
        return spans;
    }
    let mut spans = vec![Span::raw("backends ")];
    for (i, b) in lb.backends.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        let (state, style) = if b.up { ("UP", OK) } else { ("DOWN", BAD) };
        spans.push(Span::raw(format!("{} ", b.host)));
        spans.push(Span::styled(state, style));
    }
    if lb.holds_vip == Some(true) {
        spans.push(Span::styled("  [VIP]", LEADER));
    }
    spans
}

fn pad(text: &str, width: usize) -> String {
    format!("{text:<width$}")
}

/// The map at the cursor, for an inner width of `width` columns.
pub(crate) fn lines(run: &RunView, width: u16) -> Vec<Line<'static>> {
    let replay = &run.replay;
    let t = run.cursor;
    let hosts: Vec<(&str, Option<&HostState>)> =
        replay.host_names().enumerate().map(|(i, n)| (n, replay.state_at(i, t))).collect();
    let parts = replay.partitions_at(t);

    // Process rows have six columns; LB and client rows have the host and power columns
    // and then free text, so they do not widen the process columns.
    let header = ["host", "power", "etcd", "apiserver", "scheduler", "ctrl-mgr"];
    let mut rows: Vec<(Vec<Cell>, Option<Vec<Span<'static>>>)> = Vec::new();
    for (name, state) in &hosts {
        let marked = if parts.marks(name) { format!("{name} ✕") } else { name.to_string() };
        let host_cell = (marked, HEADING);
        let Some(s) = state else {
            rows.push((vec![host_cell, ("?".into(), DIM)], Some(vec![Span::styled("no state recorded yet", DIM)])));
            continue;
        };
        let is_process_host = s.etcd.is_some() || s.apiserver.is_some() || s.scheduler.is_some();
        let was_lb =
            replay.report.hosts.iter().any(|h| h.name == *name && h.roles.iter().any(|r| r == "load-balancer"));
        if s.lb.is_some() || (was_lb && !is_process_host) {
            rows.push((vec![host_cell, power(s)], Some(lb_spans(s))));
        } else if !is_process_host && s.power == Power::Up {
            // The simulator names the host that sends the workload `client`; any other host
            // without processes is a spare (a member can be added to it later).
            let what = if *name == "client" { "sends the client requests" } else { "spare: nothing running" };
            rows.push((vec![host_cell, power(s)], Some(vec![Span::styled(what, DIM)])));
        } else {
            let cells = vec![
                host_cell,
                power(s),
                etcd(s),
                apiserver(s),
                elected(s.scheduler.as_ref()),
                elected(s.controller_manager.as_ref()),
            ];
            rows.push((cells, None));
        }
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for (cells, free) in &rows {
        // Free-text rows only size the columns they fill.
        let n = if free.is_some() { 2 } else { cells.len() };
        for (i, (text, _)) in cells.iter().take(n).enumerate() {
            widths[i] = widths[i].max(text.chars().count());
        }
    }

    let mut out = Vec::new();
    let head: Vec<Span> = header.iter().zip(&widths).map(|(h, &w)| Span::styled(pad(h, w + 1), DIM)).collect();
    out.push(Line::from(head));
    for (cells, free) in rows {
        let mut spans: Vec<Span> =
            cells.iter().zip(&widths).map(|((text, style), &w)| Span::styled(pad(text, w + 1), *style)).collect();
        if let Some(free) = free {
            spans.extend(free);
        }
        out.push(Line::from(spans));
    }
    out.push(Line::raw(""));
    let width = usize::from(width);
    out.extend(summary(run, &hosts).into_iter().flat_map(|l| super::hang(l, width, LABEL_W)));
    out
}

/// Width of the labels in front of the summary lines.
const LABEL_W: usize = 10;

fn label(text: &str) -> Span<'static> {
    Span::styled(format!("{text:<LABEL_W$}"), DIM)
}

/// What matters across hosts at the cursor.
fn summary(run: &RunView, hosts: &[(&str, Option<&HostState>)]) -> Vec<Line<'static>> {
    let replay = &run.replay;
    let t = run.cursor;
    let splits = replay.split_brains_at(t);
    let split_of = |what: &str| splits.iter().any(|(w, _)| *w == what);
    let mut out = Vec::new();

    let leaders: Vec<String> = hosts
        .iter()
        .filter_map(|(n, s)| {
            let e = s.and_then(|s| s.etcd.as_ref()).filter(|e| e.role == EtcdRole::Leader)?;
            // A frozen leader believes it leads but acts on nothing until it thaws.
            Some(if e.paused { format!("{n} (term {}, frozen)", e.term) } else { format!("{n} (term {})", e.term) })
        })
        .collect();
    if hosts.iter().any(|(_, s)| s.is_some_and(|s| s.etcd.is_some())) {
        let mut spans = vec![label("etcd")];
        match leaders.len() {
            0 => spans.push(Span::styled("no leader: writes and quorum reads wait", BAD)),
            1 => spans.push(Span::styled(format!("leader {}", leaders[0]), LEADER)),
            _ => spans.push(Span::styled(format!("leaders {}", leaders.join(", ")), WARN)),
        }
        if split_of("etcd") {
            spans.push(Span::styled("  SPLIT BRAIN", BAD));
        }
        out.push(Line::from(spans));
    }

    type Pick = fn(&HostState) -> Option<&ElectedView>;
    let any_elected = hosts.iter().any(|(_, s)| s.is_some_and(|s| s.scheduler.is_some()));
    if any_elected || !replay.report.leases.is_empty() {
        let lanes: [(&str, &str, Pick); 2] = [
            ("scheduler", "scheduler", |s| s.scheduler.as_ref()),
            ("ctrl-mgr", "controller-manager", |s| s.controller_manager.as_ref()),
        ];
        for (name, key, pick) in lanes {
            let who: Vec<&str> =
                hosts.iter().filter(|(_, s)| s.and_then(pick).is_some_and(|e| e.leading)).map(|(n, _)| *n).collect();
            let mut spans = vec![label(name)];
            if who.is_empty() {
                spans.push(Span::styled("nobody is leading", WARN));
            } else {
                spans.push(Span::raw(format!("leader {}", who.join(", "))));
            }
            if split_of(key) {
                spans.push(Span::styled("  SPLIT BRAIN", BAD));
            }
            out.push(Line::from(spans));
        }
    }

    let vip: Vec<&str> = hosts
        .iter()
        .filter(|(_, s)| s.and_then(|s| s.lb.as_ref()).is_some_and(|lb| lb.holds_vip.is_some()))
        .map(|(n, _)| *n)
        .collect();
    if !vip.is_empty() {
        let holder: Vec<&str> = hosts
            .iter()
            .filter(|(_, s)| s.and_then(|s| s.lb.as_ref()).is_some_and(|lb| lb.holds_vip == Some(true)))
            .map(|(n, _)| *n)
            .collect();
        let text = if holder.is_empty() {
            Span::styled("held by no LB: clients cannot reach the control plane", BAD)
        } else {
            Span::styled(format!("held by {}", holder.join(", ")), Style::new())
        };
        out.push(Line::from(vec![label("VIP"), text]));
    } else if replay.report.hosts.iter().filter(|h| h.roles.iter().any(|r| r == "load-balancer")).count() > 1 {
        // Two LB hosts that both lost their state (powered off) still share a VIP.
        out.push(Line::from(vec![label("VIP"), Span::styled("held by no LB", BAD)]));
    }

    let parts = replay.partitions_at(t);
    let mut spans = vec![label("network")];
    if parts.is_empty() {
        spans.push(Span::styled("every link works", OK));
    } else {
        let mut first = true;
        for (host, peers) in &parts.both_ways {
            if !first {
                spans.push(Span::raw("; "));
            }
            first = false;
            spans.push(Span::styled(format!("{host} ✕ {}", peers.join(", ")), BAD));
        }
        for (from, to) in &parts.one_way {
            if !first {
                spans.push(Span::raw("; "));
            }
            first = false;
            spans.push(Span::styled(format!("{from} → {to} lost"), BAD));
        }
    }
    out.push(Line::from(spans));

    let certs: Vec<String> = hosts
        .iter()
        .filter_map(|(n, s)| {
            let s = (*s)?;
            (!s.expired_certs.is_empty()).then(|| format!("{n}: {}", s.expired_certs.join(", ")))
        })
        .collect();
    if !certs.is_empty() {
        out.push(Line::from(vec![label("invalid"), Span::styled(certs.join("; "), BAD)]));
    }

    let mut outages: Vec<(Vec<PlaneName>, &str)> = Vec::new();
    for (plane, cause) in replay.outages_at(t) {
        match outages.iter_mut().find(|(_, c)| *c == cause) {
            Some((planes, _)) => planes.push(plane),
            None => outages.push((vec![plane], cause)),
        }
    }
    for (planes, cause) in outages {
        let names: Vec<&str> = planes.iter().map(|p| plane_label(*p)).collect();
        out.push(Line::from(vec![
            label("outage"),
            Span::styled(names.join(", "), BAD),
            Span::raw(format!(": {cause}")),
        ]));
    }
    out
}

/// Short plane names for narrow columns.
pub(crate) fn plane_label(p: PlaneName) -> &'static str {
    match p {
        PlaneName::Writes => "writes",
        PlaneName::QuorumReads => "quorum reads",
        PlaneName::CacheReads => "cache reads",
        PlaneName::NodeLeases => "node leases",
    }
}
