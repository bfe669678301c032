//! The etcd processes of the cluster: the event loop's handling of ticks, messages and
//! fsyncs, each member's Ready (mirroring etcd's raftNode loop), and what the world does
//! when a membership change commits.

use super::*;
use crate::model::certs::CertKind;

impl Simulation {
    pub(super) fn on_tick(&mut self, host: HostId, inc: u32) {
        let now = self.now;
        let next = now + self.hb();
        let Some(p) = self.process_mut(host, inc) else { return };
        if p.paused || p.writing.is_some() {
            p.tick_pending = true;
        } else {
            p.server.raft.tick();
        }
        if !p.paused {
            p.server.monitor_leader_tick(now);
        }
        self.queue.push(next, Event::Tick(host, inc));
        self.after_step(host);
    }

    pub(super) fn on_deliver(&mut self, slot: u32) {
        let Some(f) = self.in_flight[slot as usize].as_ref() else { return };
        let (to_host, to_inc, from_host) = (f.to_host, f.to_incarnation, f.from_host);
        let live = self.network.can_reach(from_host, to_host)
            && self.hosts[to_host.index()].etcd.as_ref().is_some_and(|p| p.incarnation == to_inc);
        if !live {
            self.release_slot(slot);
            self.outcome.stats.messages_dropped += 1;
            return;
        }
        let p = self.hosts[to_host.index()].etcd.as_mut().expect("checked live");
        if p.paused {
            p.stash.push(Stashed::Deliver(slot));
            return;
        }
        let msg = self.release_slot(slot);
        self.step_message(to_host, msg);
    }

    pub(super) fn release_slot(&mut self, slot: u32) -> Message {
        self.free_slots.push(slot);
        self.in_flight[slot as usize].take().expect("slot in use").msg
    }

