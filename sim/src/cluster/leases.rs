//! kube-scheduler and kube-controller-manager on every control-plane node, electing a
//! leader through Lease objects with client-go's algorithm (`model::lease`). Their
//! lease calls go to the apiserver on their own node (scheduler.conf and
//! controller-manager.conf point at the local apiserver), which reads with a quorum
//! read and writes with an optimistic update through etcd. Timers run on the host's
//! monotonic clock; a process that loses its lease exits and the kubelet restarts it,
//! at once the first time and after its crash-loop back-off later. Whenever two
//! instances act as leader at once (neither frozen), an overlap window is recorded.

use super::*;
use crate::model::clock::LocalTime;
use crate::model::kubelet::RestartBackoff;
use crate::model::lease::{ElectionTimings, Identity, LeaderElector, LeaseCall, LeaseObject, LeaseReply, Output};

/// The two components that elect a leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Scheduler,
    ControllerManager,
}

impl Component {
    pub const ALL: [Component; 2] = [Component::Scheduler, Component::ControllerManager];

    pub fn name(self) -> &'static str {
        match self {
            Component::Scheduler => "kube-scheduler",
            Component::ControllerManager => "kube-controller-manager",
        }
    }

    /// The process this component runs as.
    pub(super) fn process(self) -> crate::fault::Process {
        match self {
            Component::Scheduler => crate::fault::Process::Scheduler,
            Component::ControllerManager => crate::fault::Process::ControllerManager,
        }
    }

    /// kube-scheduler sets ReleaseOnCancel; kube-controller-manager does not. It
    /// releases the lease on a graceful stop, and when its renewal fails.
    fn releases_on_cancel(self) -> bool {
        self == Component::Scheduler
    }
}

/// A window in which two instances of a component acted as leader at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlap {
    pub component: Component,
    pub start: SimTime,
    pub end: Option<SimTime>,
    pub hosts: Vec<HostId>,
}

/// An interval during which one instance led.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadingSpell {
    pub component: Component,
    pub host: HostId,
    pub start: SimTime,
    pub end: Option<SimTime>,
}

/// One scheduler or controller-manager process.
pub(super) struct ElectorProc {
    pub(super) elector: LeaderElector,
    pub(super) incarnation: u32,
    pub(super) paused: bool,
    /// The call in flight: its sequence number.
    call: Option<u64>,
    /// While frozen: the latest timer that came due, and replies that arrived.
    due_timer: Option<u64>,
    stashed: Vec<(u64, LeaseReply)>,
    /// A graceful stop is waiting for the release call.
    stopping: bool,
    /// That stop is the kubelet's SIGTERM: it starts the process again once it exits.
    restart_after_stop: bool,
    /// The kubelet's liveness probe (`kubelet`).
    pub(super) hang: crate::model::kubelet::HangProbe,
}

/// Per node: its components and their kubelet back-off.
#[derive(Default)]
pub(super) struct NodeComponents {
    pub(super) procs: [Option<ElectorProc>; 2],
    pub(super) backoff: [RestartBackoff; 2],
    incarnations: [u32; 2],
}

/// A lease write proposed to etcd.
#[derive(Clone, Copy, Debug)]
struct LeaseWrite {
    component: Component,
    call: LeaseCall,
    /// Its call already failed (a timeout, a leader change): the proposal may still
    /// commit, and is then applied all the same, with no one to tell.
    answered: bool,
}

/// The Lease objects as etcd holds them (applied once per committed index).
#[derive(Default)]
pub(super) struct LeaseStore {
    objects: [Option<LeaseObject>; 2],
    /// Write ops by etcd write id until they are applied or can no longer be, and
    /// the outcome of those applied before their call was answered.
    ops: BTreeMap<u64, LeaseWrite>,
    results: BTreeMap<u64, LeaseReply>,
    /// Highest committed index applied to the store.
    applied: LogIndex,
}

impl LeaseStore {
    /// A lease write went to etcd as write `etcd_id`.
    fn proposed(&mut self, etcd_id: u64, component: Component, call: LeaseCall) {
        self.ops.insert(etcd_id, LeaseWrite { component, call, answered: false });
    }

