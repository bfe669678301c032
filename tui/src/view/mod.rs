//! Drawing the model: `view` lays out the screen for the terminal's size and hands each
//! pane to its module. In a terminal of at least `WIDE_MIN` the cluster map, charts,
//! event log and explanation are all visible; in a smaller one (80×24 works) a tab row
//! shows which single pane is up, and Tab switches. Panes build `Line`s from the model
//! and draw nothing else, so what they say is also what the text snapshots record.

mod charts;
mod events;
mod map;
mod overlay;
mod style;
mod sweep;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::app::{Model, Overlay, Pane, RunView, Screen};
use crate::timefmt;
use style::*;

/// The smallest terminal that gets every pane at once.
pub const WIDE_MIN: (u16, u16) = (120, 34);

/// Draws `model` on `frame`.
pub fn view(model: &Model, frame: &mut Frame) {
    let area = frame.area();
    let footer = footer_line(model, area.width);
    match &model.screen {
        Screen::Run(run) => draw_run(run, frame, area, footer),
        Screen::Sweep(s) => sweep::draw(frame, area, s, footer),
    }
    match &model.overlay {
        Overlay::None => {}
        Overlay::Help => {
            let keys = match model.screen {
                Screen::Run(_) => crate::keys::HELP,
                Screen::Sweep(_) => crate::keys::SWEEP_HELP,
            };
            overlay::help(frame, area, keys, matches!(model.screen, Screen::Run(_)));
        }
        Overlay::Seek { input, error } => overlay::seek(frame, area, input, error.as_deref()),
    }
}

fn draw_run(run: &RunView, frame: &mut Frame, area: Rect, footer_text: Line<'static>) {
    let wide = area.width >= WIDE_MIN.0 && area.height >= WIDE_MIN.1;
    if wide {
        let [header, timeline, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(4),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(header_line(run, header.width), header);
        let block = Block::bordered().title(" Timeline ").title(Line::from(TIMELINE_LEGEND).right_aligned());
        let inner = block.inner(timeline);
        frame.render_widget(block, timeline);
        frame.render_widget(Paragraph::new(timeline_lines(run, inner.width)), inner);
        let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        // Each column gives its upper pane what it needs and the rest to the one below,
        // so a larger terminal shows more of the event log and the explanation.
        let map = map::lines(run, left.width.saturating_sub(2));
        let map_h = (wrapped_height(&map, left.width.saturating_sub(2)) + 2).min(left.height.saturating_sub(8));
        let [map_area, log_area] = Layout::vertical([Constraint::Length(map_h), Constraint::Fill(1)]).areas(left);
        let chart = charts::lines(run, right.width.saturating_sub(2));
        let chart_h = (chart.len() as u16 + 2).min(right.height.saturating_sub(8));
        let [chart_area, explain_area] =
            Layout::vertical([Constraint::Length(chart_h), Constraint::Fill(1)]).areas(right);
        draw_pane(frame, run, Pane::Map, map_area, map);
        draw_pane(frame, run, Pane::Charts, chart_area, chart);
        events::draw_log(frame, run, log_area, pane_block(run, Pane::Log));
        let explain = events::explain_lines(run, right.width.saturating_sub(2));
        draw_pane(frame, run, Pane::Explain, explain_area, explain);
        frame.render_widget(footer_text.clone(), footer);
    } else {
        let [header, timeline, tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(header_line(run, header.width), header);
        frame.render_widget(Paragraph::new(timeline_lines(run, timeline.width)), timeline);
        frame.render_widget(tabs_line(run.focus), tabs);
        let inner_w = body.width.saturating_sub(2);
        match run.focus {
            Pane::Map => draw_pane(frame, run, Pane::Map, body, map::lines(run, inner_w)),
            Pane::Charts => draw_pane(frame, run, Pane::Charts, body, charts::lines(run, inner_w)),
            Pane::Log => events::draw_log(frame, run, body, pane_block(run, Pane::Log)),
            Pane::Explain => draw_pane(frame, run, Pane::Explain, body, events::explain_lines(run, inner_w)),
        }
        frame.render_widget(footer_text.clone(), footer);
    }
}

/// The bordered block of `pane`, its border bright when it has the focus.
fn pane_block(run: &RunView, pane: Pane) -> Block<'static> {
    let title = format!(" {} ", pane.title());
    let block = Block::bordered().title(title);
    if run.focus == pane { block.border_style(FOCUSED).title_style(FOCUSED) } else { block.border_style(DIM) }
}

fn draw_pane(frame: &mut Frame, run: &RunView, pane: Pane, area: Rect, lines: Vec<Line<'static>>) {
    let widget = Paragraph::new(lines).block(pane_block(run, pane)).wrap(Wrap { trim: false });
    frame.render_widget(widget, area);
}

/// Rows `lines` take when wrapped at `width` (by characters: close enough for sizing).
fn wrapped_height(lines: &[Line], width: u16) -> u16 {
    let width = usize::from(width.max(1));
    lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum::<usize>().min(usize::from(u16::MAX)) as u16
}

/// Scenario, seed, verdict on the left; play state, speed and time on the right. In a
/// narrow terminal the badge goes first, then the time gets terser, then the name is cut.
fn header_line(run: &RunView, width: u16) -> Line<'static> {
    let width = usize::from(width);
    let r = &run.replay.report;
    let verdict = if r.verdict.passed { Span::styled("PASSED", OK) } else { Span::styled("FAILED", BAD) };
    let mut name = r.scenario.name.clone();
    if let Some(v) = &r.scenario.variant {
        name = format!("{name} [{v}]");
    }
    let play = if run.playing { Span::styled("▶ playing", OK) } else { Span::styled("paused", WARN) };
    let speed = run.speed();
    let speed = if speed < 1.0 { format!("{speed}×") } else { format!("{speed:.0}×") };
    let (now, end) = (timefmt::secs(run.cursor), timefmt::short(run.duration()));
    let seed = format!(" · seed {} · ", r.seed);
    let fixed = |badge: bool, time: &str| {
        (if badge { 7 } else { 1 }) + seed.chars().count() + verdict.width() + play.width() + time.chars().count() + 1
    };
    let mut choice = None;
    for badge in [true, false] {
        for time in [format!(" {speed}  t = {now} / {end} "), format!(" {speed} {now}/{end} ")] {
            if choice.is_none() && fixed(badge, &time) + name.chars().count() <= width {
                choice = Some((badge, time));
            }
        }
    }
    let (badge, time) = choice.unwrap_or_else(|| {
        let time = format!(" {speed} {now}/{end} ");
        let room = width.saturating_sub(fixed(false, &time));
        if name.chars().count() > room {
            name = name.chars().take(room.saturating_sub(1)).collect::<String>() + "…";
        }
        (false, time)
    });
    let mut spans = vec![
        if badge { Span::styled(" hasim ", TITLE) } else { Span::raw(" ") },
        Span::raw(name),
        Span::raw(seed),
        verdict,
    ];
    let used: usize = spans.iter().map(Span::width).sum::<usize>() + play.width() + time.chars().count();
    spans.push(Span::raw(" ".repeat(width.saturating_sub(used).max(1))));
    spans.push(play);
    spans.push(Span::raw(time));
    Line::from(spans)
}

