//! Leader election as client-go's `tools/leaderelection` does it for kube-scheduler and
//! kube-controller-manager, driven by a Lease object read and written through the
//! local kube-apiserver.
//!
//! Every time is read from the candidate's OWN clock: `observedTime` is when this
//! process last saw the lease record change, and a candidate may take over only once
//! `observedTime + leaseDuration` has passed on its clock (or the holder is empty).
//! The leader renews at once after acquiring and then every RetryPeriod (retries
//! within a round on a ticker, as `PollUntilContextTimeout` in current client-go); a
//! renew round that has not succeeded within RenewDeadline ends leadership (the
//! component then exits), after the release with ReleaseOnCancel (kube-scheduler).
//! Nothing fences a leader that was frozen or whose clock runs slow: that is how two
//! instances end up active.
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
    /// renew() gave up, and with ReleaseOnCancel (kube-scheduler) it first writes the
    /// release: the instance still acts until that call returns, since the context
    /// it leads under is cancelled only when Run returns.
    Releasing {
        why: &'static str,
    },
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
    /// release() after renew() gave up: one Update, whatever it returns.
    Release,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Acquiring,
    Leading,
    /// renew() gave up and the release is in flight; still acting (see `Releasing`).
    Releasing,
    /// Released or stopped: does nothing more.
    Done,
}

