//! The event log and the explanation. The log lists every timeline entry with its time,
//! host and kind, keeps the selected one (the last at or before the cursor) in view and
//! greys out what has not happened yet. The explanation gives the selected entry in
//! full, the state its host was in right after it, what else was going on (outages,
//! split-brain windows, partitions) and a note on the mechanism behind that kind of
//! event, with the real default values a learner can look up.

use hasim_sim::cluster::{EventKind, HostState};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::map::{plane_label, role_name};
use super::style::*;
use crate::app::RunView;
use crate::timefmt;

pub(crate) fn kind_label(kind: EventKind) -> (&'static str, Style) {
    match kind {
        EventKind::Fault => ("fault", FAULT),
        EventKind::Etcd => ("etcd", Style::new()),
        EventKind::Membership => ("member", Style::new()),
        EventKind::Apiserver => ("api", Style::new()),
        EventKind::Kubelet => ("kubelet", WARN),
        EventKind::LoadBalancer => ("lb", Style::new()),
        EventKind::Vip => ("vip", Style::new()),
        EventKind::Lease => ("lease", Style::new()),
        EventKind::SplitBrain => ("SPLIT", BAD),
    }
}

/// The log in `area`, scrolled so the selected entry is in view with some of what led
/// to it above and what follows below.
pub(crate) fn draw_log(frame: &mut Frame, run: &RunView, area: Rect, block: Block<'static>) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let timeline = &run.replay.report.timeline;
    let height = usize::from(inner.height);
    if timeline.is_empty() {
        frame.render_widget(Paragraph::new(Line::styled("nothing happened in this run", DIM)), inner);
        return;
    }
    let first = match run.selected {
        Some(sel) if timeline.len() > height => {
            let above = height.saturating_mul(2) / 3;
            sel.saturating_sub(above).min(timeline.len() - height)
        }
        _ => 0,
    };
    let host_w = timeline.iter().filter_map(|e| e.host.as_ref()).map(|h| h.chars().count()).max().unwrap_or(0);
    let lines: Vec<Line> = timeline
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, e)| {
            let selected = run.selected == Some(i);
            let future = e.at > run.cursor || run.selected.is_some_and(|s| i > s);
            let (kind, kind_style) = kind_label(e.kind);
            let base = if selected {
                CURSOR
            } else if future {
                DIM
            } else {
                Style::new()
            };
            let host = e.host.as_deref().unwrap_or("");
            Line::from(vec![
                Span::styled(if selected { "▶" } else { " " }, base),
                Span::styled(format!("{:>8.3} ", e.at), base),
                Span::styled(format!("{host:<host_w$} "), base),
                Span::styled(format!("{kind:<7} "), if future && !selected { DIM } else { base.patch(kind_style) }),
                Span::styled(e.text.clone(), base),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The explanation of the selected event for an inner width of `width` columns.
pub(crate) fn explain_lines(run: &RunView, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width);
    // Indented lines keep their indentation when wrapped: state rows under their value,
    // list items under their text.
    explain(run)
        .into_iter()
        .flat_map(|line| {
            let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
            let lead = text.len() - text.trim_start().len();
            let indent = match lead {
                0 => 0,
                _ if text.get(lead..).is_some_and(|rest| rest.starts_with(STATE_LABEL_MARK)) => lead + 2,
                _ => lead + STATE_LABEL_W,
            };
            super::hang(line, width, indent)
        })
        .collect()
}

/// Width of the process names in front of a host's state rows.
const STATE_LABEL_W: usize = 10;
/// How list items (as opposed to state rows) start: their indent is shallower.
const STATE_LABEL_MARK: &str = "- ";

fn explain(run: &RunView) -> Vec<Line<'static>> {
    let replay = &run.replay;
    let Some(e) = run.selected.and_then(|i| replay.report.timeline.get(i)) else {
        return vec![
            Line::raw(format!("No event yet at {}.", timefmt::secs(run.cursor))),
            Line::styled("Press → (or n) to step to the first event, space to play.", DIM),
        ];
    };
    let (kind, kind_style) = kind_label(e.kind);
    let mut out = vec![
        Line::from(vec![
            Span::styled(timefmt::secs(e.at), HEADING),
            Span::raw("  "),
            Span::styled(e.host.clone().unwrap_or_else(|| "cluster-wide".to_string()), HEADING),
            Span::raw("  "),
            Span::styled(kind.to_string(), kind_style),
        ]),
        Line::styled(e.text.clone(), HEADING),
        Line::raw(""),
    ];

    if let Some(host) = e.host.as_deref() {
        match replay.host_index(host).and_then(|i| replay.state_at(i, e.at)) {
            Some(s) => {
                out.push(Line::styled(format!("{host} right after this:"), DIM));
                out.extend(state_lines(s));
            }
            None => out.push(Line::styled(format!("No recorded state for {host}."), DIM)),
        }
        // LB and VIP events are filed under the backend or the LB; the LB that acted is
        // named in the text, and its view of the backends is what the event changed.
        for lb in named_load_balancers(run, &e.text).into_iter().filter(|lb| *lb != host) {
            if let Some(s) = replay.host_index(lb).and_then(|i| replay.state_at(i, e.at)) {
                out.push(Line::raw(""));
                out.push(Line::styled(format!("{lb} right after this:"), DIM));
                out.extend(state_lines(s));
            }
        }
        let cut: Vec<&str> = replay.cut_at(e.at).iter().filter(|[a, _]| a == host).map(|[_, b]| b.as_str()).collect();
        if !cut.is_empty() {
            out.push(Line::from(vec![
                Span::raw("  network   "),
                Span::styled(format!("cannot send to {}", cut.join(", ")), BAD),
            ]));
        }
    } else {
        let parts = replay.partitions_at(e.at);
        if parts.is_empty() {
            out.push(Line::styled("Network right after this: every link works.", DIM));
        } else {
            out.push(Line::styled("Network right after this:", DIM));
            for (h, peers) in parts.both_ways {
                out.push(Line::styled(format!("  - {h} ✕ {}", peers.join(", ")), BAD));
            }
            for (from, to) in parts.one_way {
                out.push(Line::styled(format!("  - {from} → {to} lost"), BAD));
            }
        }
    }

    // What else was true at that instant, as the report measured it.
    let outages = replay.outages_at(e.at);
    let splits = replay.split_brains_at(e.at);
    if !outages.is_empty() || !splits.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled("At that moment:", DIM));
        for (plane, cause) in outages {
            out.push(Line::from(vec![
                Span::styled(format!("  - outage of {}: ", plane_label(plane)), BAD),
                Span::raw(cause.to_string()),
            ]));
        }
        for (what, w) in splits {
            out.push(Line::from(vec![
                Span::styled(format!("  - {what} split brain: "), BAD),
                Span::raw(w.cause.clone()),
            ]));
        }
    }

    out.push(Line::raw(""));
    out.push(Line::styled(kind_note(e.kind), DIM));
    out
}