const TIMELINE_LEGEND: &str = " F fault  ▒ outage  ! split brain  ▲ cursor ";

/// The whole run in one row (faults, outages, split-brain windows) and the cursor
/// under it with the time.
fn timeline_lines(run: &RunView, width: u16) -> Vec<Line<'static>> {
    let w = usize::from(width);
    if w == 0 {
        return vec![];
    }
    let scale = Scale::new(run.duration(), w);
    let col = scale.col(run.cursor);
    let marks: Vec<Span> = (0..w)
        .map(|c| {
            let (t0, t1) = scale.span(c);
            let (ch, st) = if run.replay.fault_during(t0, t1) {
                ("F", FAULT)
            } else if run.replay.in_split_brain(t0, t1) {
                ("!", BAD)
            } else if run.replay.in_outage(t0, t1) {
                ("▒", BAD)
            } else {
                ("─", DIM)
            };
            Span::styled(ch, if c == col { st.patch(CURSOR) } else { st })
        })
        .collect();
    vec![Line::from(marks), cursor_line(col, w, &timefmt::secs(run.cursor))]
}

/// `▲ label` under column `col` (or `label ▲` when it would not fit to the right).
fn cursor_line(col: usize, width: usize, label: &str) -> Line<'static> {
    let label_w = label.chars().count() + 2;
    let text = if col + label_w <= width {
        format!("{}▲ {label}", " ".repeat(col))
    } else {
        format!("{}{label} ▲", " ".repeat((col + 1).saturating_sub(label_w)))
    };
    Line::styled(text, CURSOR_MARK)
}

/// Maps simulated time onto `width` columns.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    duration: f64,
    width: usize,
}

impl Scale {
    pub(crate) fn new(duration: f64, width: usize) -> Scale {
        Scale { duration: duration.max(f64::MIN_POSITIVE), width: width.max(1) }
    }

    /// The time span [t0, t1) that column `c` covers.
    pub(crate) fn span(self, c: usize) -> (f64, f64) {
        let per = self.duration / self.width as f64;
        (c as f64 * per, (c + 1) as f64 * per)
    }

