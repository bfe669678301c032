//! The sweep / comparison screen: a table of the distributions (for a sweep, min to max
//! of each figure; for a comparison, one statistic per configuration side by side, the
//! selected configuration highlighted), the share of runs with each kind of split
//! brain, the worst seeds of the selected configuration with the command that replays
//! each, and for a sweep with room, a histogram of each run's longest outage.

use hasim_sim::report::PlaneName;
use hasim_sim::sweep::{Distribution, SweepSummary};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::map::plane_label;
use super::style::*;
use crate::sweep::{Stat, SweepView};
use crate::timefmt;
use hasim_sim::cluster::SLOW_ANSWER;

/// How a figure is printed, and whether it is worth a row.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    /// Seconds to the slowest answer of a plane: a row only when some run had a slow
    /// one, since answers within a second say nothing a learner needs and rows are
    /// scarce on a small terminal.
    SlowestAnswer,
    Ratio,
    Count,
}

fn fmt(unit: Unit, x: f64) -> String {
    match unit {
        Unit::Seconds | Unit::SlowestAnswer => timefmt::secs(x),
        Unit::Ratio => format!("{:.2}%", x * 100.0),
        Unit::Count => format!("{x}"),
    }
}

/// Whether a figure with these distributions (one per configuration) gets a row; the
/// slowest answers only with `room` (they are the first to go on a small terminal).
fn worth_a_row(unit: Unit, ds: &[Option<&Distribution>], room: bool) -> bool {
    match unit {
        Unit::SlowestAnswer => room && ds.iter().flatten().any(|d| d.max >= SLOW_ANSWER.as_secs_f64()),
        _ => ds.iter().any(Option::is_some),
    }
}

/// The distribution rows every summary has: (label, unit, distribution).
fn figures(s: &SweepSummary) -> Vec<(String, Unit, Option<&Distribution>)> {
    let mut rows = vec![
        ("longest outage per run".to_string(), Unit::Seconds, s.longest_outage.as_ref()),
        ("every outage".to_string(), Unit::Seconds, s.outage_length.as_ref()),
        ("recovery per fault".to_string(), Unit::Seconds, s.recovery.as_ref()),
    ];
    for p in PlaneName::ALL {
        let d = s.availability.iter().find(|a| a.plane == p).map(|a| &a.availability);
        rows.push((format!("{} availability", plane_label(p)), Unit::Ratio, d));
    }
    for p in PlaneName::ALL {
        let d = s.slowest_answer.iter().find(|a| a.plane == p).map(|a| &a.slowest);
        rows.push((format!("slowest {}", p.one()), Unit::SlowestAnswer, d));
    }
    rows.push(("etcd leader changes".to_string(), Unit::Count, s.leader_changes.as_ref()));
    rows
}

