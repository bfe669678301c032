//! Client requests against the etcd members: the built-in workload, delivery to a
//! member, completion and client-side deadlines.

use super::*;

impl Simulation {
    // ------------------------------------------------------------------- clients

    pub(super) fn on_workload(&mut self, kind: RequestKind) {
        let w = self.spec.workload;
        let rate = match kind {
            RequestKind::Write => w.writes_per_sec,
            RequestKind::LinearizableRead => w.linearizable_reads_per_sec,
            RequestKind::SerializableRead => w.serializable_reads_per_sec,
        };
        let period = 1_000_000 / u64::from(rate.max(1));
        self.queue.push(self.now + SimDuration(period), Event::Workload(kind));
        let is_member = |h: &Host| h.member.is_some_and(|m| !self.removed.contains(&m));
        let count = self.hosts.iter().filter(|h| is_member(h)).count();
        if count == 0 {
            return;
        }
        let rr = &mut self.workload_rr[kind as usize];
        *rr = (*rr + 1) % count;
        let nth = *rr;
        let target =
            self.hosts.iter().enumerate().filter(|(_, h)| is_member(h)).nth(nth).map(|(i, _)| HostId(i as u32));
        if let Some(target) = target {
            self.request(target, kind);
        }
    }

    pub(super) fn deliver_request(&mut self, id: u64) {
        let Some(req) = self.pending.get_mut(&id) else { return };
        let (host, kind) = (req.host, req.kind);
        let Some(p) = self.hosts[host.index()].etcd.as_mut().filter(|p| !p.clients_closed) else {
            self.call_not_taken(id);
            return;
        };
        req.received_by = Some(p.incarnation);
        if p.paused {
            p.stash.push(Stashed::Request(id));
            return;
        }
        match kind {
            RequestKind::Write => {
                let mut out = Vec::new();
                p.server.propose_write(WriteId(id), &mut out);
                for a in out {
                    self.on_applied(host, a);
                }
            }
            RequestKind::LinearizableRead => p.server.read_linearizable(ReadId(id), self.now),
            RequestKind::SerializableRead => {
                let applied = p.server.raft.log.applied;
                self.member_reply(id, Ok(applied));
                return;
            }
        }
        self.after_step(host);
    }

    /// Call `id` reached a member host whose etcd does not take it: no process, or one
    /// that is stopping and has closed its client listeners. A direct client's call is
    /// refused. An apiserver's goes back to waiting for a ready channel in its etcd
    /// client, as gRPC retries a call the server never processed: one that met a
    /// stopping server's GOAWAY, and, through clientv3's retry of reads, a read the
    /// process's death reset; a write the reset cut fails (EOF). On a host that lost
    /// power nothing answers at all.
    fn call_not_taken(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let apiserver = match req.origin {
            Some(Origin::Api { apiserver, .. } | Origin::Lease { apiserver, .. } | Origin::Check { apiserver }) => {
                apiserver
            }
            None => {
                self.member_reply(id, Err(RequestError::Unavailable));
                return;
            }
        };
        let host = req.host;
        if !self.hosts[host.index()].up {
            self.call_lost(id);
            return;
        }
        let closing = self.hosts[host.index()].etcd.is_some();
        if !closing && req.kind == RequestKind::Write {
            self.member_reply(id, Err(RequestError::ConnectionClosed));
            return;
        }
        self.wait_for_a_channel(id, apiserver);
    }

    /// Call `id` goes back to waiting in the etcd client of the apiserver on
    /// `apiserver` for a ready channel (`ApiServerProc::parked`); with that apiserver
    /// gone, its handler's cap ends it.
    fn wait_for_a_channel(&mut self, id: u64, apiserver: HostId) {
        if let Some(req) = self.pending.get_mut(&id) {
            req.parked = true;
            req.received_by = None;
        }
        if let Some(api) = self.hosts[apiserver.index()].apiserver.as_mut() {
            api.parked.push(id);
            self.wake_when_a_channel_is_ready(apiserver);
        }
    }

    /// The member answers request `id`. A direct client gets the answer at once; an
    /// apiserver gets it over the network (lost if the path is cut: the apiserver
    /// handler's cap ends the call then, `on_deadline`).
    pub(super) fn member_reply(&mut self, id: u64, result: Result<LogIndex, RequestError>) {
        let Some(req) = self.pending.get_mut(&id) else { return };
        let Some(origin) = req.origin else {
            self.finish_request(id, result);
            return;
        };
        let apiserver = match origin {
            Origin::Api { apiserver, .. } | Origin::Check { apiserver } | Origin::Lease { apiserver, .. } => apiserver,
        };
        req.answered = true;
        if let Delivery::At(at) = self.network.send(self.now, req.host, apiserver) {
            self.queue.push(at, Event::EtcdCallReply(id, result));
        }
    }

    /// Returns true if the request was still waiting (and is now finished).
    pub(super) fn finish_request(&mut self, id: u64, result: Result<LogIndex, RequestError>) -> bool {
        let Some(req) = self.pending.remove(&id) else { return false };
        if let Some(origin) = req.origin {
            self.on_etcd_result(id, origin, req.host, result);
        }
        let rec = &mut self.outcome.requests[req.record];
        rec.finished = Some(self.now);
        rec.result = Some(result);
        self.outcome.stats.count_answer(req.kind, result.is_ok());
        true
    }

