//! Leader election as client-go's `tools/leaderelection` does it for kube-scheduler and
//! kube-controller-manager, driven by a Lease object read and written through the
//! local kube-apiserver.
//!
//! Every time is read from the candidate's OWN clock: `observedTime` is when this
//! process last saw the lease record change, and a candidate may take over only once
//! `observedTime + leaseDuration` has passed on its clock (or the holder is empty).
//! The leader renews every RetryPeriod; a renew round that has not succeeded within
//! RenewDeadline ends leadership (the component then exits). Nothing fences a leader
//! that was frozen or whose clock runs slow: that is how two instances end up active.
//!
//! The elector is pure: it asks for API calls and timers (`Output`) and is told the
//! replies (`on_reply`) and the timer firings (`on_timer`).

use crate::engine::rng::SimRng;
use crate::model::clock::LocalTime;
use crate::time::SimDuration;

/// client-go's JitterFactor for the acquire loop (wait.JitterUntil with 1.2).
const JITTER_PERCENT: u64 = 120;

/// LeaderElectionConfig timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElectionTimings {
    pub lease_duration: SimDuration,
    pub renew_deadline: SimDuration,
    pub retry_period: SimDuration,
}

impl Default for ElectionTimings {
    /// kube-scheduler and kube-controller-manager defaults: 15 s, 10 s, 2 s.
    fn default() -> Self {
        ElectionTimings {
            lease_duration: SimDuration::from_secs(15),
            renew_deadline: SimDuration::from_secs(10),
            retry_period: SimDuration::from_secs(2),
        }
    }
}

/// The checks client-go's NewLeaderElector makes, with its messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingsError {
    #[error("leaseDuration must be greater than renewDeadline")]
    LeaseNotAboveRenew,
    #[error("renewDeadline must be greater than retryPeriod*JitterFactor")]
    RenewNotAboveJitteredRetry,
    #[error("leaseDuration, renewDeadline and retryPeriod must be greater than zero")]
    Zero,
}

impl ElectionTimings {
    pub fn validate(&self) -> Result<(), TimingsError> {
        if self.lease_duration.as_micros() == 0
            || self.renew_deadline.as_micros() == 0
            || self.retry_period.as_micros() == 0
        {
            return Err(TimingsError::Zero);
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(TimingsError::LeaseNotAboveRenew);
        }
        if self.renew_deadline.as_micros() * 100 <= self.retry_period.as_micros() * JITTER_PERCENT {
            return Err(TimingsError::RenewNotAboveJitteredRetry);
        }
        Ok(())
    }

    /// The lease client's per-request timeout: RenewDeadline/2, as kube-scheduler and
    /// kube-controller-manager set it on their leader-election rest config.
    pub fn call_timeout(&self) -> SimDuration {
        SimDuration(self.renew_deadline.as_micros() / 2)
    }
}

/// Who holds (or wants) a lease: a component instance. Identities carry the process
/// incarnation, as client-go's `hostname_uuid` identities change on every restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub host: u32,
    pub incarnation: u32,
}

/// The Lease spec (coordination.k8s.io), times in the writer's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: Option<Identity>,
    pub lease_duration: SimDuration,
    pub acquire_time: LocalTime,
    pub renew_time: LocalTime,
    pub transitions: u32,
}

/// A lease as the API returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseObject {
    pub record: LeaseRecord,
    pub resource_version: u64,
}

/// One call to the apiserver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCall {
    Get,
    Create(LeaseRecord),
    /// Optimistic update: fails with a conflict unless the stored resourceVersion is
    /// still `resource_version`.
    Update {
        record: LeaseRecord,
        resource_version: u64,
    },
}

/// The apiserver's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseReply {
    Found(LeaseObject),
    NotFound,
    /// The write succeeded; the object's new resourceVersion.
    Written(u64),
    Conflict,
    /// Timeout, 5xx, connection refused, TLS or auth failure: the call failed.
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Call(LeaseCall),
    /// Call `on_timer(token)` after this much time on the local clock.
    Timer {
        after: SimDuration,
        token: u64,
    },
    StartedLeading,
    /// Leadership ended; the component process exits (klog.Fatalf in both components).
    StoppedLeading {
        why: &'static str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The leader's optimistic update with its cached record (no Get first).
    FastUpdate,
    Get,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Acquiring,
    Leading,
    /// Released or stopped: does nothing more.
    Done,
}

