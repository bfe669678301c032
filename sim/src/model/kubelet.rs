//! What the kubelet does to the control plane's static pods: probes that restart a
//! container after `failureThreshold` consecutive failures, and the crash-loop back-off
//! before each restart. The first exit is restarted at once (`doBackOff` in
//! kuberuntime_manager.go finds no back-off entry yet, and `Next` creates one of
//! 10 s); each later exit waits the entry's back-off, counted from the exit, and the
//! restart doubles it (at most 300 s). An entry is forgotten when a container ran more
//! than 2 × 300 s since its last restart (flowcontrol.Backoff's expiry). A container
//! that exits on its own (killed, crashed, or a component that lost its lease) is
//! noticed at the kubelet's next PLEG relist, once a second; one the kubelet kills
//! itself (failed probes) it starts again in the same pod sync, whose back-off check
//! sees the container before it (`RestartBackoff::delay_after_kill`). A
//! frozen (SIGSTOPped) container cannot act on the kubelet's SIGTERM: it goes at the
//! SIGKILL that ends the pod's 30 s grace period, or on SIGCONT.
//! Probe settings are kubeadm's (cmd/kubeadm/app/util/staticpod/utils.go).

use crate::time::{SimDuration, SimTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    pub initial_delay: SimDuration,
    pub period: SimDuration,
    pub timeout: SimDuration,
    pub failure_threshold: u32,
}

impl ProbeConfig {
    /// kubeadm's liveness probe: /livez (apiserver) or /healthz, every 10 s, 8 failures.
    pub const LIVENESS: ProbeConfig = ProbeConfig {
        initial_delay: SimDuration::from_secs(10),
        period: SimDuration::from_secs(10),
        timeout: SimDuration::from_secs(15),
        failure_threshold: 8,
    };
    /// kubeadm's startup probe for kube-apiserver: /livez every 10 s, and as many
    /// failures as fit in the 4-minute control-plane timeout (24). Liveness probing
    /// begins only once it has passed.
    pub const STARTUP: ProbeConfig = ProbeConfig {
        initial_delay: SimDuration::from_secs(10),
        period: SimDuration::from_secs(10),
        timeout: SimDuration::from_secs(15),
        failure_threshold: 24,
    };
    /// kubeadm's readiness probe for kube-apiserver: /readyz every 1 s, 3 failures.
    pub const READINESS: ProbeConfig = ProbeConfig {
        initial_delay: SimDuration::ZERO,
        period: SimDuration::from_secs(1),
        timeout: SimDuration::from_secs(15),
        failure_threshold: 3,
    };
}

/// Consecutive-failure counting for one probe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    failures: u32,
}

impl Probe {
    /// Records a result; true when the failure threshold is reached (liveness: the
    /// kubelet kills the container; readiness: the pod is marked not ready).
    pub fn record(&mut self, ok: bool, cfg: &ProbeConfig) -> bool {
        if ok {
            self.failures = 0;
            false
        } else {
            self.failures += 1;
            self.failures >= cfg.failure_threshold
        }
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The first tick strictly after `at` of a ticker due to tick at `tick` and every
/// `period` from then on. Go's `time.Ticker` stays on that grid however late it is read.
pub fn tick_after(at: SimTime, tick: SimTime, period: SimDuration) -> SimTime {
    if tick > at {
        return tick;
    }
    let missed = (at.as_micros() - tick.as_micros()) / period.as_micros() + 1;
    SimTime(tick.as_micros() + missed * period.as_micros())
}

/// When a probe worker starts its next probe, after the one that ended at `end`; `tick`
/// is its ticker's first tick after that probe began. The worker
/// (pkg/kubelet/prober/worker.go) probes, then waits for its ticker, which keeps one
/// tick a busy receiver missed and drops the rest. So a probe that ran past the next
/// tick (an HTTP GET waiting out its 15 s timeout, every 10 s) is followed at once by
/// the next one, and failures come one timeout apart rather than one period apart.
pub fn next_probe(end: SimTime, tick: SimTime) -> SimTime {
    end.max(tick)
}

/// The kubelet's liveness probe of a static pod whose health endpoint fails only
/// when the process does not answer at all: etcd's /livez (one serializable read of
/// its own store, no quorum needed; kubeadm v1.31+, `/health?serializable=true`
/// before, which is the same here), and the /healthz of kube-scheduler and
/// kube-controller-manager (their only check is the leader-election watchdog, which
/// fails for a leader that has not renewed for LeaseDuration + 20 s; a running leader
/// exits long before that on its own). So only a frozen (SIGSTOPped) process fails
/// these probes: its kernel accepts the GET and nothing answers it, and each probe
/// waits out its timeout. Probes of a process that answers are not simulated one by
/// one; a freeze works out when the threshold of failures in a row will be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HangProbe {
    /// The probe worker's first tick after the container started; it ticks every
    /// period from then on.
    first_probe: SimTime,
    /// The container has been up since long before the run: its startup probe passed.
    long_running: bool,
    /// Frozen (SIGSTOP aimed at this process) since then, and the probe that is
    /// counting its failures.
    frozen: Option<(SimTime, ProbeConfig)>,
    /// The kubelet has sent SIGTERM, which a frozen process cannot act on until it
    /// resumes; SIGKILL follows at the end of the grace period.
    pub terminating: bool,
}

impl HangProbe {
    /// A container started at `now`; `long_running` for those of the cluster the run
    /// begins with.
    pub fn new(now: SimTime, long_running: bool) -> HangProbe {
        HangProbe {
            first_probe: now + ProbeConfig::LIVENESS.initial_delay,
            long_running,
            frozen: None,
            terminating: false,
        }
    }