    /// etcd's request timeout of call `id` (7 s, counted from the call's issue in
    /// `LANE_ETCD_DEADLINE`, or from when the member took it in late). For a direct
    /// client or an apiserver's readiness check it ends the call. An apiserver's other
    /// calls end there only if the member can run that timer: one frozen runs it when
    /// it resumes; none does once the process that took the call in is gone or has
    /// answered (the network lost the answer), for a powered-off host, for a call none
    /// saw, or for one still waiting for a ready channel. The apiserver's handler ends
    /// such a call at its cap (`on_handler_cap`) unless a member answers first.
    pub(super) fn on_deadline(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let host = req.host;
        let from_apiserver = matches!(req.origin, Some(Origin::Api { .. } | Origin::Lease { .. }));
        if req.parked {
            // Still waiting for a ready channel: no member has it. The readiness check's
            // call ends with its own context's deadline, long past.
            if from_apiserver {
                self.cap_at_handler(id);
            } else {
                self.finish_request(id, Err(RequestError::DeadlineExceeded));
            }
            return;
        }
        let process = self.hosts[host.index()].etcd.as_ref();
        let frozen = process.is_some_and(|p| p.paused);
        // The process that took the call in is gone (its host lost power, or it was
        // replaced): none will time it out.
        let taker_gone = req.received_by.is_some_and(|inc| process.is_none_or(|p| p.incarnation != inc));
        // An answer the network lost is not sent again either.
        let unanswerable = req.lost || taker_gone || req.answered || !self.hosts[host.index()].up;
        if from_apiserver && (unanswerable || frozen) {
            if frozen && !unanswerable {
                let p = self.hosts[host.index()].etcd.as_mut().expect("checked above");
                p.stash.push(Stashed::Deadline(id));
            }
            let req = self.pending.get_mut(&id).expect("checked above");
            if std::mem::take(&mut req.lost) {
                // No member saw it, so it never commits: a lease write is not waited for.
                self.leases.never_committed(id);
            }
            self.cap_at_handler(id);
            return;
        }
        // A frozen member took the call in only when it resumed: its timer started then.
        if let Some(t) = req.taken_late
            && t + self.spec.etcd.request_timeout() > self.now
        {
            self.queue.push(t + self.spec.etcd.request_timeout(), Event::Deadline(id));
            return;
        }
        self.server_timeout(id);
    }

    /// Sets the apiserver handler's cap for call `id` (once): 34 s after the call for a
    /// write, `--request-timeout` 60 s otherwise.
    fn cap_at_handler(&mut self, id: u64) {
        let Some(req) = self.pending.get_mut(&id) else { return };
        if std::mem::replace(&mut req.at_handler_cap, true) {
            return;
        }
        let handler = match req.kind {
            RequestKind::Write => control_plane::MUTATING_HANDLER_TIMEOUT,
            _ => control_plane::REQUEST_TIMEOUT,
        };
        let issued = self.outcome.requests[req.record].issued;
        // The deadline that got here may have waited in a frozen apiserver past the cap.
        self.queue.push((issued + handler).max(self.now), Event::HandlerCap(id));
    }

    /// The apiserver's handler gave up on call `id`: what it gets is its own context's
    /// deadline, whatever etcd's leader.
    pub(super) fn on_handler_cap(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let host = req.host;
        self.finish_request(id, Err(RequestError::DeadlineExceeded));
        self.forget_abandoned_write(id, host);
    }

    /// etcd's request timeout ran out in the member that has call `id` (at once, or
    /// when it resumed from a freeze): it answers that it timed out, with etcd's words
    /// for why.
    pub(super) fn server_timeout(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let current = self.hosts[req.host.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
        let err = match (req.lead_at_issue, current) {
            (None, _) => RequestError::DeadlineExceeded,
            (Some(a), Some(b)) if a == b => RequestError::TimedOut,
            _ => RequestError::TimedOutLeaderFail,
        };
        let host = req.host;
        self.finish_request(id, Err(err));
        self.forget_abandoned_write(id, host);
    }

    /// The client gave up on call `id` to the member on `host`: etcd abandons a write
    /// still waiting for a leader, which then never commits.
    fn forget_abandoned_write(&mut self, id: u64, host: HostId) {
        if let Some(p) = self.hosts[host.index()].etcd.as_mut()
            && p.server.forget(WriteId(id))
        {
            self.leases.never_committed(id);
        }
    }

    /// The etcd process on `host` is gone while the host runs on (killed, crashed, or
    /// stopped): the calls it had taken in get their answer now, over the network,
    /// instead of waiting for a timer in a process that no longer exists. A process
    /// that dies has its kernel reset the connections (`ConnectionClosed`); one that
    /// stops answers the calls it still had with "server stopped". A write among them
    /// may already be in the log, so it may still commit. Both errors are gRPC's
    /// Unavailable, on which clientv3 retries a read: an apiserver's read goes back to
    /// waiting for a ready channel instead.
    pub(super) fn answer_calls_of_gone_member(&mut self, host: HostId, incarnation: u32, error: RequestError) {
        let taken: Vec<(u64, RequestKind, Option<Origin>)> = (self.pending.iter())
            .filter(|(_, r)| r.host == host && r.received_by == Some(incarnation))
            .map(|(id, r)| (id, r.kind, r.origin))
            .collect();
        for (id, kind, origin) in taken {
            match origin {
                Some(Origin::Api { apiserver, .. } | Origin::Lease { apiserver, .. } | Origin::Check { apiserver })
                    if kind != RequestKind::Write =>
                {
                    self.wait_for_a_channel(id, apiserver)
                }
                _ => self.member_reply(id, Err(error)),
            }
        }
    }
}