    /// etcd answered call `etcd_id` (a write, or a read of `c`'s Lease): the API's
    /// answer.
    fn answer(&mut self, etcd_id: u64, c: Component, result: Result<LogIndex, RequestError>) -> LeaseReply {
        let applied = self.results.remove(&etcd_id);
        match result {
            Err(e) => {
                // A write that timed out or saw the leader change may be in the log
                // and commit later: etcd applies it then, though the apiserver has
                // long answered with the error. One refused or dropped never will.
                let may_commit = matches!(
                    e,
                    RequestError::DeadlineExceeded
                        | RequestError::TimedOut
                        | RequestError::TimedOutLeaderFail
                        | RequestError::LeaderChanged
                        | RequestError::ConnectionClosed
                        | RequestError::ServerStopped
                );
                match self.ops.get_mut(&etcd_id) {
                    Some(w) if may_commit && applied.is_none() => w.answered = true,
                    _ => {
                        self.ops.remove(&etcd_id);
                    }
                }
                LeaseReply::Failed
            }
            Ok(_) => {
                self.ops.remove(&etcd_id);
                // A read: the store's current state (committed, so linearizable).
                applied.unwrap_or_else(|| self.objects[c as usize].map_or(LeaseReply::NotFound, LeaseReply::Found))
            }
        }
    }

    /// Write `etcd_id` will never commit (no member saw it, or it was dropped before
    /// it was proposed): nothing to wait for.
    pub(super) fn never_committed(&mut self, etcd_id: u64) {
        self.ops.remove(&etcd_id);
    }

    /// Applies a committed entry, once per index: a lease write's outcome is kept
    /// for its call, or dropped if that call has already failed.
    fn apply(&mut self, index: LogIndex, entry: &Entry) {
        if index <= self.applied {
            return;
        }
        self.applied = index;
        let crate::model::etcd::message::EntryKind::Write(w) = entry.kind else { return };
        let Some(&LeaseWrite { component: c, call, answered }) = self.ops.get(&w.0) else { return };
        let slot = &mut self.objects[c as usize];
        let reply = match call {
            LeaseCall::Create(record) if slot.is_none() => {
                *slot = Some(LeaseObject { record, resource_version: index });
                LeaseReply::Written(index)
            }
            LeaseCall::Update { record, resource_version }
                if slot.is_some_and(|o| o.resource_version == resource_version) =>
            {
                *slot = Some(LeaseObject { record, resource_version: index });
                LeaseReply::Written(index)
            }
            _ => LeaseReply::Conflict,
        };
        if matches!(reply, LeaseReply::Written(_)) {
            // The other writes of that Lease whose calls failed carry an older
            // resourceVersion (or are Creates): should they commit, they conflict, with
            // no one to tell. Nothing is left to wait for (a proposal lost with a
            // deposed leader's log, or in the network, would otherwise stay).
            self.ops.retain(|&id, op| id == w.0 || !(op.answered && op.component == c));
        }
        if answered {
            self.ops.remove(&w.0);
        } else {
            self.results.insert(w.0, reply);
        }
    }
}

impl Simulation {
    pub(super) fn elector_timings(&self) -> ElectionTimings {
        self.spec.control_plane.map(|c| c.election).unwrap_or_default()
    }

    /// What the host's leader-election clients read as "now": the monotonic clock, as
    /// Go's `time.Time` comparisons do, so a clock step does not shorten or stretch a
    /// lease while a rate error does.
    pub(super) fn elector_now(&self, host: HostId) -> LocalTime {
        self.hosts[host.index()].clock.monotonic(self.now)
    }

    /// The kubelet starts a component on a control-plane node.
    pub(super) fn start_component(&mut self, host: HostId, c: Component) {
        let h = &mut self.hosts[host.index()];
        if !h.up || !h.is_control_plane || h.components.procs[c as usize].is_some() {
            return;
        }
        h.components.incarnations[c as usize] += 1;
        let inc = h.components.incarnations[c as usize];
        let id = Identity { host: host.0, incarnation: inc };
        let stream = StreamId::Elector((host.0 << 8) | (c as u32) << 4 | (inc & 0xf));
        let rng = SimRng::new(self.spec.seed, stream);
        let timings = self.elector_timings();
        let mut elector = LeaderElector::new(id, timings, rng);
        elector.release_on_cancel = c.releases_on_cancel();
        self.hosts[host.index()].components.procs[c as usize] = Some(ElectorProc {
            elector,
            incarnation: inc,
            paused: false,
            call: None,
            due_timer: None,
            stashed: Vec::new(),
            stopping: false,
            restart_after_stop: false,
            hang: crate::model::kubelet::HangProbe::new(self.now, self.now == SimTime::ZERO),
        });
        let now = self.elector_now(host);
        self.with_elector(host, c, |e| e.start(now));
    }

