//! What the kubelet does to the control plane's static pods: probes that restart a
//! container after `failureThreshold` consecutive failures, and the crash-loop back-off
//! before each restart. The first exit is restarted at once (`doBackOff` in
//! kuberuntime_manager.go finds no back-off entry yet, and `Next` creates one of
//! 10 s); each later exit waits the entry's back-off, counted from the exit, and the
//! restart doubles it (at most 300 s). An entry is forgotten when a container ran more
//! than 2 × 300 s since its last restart (flowcontrol.Backoff's expiry). A container
//! that exits on its own (killed, crashed, or a component that lost its lease) is
//! noticed at the kubelet's next PLEG relist, once a second; one the kubelet kills
//! itself (a failed liveness probe, a renewal) it restarts in the same pod sync.
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
}

impl RestartBackoff {
    /// The container exited at `now`: how long the kubelet waits before starting it.
    pub fn next_delay(&mut self, now: SimTime) -> SimDuration {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
