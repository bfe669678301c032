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
        let Some(req) = self.pending.get(&id) else { return };
        let (host, kind) = (req.host, req.kind);
        let Some(p) = self.hosts[host.index()].etcd.as_mut().filter(|p| !p.clients_closed) else {
            // No process, or one that is stopping and has closed its client listeners:
            // the connection is refused.
            self.member_reply(id, Err(RequestError::Unavailable));
            return;
        };
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

    /// The member answers request `id`. A direct client gets the answer at once; an
    /// apiserver gets it over the network (lost if the path is cut: its deadline ends
    /// the call then).
    pub(super) fn member_reply(&mut self, id: u64, result: Result<LogIndex, RequestError>) {
        let Some(req) = self.pending.get(&id) else { return };
        let Some(origin) = req.origin else {
            self.finish_request(id, result);
            return;
        };
        let apiserver = match origin {
            Origin::Api { apiserver, .. } | Origin::Check { apiserver } | Origin::Lease { apiserver, .. } => apiserver,
        };
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

    pub(super) fn on_deadline(&mut self, id: u64) {
        let Some(req) = self.pending.get_mut(&id) else { return };
        if std::mem::take(&mut req.lost) {
            // No server timed it out: the apiserver's handler ends it (`call_lost`).
            let handler = match req.kind {
                RequestKind::Write => control_plane::MUTATING_HANDLER_TIMEOUT,
                _ => control_plane::REQUEST_TIMEOUT,
            };
            // What it gets then is its own context's deadline, whatever etcd's leader.
            req.lead_at_issue = None;
            let issued = self.outcome.requests[req.record].issued;
            self.queue.push(issued + handler, Event::Deadline(id));
            // No member saw it, so it never commits: a lease write is not waited for.
            self.leases.never_committed(id);
            return;
        }
        let req = &self.pending[&id];
        let current = self.hosts[req.host.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
        let err = match (req.lead_at_issue, current) {
            (None, _) => RequestError::DeadlineExceeded,
            (Some(a), Some(b)) if a == b => RequestError::TimedOut,
            _ => RequestError::TimedOutLeaderFail,
        };
        let host = req.host;
        self.finish_request(id, Err(err));
        // The client gave up: etcd abandons a write still waiting for a leader, which
        // then never commits.
        if let Some(p) = self.hosts[host.index()].etcd.as_mut()
            && p.server.forget(WriteId(id))
        {
            self.leases.never_committed(id);
        }
    }
}