    fn elector_mut(&mut self, host: HostId, c: Component) -> Option<&mut ElectorProc> {
        self.hosts[host.index()].components.procs[c as usize].as_mut()
    }

    /// Runs `f` on the elector and carries out what it asked for.
    fn with_elector(&mut self, host: HostId, c: Component, f: impl FnOnce(&mut LeaderElector)) {
        let Some(p) = self.elector_mut(host, c) else { return };
        f(&mut p.elector);
        let outputs = std::mem::take(&mut p.elector.out);
        let inc = p.incarnation;
        for o in outputs {
            match o {
                Output::Call(call) => self.lease_call(host, c, call),
                Output::Timer { after, token } => {
                    let real = self.hosts[host.index()].clock.real_duration(after);
                    self.queue.push(self.now + real, Event::ElectorTimer(host, c, inc, token));
                }
                Output::StartedLeading => self.leading_changed(host, c, true),
                Output::Releasing { why } => {
                    let name = self.hosts[host.index()].name.clone();
                    self.note(
                        EventKind::Lease,
                        Some(host),
                        format!(
                            "{} on {name} {why}; with ReleaseOnCancel it first tries to release the lease, and goes on leading until that call returns",
                            c.name()
                        ),
                    );
                }
                Output::StoppedLeading { why } => {
                    self.leading_changed(host, c, false);
                    let name = self.hosts[host.index()].name.clone();
                    let when = self.exit_component(host, c, true).unwrap_or_default();
                    self.note(
                        EventKind::Lease,
                        Some(host),
                        format!("{} on {name} lost leadership ({why}) and exits; {when}", c.name()),
                    );
                    return;
                }
            }
        }
    }

    /// A lease call goes to the apiserver on the same node.
    fn lease_call(&mut self, host: HostId, c: Component, call: LeaseCall) {
        let seq = self.next_request;
        self.next_request += 1;
        let local_now = self.elector_now(host);
        let Some(p) = self.elector_mut(host, c) else { return };
        p.call = Some(seq);
        let timeout = p.elector.call_timeout(local_now);
        let inc = p.incarnation;
        let real = self.hosts[host.index()].clock.real_duration(timeout);
        self.queue.push(self.now + real, Event::ElectorCallTimeout(host, c, inc, seq));
        use crate::model::certs::CertKind;
        let kubeconfig = match c {
            Component::Scheduler => CertKind::SchedulerKubeconfig,
            Component::ControllerManager => CertKind::ControllerManagerKubeconfig,
        };
        // The apiserver checks the client certificate (401), and the client checks the
        // apiserver's serving certificate against the CA in its kubeconfig (x509), each
        // on this node's clock.
        let unauthorized = self.certs_checked() && !self.cert_valid(host, kubeconfig, host);
        let untrusted = self.certs_checked() && !self.cert_valid(host, CertKind::ApiserverServing, host);
        if self.hosts[host.index()].apiserver.is_none() || unauthorized || untrusted {
            // Connection refused by localhost, 401 for an expired client certificate,
            // or a TLS handshake that fails: the call fails at once.
            self.queue.push(self.now, Event::ElectorCallTimeout(host, c, inc, seq));
            return;
        }
        let kind = match call {
            LeaseCall::Get => RequestKind::LinearizableRead,
            _ => RequestKind::Write,
        };
        let origin = Origin::Lease { apiserver: host, component: c, incarnation: inc, seq };
        if let Some(id) = self.etcd_call(host, kind, origin)
            && kind == RequestKind::Write
        {
            self.leases.proposed(id, c, call);
        }
    }

    /// The etcd answer for a lease call, turned into the API's answer.
    pub(super) fn on_lease_etcd_result(
        &mut self,
        etcd_id: u64,
        host: HostId,
        c: Component,
        inc: u32,
        seq: u64,
        result: Result<LogIndex, RequestError>,
    ) {
        let reply = self.leases.answer(etcd_id, c, result);
        self.on_elector_reply(host, c, inc, seq, reply);
    }

    /// Applies committed lease writes to the store, once per index.
    pub(super) fn apply_lease_writes(&mut self, index: LogIndex, entry: &Entry) {
        self.leases.apply(index, entry);
    }