/// Load-balancer hosts named in `text`, in the order of the report's hosts.
fn named_load_balancers<'a>(run: &'a RunView, text: &str) -> Vec<&'a str> {
    let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_')).collect();
    run.replay
        .report
        .hosts
        .iter()
        .filter(|h| h.roles.iter().any(|r| r == "load-balancer") && words.contains(&h.name.as_str()))
        .map(|h| h.name.as_str())
        .collect()
}

/// A host's state, one process per line.
fn state_lines(s: &HostState) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let row = |name: &str, value: String, style: Style| {
        Line::from(vec![Span::raw(format!("  {name:<STATE_LABEL_W$}")), Span::styled(value, style)])
    };
    let power = match s.power {
        hasim_sim::cluster::Power::Up => ("up", OK),
        hasim_sim::cluster::Power::Down => ("DOWN (powered off or crashed)", BAD),
        hasim_sim::cluster::Power::Frozen => ("FROZEN (VM paused: nothing runs, nothing answers)", PAUSED),
    };
    out.push(row("power", power.0.to_string(), power.1));
    if let Some(e) = &s.etcd {
        let paused = if e.paused { ", paused (SIGSTOP)" } else { "" };
        let style = if e.role == hasim_sim::cluster::EtcdRole::Leader { LEADER } else { Style::new() };
        out.push(row("etcd", format!("{} in term {}{paused}", role_name(e.role), e.term), style));
    }
    if let Some(a) = &s.apiserver {
        let frozen = s.power == hasim_sim::cluster::Power::Frozen;
        let (text, style) = match (a.paused || frozen, a.ready) {
            (true, _) if frozen => ("frozen with its host", PAUSED),
            (true, _) => ("paused (SIGSTOP)", PAUSED),
            (false, true) => ("ready (/readyz passes)", OK),
            (false, false) => ("NOT READY (its etcd check fails)", BAD),
        };
        out.push(row("apiserver", text.to_string(), style));
    }
    for (name, e) in [("scheduler", &s.scheduler), ("ctrl-mgr", &s.controller_manager)] {
        if let Some(e) = e {
            let mut text = if e.leading { "leading (holds the lease)".to_string() } else { "standby".to_string() };
            if e.paused {
                text.push_str(", paused (SIGSTOP)");
            }
            out.push(row(name, text, if e.leading { LEADER } else { Style::new() }));
        }
    }
    if let Some(lb) = &s.lb {
        if lb.proxy_stopped {
            out.push(row("proxy", "stopped: connections refused".to_string(), BAD));
        } else if lb.proxy_frozen {
            out.push(row("proxy", "frozen (SIGSTOP): connections accepted, nothing relayed".to_string(), BAD));
        }
        let backends: Vec<String> =
            lb.backends.iter().map(|b| format!("{} {}", b.host, if b.up { "UP" } else { "DOWN" })).collect();
        out.push(row("backends", backends.join(", "), Style::new()));
        if let Some(vip) = lb.holds_vip {
            out.push(row("VIP", if vip { "held here" } else { "not held here" }.to_string(), Style::new()));
        }
    }
    if !s.expired_certs.is_empty() {
        out.push(row("invalid", s.expired_certs.join(", "), BAD));
    }
    out
}

