//! The human summary of a run report, for terminals: what failed, for how long and
//! why, then split brain, safety and each expectation. With `colour` it marks good and
//! bad figures with ANSI colours; without, it is plain text (for pipes, files, CI logs).

use std::fmt::Write;

use super::Report;

/// ANSI styles, or nothing.
pub(crate) struct Style {
    colour: bool,
}

impl Style {
    pub(crate) fn new(colour: bool) -> Style {
        Style { colour }
    }
    fn paint(&self, code: &str, s: &str) -> String {
        if self.colour { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() }
    }
    pub(crate) fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    pub(crate) fn good(&self, s: &str) -> String {
        self.paint("32", s)
    }
    pub(crate) fn bad(&self, s: &str) -> String {
        self.paint("31;1", s)
    }
    pub(crate) fn warn(&self, s: &str) -> String {
        self.paint("33", s)
    }
    pub(crate) fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Seconds as hasim prints durations: "10.993s", "1m30.000s".
pub fn seconds(s: f64) -> String {
    let micros = (s * 1e6).round() as u64;
    crate::time::SimDuration(micros).to_string()
}

/// The summary of `r`; with `timeline`, every timeline event first.
pub fn render_text(r: &Report, timeline: bool, colour: bool) -> String {
    let st = Style::new(colour);
    let mut o = String::new();
    let variant = r.scenario.variant.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
    let _ = writeln!(
        o,
        "{}{variant} (seed {}, {} simulated)",
        st.bold(&r.scenario.name),
        r.seed,
        seconds(r.scenario.duration)
    );
    if timeline {
        let _ = writeln!(o, "\n{}", st.bold("Timeline:"));
        for t in &r.timeline {
            let at = format!("{:>10}", seconds(t.at));
            let text = if t.kind == crate::cluster::EventKind::Fault {
                st.warn(&t.text)
            } else if t.kind == crate::cluster::EventKind::SplitBrain {
                st.bad(&t.text)
            } else {
                t.text.clone()
            };
            let _ = writeln!(o, "  {}  {text}", st.dim(&at));
        }
    }
    let _ = writeln!(o);
    if !r.availability.is_empty() {
        let _ = writeln!(o, "{}", st.bold("Availability:"));
        for a in &r.availability {
            let pct = format!("{:>7.3}%", a.ratio * 100.0);
            let pct = if a.failed == 0 { st.good(&pct) } else { st.warn(&pct) };
            let slow = if a.slow > 0 {
                format!("; {} answered after 1s or more, the slowest after {}", a.slow, seconds(a.slowest))
            } else {
                String::new()
            };
            let _ = writeln!(o, "  {:<22} {pct}  ({} of {} failed{slow})", a.plane.label(), a.failed, a.ok + a.failed);
        }
        if r.outages.is_empty() {
            let _ = writeln!(o, "Outages: {}", st.good("none"));
        } else {
            let _ = writeln!(o, "{}", st.bold("Outages:"));
            for x in &r.outages {
                // An outage still going when the run ended has no end of its own.
                let end = if x.ongoing { "end of run".to_string() } else { seconds(x.end) };
                let _ = writeln!(
                    o,
                    "  {:>10} .. {:>10}  {:<20} {} failed: {}",
                    seconds(x.start),
                    end,
                    x.plane.label(),
                    x.failed,
                    x.cause
                );
            }
        }
        for x in &r.recovery {
            if x.ongoing {
                let line =
                    format!("Not recovered from the fault at {} ({}) by the end of the run", seconds(x.at), x.fault);
                let _ = writeln!(o, "{}", st.bad(&line));
            } else if let Some(after) = x.recovered_after {
                let _ = writeln!(o, "Recovery after the fault at {} ({}): {}", seconds(x.at), x.fault, seconds(after));
            }
        }
        let sb = &r.split_brain;
        let _ = writeln!(
            o,
            "Stale cache reads: {} (max staleness {})",
            sb.stale_reads.count,
            seconds(sb.stale_reads.max_staleness)
        );
        let _ = writeln!(o, "Misrouted requests: {}", sb.misrouted.count);
    }
    let sb = &r.split_brain;
    for (what, windows) in [
        ("etcd leaders", &sb.etcd_leaders),
        ("kube-scheduler", &sb.scheduler),
        ("kube-controller-manager", &sb.controller_manager),
    ] {
        for w in windows {
            let end = w.end.map_or_else(|| "the end".to_string(), seconds);
            let line = format!("Split brain ({what}): {} .. {end}: {}", seconds(w.start), w.cause);
            let _ = writeln!(o, "{}", st.bad(&line));
        }
    }
    let _ = writeln!(o, "etcd leader changes: {}", r.etcd.leader_changes);
    if r.safety.held {
        let _ = writeln!(o, "Safety: {}", st.good("all Raft invariants held"));
    } else {
        for v in &r.safety.violations {
            let line = format!(
                "Safety violation at {}: {} {} (reproduce with seed={})",
                seconds(v.at),
                v.invariant,
                v.detail,
                r.seed
            );
            let _ = writeln!(o, "{}", st.bad(&line));
        }
    }
    if r.expectations.len() > 1 {
        let _ = writeln!(o, "\n{}", st.bold("Expectations:"));
        for e in &r.expectations {
            let mark = if e.held { st.good("ok  ") } else { st.bad("FAIL") };
            let _ = writeln!(o, "  {mark} {:<30} expected {:<18} was {}", e.name, e.expected, e.actual);
        }
    }
    if !r.verdict.passed {
        let _ = writeln!(o, "\n{}", st.bad(&format!("Not met: reproduce with seed={}", r.seed)));
    }
    o
}