    pub(super) fn on_elector_reply(&mut self, host: HostId, c: Component, inc: u32, seq: u64, reply: LeaseReply) {
        let now = self.elector_now(host);
        let Some(p) = self.elector_mut(host, c).filter(|p| p.incarnation == inc) else { return };
        if p.call != Some(seq) {
            return;
        }
        if p.paused {
            p.stashed.push((seq, reply));
            return;
        }
        p.call = None;
        if p.stopping {
            if p.restart_after_stop {
                let name = self.hosts[host.index()].name.clone();
                let what = format!("{} on {name} released its lease and exited on the kubelet's SIGTERM", c.name());
                self.component_exits_for_kubelet(host, c, what);
            } else {
                self.exit_component(host, c, false);
            }
            return;
        }
        self.with_elector(host, c, |e| e.on_reply(reply, now));
    }

    pub(super) fn on_elector_call_timeout(&mut self, host: HostId, c: Component, inc: u32, seq: u64) {
        self.on_elector_reply(host, c, inc, seq, LeaseReply::Failed);
    }

    pub(super) fn on_elector_timer(&mut self, host: HostId, c: Component, inc: u32, token: u64) {
        let now = self.elector_now(host);
        let Some(p) = self.elector_mut(host, c).filter(|p| p.incarnation == inc) else { return };
        if p.paused {
            p.due_timer = Some(token);
            return;
        }
        self.with_elector(host, c, |e| e.on_timer(token, now));
    }

    fn leading_changed(&mut self, host: HostId, c: Component, leading: bool) {
        let name = self.hosts[host.index()].name.clone();
        if leading {
            self.spells.push(LeadingSpell { component: c, host, start: self.now, end: None });
            self.note(
                EventKind::Lease,
                Some(host),
                format!("{} on {name} acquired the lease and started leading", c.name()),
            );
        } else if let Some(s) =
            self.spells.iter_mut().rev().find(|s| s.component == c && s.host == host && s.end.is_none())
        {
            s.end = Some(self.now);
        }
        self.update_overlaps(c);
    }

    /// Instances leading and not frozen right now.
    fn active(&self, c: Component) -> Vec<HostId> {
        (0..self.hosts.len())
            .map(|i| HostId(i as u32))
            .filter(|h| {
                self.hosts[h.index()].components.procs[c as usize]
                    .as_ref()
                    .is_some_and(|p| p.elector.is_leading() && !p.paused)
            })
            .collect()
    }

    /// Opens or closes an overlap window after anything that changes who acts.
    pub(super) fn update_overlaps(&mut self, c: Component) {
        let active = self.active(c);
        let open = self.overlaps.iter().rposition(|o| o.component == c && o.end.is_none());
        match (active.len() > 1, open) {
            (true, None) => {
                let names: Vec<String> = active.iter().map(|h| self.hosts[h.index()].name.clone()).collect();
                self.note(
                    EventKind::SplitBrain,
                    None,
                    format!("split brain: {} is active on {} at once", c.name(), names.join(" and ")),
                );
                self.overlaps.push(Overlap { component: c, start: self.now, end: None, hosts: active });
            }
            (false, Some(i)) => self.overlaps[i].end = Some(self.now),
            _ => {}
        }
    }

    /// The process ends. `restart`: it exited on its own (lost lease, killed), so the
    /// kubelet starts it again once it notices, after its back-off; returns how the
    /// timeline says when.
    pub(super) fn exit_component(&mut self, host: HostId, c: Component, restart: bool) -> Option<String> {
        let h = &mut self.hosts[host.index()];
        let p = h.components.procs[c as usize].take()?;
        if p.elector.is_leading() {
            self.leading_changed(host, c, false);
        }
        let mut when = None;
        if restart {
            let delay = self.hosts[host.index()].components.backoff[c as usize].next_delay(self.now);
            let inc = p.incarnation;
            when = Some(self.restart_after_exit(host, delay, |delayed| Event::ComponentRestart(host, c, inc, delayed)));
        }
        self.update_overlaps(c);
        when
    }

    pub(super) fn on_component_restart(&mut self, host: HostId, c: Component, inc: u32, delayed: bool) {
        let h = &self.hosts[host.index()];
        if h.components.incarnations[c as usize] != inc || !h.up || h.components.procs[c as usize].is_some() {
            return;
        }
        if delayed {
            self.note_restart_after_backoff(host, c.name());
        }
        self.start_component(host, c);
    }

    /// The host died: every component on it is gone, with no chance to release.
    pub(super) fn kill_components(&mut self, host: HostId) {
        for c in Component::ALL {
            self.exit_component(host, c, false);
        }
    }

    /// A static-pod restart: the process exits and starts again at once.
    pub(super) fn kill_components_once(&mut self, host: HostId, c: Component) {
        self.exit_component(host, c, false);
        self.start_component(host, c);
    }