pub struct LeaderElector {
    pub id: Identity,
    pub timings: ElectionTimings,
    /// LeaderElectionConfig.ReleaseOnCancel: kube-scheduler sets it,
    /// kube-controller-manager does not.
    pub release_on_cancel: bool,
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
    /// When the current renew round began: its retries follow a ticker started then.
    round_start: LocalTime,
    /// When the attempt in progress (or the last one) began.
    attempt_start: LocalTime,
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
            release_on_cancel: false,
            phase: Phase::Acquiring,
            step: None,
            desired: None,
            observed: None,
            observed_time: LocalTime::default(),
            known_rv: None,
            round_deadline: None,
            round_start: LocalTime::default(),
            attempt_start: LocalTime::default(),
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
        matches!(self.phase, Phase::Leading | Phase::Releasing)
    }

    /// renew() gave up and the release after it is in flight.
    pub fn is_releasing(&self) -> bool {
        self.phase == Phase::Releasing
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
        self.attempt_start = now;
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
        if step == Step::Release {
            // Run returns whether the release was written or not ("Failed to release
            // lock" is only logged), and the component exits.
            self.stop(match reply {
                LeaseReply::Written(_) => "failed to renew the lease within RenewDeadline; it released the lease",
                _ => "failed to renew the lease within RenewDeadline; its release failed too",
            });
            return;
        }
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
                // renew(): wait.Until runs its first round at once, and the round's
                // poll tries at once (immediate): a fast-path update right away.
                self.round_start = now;
                self.round_deadline = Some(now.plus(self.timings.renew_deadline));
                self.token += 1;
                self.try_acquire_or_renew(now);
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
                // PollUntilContextTimeout(RetryPeriod, RenewDeadline, immediate): the
                // retries follow a ticker started with the round, which keeps one tick
                // that fell during a slow attempt. So the next attempt begins at the
                // first tick after this one began, or at once if that has passed.
                let deadline = self.round_deadline.unwrap_or(now);
                let ticks = self.attempt_start.since(self.round_start).as_micros() / retry.as_micros() + 1;
                let tick = self.round_start.plus(SimDuration(ticks * retry.as_micros()));
                let next = if tick > now { tick } else { now };
                self.set_timer(next.min(deadline).since(now));
            }
            Phase::Releasing | Phase::Done => {}
        }
    }

    /// A timer armed earlier fired.
    pub fn on_timer(&mut self, token: u64, now: LocalTime) {
        if token != self.token || self.phase == Phase::Done {
            return;
        }
        if self.phase == Phase::Leading {
            match self.round_deadline {
                None => {
                    self.round_start = now;
                    self.round_deadline = Some(now.plus(self.timings.renew_deadline));
                }
                Some(deadline) if now >= deadline => {
                    self.give_up("failed to renew the lease within RenewDeadline", now);
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

    /// renew() gave up. With ReleaseOnCancel, release() runs before Run returns: if
    /// the last record seen still names this instance, it writes the release and
    /// leads on until the call returns (at most the client's timeout). Otherwise
    /// leadership ends now.
    fn give_up(&mut self, why: &'static str, now: LocalTime) {
        let release = if self.release_on_cancel && self.is_leader() { self.release_call(now) } else { None };
        let Some(call) = release else {
            self.stop(why);
            return;
        };
        self.phase = Phase::Releasing;
        self.step = Some(Step::Release);
        self.desired = None;
        // The release is no part of a renew round: only the client's timeout bounds it.
        self.round_deadline = None;
        self.token += 1;
        self.out.push(Output::Releasing { why });
        self.out.push(Output::Call(call));
    }

    /// release()'s Update: an empty holder with a 1 s lease, so that a standby may
    /// take over at once, on the resourceVersion last seen.
    fn release_call(&self, now: LocalTime) -> Option<LeaseCall> {
        let (Some(old), Some(rv)) = (self.observed, self.known_rv) else { return None };
        let record = LeaseRecord {
            holder: None,
            lease_duration: SimDuration::from_secs(1),
            acquire_time: now,
            renew_time: now,
            transitions: old.transitions,
        };
        Some(LeaseCall::Update { record, resource_version: rv })
    }

    /// Graceful shutdown with ReleaseOnCancel (kube-scheduler): a leader writes the
    /// release. Returns whether a release call was issued.
    pub fn release(&mut self, now: LocalTime) -> bool {
        let was_leader = self.is_leader() && self.phase == Phase::Leading;
        self.phase = Phase::Done;
        self.token += 1;
        let call = self.release_call(now).filter(|_| was_leader);
        let Some(call) = call else { return false };
        self.step = None;
        self.out.push(Output::Call(call));
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
        /// A release written after a failed renewal, held back instead of answered.
        held_release: Option<LeaseCall>,
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
                held_release: None,
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
                    Output::Call(c) if self.electors[i].phase == Phase::Releasing => self.held_release = Some(c),
                    Output::Call(c) => {
                        let r = self.api.call(c);
                        self.electors[i].on_reply(r, LocalTime(self.now));
                    }
                    Output::Timer { after, token } => {
                        self.timers[i] = Some((self.now + after.as_micros() as i64, token))
                    }
                    Output::StartedLeading => self.leading[i] = true,
                    Output::StoppedLeading { .. } => self.leading[i] = false,
                    Output::Releasing { .. } => {}
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

        /// A single elector (with ReleaseOnCancel or not) leads for 5 s, then the API
        /// goes away. Returns when that happened.
        fn lone_leader_cut_off(&mut self, release_on_cancel: bool) -> i64 {
            self.electors[0].release_on_cancel = release_on_cancel;
            self.electors[0].start(LocalTime(0));
            self.flush(0);
            self.run_ms(5_000, &[true]);
            assert!(self.leading[0]);
            self.api.down = true;
            self.now
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
        let cut = b.lone_leader_cut_off(false);
        while b.leading[0] {
            b.run_ms(10, &[true]);
        }
        let lasted = b.now - cut;
        // The round that fails starts up to one RetryPeriod after the cut, and ends
        // RenewDeadline after it started.
        assert!((10_000_000..=12_100_000).contains(&lasted), "stopped {lasted} µs after the API went away");
    }

    #[test]
    fn with_release_on_cancel_a_leader_that_cannot_renew_releases_and_leads_until_that_call_returns() {
        let mut b = Bench::new(1);
        let cut = b.lone_leader_cut_off(true);
        while b.held_release.is_none() {
            b.run_ms(10, &[true]);
        }
        // renew() gave up at the round's deadline, as without ReleaseOnCancel...
        assert!((10_000_000..=12_100_000).contains(&(b.now - cut)), "gave up {} µs after the cut", b.now - cut);
        // ...but the release comes first, and the instance acts until it returns,
        // bounded by the client's timeout alone.
        assert!(b.leading[0] && b.electors[0].is_leading());
        assert_eq!(b.electors[0].call_timeout(LocalTime(b.now)), SimDuration::from_secs(5));
        b.run_ms(3_000, &[true]);
        assert!(b.leading[0], "no timer ends it");
        // The API is back in time: the release is written, and leadership ends.
        b.api.down = false;
        let reply = b.api.call(b.held_release.take().expect("held"));
        b.electors[0].on_reply(reply, LocalTime(b.now));
        b.flush(0);
        assert!(!b.leading[0] && !b.electors[0].is_leading());
        assert_eq!(b.api.lease.unwrap().record.holder, None, "released");
    }

    /// The timers an elector asked for since the last look, in microseconds.
    fn timers(e: &mut LeaderElector) -> Vec<(u64, u64)> {
        e.out
            .drain(..)
            .filter_map(|o| match o {
                Output::Timer { after, token } => Some((after.as_micros(), token)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn within_a_renew_round_retries_follow_a_ticker_started_with_the_round() {
        let ms = |m: i64| LocalTime(m * 1_000);
        let mut e = LeaderElector::new(
            Identity { host: 0, incarnation: 1 },
            ElectionTimings::default(),
            SimRng::new(7, StreamId::Workload),
        );
        e.start(ms(0));
        e.on_reply(LeaseReply::NotFound, ms(0));
        e.on_reply(LeaseReply::Written(1), ms(0));
        assert!(e.is_leading());
        // renew() begins at once: its first round tries at once, on the fast path.
        assert!(timers(&mut e).is_empty(), "no wait before the first renewal");
        e.on_reply(LeaseReply::Written(2), ms(10));
        // Renewed: the next round one RetryPeriod on (wait.Until).
        let (after, token) = timers(&mut e)[0];
        assert_eq!(after, 2_000_000);
        e.on_timer(token, ms(2_000));
        // The round's first attempt: the fast update fails after 1.5 s, the Get after
        // 0.4 s more. The ticker's tick at 4 s is next, not 2 s after the failure.
        e.on_reply(LeaseReply::Failed, ms(3_500));
        e.on_reply(LeaseReply::Failed, ms(3_900));
        let (after, token) = timers(&mut e)[0];
        assert_eq!(after, 100_000);
        // An attempt that outlasts the period is followed at once: the ticker kept
        // the tick of 6 s.
        e.on_timer(token, ms(4_000));
        e.on_reply(LeaseReply::Failed, ms(6_500));
        e.on_reply(LeaseReply::Failed, ms(6_700));
        let (after, token) = timers(&mut e)[0];
        assert_eq!(after, 0);
        // One tick is kept however long the attempt: at 11.5 s the next begins at
        // once, and the round's deadline (2 s + 10 s) cuts its call short.
        e.on_timer(token, ms(6_700));
        e.on_reply(LeaseReply::Failed, ms(11_000));
        e.on_reply(LeaseReply::Failed, ms(11_500));
        let (after, token) = timers(&mut e)[0];
        assert_eq!(after, 0);
        e.on_timer(token, ms(11_500));
        assert_eq!(e.call_timeout(ms(11_500)), SimDuration::from_millis(500));
        e.on_reply(LeaseReply::Failed, ms(12_000));
        e.on_reply(LeaseReply::Failed, ms(12_000));
        let (after, token) = timers(&mut e)[0];
        assert_eq!(after, 0);
        e.on_timer(token, ms(12_000));
        assert!(!e.is_leading(), "gave up at the deadline");
    }

    #[test]
    fn a_leader_that_saw_another_holder_has_nothing_to_release() {
        let mut b = Bench::started(2);
        assert!(b.leading[0]);
        // The standby is made the holder behind the leader's back; the leader's fast
        // update then conflicts, its Get shows the other holder, and it gives up at
        // the deadline without a release.
        let mut obj = b.api.lease.unwrap();
        b.electors[0].release_on_cancel = true;
        obj.record.holder = Some(b.electors[1].id);
        obj.resource_version += 100;
        b.api.lease = Some(obj);
        while b.leading[0] {
            b.run_ms(10, &[true, false]);
        }
        assert!(b.held_release.is_none(), "not IsLeader(): release() returns at once");
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