    /// The process froze at `now`. Returns when, if it stays frozen, the kubelet's
    /// probes will have failed the threshold of times in a row, and the probe that
    /// did (the startup probe if none has passed yet).
    pub fn freeze(&mut self, now: SimTime) -> (SimTime, ProbeConfig) {
        let period = ProbeConfig::LIVENESS.period;
        let first = tick_after(now, self.first_probe, period);
        // A probe that began before the freeze was answered at once.
        let cfg =
            if first == self.first_probe && !self.long_running { ProbeConfig::STARTUP } else { ProbeConfig::LIVENESS };
        // Each probe fails at its timeout, and the worker begins the next at its
        // ticker's next tick, or at once if that tick fell meanwhile.
        let (mut start, mut tick, mut failed) = (first, first, first);
        for _ in 0..cfg.failure_threshold {
            tick = tick_after(start, tick, cfg.period);
            failed = start + cfg.timeout;
            start = next_probe(failed, tick);
        }
        self.frozen = Some((now, cfg));
        (failed, cfg)
    }

    /// The process resumed: a probe waiting for it is answered, and the count of
    /// failures in a row starts over.
    pub fn thaw(&mut self) {
        self.frozen = None;
    }

    /// Whether the process has stayed frozen since `since` (the failures worked out
    /// then still stand).
    pub fn frozen_since(&self, since: SimTime) -> bool {
        self.frozen.is_some_and(|(at, _)| at == since)
    }

    /// Frozen by a fault, and counting failures.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The probe counting failures while frozen: startup or liveness.
    pub fn failing_probe(&self) -> Option<ProbeConfig> {
        self.frozen.map(|(_, cfg)| cfg)
    }
}

/// How often the kubelet's generic PLEG lists the containers
/// (genericPlegRelistPeriod in pkg/kubelet/kubelet.go; Evented PLEG is off by default).
pub const PLEG_RELIST_PERIOD: SimDuration = SimDuration::from_secs(1);

/// The first relist strictly after `exit`, for a kubelet whose relists fall at
/// `phase + k × PLEG_RELIST_PERIOD`.
pub fn next_relist(exit: SimTime, phase: SimDuration) -> SimTime {
    let period = PLEG_RELIST_PERIOD.as_micros();
    let phase = phase.as_micros() % period;
    let exit = exit.as_micros();
    if exit < phase {
        return SimTime(phase);
    }
    SimTime(phase + ((exit - phase) / period + 1) * period)
}

/// When the kubelet starts a container again that exited on its own at `exit`, the
/// crash-loop back-off having asked for `backoff`: it must first notice the exit, and
/// it waits out the back-off counted from the exit.
pub fn restart_after_exit(exit: SimTime, phase: SimDuration, backoff: SimDuration) -> SimTime {
    next_relist(exit, phase).max(exit + backoff)
}

pub const BACKOFF_INITIAL: SimDuration = SimDuration::from_secs(10);
pub const BACKOFF_MAX: SimDuration = SimDuration::from_secs(300);

/// CrashLoopBackOff for one container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RestartBackoff {
    current: Option<SimDuration>,
    last_update: SimTime,
    /// When the last container of this name exited: the dead container the kubelet
    /// keeps, and finds in the pod status.
    last_exit: Option<SimTime>,
}

