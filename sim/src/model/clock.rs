//! A host's wall clock: an offset from true (simulated) time and a rate. Real clocks
//! drift: NTP trouble can leave one host seconds off (offset) or ticking too fast or
//! too slow (rate). Timers a process arms are measured on its host's clock, which is
//! why rate drift, unlike a pure offset, changes how long a lease or timeout really
//! lasts.
//!
//! A step (NTP setting the time, an operator's `date -s`) moves the wall clock only.
//! Go programs such as client-go's leader election compare `time.Time` values that
//! carry a monotonic reading, which steps do not move but rate errors do: so leases
//! are timed on `monotonic`, and certificates (x509 checks the wall time) on `local`.

use crate::time::{SimDuration, SimTime};

/// Parts per million: `RATE_ONE` is a clock that keeps true time.
pub const RATE_ONE: u64 = 1_000_000;

/// Local time as a host reads it, in microseconds (may be "before" the run started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(pub i64);

impl LocalTime {
    pub fn plus(self, d: SimDuration) -> LocalTime {
        LocalTime(self.0.saturating_add(d.as_micros() as i64))
    }

    pub fn minus(self, d: SimDuration) -> LocalTime {
        LocalTime(self.0.saturating_sub(d.as_micros() as i64))
    }

    /// Local duration from `earlier` to `self`, zero if negative.
    pub fn since(self, earlier: LocalTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Local reading at `anchor`.
    local_at_anchor: i64,
    /// Monotonic reading at `anchor`: like the local one, without the steps.
    monotonic_at_anchor: i64,
    anchor: SimTime,
    /// Local microseconds per true second, in ppm of a second.
    rate_ppm: u64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock { local_at_anchor: 0, monotonic_at_anchor: 0, anchor: SimTime::ZERO, rate_ppm: RATE_ONE }
    }
}

impl Clock {
    /// What the host's clock reads at true time `t`.
    pub fn local(&self, t: SimTime) -> LocalTime {
        LocalTime(self.local_at_anchor.saturating_add(self.elapsed_since_anchor(t)))
    }

    /// The host's monotonic clock at true time `t`: it runs at the clock's rate, and
    /// steps do not move it.
    pub fn monotonic(&self, t: SimTime) -> LocalTime {
        LocalTime(self.monotonic_at_anchor.saturating_add(self.elapsed_since_anchor(t)))
    }

    fn elapsed_since_anchor(&self, t: SimTime) -> i64 {
        (t.since(self.anchor).as_micros() as u128 * self.rate_ppm as u128 / RATE_ONE as u128) as i64
    }

    /// Steps the clock by `delta_us` (positive: ahead) from now on.
    pub fn step(&mut self, now: SimTime, delta_us: i64) {
        self.rebase(now);
        self.local_at_anchor = self.local_at_anchor.saturating_add(delta_us);
    }

    /// From now on the clock advances `rate_ppm / 1e6` local seconds per true second.
    pub fn set_rate(&mut self, now: SimTime, rate_ppm: u64) {
        self.rebase(now);
        self.rate_ppm = rate_ppm.max(1);
    }

    pub fn rate_ppm(&self) -> u64 {
        self.rate_ppm
    }

    /// Offset from true time at `now`, in microseconds.
    pub fn offset_us(&self, now: SimTime) -> i64 {
        self.local(now).0 - now.as_micros() as i64
    }

    fn rebase(&mut self, now: SimTime) {
        self.local_at_anchor = self.local(now).0;
        self.monotonic_at_anchor = self.monotonic(now).0;
        self.anchor = now;
    }

    /// True time that passes while this clock measures `local` (timers run on the
    /// local clock), rounded up so a timer never fires early.
    pub fn real_duration(&self, local: SimDuration) -> SimDuration {
        let us = (local.as_micros() as u128 * RATE_ONE as u128).div_ceil(self.rate_ppm as u128);
        SimDuration(us.min(u64::MAX as u128) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_shifts_readings_but_not_durations() {
        let mut c = Clock::default();
        c.step(SimTime(1_000_000), 5_000_000);
        assert_eq!(c.local(SimTime(1_000_000)), LocalTime(6_000_000));
        assert_eq!(c.local(SimTime(3_000_000)).since(c.local(SimTime(1_000_000))), SimDuration::from_secs(2));
        assert_eq!(c.real_duration(SimDuration::from_secs(15)), SimDuration::from_secs(15));
        assert_eq!(c.offset_us(SimTime(9_000_000)), 5_000_000);
    }

    #[test]
    fn a_step_moves_the_wall_clock_but_not_the_monotonic_one_while_rate_moves_both() {
        let mut c = Clock::default();
        c.step(SimTime(1_000_000), -3_600_000_000);
        assert_eq!(c.local(SimTime(2_000_000)), LocalTime(2_000_000 - 3_600_000_000));
        assert_eq!(c.monotonic(SimTime(2_000_000)), LocalTime(2_000_000));
        c.set_rate(SimTime(2_000_000), 2 * RATE_ONE);
        assert_eq!(c.monotonic(SimTime(3_000_000)), LocalTime(4_000_000));
        assert_eq!(c.local(SimTime(3_000_000)), LocalTime(4_000_000 - 3_600_000_000));
    }

    #[test]
    fn a_slow_clock_stretches_timers_and_stays_continuous() {
        let mut c = Clock::default();
        c.set_rate(SimTime(10_000_000), RATE_ONE / 2);
        assert_eq!(c.local(SimTime(10_000_000)), LocalTime(10_000_000), "no jump when the rate changes");
        assert_eq!(c.local(SimTime(14_000_000)), LocalTime(12_000_000));
        // A 10 s timer on a clock at half speed takes 20 s of true time.
        assert_eq!(c.real_duration(SimDuration::from_secs(10)), SimDuration::from_secs(20));
        c.set_rate(SimTime(14_000_000), RATE_ONE * 2 / 3);
        let real = c.real_duration(SimDuration::from_secs(10)).as_micros();
        assert!((15_000_000..=15_000_020).contains(&real), "{real}");
    }
}