    /// The process was killed: the kubelet restarts it after its back-off.
    pub(super) fn kill_component(&mut self, host: HostId, c: Component) -> Option<String> {
        self.exit_component(host, c, true)
    }

    /// Graceful stop (SIGTERM): the scheduler releases its lease first.
    pub(super) fn stop_component(&mut self, host: HostId, c: Component) {
        self.sigterm_component(host, c, false);
    }

    /// The kubelet's SIGTERM, acted on by a process that resumed: it stops as on a
    /// graceful stop, and the kubelet starts it again once it has exited.
    pub(super) fn stop_component_for_kubelet(&mut self, host: HostId, c: Component) {
        self.sigterm_component(host, c, true);
    }

    fn sigterm_component(&mut self, host: HostId, c: Component, by_kubelet: bool) {
        let now = self.elector_now(host);
        let name = self.hosts[host.index()].name.clone();
        let Some(p) = self.elector_mut(host, c) else { return };
        if p.elector.is_releasing() {
            // renew() has given up and its release() runs on a context of its own: the
            // signal does not cut it short, and Run returns when it does.
            p.stopping = true;
            p.restart_after_stop = by_kubelet;
            self.note(
                EventKind::Lease,
                Some(host),
                format!("{} on {name} stops once the release it is writing returns", c.name()),
            );
            return;
        }
        let was_leading = p.elector.is_leading();
        let releasing = c.releases_on_cancel() && p.elector.release(now);
        if was_leading && c.releases_on_cancel() && !releasing {
            // Leading, but the last record it saw names another holder: release()
            // ends leadership and writes nothing.
            self.leading_changed(host, c, false);
        }
        if releasing {
            self.note(EventKind::Lease, Some(host), format!("{} on {name} stops and releases its lease", c.name()));
            // release() ended leadership: close the spell now.
            self.leading_changed(host, c, false);
            let p = self.elector_mut(host, c).expect("running");
            p.stopping = true;
            p.restart_after_stop = by_kubelet;
            let outputs = std::mem::take(&mut p.elector.out);
            for o in outputs {
                if let Output::Call(call) = o {
                    self.lease_call(host, c, call);
                }
            }
        } else if by_kubelet {
            let what = format!("{} on {name} exits (it does not release its lease)", c.name());
            self.component_exits_for_kubelet(host, c, what);
        } else {
            self.note(
                EventKind::Lease,
                Some(host),
                format!("{} on {name} stops (it does not release its lease)", c.name()),
            );
            self.exit_component(host, c, false);
        }
    }

    pub(super) fn pause_component(&mut self, host: HostId, c: Component, paused: bool) {
        let now = self.elector_now(host);
        let Some(p) = self.elector_mut(host, c) else { return };
        if p.paused == paused {
            return;
        }
        p.paused = paused;
        if !paused {
            // Resumed: Go timers that came due fire now; stashed replies are handled.
            let due = p.due_timer.take();
            let stashed = std::mem::take(&mut p.stashed);
            let inc = p.incarnation;
            for (seq, reply) in stashed {
                self.on_elector_reply(host, c, inc, seq, reply);
            }
            if let Some(token) = due {
                self.with_elector(host, c, |e| e.on_timer(token, now));
            }
        }
        self.update_overlaps(c);
        if !paused {
            self.probed_process_resumed(host, c.process());
        }
    }

    /// The host whose instance of `c` leads now (the most recent if several do).
    pub fn component_leader(&self, c: Component) -> Option<HostId> {
        self.spells.iter().rev().find(|s| s.component == c && s.end.is_none()).map(|s| s.host)
    }

    /// What the instance of `c` on `host` last saw of the lease, and when (its clock).
    pub fn elector_observed(
        &self,
        host: HostId,
        c: Component,
    ) -> Option<(crate::model::lease::LeaseRecord, LocalTime)> {
        self.hosts[host.index()].components.procs[c as usize].as_ref().and_then(|p| p.elector.observed())
    }

    pub fn leading_spells(&self) -> &[LeadingSpell] {
        &self.spells
    }

    pub fn overlaps(&self) -> &[Overlap] {
        &self.overlaps
    }
}