/// Share of runs with each split-brain outcome, named as "runs with …".
fn splits(s: &SweepSummary) -> [(&'static str, f64); 5] {
    let sb = &s.split_brain;
    [
        ("2 etcd leaders", sb.etcd_leaders),
        ("2 schedulers", sb.scheduler),
        ("2 controller-managers", sb.controller_manager),
        ("stale reads", sb.stale_reads),
        ("misrouted requests", sb.misrouted),
    ]
}

/// The statistic of an availability ratio that matches `stat` of a duration: low
/// availability is the bad tail, and the report has no low percentiles, so the upper
/// tail of durations is matched with the minimum.
fn mirrored(stat: Stat) -> Stat {
    match stat {
        Stat::Min => Stat::Max,
        Stat::P50 => Stat::P50,
        Stat::P90 | Stat::P99 | Stat::Max => Stat::Min,
    }
}

fn pct(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

pub(crate) fn draw(frame: &mut Frame, area: Rect, sweep: &SweepView, footer: Line<'static>) {
    let [header, body, foot] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    frame.render_widget(header_line(sweep), header);
    frame.render_widget(footer, foot);

    let inner_w = body.width.saturating_sub(2);
    // A sweep keeps every run, so with room to spare its longest outages get a histogram
    // beside the worst seeds.
    let show_histogram = !sweep.compare && body.width >= 110 && !sweep.runs.is_empty();
    let split = |area: Rect| Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let worst_w = if show_histogram { split(body)[0].width } else { body.width };
    // The selected seed's replay command stays whole at the bottom of the worst-seeds
    // panel, so it is wrapped first: that panel needs it, one seed and its borders.
    let command: Vec<Line> = sweep
        .entry()
        .and_then(|e| e.summary.worst_seeds.get(sweep.worst))
        .map(|w| {
            super::hang(Line::styled(format!("replay: {}", w.replay), DIM), usize::from(worst_w.saturating_sub(2)), 8)
        })
        .unwrap_or_default();
    // The table gets what it needs as long as the worst-seeds panel keeps that much.
    // If it does not fit, the slowest answers go first; rows that still do not fit
    // are counted in its last line rather than cut silently.
    let room = body.height.saturating_sub(3 + command.len() as u16).max(3);
    let table_of = |with_slowest: bool| {
        if sweep.compare {
            compare_lines(sweep, inner_w, with_slowest)
        } else {
            sweep_lines(sweep, inner_w, with_slowest)
        }
    };
    let mut table = table_of(true);
    if table.len() as u16 + 2 > room {
        table = table_of(false);
    }
    let table_h = (table.len() as u16 + 2).min(room);
    let inner_h = usize::from(table_h - 2);
    if table.len() > inner_h && inner_h > 0 {
        let hidden = table.len() - inner_h + 1;
        table.truncate(inner_h - 1);
        table.push(Line::styled(format!("… {hidden} more rows: enlarge the terminal to see them"), DIM));
    }
    let [table_area, lower] = Layout::vertical([Constraint::Length(table_h), Constraint::Fill(1)]).areas(body);
    let title = if sweep.compare {
        let m = mirrored(sweep.stat);
        format!(" {} of each figure, {} of availability (+/- to change) ", sweep.stat.name(), m.name())
    } else {
        " Distributions over the runs ".to_string()
    };
    frame.render_widget(Paragraph::new(table).block(Block::bordered().title(title).border_style(DIM)), table_area);

    let (worst_area, histogram_area) = if show_histogram {
        let [a, b] = split(lower);
        (a, Some(b))
    } else {
        (lower, None)
    };
    let label = sweep.entry().map(|e| e.label.clone()).unwrap_or_default();
    let title = if sweep.compare {
        format!(" Worst seeds of {label} (Tab: next configuration; ↑/↓, Enter: replay) ")
    } else {
        " Worst seeds (↑/↓, Enter: replay) ".to_string()
    };
    let block = Block::bordered().title(title).border_style(FOCUSED).title_style(FOCUSED);
    let (list_w, h) = (worst_area.width.saturating_sub(2), worst_area.height.saturating_sub(2));
    let list_h = h.saturating_sub(command.len() as u16).max(1);
    let mut lines = worst_lines(sweep, list_w, list_h);
    lines.truncate(usize::from(list_h));
    lines.extend(command);
    frame.render_widget(Paragraph::new(lines).block(block), worst_area);
    if let Some(area) = histogram_area {
        let lines = histogram_lines(sweep, area.width.saturating_sub(2), area.height.saturating_sub(2));
        let block = Block::bordered().title(" Longest outage per run ").border_style(DIM);
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }
}

fn header_line(sweep: &SweepView) -> Line<'static> {
    let last = sweep.seeds.first.wrapping_add(sweep.seeds.count.saturating_sub(1));
    let seeds = format!("seeds {}..{}", sweep.seeds.first, last);
    let mut spans = vec![Span::styled(" hasim ", TITLE)];
    match (sweep.compare, sweep.entry()) {
        (true, _) => {
            spans.push(Span::raw(format!("compare · {} configurations · {seeds} · ", sweep.entries.len())));
            let failed: u64 = sweep.entries.iter().map(|e| e.summary.failed).sum();
            spans.push(if failed == 0 {
                Span::styled("every run met its expectations", OK)
            } else {
                Span::styled(format!("{failed} runs failed"), BAD)
            });
        }
        (false, Some(e)) => {
            let shard = sweep.shard.map(|s| format!(" (shard {s})")).unwrap_or_default();
            spans.push(Span::raw(format!("sweep · {} · {seeds}{shard} · ", e.scenario.name)));
            let s = &e.summary;
            spans.push(if s.failed == 0 {
                Span::styled(format!("{} of {} passed", s.passed, s.runs), OK)
            } else {
                Span::styled(format!("{} of {} failed", s.failed, s.runs), BAD)
            });
        }
        (false, None) => spans.push(Span::raw("empty sweep")),
    }
    Line::from(spans)
}

/// A sweep: each figure from min to max, for an inner width of `width` columns.
fn sweep_lines(sweep: &SweepView, width: u16, with_slowest: bool) -> Vec<Line<'static>> {
    let Some(e) = sweep.entry() else { return vec![] };
    let s = &e.summary;
    let rows: Vec<_> = figures(s).into_iter().filter(|(_, unit, d)| worth_a_row(*unit, &[*d], with_slowest)).collect();
    let label_w = rows.iter().map(|(l, _, _)| l.len()).max().unwrap_or(0) + 1;
    // Values are at most 8 wide ("100.00%", "39.926s"), so columns shrink to 9 to fit 80.
    let col_w = (usize::from(width).saturating_sub(label_w) / Stat::ALL.len()).clamp(9, 11);
    let mut out = vec![Line::styled(
        format!("{:label_w$}{}", "", Stat::ALL.iter().map(|st| format!("{:>col_w$}", st.name())).collect::<String>()),
        DIM,
    )];
    for (label, unit, d) in rows {
        let Some(d) = d else { continue };
        let mut spans = vec![Span::raw(format!("{label:<label_w$}"))];
        for st in Stat::ALL {
            spans.push(Span::raw(format!("{:>col_w$}", fmt(unit, st.of(d)))));
        }
        out.push(Line::from(spans));
    }
    out.push(Line::raw(""));
    let mut spans = vec![Span::styled("runs with: ", DIM)];
    for (i, (what, share)) in splits(s).into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::raw(format!("{what} ")));
        spans.push(Span::styled(pct(share), if share > 0.0 { BAD } else { OK }));
    }
    out.extend(super::hang(Line::from(spans), usize::from(width), 11));
    out.push(safety_line(s));
    out
}