pub struct LeaderElector {
    pub id: Identity,
    pub timings: ElectionTimings,
    phase: Phase,
    /// An attempt (tryAcquireOrRenew) in progress, and which call it waits for.
    step: Option<Step>,
    /// The record we would write in this attempt.
    desired: Option<LeaseRecord>,
    observed: Option<LeaseRecord>,
    observed_time: LocalTime,
    /// resourceVersion of the lease object as last read or written (LeaseLock.lease).
    known_rv: Option<u64>,
    /// Deadline of the current renew round (local clock).
    round_deadline: Option<LocalTime>,
    /// Timer generation: a timer whose token is stale is ignored.
    token: u64,
    rng: SimRng,
    pub out: Vec<Output>,
}

impl LeaderElector {
    pub fn new(id: Identity, timings: ElectionTimings, rng: SimRng) -> Self {
        LeaderElector {
            id,
            timings,
            phase: Phase::Acquiring,
            step: None,
            desired: None,
            observed: None,
            observed_time: LocalTime::default(),
            known_rv: None,
            round_deadline: None,
            token: 0,
            rng,
            out: Vec::new(),
        }
    }

    /// le.IsLeader(): the last observed record names us.
    pub fn is_leader(&self) -> bool {
        self.observed.is_some_and(|r| r.holder == Some(self.id))
    }

    /// Between OnStartedLeading and the end of leadership: the instance acts.
    pub fn is_leading(&self) -> bool {
        self.phase == Phase::Leading
    }

    pub fn observed(&self) -> Option<(LeaseRecord, LocalTime)> {
        self.observed.map(|r| (r, self.observed_time))
    }

    fn lease_valid(&self, now: LocalTime) -> bool {
        let duration = self.observed.map_or(SimDuration::ZERO, |r| r.lease_duration);
        self.observed_time.plus(duration) > now
    }

    fn set_timer(&mut self, after: SimDuration) {
        self.token += 1;
        self.out.push(Output::Timer { after, token: self.token });
    }

    /// Run(): the first acquire attempt happens at once.
    pub fn start(&mut self, now: LocalTime) {
        self.try_acquire_or_renew(now);
    }

    fn try_acquire_or_renew(&mut self, now: LocalTime) {
        let mut record = LeaseRecord {
            holder: Some(self.id),
            lease_duration: self.timings.lease_duration,
            acquire_time: now,
            renew_time: now,
            transitions: 0,
        };
        if self.is_leader()
            && self.lease_valid(now)
            && let (Some(old), Some(rv)) = (self.observed, self.known_rv)
        {
            record.acquire_time = old.acquire_time;
            record.transitions = old.transitions;
            self.desired = Some(record);
            self.step = Some(Step::FastUpdate);
            self.out.push(Output::Call(LeaseCall::Update { record, resource_version: rv }));
            return;
        }
        self.desired = Some(record);
        self.step = Some(Step::Get);
        self.out.push(Output::Call(LeaseCall::Get));
    }

    /// The apiserver answered the call in flight (or it failed or timed out).
    pub fn on_reply(&mut self, reply: LeaseReply, now: LocalTime) {
        let Some(step) = self.step else { return };
        let Some(mut desired) = self.desired else { return };
        match (step, reply) {
            (Step::FastUpdate, LeaseReply::Written(rv)) | (Step::Write, LeaseReply::Written(rv)) => {
                self.observed = Some(desired);
                self.observed_time = now;
                self.known_rv = Some(rv);
                self.attempt_done(true, now);
            }
            (Step::FastUpdate, _) => {
                // "Failed to update lock optimistically, falling back to slow path".
                self.step = Some(Step::Get);
                self.out.push(Output::Call(LeaseCall::Get));
            }
            (Step::Get, LeaseReply::NotFound) => {
                self.step = Some(Step::Write);
                self.out.push(Output::Call(LeaseCall::Create(desired)));
            }
            (Step::Get, LeaseReply::Found(obj)) => {
                self.known_rv = Some(obj.resource_version);
                if self.observed != Some(obj.record) {
                    self.observed = Some(obj.record);
                    self.observed_time = now;
                }
                if obj.record.holder.is_some() && self.lease_valid(now) && !self.is_leader() {
                    // "lock is held by another and has not yet expired".
                    self.attempt_done(false, now);
                    return;
                }
                if self.is_leader() {
                    desired.acquire_time = obj.record.acquire_time;
                    desired.transitions = obj.record.transitions;
                } else {
                    desired.transitions = obj.record.transitions + 1;
                }
                self.desired = Some(desired);
                self.step = Some(Step::Write);
                self.out
                    .push(Output::Call(LeaseCall::Update { record: desired, resource_version: obj.resource_version }));
            }
            _ => self.attempt_done(false, now),
        }
    }