/// The mechanism behind each kind of event, with the defaults the simulation uses.
fn kind_note(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Fault => "A fault from the scenario's fault list, applied at this moment.",
        EventKind::Etcd => {
            "Raft: the leader sends heartbeats every 100 ms; a follower that hears none for its randomised \
             election timeout (1-2 s) campaigns (PreVote first, in etcd 3.5+). Every 1 s a leader checks it heard \
             from a quorum (CheckQuorum) and steps down if not."
        }
        EventKind::Membership => {
            "etcd changes membership one member at a time; learners do not vote and do not count for quorum."
        }
        EventKind::Apiserver => {
            "/readyz includes an etcd check (a quorum read with a 2 s timeout): an apiserver whose etcd has no \
             quorum is not ready, even though a TCP connect to :6443 still succeeds."
        }
        EventKind::Kubelet => {
            "The kubelet probes /livez every 10 s; after 8 failures it kills the apiserver and restarts it \
             with crash-loop back-off."
        }
        EventKind::LoadBalancer => {
            "HAProxy checks each backend every 2 s: DOWN after 3 failed checks (fall), UP after 2 good ones \
             (rise). A TCP check only proves the port accepts connections; an HTTP check of /readyz also sees \
             an apiserver without etcd. A check may take up to `inter`; with `timeout check` set, the connect \
             may take min(inter, timeout connect) and the answer up to `timeout check` more."
        }
        EventKind::Vip => {
            "keepalived: a backup takes the VIP about 3.6 s after the last advert from the master \
             (3 x advert_int + skew); with preemption (the default) the preferred LB takes it back when it returns. \
             VRRP alone notices only a dead LB host; kubeadm's tracked check_apiserver script (every 3 s, fall 10) \
             lowers by 2, below the backup, a master whose HAProxy reached no healthy apiserver on 10 runs in a row."
        }
        EventKind::Lease => {
            "client-go leader election: lease 15 s, renew deadline 10 s, retry every 2 s. A standby takes over \
             only once the lease it last saw has not changed for 15 s on its own clock; a leader that cannot \
             renew for 10 s stops and exits."
        }
        EventKind::SplitBrain => {
            "Two instances acted as leader at once. An old etcd leader cannot commit anything without a \
             quorum; kube-scheduler and kube-controller-manager are not fenced, so both really act."
        }
    }
}