fn safety_line(s: &SweepSummary) -> Line<'static> {
    if s.safety_violations == 0 {
        Line::styled("Raft safety held in every run", OK)
    } else {
        Line::styled(format!("{} runs broke a Raft safety invariant (a hasim bug)", s.safety_violations), BAD)
    }
}

/// A comparison: one statistic of each figure, configurations side by side.
fn compare_lines(sweep: &SweepView, width: u16, with_slowest: bool) -> Vec<Line<'static>> {
    let Some(first) = sweep.entries.first() else { return vec![] };
    let mut rows: Vec<(String, Vec<(String, Style)>)> = Vec::new();
    rows.push((
        "runs passed".to_string(),
        sweep
            .entries
            .iter()
            .map(|e| {
                let s = &e.summary;
                (format!("{}/{}", s.passed, s.runs), if s.failed == 0 { OK } else { BAD })
            })
            .collect(),
    ));
    let summaries: Vec<_> = sweep.entries.iter().map(|e| figures(&e.summary)).collect();
    for (i, (label, unit, _)) in figures(&first.summary).into_iter().enumerate() {
        let stat = if matches!(unit, Unit::Ratio) { mirrored(sweep.stat) } else { sweep.stat };
        let ds: Vec<Option<&Distribution>> = summaries.iter().map(|f| f.get(i).and_then(|(_, _, d)| *d)).collect();
        if !worth_a_row(unit, &ds, with_slowest) {
            continue;
        }
        let cells: Vec<(String, Style)> = ds
            .iter()
            .map(|d| match d {
                Some(d) => (fmt(unit, stat.of(d)), Style::new()),
                None => ("-".to_string(), DIM),
            })
            .collect();
        rows.push((label, cells));
    }
    for (k, (what, _)) in splits(&first.summary).into_iter().enumerate() {
        let cells = sweep
            .entries
            .iter()
            .map(|e| {
                let share = splits(&e.summary)[k].1;
                (pct(share), if share > 0.0 { BAD } else { OK })
            })
            .collect();
        rows.push((format!("runs with {what}"), cells));
    }
    rows.push((
        "safety violations".to_string(),
        sweep
            .entries
            .iter()
            .map(|e| {
                let n = e.summary.safety_violations;
                (n.to_string(), if n == 0 { OK } else { BAD })
            })
            .collect(),
    ));

    let label_w = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0) + 2;
    let n = sweep.entries.len().max(1);
    let col_w = (usize::from(width).saturating_sub(label_w) / n).clamp(6, 24);
    let cut = |s: &str| -> String {
        if s.chars().count() < col_w {
            s.to_string()
        } else {
            s.chars().take(col_w.saturating_sub(2)).collect::<String>() + "…"
        }
    };
    let mut head = vec![Span::raw(" ".repeat(label_w))];
    for (i, e) in sweep.entries.iter().enumerate() {
        let style = if i == sweep.variant { FOCUSED.patch(CURSOR) } else { HEADING };
        head.push(Span::styled(format!("{:>w$}", cut(&e.label), w = col_w - 1), style));
        head.push(Span::raw(" "));
    }
    let mut out = vec![Line::from(head)];
    for (label, cells) in rows {
        let mut spans = vec![Span::raw(format!("{label:<label_w$}"))];
        for (i, (text, style)) in cells.into_iter().enumerate() {
            let style = if i == sweep.variant { style.add_modifier(ratatui::style::Modifier::BOLD) } else { style };
            spans.push(Span::styled(format!("{:>w$}", cut(&text), w = col_w - 1), style));
            spans.push(Span::raw(" "));
        }
        out.push(Line::from(spans));
    }
    out
}