    /// The column showing time `t` (the end of the run is in the last column).
    pub(crate) fn col(self, t: f64) -> usize {
        let c = (t / self.duration * self.width as f64).floor();
        if c.is_nan() { 0 } else { (c.max(0.0) as usize).min(self.width - 1) }
    }
}

fn tabs_line(focus: Pane) -> Line<'static> {
    let mut spans = vec![Span::styled(" Tab ▸ ", DIM)];
    for p in Pane::ALL {
        if p == focus {
            spans.push(Span::styled(format!("[{}]", p.title()), FOCUSED));
        } else {
            spans.push(Span::styled(format!(" {} ", p.title()), DIM));
        }
        spans.push(Span::raw(" "));
    }
    Line::from(spans)
}

/// The status message if there is one, else the main keys of the screen (the long
/// list when it fits).
fn footer_line(model: &Model, width: u16) -> Line<'static> {
    if let Some(status) = &model.status {
        return Line::styled(format!(" {status}"), WARN);
    }
    let back = if model.back.is_empty() { "" } else { "  Esc back" };
    let (long, short) = match model.screen {
        Screen::Run(_) => (
            " space play/pause  ←/→ step  f/F fault  o/O outage  g seek  +/- speed  Home/End  Tab pane  ? help  q quit",
            " space play  ←→ step  f/F fault  o/O outage  g seek  +/- speed  ? help  q quit",
        ),
        Screen::Sweep(_) => (
            " ↑/↓ worst seed  Enter replay it  Tab configuration  +/- statistic  ? help  q quit",
            " ↑↓ seed  Enter replay  Tab config  +/- stat  ? help  q quit",
        ),
    };
    let fits = |s: &str| s.chars().count() + back.chars().count() <= usize::from(width);
    let text = if fits(long) { long } else { short };
    Line::styled(format!("{}{back}", text.strip_suffix("  q quit").filter(|_| !back.is_empty()).unwrap_or(text)), DIM)
}

/// `line` wrapped at word boundaries to `width` columns, every row after the first
/// starting with `indent` spaces so wrapped text stays under its label. Words longer
/// than a row are cut.
pub(crate) fn hang(line: Line<'static>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(indent + 8);
    if line.width() <= width {
        return vec![line];
    }
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut row: Vec<Span<'static>> = Vec::new();
    let mut row_w = 0;
    let mut fresh = true;
    for span in line.spans {
        for token in span.content.split_inclusive(' ') {
            let mut token = token.to_string();
            let word_w = Span::raw(token.trim_end()).width();
            if row_w + word_w > width && !fresh {
                rows.push(Line::from(std::mem::take(&mut row)));
                row.push(Span::raw(" ".repeat(indent)));
                row_w = indent;
                fresh = true;
                token = token.trim_start().to_string();
                if token.is_empty() {
                    continue;
                }
            }
            // A word that does not fit on a row of its own is cut where the row ends.
            while Span::raw(token.trim_end()).width() > width.saturating_sub(row_w) {
                let room = width.saturating_sub(row_w);
                let head: String = token.chars().take(room).collect();
                let tail: String = token.chars().skip(room).collect();
                row.push(Span::styled(head, span.style));
                rows.push(Line::from(std::mem::take(&mut row)));
                row.push(Span::raw(" ".repeat(indent)));
                row_w = indent;
                token = tail;
            }
            row_w += Span::raw(token.as_str()).width();
            row.push(Span::styled(token, span.style));
            fresh = false;
        }
    }
    if !row.is_empty() {
        rows.push(Line::from(row));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn hang_wraps_under_the_label() {
        let line = Line::from(vec![Span::raw("outage    "), Span::raw("writes: the load balancer kept sending")]);
        assert_eq!(
            text(&hang(line, 30, 10)),
            ["outage    writes: the load ", "          balancer kept ", "          sending"]
        );
    }

    #[test]
    fn hang_cuts_words_longer_than_a_row() {
        let line = Line::raw("a 0123456789012345678901234567890123456789");
        let rows = text(&hang(line, 20, 2));
        assert!(rows.iter().all(|r| r.chars().count() <= 20), "{rows:?}");
        assert_eq!(rows.concat().replace(' ', ""), "a0123456789012345678901234567890123456789");
    }

    #[test]
    fn scale_maps_the_end_into_the_last_column() {
        let s = Scale::new(120.0, 60);
        assert_eq!(s.col(0.0), 0);
        assert_eq!(s.col(120.0), 59);
        assert_eq!(s.col(f64::NAN), 0);
        assert_eq!(s.span(1), (2.0, 4.0));
    }
}
