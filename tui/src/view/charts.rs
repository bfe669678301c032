//! The charts: the whole run drawn across the pane's width, one column per slice of
//! time, with the cursor's column highlighted and marked under the first chart.
//! - availability: per plane, the share of requests that failed in each slice
//!   (`·` none failed, `▁`..`█` an eighth to all), and the run's success ratio;
//! - etcd: one lane per member, filled while it believed it led, with the term written
//!   where a leadership spell starts (from the state frames, so an old leader that has
//!   not noticed it was replaced still shows, which is what a split brain looks like;
//!   `░` while the leader was stopped, `▓` inside an etcd split-brain window);
//! - leases: one lane per scheduler / controller-manager instance that ever led, filled
//!   while it led, `░` while it believed it led but was stopped, `▓` where the report
//!   found two instances active at once.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::Scale;
use super::map::plane_label;
use super::style::*;
use crate::app::RunView;
use crate::replay::{LeaseCell, LeaseKind};

const LEVELS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

/// The charts for an inner width of `width` columns.
pub(crate) fn lines(run: &RunView, width: u16) -> Vec<Line<'static>> {
    let replay = &run.replay;
    let report = &replay.report;
    let etcd_hosts = replay.etcd_hosts();
    let mut lease_lanes: Vec<(LeaseKind, &str)> = Vec::new();
    for kind in LeaseKind::ALL {
        for host in replay.lease_holders(kind) {
            lease_lanes.push((kind, host));
        }
    }
    let host_names: Vec<&str> = replay.host_names().collect();
    let label_w = report
        .availability
        .iter()
        .map(|p| plane_label(p.plane).len())
        .chain(etcd_hosts.iter().map(|&h| host_names.get(h).map_or(0, |n| n.len())))
        .chain(lease_lanes.iter().map(|(k, h)| k.short().len() + 1 + h.len()))
        .max()
        .unwrap_or(0)
        + 1;
    let suffix_w = 7;
    let strip_w = usize::from(width).saturating_sub(label_w + suffix_w).max(1);
    let scale = Scale::new(run.duration(), strip_w);
    let cursor = scale.col(run.cursor);
    let label = |text: &str| Span::styled(format!("{text:<label_w$}"), DIM);
    let mut out = Vec::new();

    out.push(Line::styled("Failed requests (share per slice)", HEADING));
    if report.availability.is_empty() {
        out.push(Line::styled("no client requests in this run", DIM));
    }
    for p in &report.availability {
        let mut spans = vec![label(plane_label(p.plane))];
        for c in 0..strip_w {
            let (t0, t1) = scale.span(c);
            let (ok, failed) = replay.requests_during(p.plane, t0, t1);
            let (ch, style) = if ok + failed == 0 {
                (" ", Style::new())
            } else if failed == 0 {
                ("·", OK)
            } else {
                let share = failed as f64 / (ok + failed) as f64;
                let level = ((share * 8.0).ceil() as usize).clamp(1, 8);
                (LEVELS[level - 1], BAD)
            };
            spans.push(Span::styled(ch, if c == cursor { style.patch(CURSOR) } else { style }));
        }
        spans.push(Span::raw(format!("{:>7}", format!("{:.1}%", p.ratio * 100.0))));
        out.push(Line::from(spans));
    }
    out.push(axis(label_w, strip_w, cursor, run.duration()));

    if !etcd_hosts.is_empty() {
        out.push(Line::styled("etcd leader (term at the start of each spell)", HEADING));
        let sb = &report.split_brain.etcd_leaders;
        for &h in &etcd_hosts {
            let name = host_names.get(h).copied().unwrap_or("?");
            let mut spans = vec![label(name)];
            let led: Vec<Option<u64>> = (0..strip_w)
                .map(|c| {
                    let (t0, t1) = scale.span(c);
                    replay.led_during(h, t0, t1)
                })
                .collect();
            let mut c = 0;
            while c < strip_w {
                let Some(term) = led[c] else {
                    spans.push(Span::styled("·", if c == cursor { DIM.patch(CURSOR) } else { DIM }));
                    c += 1;
                    continue;
                };
                let (t0, t1) = scale.span(c);
                let split = sb
                    .iter()
                    .any(|w| w.hosts.iter().any(|x| x == name) && w.start < t1 && w.end.is_none_or(|e| e > t0));
                let style = if split { BAD } else { LEADER };
                let starts = c == 0 || led[c - 1] != Some(term);
                let digits = term.to_string();
                let spell_len = led[c..].iter().take_while(|&&l| l == Some(term)).count();
                // The term is written where a spell starts, if the spell is wide enough.
                if starts && spell_len >= digits.len() {
                    for (k, d) in digits.chars().enumerate() {
                        let st = if c + k == cursor { style.patch(CURSOR) } else { style };
                        spans.push(Span::styled(d.to_string(), st));
                    }
                    c += digits.len();
                } else {
                    let ch = if split {
                        "▓"
                    } else if replay.etcd_paused_during(h, t0, t1) {
                        "░"
                    } else {
                        "█"
                    };
                    spans.push(Span::styled(ch, if c == cursor { style.patch(CURSOR) } else { style }));
                    c += 1;
                }
            }
            out.push(Line::from(spans));
        }
    }

    if !lease_lanes.is_empty() {
        out.push(Line::styled("lease holders (░ paused, ▓ two leaders at once)", HEADING));
        for (kind, host) in &lease_lanes {
            let mut spans = vec![label(&format!("{} {host}", kind.short()))];
            for c in 0..strip_w {
                let (t0, t1) = scale.span(c);
                let (ch, style) = match replay.lease_cell(*kind, host, t0, t1) {
                    LeaseCell::Idle => ("·", DIM),
                    LeaseCell::Leading => ("█", LEADER),
                    LeaseCell::Paused => ("░", PAUSED),
                    LeaseCell::Overlap => ("▓", BAD),
                };
                spans.push(Span::styled(ch, if c == cursor { style.patch(CURSOR) } else { style }));
            }
            out.push(Line::from(spans));
        }
    }
    out
}

/// `0s`, the cursor mark and the run's length under the strips.
fn axis(label_w: usize, strip_w: usize, cursor: usize, duration: f64) -> Line<'static> {
    let end = crate::timefmt::short(duration);
    let mut row: Vec<char> = vec![' '; strip_w];
    for (i, ch) in "0s".chars().enumerate().take(strip_w) {
        row[i] = ch;
    }
    let end_at = strip_w.saturating_sub(end.chars().count());
    for (i, ch) in end.chars().enumerate() {
        if let Some(slot) = row.get_mut(end_at + i) {
            *slot = ch;
        }
    }
    if let Some(slot) = row.get_mut(cursor) {
        *slot = '▲';
    }
    let text: String = row.into_iter().collect();
    Line::from(vec![Span::raw(" ".repeat(label_w)), Span::styled(text, CURSOR_MARK)])
}
