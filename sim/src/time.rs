//! Simulated time. Everything in the core is measured in whole microseconds since the
//! start of a run, so arithmetic is exact and runs are reproducible on any machine.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time: microseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of simulated time in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, zero if `earlier` is in the future.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    pub const fn from_mins(m: u64) -> Self {
        SimDuration(m * 60_000_000)
    }
    pub fn as_micros(self) -> u64 {
        self.0
    }
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn saturating_mul(self, k: u64) -> Self {
        SimDuration(self.0.saturating_mul(k))
    }
    pub fn saturating_sub(self, d: SimDuration) -> Self {
        SimDuration(self.0.saturating_sub(d.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, rhs: SimTime) -> SimDuration {
        self.since(rhs)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

/// Prints the way a person reads durations: `850ms`, `1.234s`, `2m03.500s`.
fn fmt_micros(us: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let secs = us / 1_000_000;
    let millis = (us % 1_000_000) / 1_000;
    if us == 0 {
        write!(f, "0s")
    } else if us < 1_000 {
        write!(f, "{us}µs")
    } else if us < 1_000_000 {
        if us.is_multiple_of(1_000) { write!(f, "{}ms", us / 1_000) } else { write!(f, "{:.3}ms", us as f64 / 1e3) }
    } else if secs < 60 {
        write!(f, "{secs}.{millis:03}s")
    } else if secs < 3_600 {
        write!(f, "{}m{:02}.{millis:03}s", secs / 60, secs % 60)
    } else {
        write!(f, "{}h{:02}m{:02}.{millis:03}s", secs / 3_600, secs % 3_600 / 60, secs % 60)
    }
}

/// A share given in parts per million, as a percentage without trailing zeros
/// (`290000` → `29%`, `12345` → `1.2345%`).
pub fn percent_of_ppm(ppm: u32) -> String {
    let fraction = format!("{:04}", ppm % 10_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() { format!("{}%", ppm / 10_000) } else { format!("{}.{fraction}%", ppm / 10_000) }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0, f)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t=")?;
        fmt_micros(self.0, f)
    }
}

/// Splits `sorted` (ascending by `at`) into runs in which each item is at most `gap`
/// after the one before: outages from failed requests, windows of stale reads.
pub fn runs_within<T>(sorted: &[T], at: impl Fn(&T) -> SimTime, gap: SimDuration) -> Vec<std::ops::Range<usize>> {
    runs_split_where(sorted, |a, b| at(b).since(at(a)) > gap)
}

/// Splits `sorted` into runs, starting a new one between two neighbours wherever
/// `split(earlier, later)` says so.
pub fn runs_split_where<T>(sorted: &[T], split: impl Fn(&T, &T) -> bool) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || split(&sorted[i - 1], &sorted[i]) {
            if start < i {
                runs.push(start..i);
            }
            start = i;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_where_the_gap_is_wider_than_allowed() {
        let t = |s: &[u64]| s.iter().map(|&x| SimTime(x)).collect::<Vec<_>>();
        let gap = SimDuration(10);
        assert_eq!(runs_within(&t(&[0, 5, 15, 26, 30]), |x| *x, gap), vec![0..3, 3..5]);
        assert_eq!(runs_within(&t(&[7]), |x| *x, gap), vec![0..1]);
        assert!(runs_within(&t(&[]), |x| *x, gap).is_empty());
    }

    #[test]
    fn durations_print_in_the_unit_a_person_expects() {
        assert_eq!(SimDuration::from_micros(250).to_string(), "250µs");
        assert_eq!(SimDuration::ZERO.to_string(), "0s");
        assert_eq!(SimDuration::from_secs(90).to_string(), "1m30.000s");
        assert_eq!(SimDuration::from_secs(24 * 3600 + 61).to_string(), "24h01m01.000s");
        assert_eq!(percent_of_ppm(290_000), "29%");
        assert_eq!(percent_of_ppm(12_345), "1.2345%");
        assert_eq!(percent_of_ppm(500), "0.05%");
        assert_eq!(percent_of_ppm(0), "0%");
        assert_eq!(SimDuration::from_millis(850).to_string(), "850ms");
        assert_eq!(SimDuration::from_micros(1_234_567).to_string(), "1.234s");
        assert_eq!(SimDuration::from_secs(123).to_string(), "2m03.000s");
        assert_eq!((SimTime::ZERO + SimDuration::from_secs(2)).to_string(), "t=2.000s");
    }

    #[test]
    fn time_arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SimTime::MAX + SimDuration::from_secs(1), SimTime::MAX);
        assert_eq!(SimTime(5).since(SimTime(9)), SimDuration::ZERO);
    }
}