    pub(super) fn step_message(&mut self, host: HostId, msg: Message) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if p.server.knows_removed(msg.from) {
            // etcd's transport rejects streams from members it saw removed.
            return;
        }
        p.server.heard_from(msg.from, now);
        if let Err(lost) = p.server.raft.step(msg) {
            self.crash_process(host);
            let when = self.kubelet_restarts_etcd(host);
            let text = format!(
                "etcd on {} crashed: commit index {} is beyond its last log index {} (raft: \"Was the raft log corrupted, truncated, or lost?\"); kubelet: {when}",
                self.hosts[host.index()].name,
                lost.to_commit,
                lost.last_index
            );
            self.note(EventKind::Etcd, Some(host), text);
            return;
        }
        self.after_step(host);
    }

    /// After raft moved: record what it did, then process its Ready if possible.
    pub(super) fn after_step(&mut self, host: HostId) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        // Nearly every step leaves the server nothing to report and raft no event: only
        // then are the buffers taken out to be walked.
        p.server.poll(now, &mut self.applied_buf);
        if !self.applied_buf.is_empty() {
            let mut notices = std::mem::take(&mut self.applied_buf);
            for a in notices.drain(..) {
                self.on_applied(host, a);
            }
            put_back(&mut self.applied_buf, notices);
        }
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if !p.server.raft.events.is_empty() {
            let events = std::mem::take(&mut p.server.raft.events);
            self.record_raft_events(host, events);
        }
        self.drive(host);
        self.check_stopping(host);
    }

    pub(super) fn record_raft_events(&mut self, host: HostId, events: Vec<RaftEvent>) {
        let name = self.hosts[host.index()].name.clone();
        let et = self.spec.etcd.election_timeout;
        let hb = self.hb();
        for ev in events {
            // A member that cannot reach a quorum repeats its pre-vote every election
            // timeout without its term moving: say so once, not every time.
            let repeat = match ev {
                RaftEvent::CampaignStarted { pre: true, term, .. } => {
                    self.prevote_repeats.get(&host).is_some_and(|&(t, _)| t == term)
                }
                RaftEvent::LostElection { pre: true, term } => {
                    self.prevote_repeats.get(&host).is_some_and(|&(t, n)| t == term && n >= 2)
                }
                _ => {
                    self.prevote_repeats.remove(&host);
                    false
                }
            };
            if repeat {
                if let RaftEvent::CampaignStarted { term, .. } = ev {
                    self.outcome.stats.campaigns += 1;
                    let entry = self.prevote_repeats.get_mut(&host).expect("checked above");
                    entry.1 += 1;
                    if entry.1 == 2 {
                        let text = format!(
                            "{name} keeps starting pre-votes for term {term}, one per randomised election timeout, until it reaches a quorum or hears from a leader (repeats not listed)"
                        );
                        self.note(EventKind::Etcd, Some(host), text);
                    }
                }
                continue;
            }
            if let RaftEvent::CampaignStarted { pre: true, term, .. } = ev {
                self.prevote_repeats.insert(host, (term, 1));
            }
            let text = match ev {
                RaftEvent::CampaignStarted { pre, term, transfer, waited_ticks } => {
                    self.outcome.stats.campaigns += 1;
                    let why = if transfer {
                        "the leader handed leadership over (MsgTimeoutNow)".to_string()
                    } else if waited_ticks == 0 {
                        "it won the pre-vote".to_string()
                    } else {
                        let waited = hb.saturating_mul(u64::from(waited_ticks));
                        // Name the leader it last knew of, so a learner sees whose silence
                        // started the election.
                        // The leader this member could know of: the last one elected in a
                        // term below the one it campaigns for (a member cut off never hears
                        // of later leaders).
                        match self.outcome.leader_history.iter().rev().find(|l| l.term < term) {
                            Some(l) if l.host == host => format!(
                                "it stepped down as leader of term {} and heard from no new leader for {waited}, its randomised election timeout (base {et})",
                                l.term
                            ),
                            Some(l) => format!(
                                "no heartbeat from {} (leader of term {}) for {waited}, its randomised election timeout (base {et})",
                                self.hosts[l.host.index()].name,
                                l.term
                            ),
                            None => format!("no leader for {waited}, its randomised election timeout (base {et})"),
                        }
                    };
                    if pre {
                        format!("{name} started a pre-vote for term {term}: {why}")
                    } else {
                        format!("{name} started an election in term {term}: {why}")
                    }
                }
                RaftEvent::BecameLeader { term, votes } => {
                    let p = self.hosts[host.index()].etcd.as_ref().expect("running");
                    let member = p.server.id();
                    self.outcome.leader_history.push(LeaderTerm { at: self.now, host, member, term });
                    let now = self.now;
                    self.checker.on_leader(now, member, term, &p.server.raft.log);
                    self.check_log_matching();
                    format!("{name} became leader of term {term} with {votes} vote(s)")
                }
                RaftEvent::SteppedDownNoQuorum { term, active, quorum } => format!(
                    "{name} stepped down as leader of term {term}: CheckQuorum heard from only {active} of the {quorum} members it needs"
                ),
                RaftEvent::TermRaised { from, old, new, msg } => {
                    let from_name = self.member_name(from);
                    format!("{name} moved from term {old} to {new}: {msg} from {from_name} carried a higher term")
                }
                RaftEvent::LostElection { pre, term } => {
                    format!("{name} lost the {} for term {term}", if pre { "pre-vote" } else { "election" })
                }
                RaftEvent::LeaderTransferStarted { to } => {
                    format!("{name} started handing leadership to {}", self.member_name(to))
                }
                RaftEvent::LeaderTransferAborted { to } => {
                    format!("{name} gave up handing leadership to {}", self.member_name(to))
                }
            };
            self.note(EventKind::Etcd, Some(host), text);
        }
        self.track_etcd_leaders();
    }

    /// Opens or closes a window in which more than one running member believes it
    /// leads (an old leader cut off from the majority keeps believing it until its
    /// CheckQuorum steps it down; it can no longer commit, but can still serve
    /// serializable reads).
    pub(super) fn track_etcd_leaders(&mut self) {
        // A frozen (SIGSTOP, paused VM) leader acts on nothing; it counts again once it
        // resumes and still believes it leads.
        let leaders: Vec<(HostId, Term)> = self
            .leaders()
            .into_iter()
            .filter(|(h, _)| self.hosts[h.index()].etcd.as_ref().is_some_and(|p| !p.paused))
            .collect();
        if self.replaying_stash {
            return;
        }
        let open = self.outcome.etcd_overlaps.last_mut().filter(|o| o.end.is_none());
        match (leaders.len() > 1, open) {
            (true, None) => {
                let names: Vec<String> =
                    leaders.iter().map(|(h, t)| format!("{} (term {t})", self.hosts[h.index()].name)).collect();
                self.note(
                    EventKind::SplitBrain,
                    None,
                    format!("split brain: {} all believe they lead etcd", names.join(" and ")),
                );
                self.outcome.etcd_overlaps.push(EtcdOverlap { start: self.now, end: None, leaders });
            }
            (false, Some(o)) => o.end = Some(self.now),
            _ => {}
        }
    }

    pub(super) fn host_of(&self, m: MemberId) -> Option<HostId> {
        self.host_of.get(m.0 as usize).copied().flatten()
    }

    pub(super) fn member_name(&self, m: MemberId) -> String {
        self.host_of(m).map_or_else(|| m.to_string(), |h| self.hosts[h.index()].name.clone())
    }

    /// Processes a member's Ready unless its loop is blocked on an fsync or frozen.
    pub(super) fn drive(&mut self, host: HostId) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if p.paused || p.writing.is_some() {
            return;
        }
        if p.server.has_apply_work() {
            self.apply_ready(host);
        } else if p.server.snapshot_due() {
            // A snapshot restore moves the applied index without anything to apply.
            self.maybe_snapshot(host);
        }
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        // Asked before the batch is taken, so that the usual step, with nothing to
        // persist, never builds (and drops) an empty one.
        let write_due = p.server.raft.write_due();
        if !write_due && p.server.raft.msgs.is_empty() {
            // Nothing to persist or send (a leader taking in a heartbeat answer).
            return;
        }
        let mut msgs = std::mem::take(&mut self.outbox);
        std::mem::swap(&mut msgs, &mut p.server.raft.msgs);
        if write_due {
            let batch = p.server.raft.take_write().expect("a write is due");
            let leader = p.server.raft.is_leader();
            p.writing = Some(batch);
            let inc = p.incarnation;
            if leader {
                self.send_all(host, &mut msgs);
            } else {
                p.held.append(&mut msgs);
            }
            let done = self.hosts[host.index()].disk.fsync(now);
            self.outcome.stats.fsyncs += 1;
            self.queue.push(done, Event::DiskDone(host, inc));
        } else {
            self.send_all(host, &mut msgs);
        }
        put_back(&mut self.outbox, msgs);
    }

    /// The apply half of a Ready: hands committed entries to the checker and the
    /// lease model, compacts after a snapshot, and answers the clients it finished.
    fn apply_ready(&mut self, host: HostId) {
        let now = self.now;
        let p = self.hosts[host.index()].etcd.as_mut().expect("caller checked");
        let mut applied = std::mem::take(&mut self.applied_buf);
        let mut committed = std::mem::take(&mut self.committed_buf);
        p.server.apply(now, &mut committed, &mut applied);
        let member = p.server.id();
        let control_plane = self.spec.control_plane.is_some();
        for (i, e) in committed.drain(..) {
            self.checker.on_apply(now, member, i, &e);
            if control_plane {
                self.apply_lease_writes(i, &e);
            }
        }
        put_back(&mut self.committed_buf, committed);
        if self.hosts[host.index()].etcd.as_ref().is_some_and(|p| p.server.snapshot_due()) {
            self.maybe_snapshot(host);
        }
        for a in applied.drain(..) {
            self.on_applied(host, a);
        }
        put_back(&mut self.applied_buf, applied);
    }

    /// Takes a snapshot once enough entries were applied since the last one, and
    /// compacts the durable log to it. Callers test `snapshot_due` first, which keeps
    /// this call off the path of nearly every Ready.
    fn maybe_snapshot(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        let p = h.etcd.as_mut().expect("running");
        if let Some(snap) = p.server.maybe_snapshot()
            && let Some(d) = h.data.as_mut()
        {
            d.compact(&snap);
        }
    }

    pub(super) fn complete_write(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        let p = h.etcd.as_mut().expect("caller checked");
        let batch = p.writing.take().expect("a write was in flight");
        h.data.get_or_insert_with(DurableState::default).apply(&batch);
        p.server.raft.on_persisted(&batch);
        p.server.raft.recycle_write(batch);
        if std::mem::take(&mut p.tick_pending) {
            p.server.raft.tick();
        }
        // A leader sent its messages before its fsync: it holds none.
        if !p.held.is_empty() {
            let mut held = std::mem::take(&mut self.outbox);
            std::mem::swap(&mut held, &mut p.held);
            self.send_all(host, &mut held);
            put_back(&mut self.outbox, held);
        }
        self.after_step(host);
    }

    /// Sends and empties `msgs` (keeping its capacity for reuse), in order. Reversed
    /// and popped from the end rather than drained: most Readies send one or two
    /// messages, and a drain's setup and drop cost more than the messages' moves.
    pub(super) fn send_all(&mut self, from_host: HostId, msgs: &mut Vec<Message>) {
        msgs.reverse();
        while let Some(m) = msgs.pop() {
            self.send(from_host, m);
        }
    }

    pub(super) fn send(&mut self, from_host: HostId, msg: Message) {
        self.outcome.stats.messages_sent += 1;
        let sender_knows_removed =
            self.hosts[from_host.index()].etcd.as_ref().is_some_and(|p| p.server.knows_removed(msg.to));
        let target = self.host_of(msg.to).filter(|_| !sender_knows_removed);
        let Some(to_host) = target else {
            self.outcome.stats.messages_dropped += 1;
            return;
        };
        let to_inc = self.hosts[to_host.index()].incarnation;
        let target_down = self.hosts[to_host.index()].etcd.is_none();
        // Peer TLS: each side checks the other's etcd peer certificate on its own clock.
        let tls_refused = self.certs_checked()
            && !(self.cert_valid(from_host, CertKind::EtcdPeer, to_host)
                && self.cert_valid(to_host, CertKind::EtcdPeer, from_host));
        let delivery =
            if tls_refused { Delivery::Unreachable } else { self.network.send(self.now, from_host, to_host) };
        match delivery {
            Delivery::At(at) if !target_down => {
                let slot = match self.free_slots.pop() {
                    Some(s) => s,
                    None => {
                        self.in_flight.push(None);
                        (self.in_flight.len() - 1) as u32
                    }
                };
                self.in_flight[slot as usize] = Some(InFlight { from_host, to_host, to_incarnation: to_inc, msg });
                self.queue.push(at, Event::Deliver(slot));
            }
            outcome => {
                self.outcome.stats.messages_dropped += 1;
                // The transport notices a broken stream (or a dead peer) and tells raft.
                let unreachable = outcome == Delivery::Unreachable || target_down;
                if let Some(p) = self.hosts[from_host.index()].etcd.as_mut() {
                    if matches!(msg.body, Body::Snapshot { .. }) {
                        p.server.raft.report_snapshot_failed(msg.to);
                    } else if unreachable {
                        p.server.raft.report_unreachable(msg.to);
                    }
                }
            }
        }
    }

    pub(super) fn on_applied(&mut self, host: HostId, a: Applied) {
        match a {
            Applied::WriteDone(w, index) => {
                if self.pending.contains_key(&w.0) {
                    // etcd acknowledges the write now, whoever it answers to.
                    self.checker.on_ack(self.now, w, index);
                    self.member_reply(w.0, Ok(index));
                }
            }
            Applied::ReadDone(r, index) => self.member_reply(r.0, Ok(index)),
            Applied::WriteFailed(w, e) => self.member_reply(w.0, Err(e.into())),
            Applied::ReadFailed(r, e) => self.member_reply(r.0, Err(e.into())),
            Applied::Conf(cc, index) => {
                if index <= self.conf_acted {
                    return;
                }
                self.conf_acted = index;
                self.act_on_conf_change(host, cc);
            }
        }
    }

    /// The world's side of a membership change, once the cluster committed it: start
    /// an added member's etcd, stop a removed one.
    pub(super) fn act_on_conf_change(&mut self, via: HostId, cc: ConfChange) {
        let via_name = self.hosts[via.index()].name.clone();
        match cc {
            ConfChange::AddVoter(m) | ConfChange::AddLearner(m) => {
                let Some(host) = self.host_of(m) else { return };
                let learner = matches!(cc, ConfChange::AddLearner(_));
                let kind = if learner { "learner" } else { "voter" };
                let promoted = !learner && self.learners.remove(&m);
                if learner {
                    self.learners.insert(m);
                }
                let text = if promoted {
                    format!(
                        "{} was promoted to voter (committed, seen first by {via_name})",
                        self.hosts[host.index()].name
                    )
                } else {
                    format!(
                        "{} joined as a new {kind} ({m}); etcd starts there with an empty data directory",
                        self.hosts[host.index()].name
                    )
                };
                self.note(EventKind::Membership, Some(host), text);
                if !promoted {
                    // The operator starts etcd on the new member's host.
                    self.hosts[host.index()].up = true;
                    self.hosts[host.index()].down_since = None;
                    self.start_etcd(host);
                }
            }
            ConfChange::Remove(m) => {
                // A removed learner stays in the learner set: its etcd runs on for a
                // second, still a non-voting member as far as its frames go.
                self.removed.insert(m);
                let Some(host) = self.host_of(m) else { return };
                let text = format!(
                    "{} ({m}) was removed from the cluster; its etcd stops in 1s (\"the member has been permanently removed\")",
                    self.hosts[host.index()].name
                );
                self.note(EventKind::Membership, Some(host), text);
                if let Some(p) = self.hosts[host.index()].etcd.as_ref().filter(|p| p.server.id() == m) {
                    let inc = p.incarnation;
                    self.queue.push(self.now + SimDuration::from_secs(1), Event::StopProcess(host, inc));
                }
            }
        }
    }
}

/// Returns a reusable buffer to the field `std::mem::take` emptied. The field then
/// holds a fresh `Vec::new()`, which owns no memory: it is forgotten rather than
/// dropped, sparing the hot event loop an outlined drop call per Ready (a buffer put
/// there meanwhile is dropped as usual).
fn put_back<T>(field: &mut Vec<T>, buffer: Vec<T>) {
    let left = std::mem::replace(field, buffer);
    if left.capacity() == 0 {
        std::mem::forget(left);
    }
}