/// The component a scheduler or controller-manager `Process` names.
pub(super) fn component_of(p: crate::fault::Process) -> Component {
    match p {
        crate::fault::Process::Scheduler => Component::Scheduler,
        _ => Component::ControllerManager,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Term, WriteId};
    use crate::model::clock::LocalTime;
    use crate::model::etcd::message::EntryKind;
    use crate::model::lease::{Identity, LeaseRecord};

    fn record(holder: u32) -> LeaseRecord {
        LeaseRecord {
            holder: Some(Identity { host: holder, incarnation: 1 }),
            lease_duration: SimDuration::from_secs(15),
            acquire_time: LocalTime(0),
            renew_time: LocalTime(0),
            transitions: 0,
        }
    }

    fn write(id: u64) -> Entry {
        Entry { term: Term(2), kind: EntryKind::Write(WriteId(id)), digest: 0 }
    }

    /// A store whose scheduler Lease was created at index 5 by cp-1.
    fn store() -> LeaseStore {
        let mut s = LeaseStore::default();
        s.proposed(1, Component::Scheduler, LeaseCall::Create(record(0)));
        s.apply(5, &write(1));
        assert_eq!(s.answer(1, Component::Scheduler, Ok(5)), LeaseReply::Written(5));
        s
    }

    #[test]
    fn a_lease_write_whose_call_timed_out_is_applied_when_it_commits_later() {
        let mut s = store();
        let update = LeaseCall::Update { record: record(1), resource_version: 5 };
        s.proposed(2, Component::Scheduler, update);
        // The apiserver's etcd call gave up at its deadline; the entry was in the log.
        assert_eq!(s.answer(2, Component::Scheduler, Err(RequestError::DeadlineExceeded)), LeaseReply::Failed);
        s.apply(9, &write(2));
        let now = s.answer(3, Component::Scheduler, Ok(9));
        assert_eq!(now, LeaseReply::Found(LeaseObject { record: record(1), resource_version: 9 }), "applied");
        assert!(s.ops.is_empty() && s.results.is_empty(), "nothing left behind");
    }

    #[test]
    fn a_lease_write_refused_or_dropped_is_forgotten() {
        let mut s = store();
        for (id, e) in [(2, RequestError::Unavailable), (3, RequestError::ProposalDropped)] {
            s.proposed(id, Component::Scheduler, LeaseCall::Update { record: record(1), resource_version: 5 });
            assert_eq!(s.answer(id, Component::Scheduler, Err(e)), LeaseReply::Failed);
        }
        assert!(s.ops.is_empty());
    }

    #[test]
    fn a_timed_out_lease_write_that_was_never_proposed_is_not_waited_for() {
        let mut s = store();
        s.proposed(2, Component::Scheduler, LeaseCall::Update { record: record(1), resource_version: 5 });
        assert_eq!(s.answer(2, Component::Scheduler, Err(RequestError::DeadlineExceeded)), LeaseReply::Failed);
        assert_eq!(s.ops.len(), 1, "it may still commit");
        // etcd dropped it while it waited for a leader (or no member ever saw it).
        s.never_committed(2);
        assert!(s.ops.is_empty());
    }

    #[test]
    fn failed_writes_of_a_lease_are_not_waited_for_once_another_write_of_it_commits() {
        let mut s = store();
        let stale = LeaseCall::Update { record: record(1), resource_version: 5 };
        s.proposed(2, Component::Scheduler, stale);
        s.answer(2, Component::Scheduler, Err(RequestError::TimedOut));
        s.proposed(3, Component::ControllerManager, LeaseCall::Create(record(1)));
        s.answer(3, Component::ControllerManager, Err(RequestError::TimedOut));
        // The scheduler renews at 5 -> 9: write 2 could now only conflict.
        s.proposed(4, Component::Scheduler, LeaseCall::Update { record: record(0), resource_version: 5 });
        s.apply(9, &write(4));
        assert_eq!(s.answer(4, Component::Scheduler, Ok(9)), LeaseReply::Written(9));
        assert_eq!(s.ops.keys().copied().collect::<Vec<_>>(), vec![3], "the other Lease's write may still commit");
    }

    #[test]
    fn a_lease_write_applied_before_its_call_failed_leaves_nothing_behind() {
        // Committed and applied, but the answer did not reach the apiserver in time.
        let mut s = store();
        s.proposed(2, Component::Scheduler, LeaseCall::Update { record: record(1), resource_version: 5 });
        s.apply(9, &write(2));
        assert_eq!(s.answer(2, Component::Scheduler, Err(RequestError::DeadlineExceeded)), LeaseReply::Failed);
        assert!(s.ops.is_empty() && s.results.is_empty());
        assert_eq!(s.objects[Component::Scheduler as usize].map(|o| o.resource_version), Some(9));
    }
}