    fn attempt_done(&mut self, ok: bool, now: LocalTime) {
        self.step = None;
        self.desired = None;
        let retry = self.timings.retry_period;
        match self.phase {
            Phase::Acquiring if ok => {
                self.phase = Phase::Leading;
                self.out.push(Output::StartedLeading);
                // renew(): wait.Until(…, RetryPeriod) — the next round one period on.
                self.round_deadline = None;
                self.set_timer(retry);
            }
            Phase::Acquiring => {
                // wait.JitterUntil(RetryPeriod, 1.2, sliding): 2 s + up to 2.4 s.
                let jitter = self.rng.below(retry.as_micros() * JITTER_PERCENT / 100 + 1);
                self.set_timer(retry + SimDuration(jitter));
            }
            Phase::Leading if ok => {
                self.round_deadline = None;
                self.set_timer(retry);
            }
            Phase::Leading => {
                // PollImmediateUntil: retry every RetryPeriod until the round's deadline.
                let deadline = self.round_deadline.unwrap_or(now);
                if now.plus(retry) >= deadline {
                    self.set_timer(deadline.since(now));
                } else {
                    self.set_timer(retry);
                }
            }
            Phase::Done => {}
        }
    }

    /// A timer armed earlier fired.
    pub fn on_timer(&mut self, token: u64, now: LocalTime) {
        if token != self.token || self.phase == Phase::Done {
            return;
        }
        if self.phase == Phase::Leading {
            match self.round_deadline {
                None => self.round_deadline = Some(now.plus(self.timings.renew_deadline)),
                Some(deadline) if now >= deadline => {
                    self.stop("failed to renew the lease within RenewDeadline");
                    return;
                }
                Some(_) => {}
            }
        }
        if self.step.is_none() {
            self.try_acquire_or_renew(now);
        }
    }

    /// How long the call now in flight may take (local clock): the client's
    /// RenewDeadline/2 request timeout, cut short by the renew round's deadline.
    pub fn call_timeout(&self, now: LocalTime) -> SimDuration {
        let t = self.timings.call_timeout();
        match self.round_deadline {
            Some(deadline) => t.min(deadline.since(now)),
            None => t,
        }
    }

    fn stop(&mut self, why: &'static str) {
        self.phase = Phase::Done;
        self.step = None;
        self.token += 1;
        self.out.push(Output::StoppedLeading { why });
    }

