//! The second screen: a sweep (many seeds of one scenario) or a comparison (the same
//! seeds against several configurations) read from `hasim_sim::sweep`. A sweep is shown
//! as a comparison of one; the user picks a configuration (Tab), a statistic for the
//! side-by-side table (+/-) and one of its worst seeds (↑/↓), and Enter asks to replay
//! that seed, which the terminal loop runs (`load::replay_seed`) and opens as a run
//! screen; Esc comes back here.

use hasim_sim::sweep::{CompareEntry, CompareReport, Distribution, RunSummary, SeedRange, Shard, SweepReport};

use crate::app::Msg;

/// Which figure of a distribution the comparison table shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    Min,
    P50,
    P90,
    P99,
    Max,
}

impl Stat {
    pub const ALL: [Stat; 5] = [Stat::Min, Stat::P50, Stat::P90, Stat::P99, Stat::Max];

    pub fn name(self) -> &'static str {
        match self {
            Stat::Min => "min",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::Max => "max",
        }
    }

    pub fn of(self, d: &Distribution) -> f64 {
        match self {
            Stat::Min => d.min,
            Stat::P50 => d.p50,
            Stat::P90 => d.p90,
            Stat::P99 => d.p99,
            Stat::Max => d.max,
        }
    }

    fn shifted(self, by: isize) -> Stat {
        let i = Stat::ALL.iter().position(|&s| s == self).unwrap_or(1) as isize;
        Stat::ALL[(i + by).clamp(0, Stat::ALL.len() as isize - 1) as usize]
    }
}

/// A seed to run again and show, as the sweep named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayRequest {
    /// The scenario file as named on the sweep's command line.
    pub file: String,
    pub variant: Option<String>,
    pub seed: u64,
    /// The file's fingerprint when the sweep ran, to tell whether it changed since.
    pub fingerprint: String,
}

/// A sweep or comparison and what is selected in it.
#[derive(Clone, Debug)]
pub struct SweepView {
    /// A comparison of configurations (otherwise a sweep of one).
    pub compare: bool,
    pub seeds: SeedRange,
    pub shard: Option<Shard>,
    /// One per configuration: a sweep has exactly one.
    pub entries: Vec<CompareEntry>,
    /// A sweep's runs, one per seed (a comparison keeps only summaries).
    pub runs: Vec<RunSummary>,
    /// Index into `entries`.
    pub variant: usize,
    /// Index into the selected entry's worst seeds.
    pub worst: usize,
    pub stat: Stat,
}

impl SweepView {
    pub fn from_sweep(r: SweepReport) -> SweepView {
        let label = r.scenario.variant.clone().unwrap_or_else(|| r.scenario.name.clone());
        SweepView {
            compare: false,
            seeds: r.seeds,
            shard: r.shard,
            entries: vec![CompareEntry { label, scenario: r.scenario, summary: r.summary }],
            runs: r.runs,
            variant: 0,
            worst: 0,
            stat: Stat::P99,
        }
    }

    pub fn from_compare(r: CompareReport) -> SweepView {
        SweepView {
            compare: true,
            seeds: r.seeds,
            shard: None,
            entries: r.variants,
            runs: Vec::new(),
            variant: 0,
            worst: 0,
            stat: Stat::P99,
        }
    }

    pub fn entry(&self) -> Option<&CompareEntry> {
        self.entries.get(self.variant)
    }

    /// What replaying the selected worst seed needs.
    pub fn selected_replay(&self) -> Option<ReplayRequest> {
        let e = self.entry()?;
        let w = e.summary.worst_seeds.get(self.worst)?;
        Some(ReplayRequest {
            file: e.scenario.file.clone(),
            variant: e.scenario.variant.clone(),
            seed: w.seed,
            fingerprint: e.scenario.fingerprint.clone(),
        })
    }

    /// Applies a screen message; returns a replay to run when one was asked for.
    pub(crate) fn apply(&mut self, msg: Msg) -> Option<ReplayRequest> {
        let worst_len = self.entry().map_or(0, |e| e.summary.worst_seeds.len());
        let n = self.entries.len().max(1);
        match msg {
            Msg::StepNext => self.worst = (self.worst + 1).min(worst_len.saturating_sub(1)),
            Msg::StepPrev => self.worst = self.worst.saturating_sub(1),
            Msg::Start => self.worst = 0,
            Msg::End => self.worst = worst_len.saturating_sub(1),
            Msg::FocusNext => {
                self.variant = (self.variant + 1) % n;
                self.worst = 0;
            }
            Msg::FocusPrev => {
                self.variant = (self.variant + n - 1) % n;
                self.worst = 0;
            }
            Msg::Faster => self.stat = self.stat.shifted(1),
            Msg::Slower => self.stat = self.stat.shifted(-1),
            Msg::Submit => return self.selected_replay(),
            _ => {}
        }
        None
    }
}