impl RestartBackoff {
    /// The container exited at `now` on its own: how long the kubelet waits before
    /// starting it.
    pub fn next_delay(&mut self, now: SimTime) -> SimDuration {
        self.last_exit = Some(now);
        let expired = now.since(self.last_update) > BACKOFF_MAX.saturating_mul(2);
        match self.current {
            Some(wait) if !expired => {
                // The restart, `wait` after the exit, raises the entry.
                self.current = Some(SimDuration((wait.as_micros() * 2).min(BACKOFF_MAX.as_micros())));
                self.last_update = now + wait;
                wait
            }
            _ => {
                self.current = Some(BACKOFF_INITIAL);
                self.last_update = now;
                SimDuration::ZERO
            }
        }
    }

    /// The kubelet killed the container at `now` (failed probes) and starts it again
    /// in the same pod sync: how long it waits first. That sync's pod status was taken
    /// before the kill, so `doBackOff` judges the container that exited before this one
    /// (none: no check, start at once), counting the back-off from when that one
    /// exited, which is usually long enough ago; the first kills of a crash loop
    /// restart at once (kubernetes#22240). Only when that one exited less than the
    /// entry's back-off ago does the start wait, and then the next sync judges the
    /// killed container itself: the whole back-off from now.
    pub fn delay_after_kill(&mut self, now: SimTime) -> KillRestart {
        let Some(previous) = self.last_exit.replace(now) else { return KillRestart::First };
        let expired = previous.since(self.last_update) > BACKOFF_MAX.saturating_mul(2);
        let raised = |wait: SimDuration| SimDuration((wait.as_micros() * 2).min(BACKOFF_MAX.as_micros()));
        match self.current {
            Some(wait) if !expired && now.since(previous) < wait => {
                self.current = Some(raised(wait));
                self.last_update = now + wait;
                KillRestart::After(wait)
            }
            Some(wait) if !expired => {
                self.current = Some(raised(wait));
                self.last_update = now;
                KillRestart::PastBackoff
            }
            _ => {
                self.current = Some(BACKOFF_INITIAL);
                self.last_update = now;
                KillRestart::PastBackoff
            }
        }
    }
}

/// When the kubelet starts a container it killed again, and why then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillRestart {
    /// No container of that name had exited before: no back-off is checked.
    First,
    /// The one before it exited longer ago than the back-off: at once.
    PastBackoff,
    /// Within the back-off: after it.
    After(SimDuration),
}