    /// Graceful shutdown with ReleaseOnCancel (kube-scheduler): a leader writes an
    /// empty holder with a 1 s lease so a standby may take over at once. Returns
    /// whether a release call was issued.
    pub fn release(&mut self, now: LocalTime) -> bool {
        let was_leader = self.is_leader() && self.phase == Phase::Leading;
        self.phase = Phase::Done;
        self.token += 1;
        let (Some(old), Some(rv)) = (self.observed, self.known_rv) else { return false };
        if !was_leader {
            return false;
        }
        let record = LeaseRecord {
            holder: None,
            lease_duration: SimDuration::from_secs(1),
            acquire_time: now,
            renew_time: now,
            transitions: old.transitions,
        };
        self.step = None;
        self.out.push(Output::Call(LeaseCall::Update { record, resource_version: rv }));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::StreamId;

    /// A lease store with optimistic concurrency, answering at once.
    #[derive(Default)]
    struct Api {
        lease: Option<LeaseObject>,
        next_rv: u64,
        down: bool,
    }

    impl Api {
        fn call(&mut self, c: LeaseCall) -> LeaseReply {
            if self.down {
                return LeaseReply::Failed;
            }
            self.next_rv += 1;
            match c {
                LeaseCall::Get => self.lease.map_or(LeaseReply::NotFound, LeaseReply::Found),
                LeaseCall::Create(record) if self.lease.is_none() => {
                    self.lease = Some(LeaseObject { record, resource_version: self.next_rv });
                    LeaseReply::Written(self.next_rv)
                }
                LeaseCall::Create(_) => LeaseReply::Conflict,
                LeaseCall::Update { record, resource_version } => match self.lease {
                    Some(o) if o.resource_version == resource_version => {
                        self.lease = Some(LeaseObject { record, resource_version: self.next_rv });
                        LeaseReply::Written(self.next_rv)
                    }
                    _ => LeaseReply::Conflict,
                },
            }
        }
    }

    /// Drives electors against one Api on a shared, true clock (1 ms steps).
    struct Bench {
        api: Api,
        electors: Vec<LeaderElector>,
        timers: Vec<Option<(i64, u64)>>,
        now: i64,
        leading: Vec<bool>,
    }

    impl Bench {
        fn new(n: u32) -> Bench {
            let electors: Vec<LeaderElector> = (0..n)
                .map(|h| {
                    LeaderElector::new(
                        Identity { host: h, incarnation: 1 },
                        ElectionTimings::default(),
                        SimRng::new(7, StreamId::Workload),
                    )
                })
                .collect();
            Bench {
                api: Api::default(),
                timers: vec![None; n as usize],
                leading: vec![false; n as usize],
                electors,
                now: 0,
            }
        }

        /// `n` electors started together and run for 10 s: the first one leads.
        fn started(n: u32) -> Bench {
            let mut b = Bench::new(n);
            for i in 0..n as usize {
                b.electors[i].start(LocalTime(0));
                b.flush(i);
            }
            b.run_ms(10_000, &vec![true; n as usize]);
            b
        }

        fn flush(&mut self, i: usize) {
            while let Some(o) = self.electors[i].out.pop() {
                match o {
                    Output::Call(c) => {
                        let r = self.api.call(c);
                        self.electors[i].on_reply(r, LocalTime(self.now));
                    }
                    Output::Timer { after, token } => {
                        self.timers[i] = Some((self.now + after.as_micros() as i64, token))
                    }
                    Output::StartedLeading => self.leading[i] = true,
                    Output::StoppedLeading { .. } => self.leading[i] = false,
                }
            }
        }

        fn run_ms(&mut self, ms: i64, alive: &[bool]) {
            for _ in 0..ms {
                self.now += 1_000;
                for (i, &up) in alive.iter().enumerate() {
                    if !up {
                        continue;
                    }
                    if let Some((at, token)) = self.timers[i]
                        && at <= self.now
                    {
                        self.timers[i] = None;
                        self.electors[i].on_timer(token, LocalTime(self.now));
                    }
                    self.flush(i);
                }
            }
        }
    }

    #[test]
    fn client_go_refuses_the_timings_it_refuses() {
        let s = SimDuration::from_secs;
        let t = |l, r, p| ElectionTimings { lease_duration: s(l), renew_deadline: s(r), retry_period: s(p) };
        assert_eq!(t(15, 10, 2).validate(), Ok(()));
        assert_eq!(t(10, 10, 2).validate(), Err(TimingsError::LeaseNotAboveRenew));
        assert_eq!(t(15, 12, 10).validate(), Err(TimingsError::RenewNotAboveJitteredRetry));
        assert_eq!(t(15, 0, 2).validate(), Err(TimingsError::Zero));
        assert_eq!(t(15, 10, 2).call_timeout(), s(5));
    }

    #[test]
    fn one_leader_and_a_standby_takes_over_15_to_20_s_after_the_last_renewal_it_saw() {
        let mut b = Bench::started(2);
        assert_eq!(b.leading, vec![true, false], "the first to start leads");
        // The leader dies; the standby keeps polling.
        let died = b.now;
        let mut last_seen = None;
        while !b.leading[1] {
            if let Some((rec, at)) = b.electors[1].observed()
                && rec.holder == Some(b.electors[0].id)
            {
                last_seen = Some(at);
            }
            b.run_ms(10, &[false, true]);
        }
        // Measured on the standby's clock from when it last saw the record change:
        // 15 s of lease plus up to one jittered retry (2–4.4 s).
        let took = b.now - last_seen.expect("the standby saw the leader").0;
        assert!((15_000_000..=19_410_000).contains(&took), "took over {took} µs after the last renewal it saw");
        assert!(b.now - died <= 15_000_000 + 2 * 4_410_000, "{} µs after the leader died", b.now - died);
        assert_eq!(b.api.lease.unwrap().record.transitions, 1);
    }

    #[test]
    fn a_leader_that_cannot_renew_stops_after_the_renew_deadline() {
        let mut b = Bench::new(1);
        b.electors[0].start(LocalTime(0));
        b.flush(0);
        b.run_ms(5_000, &[true]);
        assert!(b.leading[0]);
        b.api.down = true;
        let cut = b.now;
        while b.leading[0] {
            b.run_ms(10, &[true]);
        }
        let lasted = b.now - cut;
        // The round that fails starts up to one RetryPeriod after the cut, and ends
        // RenewDeadline after it started.
        assert!((10_000_000..=12_100_000).contains(&lasted), "stopped {lasted} µs after the API went away");
    }

    #[test]
    fn a_released_lease_is_taken_within_one_retry_period() {
        let mut b = Bench::started(2);
        assert!(b.electors[0].release(LocalTime(b.now)));
        b.flush(0);
        assert_eq!(b.api.lease.unwrap().record.holder, None);
        let released = b.now;
        while !b.leading[1] {
            b.run_ms(10, &[false, true]);
        }
        assert!(b.now - released <= 4_400_000, "took {} µs", b.now - released);
    }
}