/// The worst seeds of the selected configuration in `height` rows (scrolled to keep the
/// selected one in view), then the seeds that failed if there is room.
fn worst_lines(sweep: &SweepView, width: u16, height: u16) -> Vec<Line<'static>> {
    let Some(e) = sweep.entry() else { return vec![] };
    let worst = &e.summary.worst_seeds;
    if worst.is_empty() {
        return vec![Line::styled("no runs", DIM)];
    }
    let height = usize::from(height).max(1);
    let first = sweep.worst.saturating_sub(height - 1).min(worst.len().saturating_sub(height));
    let mut out = Vec::new();
    for (i, w) in worst.iter().enumerate().skip(first).take(height) {
        let selected = i == sweep.worst;
        let base = if selected { CURSOR } else { Style::new() };
        let split = if w.split_brain.is_empty() { "no split brain".to_string() } else { w.split_brain.join(", ") };
        let mut spans = vec![
            Span::styled(if selected { "▶ " } else { "  " }, base),
            Span::styled(format!("seed {:<6}", w.seed), base.patch(HEADING)),
            Span::styled(format!(" outage {:>8}", timefmt::secs(w.longest_outage)), base),
            Span::styled(format!("  writes {:>7}", format!("{:.2}%", w.writes * 100.0)), base),
            Span::styled(format!("  {split}"), if w.split_brain.is_empty() { base } else { base.patch(BAD) }),
        ];
        if !w.failed.is_empty() {
            spans.push(Span::styled(format!("  FAILED {}", w.failed.join(", ")), base.patch(BAD)));
        }
        out.push(Line::from(spans));
    }
    if !e.summary.failed_seeds.is_empty() {
        let shown: Vec<String> = e.summary.failed_seeds.iter().take(30).map(u64::to_string).collect();
        let more = e.summary.failed_seeds.len().saturating_sub(30);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        out.push(Line::raw(""));
        out.extend(super::hang(
            Line::styled(format!("failed seeds: {}{more}", shown.join(", ")), BAD),
            usize::from(width),
            14,
        ));
    }
    out
}

/// Runs grouped by their longest outage, one bar per bucket.
fn histogram_lines(sweep: &SweepView, width: u16, height: u16) -> Vec<Line<'static>> {
    let values: Vec<f64> = sweep.runs.iter().map(|r| r.longest_outage()).collect();
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return vec![Line::styled("no runs", DIM)];
    }
    let buckets = usize::from(height).clamp(1, 12);
    let step = if hi > lo { (hi - lo) / buckets as f64 } else { 1.0 };
    let mut counts = vec![0usize; buckets];
    for v in &values {
        let b = (((v - lo) / step).floor() as usize).min(buckets - 1);
        counts[b] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let label_w = 20;
    let bar_w = usize::from(width).saturating_sub(label_w + 6).max(1);
    counts
        .iter()
        .enumerate()
        .map(|(b, &n)| {
            let from = lo + step * b as f64;
            let label = if hi > lo {
                format!("{}–{}", timefmt::secs(from), timefmt::secs(from + step))
            } else {
                timefmt::secs(lo)
            };
            let len = (n * bar_w).div_ceil(max);
            Line::from(vec![
                Span::styled(format!("{label:>label_w$} "), DIM),
                Span::styled("█".repeat(len), if n > 0 { WARN } else { DIM }),
                Span::raw(format!(" {n}")),
            ])
        })
        .collect()
}