impl KillRestart {
    pub fn delay(self) -> SimDuration {
        match self {
            KillRestart::First | KillRestart::PastBackoff => SimDuration::ZERO,
            KillRestart::After(d) => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }

    #[test]
    fn a_probe_answered_at_once_waits_for_the_next_tick() {
        let period = SimDuration::from_secs(10);
        // A probe began at 20 s on a ticker due at 20 s: its next tick is at 30 s.
        let tick = tick_after(secs(20), secs(20), period);
        assert_eq!(tick, secs(30));
        assert_eq!(next_probe(secs(20), tick), secs(30));
    }

    #[test]
    fn a_probe_that_outlasts_the_period_is_followed_at_once() {
        let period = SimDuration::from_secs(10);
        let timeout = SimDuration::from_secs(15);
        // Each probe times out; the tick that fell meanwhile starts the next at once.
        let (mut start, mut tick) = (secs(20), secs(20));
        for _ in 0..8 {
            tick = tick_after(start, tick, period);
            start = next_probe(start + timeout, tick);
        }
        // So eight timeouts in a row take 8 × 15 s, not 8 × 10 s.
        assert_eq!(start, secs(20 + 8 * 15));
    }

    #[test]
    fn a_ticker_read_late_stays_on_its_grid() {
        let period = SimDuration::from_secs(10);
        // Due at 35 s, read at 57 s (its kubelet was frozen): the next tick is at 65 s.
        assert_eq!(tick_after(secs(57), secs(35), period), secs(65));
        assert_eq!(tick_after(secs(55), secs(35), period), secs(65));
    }

    #[test]
    fn an_exit_is_noticed_at_the_next_relist_and_the_back_off_counts_from_the_exit() {
        let phase = SimDuration::from_millis(300);
        let at = |ms: u64| SimTime(ms * 1000);
        assert_eq!(next_relist(at(100), phase), at(300));
        // A relist at the very instant of the exit has already listed the container.
        assert_eq!(next_relist(at(300), phase), at(1300));
        assert_eq!(next_relist(at(5_900), phase), at(6_300));
        assert_eq!(restart_after_exit(at(5_900), phase, SimDuration::ZERO), at(6_300));
        assert_eq!(restart_after_exit(at(5_900), phase, BACKOFF_INITIAL), at(15_900));
    }

    #[test]
    fn the_first_exit_restarts_at_once_then_back_off_10_20_40_up_to_300_s_and_reset_after_10_running_minutes() {
        let mut b = RestartBackoff::default();
        let mut t = SimTime::ZERO;
        let delays: Vec<u64> = (0..7)
            .map(|_| {
                let d = b.next_delay(t);
                t += d + SimDuration::from_secs(1);
                d.as_millis() / 1000
            })
            .collect();
        assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300]);
        // Ran more than 10 minutes since its last restart: the entry is forgotten.
        assert_eq!(b.next_delay(t + SimDuration::from_secs(601)), SimDuration::ZERO);
        assert_eq!(b.next_delay(t + SimDuration::from_secs(602)), BACKOFF_INITIAL);
    }

    #[test]
    fn a_process_frozen_for_good_fails_eight_probes_of_15_s_from_the_next_tick() {
        // Started at 100 s: probes tick at 110 s, 120 s, ... Frozen at 133 s, the probe
        // of 140 s is the first to go unanswered; eight 15 s timeouts follow back to back.
        let mut h = HangProbe::new(secs(100), false);
        let (at, cfg) = h.freeze(secs(133));
        assert_eq!(cfg, ProbeConfig::LIVENESS);
        assert_eq!(at, secs(140 + 8 * 15));
        assert!(h.frozen_since(secs(133)));
        h.thaw();
        assert!(!h.frozen_since(secs(133)), "resumed: that count no longer stands");
    }

    #[test]
    fn a_process_frozen_before_its_first_probe_fails_the_startup_probe_24_times() {
        let mut h = HangProbe::new(secs(100), false);
        let (at, cfg) = h.freeze(secs(105));
        assert_eq!(cfg, ProbeConfig::STARTUP);
        assert_eq!(at, secs(110 + 24 * 15));
        // The cluster's own processes at the start of a run passed theirs long ago.
        let mut h = HangProbe::new(SimTime::ZERO, true);
        assert_eq!(h.freeze(secs(5)), (secs(10 + 8 * 15), ProbeConfig::LIVENESS));
    }

    #[test]
    fn kills_for_failed_probes_restart_at_once_until_the_back_off_outgrows_the_time_between_them() {
        // A container killed every 250 s (an apiserver without etcd: its startup probe
        // gives up after 24 failures). Each sync judges the container that exited
        // before the one it kills: 250 s ago, longer than the back-off of 10, 20, 40,
        // 80 and 160 s; only once the entry reaches 300 s does the start wait.
        let mut b = RestartBackoff::default();
        let mut t = secs(100);
        let mut delays = Vec::new();
        for _ in 0..9 {
            let d = b.delay_after_kill(t).delay();
            delays.push(d.as_millis() / 1000);
            t += d + SimDuration::from_secs(250);
        }
        assert_eq!(delays, vec![0, 0, 0, 0, 0, 0, 0, 300, 0]);
        assert_eq!(RestartBackoff::default().delay_after_kill(t), KillRestart::First);
    }

    #[test]
    fn a_kill_soon_after_an_exit_waits_the_back_off_from_the_kill() {
        let mut b = RestartBackoff::default();
        assert_eq!(b.next_delay(secs(100)), SimDuration::ZERO);
        // Killed 5 s after that restart: its predecessor exited 5 s ago, within 10 s.
        assert_eq!(b.delay_after_kill(secs(105)), KillRestart::After(BACKOFF_INITIAL));
        // And an exit of its own afterwards waits the doubled entry.
        assert_eq!(b.next_delay(secs(130)), SimDuration::from_secs(20));
    }

    #[test]
    fn liveness_kills_after_eight_consecutive_failures() {
        let mut p = Probe::default();
        let cfg = ProbeConfig::LIVENESS;
        assert!(!(0..7).any(|_| p.record(false, &cfg)));
        assert!(p.record(false, &cfg));
        p.reset();
        assert!(!p.record(false, &cfg));
        assert!(!p.record(true, &cfg));
    }
}
