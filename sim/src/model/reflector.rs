//! client-go's reflector deciding how long to keep re-opening a watch that fails with
//! an internal error before it gives up and starts over with a LIST (its
//! `RetryWithDeadline`, as the apiserver's cacher configures it: 30 s of retries,
//! `MaxInternalErrorRetryDuration`, and a one-minute `minResetPeriod`).
//!
//! The deadline counts from the first error of a run of errors, and a run ends only
//! when an error comes a minute or more after the one before it. So a second spell of
//! errors soon after a first one inherits the first one's start: the cacher gives up
//! on it sooner than on a fresh one, possibly at its very first error.

use crate::time::{SimDuration, SimTime};

/// How long the reflector keeps retrying from the first error of a run of errors.
pub const MAX_INTERNAL_ERROR_RETRY: SimDuration = SimDuration::from_secs(30);
/// An error this long after the previous one starts a new run of errors.
pub const MIN_RESET_PERIOD: SimDuration = SimDuration::from_secs(60);

/// The retry deadline of one reflector (one `ListAndWatch`: a new LIST starts afresh).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchRetry {
    first_error: Option<SimTime>,
    last_error: Option<SimTime>,
}

impl WatchRetry {
    /// The watch failed with an internal error at `at`. Errors reach the reflector in
    /// order, so one dated before the last is taken as happening with it.
    pub fn on_error(&mut self, at: SimTime) {
        let at = self.last_error.map_or(at, |last| at.max(last));
        if self.last_error.is_none_or(|last| at.since(last) >= MIN_RESET_PERIOD) {
            *self = WatchRetry::default();
        }
        self.first_error.get_or_insert(at);
        self.last_error = Some(at);
    }

    /// When the current run of errors began, if there is one.
    pub fn first_error(&self) -> Option<SimTime> {
        self.first_error
    }

    /// Whether the reflector re-opens the watch at `now` rather than starting over.
    pub fn should_retry(&self, now: SimTime) -> bool {
        self.first_error.is_none_or(|first| now.since(first) <= MAX_INTERNAL_ERROR_RETRY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn one_spell_of_errors_is_retried_for_30_seconds() {
        let mut r = WatchRetry::default();
        for s in 10..=40 {
            r.on_error(at(s));
        }
        assert!(r.should_retry(at(40)));
        r.on_error(at(41));
        assert!(!r.should_retry(at(41)));
    }

    #[test]
    fn a_second_spell_within_a_minute_counts_from_the_first() {
        let mut r = WatchRetry::default();
        r.on_error(at(10));
        r.on_error(at(25));
        // 20 s without errors, then the watch fails again.
        r.on_error(at(45));
        assert_eq!(r.first_error(), Some(at(10)));
        assert!(!r.should_retry(at(45)), "35 s since the run of errors began");
    }

    #[test]
    fn an_error_dated_before_the_last_one_continues_the_run() {
        let mut r = WatchRetry::default();
        r.on_error(at(10));
        r.on_error(at(30));
        r.on_error(at(20));
        r.on_error(at(85));
        assert_eq!(r.first_error(), Some(at(10)), "55 s after the last error, not 65 s");
    }

    #[test]
    fn a_minute_without_errors_starts_a_new_run() {
        let mut r = WatchRetry::default();
        r.on_error(at(10));
        r.on_error(at(25));
        r.on_error(at(85));
        assert_eq!(r.first_error(), Some(at(85)));
        assert!(r.should_retry(at(100)));
    }
}
