//! Applying faults: resolving role targets when a fault fires, process and host
//! faults, network faults, disk faults and etcd membership commands.

use super::*;
use crate::fault::Process;
use leases::component_of;

/// How a verifier's clock sees some of a host's certificates.
#[derive(Clone)]
struct Verdict {
    /// The longest true time until the verifier's clock reaches a notBefore it is
    /// still short of (at the clock's current rate).
    not_yet_valid_for: Option<SimDuration>,
    /// Some certificate is past its notAfter on that clock.
    expired: bool,
    /// The holder, with the certificates named unless all it presents are refused.
    whose: String,
}

impl Verdict {
    /// "expired", "not yet valid (their notBefore is another 2m40.000s away)", or both,
    /// over several verdicts.
    fn describe<'a>(all: impl Iterator<Item = &'a Verdict>) -> String {
        let (mut longest, mut expired) = (None, false);
        for v in all {
            longest = longest.max(v.not_yet_valid_for);
            expired |= v.expired;
        }
        match (longest, expired) {
            (Some(d), false) => format!("not yet valid (their notBefore is another {d} away)"),
            (Some(d), true) => format!("expired or not yet valid (a notBefore is another {d} away)"),
            (None, _) => "expired".to_string(),
        }
    }
}

/// What made `note_certificates_refused` look.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CertChange {
    /// The host's clock moved: what it refuses changed, and who refuses it.
    ClockMoved,
    /// The host has new certificates: who refuses them.
    Renewed,
}

impl Simulation {
    // -------------------------------------------------------------------- faults

    /// Both ends of a one-way cut or a link are roles (or a role and a name) that one
    /// host holds right now: there is no link to change.
    fn skip_self_link(&mut self, host: HostId) {
        let text = format!("fault skipped: both ends are {} right now", self.hosts[host.index()].name);
        self.note(EventKind::Fault, Some(host), text);
    }

    pub(super) fn resolve(&mut self, t: Target) -> Option<HostId> {
        match t {
            Target::Host(h) => (h.index() < self.hosts.len()).then_some(h),
            Target::EtcdLeader => self.leader().map(|(h, _, _)| h),
            Target::SchedulerLeader => self.component_leader(Component::Scheduler),
            Target::ControllerManagerLeader => self.component_leader(Component::ControllerManager),
            Target::LbActive => {
                let lb = if self.cp().is_some_and(|c| c.vip.is_some()) { self.vip_holder } else { Some(0) };
                lb.and_then(|i| self.lbs.get(i as usize)).map(|l| l.host)
            }
            Target::EtcdFollower => {
                let followers: Vec<HostId> = self
                    .running()
                    .filter(|(_, s)| s.raft.role != Role::Leader && s.raft.config.voters.contains(&s.id()))
                    .map(|(h, _)| h)
                    .collect();
                if followers.is_empty() {
                    None
                } else {
                    let k = self.fault_rng.below(followers.len() as u64) as usize;
                    Some(followers[k])
                }
            }
        }
    }

    pub(super) fn resolve_all(&mut self, ts: &[Target]) -> Vec<HostId> {
        ts.iter().filter_map(|&t| self.resolve(t)).collect()
    }

    pub(super) fn describe_target(t: Target) -> &'static str {
        match t {
            Target::Host(_) => "host",
            Target::EtcdLeader => "etcd leader",
            Target::EtcdFollower => "etcd follower",
            Target::SchedulerLeader => "kube-scheduler leader",
            Target::ControllerManagerLeader => "kube-controller-manager leader",
            Target::LbActive => "active load balancer",
        }
    }

    pub(super) fn apply_fault(&mut self, fault: Fault) {
        match fault {
            Fault::For { fault: inner, lasts } => {
                if let Some(undo) = self.apply_one(*inner) {
                    self.schedule(self.now + lasts, undo);
                }
            }
            other => {
                self.apply_one(other);
            }
        }
    }

    /// The undo of a fault whose undo needs nothing but the host it hit: a restart, a
    /// resume, a start, a step back. Faults that replace a setting or cut links build
    /// theirs as they apply (see `Fault::can_be_undone`).
    fn undo_on_host(fault: &Fault, host: Option<HostId>) -> Option<Fault> {
        let on = Target::Host(host?);
        Some(match *fault {
            Fault::Crash(_) | Fault::Stop(_) => Fault::Restart(on),
            Fault::Pause(_) => Fault::Resume(on),
            Fault::PauseHost(_) => Fault::ResumeHost(on),
            Fault::Kill { process, .. } | Fault::StopProcess { process, .. } => Fault::Start { target: on, process },
            Fault::PauseProcess { process, .. } => Fault::ResumeProcess { target: on, process },
            Fault::ClockStep { offset_us, .. } => Fault::ClockStep { target: on, offset_us: -offset_us },
            _ => return None,
        })
    }

    /// Applies one fault; returns what would undo it (aimed at the host it hit), or None
    /// when it has no undo or was skipped because its role target did not exist (or
    /// both ends of a link were one host).
    fn apply_one(&mut self, fault: Fault) -> Option<Fault> {
        let single = |f: &Fault| match f {
            Fault::Crash(t)
            | Fault::Restart(t)
            | Fault::Stop(t)
            | Fault::Wipe(t)
            | Fault::Pause(t)
            | Fault::Resume(t)
            | Fault::PauseHost(t)
            | Fault::ResumeHost(t)
            | Fault::Isolate(t)
            | Fault::RemoveMember(t)
            | Fault::PromoteLearner(t)
            | Fault::SlowDisk { target: t, .. }
            | Fault::Kill { target: t, .. }
            | Fault::Start { target: t, .. }
            | Fault::StopProcess { target: t, .. }
            | Fault::PauseProcess { target: t, .. }
            | Fault::ResumeProcess { target: t, .. }
            | Fault::ClockStep { target: t, .. }
            | Fault::ClockRate { target: t, .. }
            | Fault::ExpireCert { target: t, .. }
            | Fault::RenewCerts(t) => Some(*t),
            _ => None,
        };
        let host = match single(&fault) {
            Some(t) => match self.resolve(t) {
                Some(h) => Some(h),
                None => {
                    self.note(
                        EventKind::Fault,
                        None,
                        format!("fault {fault:?} skipped: there is no {} right now", Self::describe_target(t)),
                    );
                    return None;
                }
            },
            None => None,
        };
        let label = self.fault_label(&fault, host);
        self.applied_faults.push((self.now, label));
        let mut undo = Self::undo_on_host(&fault, host);
        let name = host.map(|h| self.hosts[h.index()].name.clone()).unwrap_or_default();
        match fault {
            Fault::Kill { process, .. } => {
                let h = host.expect("single target");
                match process {
                    Process::Etcd => {
                        let text = if self.hosts[h.index()].etcd.is_some() {
                            self.crash_process(h);
                            let when = self.kubelet_restarts_etcd(h);
                            format!("fault: etcd on {name} killed; the kubelet starts its static pod again: {when}")
                        } else {
                            format!("fault: kill etcd on {name}: it is not running")
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                    Process::Apiserver => {
                        let text = if self.hosts[h.index()].apiserver.is_some() {
                            self.stop_apiserver(h, true);
                            let exited = self.hosts[h.index()].incarnation_api;
                            let when = self.kubelet_restarts_apiserver(h, exited);
                            format!(
                                "fault: kube-apiserver on {name} killed; the kubelet starts its static pod again: {when}"
                            )
                        } else {
                            format!("fault: kill kube-apiserver on {name}: it is not running")
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                    Process::Scheduler | Process::ControllerManager => {
                        let c = component_of(process);
                        let text = match self.kill_component(h, c) {
                            Some(when) => format!(
                                "fault: {} on {name} killed; the kubelet starts its static pod again: {when}",
                                c.name()
                            ),
                            None => format!("fault: kill {} on {name}: it is not running", c.name()),
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                    Process::LoadBalancer => {
                        let proxy = self.proxy_name();
                        let text = if self.stop_proxy(h) {
                            format!(
                                "fault: {proxy} on {name} killed: the kernel resets its connections and refuses new ones; it is a systemd service, not a static pod, so it stays down until started"
                            )
                        } else {
                            format!("fault: kill {proxy} on {name}: it is not running")
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                }
            }
            Fault::StopProcess { process, .. } => {
                let h = host.expect("single target");
                match process {
                    Process::Scheduler | Process::ControllerManager => self.stop_component(h, component_of(process)),
                    Process::Etcd => self.graceful_stop(h),
                    Process::Apiserver => {
                        self.note(EventKind::Fault, Some(h), format!("fault: kube-apiserver on {name} stopped"));
                        self.stop_apiserver(h, false);
                    }
                    Process::LoadBalancer => {
                        let proxy = self.proxy_name();
                        let text = if self.stop_proxy(h) {
                            format!(
                                "fault: {proxy} on {name} stopped (systemctl stop sends SIGTERM, a hard stop): its connections are reset and new ones refused"
                            )
                        } else {
                            format!("fault: stop {proxy} on {name}: it is not running")
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                }
            }
            Fault::PauseProcess { process, .. } | Fault::ResumeProcess { process, .. } => {
                let h = host.expect("single target");
                let pause = matches!(fault, Fault::PauseProcess { .. });
                let verb = if pause { "frozen (SIGSTOP)" } else { "resumed (SIGCONT)" };
                match process {
                    Process::Scheduler | Process::ControllerManager => {
                        let c = component_of(process);
                        self.note(EventKind::Fault, Some(h), format!("fault: {} on {name} {verb}", c.name()));
                        self.pause_component(h, c, pause);
                        if pause {
                            self.probes_go_unanswered(h, process);
                        }
                    }
                    Process::LoadBalancer => {
                        let proxy = self.proxy_name();
                        let text = match (self.freeze_proxy(h, pause), pause) {
                            (true, true) => format!(
                                "fault: {proxy} on {name} frozen (SIGSTOP): the kernel still accepts connections on its port, and nothing is relayed or checked until it resumes"
                            ),
                            (true, false) => format!("fault: {proxy} on {name} resumed (SIGCONT)"),
                            (false, true) => format!("fault: freeze {proxy} on {name}: it is not running"),
                            (false, false) => format!("fault: resume {proxy} on {name}: it is not frozen"),
                        };
                        self.note(EventKind::Fault, Some(h), text);
                    }
                    Process::Etcd if pause => self.pause_etcd(h),
                    Process::Etcd => self.resume(h),
                    Process::Apiserver => {
                        self.note(EventKind::Fault, Some(h), format!("fault: kube-apiserver on {name} {verb}"));
                        if let Some(api) = self.hosts[h.index()].apiserver.as_mut() {
                            api.paused = pause;
                        }
                        self.update_holding();
                        if !pause {
                            self.release_held(h);
                            self.answer_waiting_probe(h);
                            self.send_parked_calls(h);
                        }
                    }
                }
            }
            Fault::ExpireCert { cert, .. } => {
                let h = host.expect("single target");
                let local = self.hosts[h.index()].clock.local(self.now);
                let mut c = self.hosts[h.index()].certs.get(cert);
                c.not_after = crate::model::clock::LocalTime(local.0 - 1);
                self.hosts[h.index()].certs.set(cert, c);
                self.check_certs_from_now();
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: the {} certificate of {name} has expired", cert.name()),
                );
            }
            Fault::RenewCerts(_) => {
                let h = host.expect("single target");
                let local = self.hosts[h.index()].clock.local(self.now);
                self.hosts[h.index()].certs.renew_all(local, crate::model::certs::LEAF_VALIDITY);
                // A renewal on a clock that runs ahead can sign certificates the others
                // do not accept yet.
                self.check_certs_from_now();
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: kubeadm certs renew on {name}; its static pods restart"),
                );
                self.note_certificates_refused(h, CertChange::Renewed);
                self.restart_static_pods(h);
            }
            Fault::ClockStep { offset_us, .. } => {
                let h = host.expect("single target");
                let now = self.now;
                self.hosts[h.index()].clock.step(now, offset_us);
                self.check_certs_from_now();
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: the clock of {name} jumps by {:+.3}s", offset_us as f64 / 1e6),
                );
                self.note_certificates_refused(h, CertChange::ClockMoved);
            }
            Fault::ClockRate { rate_ppm, .. } => {
                let h = host.expect("single target");
                let now = self.now;
                let before = self.hosts[h.index()].clock.rate_ppm();
                undo = Some(Fault::ClockRate { target: Target::Host(h), rate_ppm: before });
                self.hosts[h.index()].clock.set_rate(now, rate_ppm);
                self.check_certs_from_now();
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: the clock of {name} now runs at {:.3}× true speed", rate_ppm as f64 / 1e6),
                );
            }
            Fault::Start { process, .. } => {
                let h = host.expect("single target");
                if !self.hosts[h.index()].up {
                    return undo;
                }
                match process {
                    Process::Etcd => self.start_etcd(h),
                    Process::Apiserver => self.start_apiserver(h),
                    Process::Scheduler | Process::ControllerManager => self.start_component(h, component_of(process)),
                    Process::LoadBalancer => {
                        let proxy = self.proxy_name();
                        let text = if self.start_proxy(h) {
                            let fresh = if proxy == "HAProxy" {
                                ": it counts every server UP until its first check of it fails"
                            } else {
                                ""
                            };
                            format!("fault: {proxy} started on {name}{fresh}")
                        } else {
                            format!("fault: start {proxy} on {name}: it is already running")
                        };
                        self.note(EventKind::Fault, Some(h), text);
                        return undo;
                    }
                }
                self.note(EventKind::Fault, Some(h), format!("fault: {process:?} started on {name}"));
            }
            Fault::Crash(_) => {
                let h = host.expect("single target");
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: {name} crashed (power loss; unsynced writes are lost)"),
                );
                self.power_off(h);
            }
            Fault::Wipe(_) => {
                let h = host.expect("single target");
                self.note(
                    EventKind::Fault,
                    Some(h),
                    format!("fault: {name} crashed and its etcd data directory was erased"),
                );
                self.power_off(h);
                self.hosts[h.index()].data = None;
            }
            Fault::Restart(_) => {
                let h = host.expect("single target");
                let hst = &self.hosts[h.index()];
                let etcd_running = hst.etcd.is_some() || hst.member.is_none();
                let api_running = hst.apiserver.is_some() || !hst.is_control_plane;
                let components_running = !hst.is_control_plane || hst.components.procs.iter().all(|p| p.is_some());
                if hst.up && etcd_running && api_running && components_running {
                    return undo;
                }
                let removed = hst.member.is_some_and(|m| self.removed.contains(&m));
                let text = if removed {
                    format!("fault: {name} restarted, but its member was removed from the cluster: etcd does not start")
                } else if hst.data.is_none() && hst.member.is_some() {
                    format!(
                        "fault: {name} restarted with an empty data directory; etcd rejoins under its old member id"
                    )
                } else if hst.member.is_some() {
                    format!("fault: {name} restarted; etcd recovers term, vote and log from its data directory")
                } else {
                    format!("fault: {name} restarted")
                };
                self.note(EventKind::Fault, Some(h), text);
                self.hosts[h.index()].up = true;
                self.hosts[h.index()].down_since = None;
                self.start_etcd(h);
                self.start_apiserver(h);
                for c in Component::ALL {
                    self.start_component(h, c);
                }
                if let Some(lb) = self.lb_index_of(h) {
                    self.boot_lb(lb);
                }
            }
            Fault::Stop(_) => self.graceful_stop(host.expect("single target")),
            Fault::Pause(_) => self.pause_etcd(host.expect("single target")),
            Fault::PauseHost(_) => self.freeze_host(host.expect("single target"), true),
            Fault::ResumeHost(_) => self.freeze_host(host.expect("single target"), false),
            Fault::Resume(_) => {
                let h = host.expect("single target");
                self.resume(h);
            }
            Fault::Isolate(_) => {
                let h = host.expect("single target");
                undo = Some(Fault::Reconnect(self.network.isolate(h)));
                self.note(EventKind::Fault, Some(h), format!("fault: {name} isolated from every other host"));
            }
            Fault::Partition(groups) => {
                let resolved: Vec<Vec<HostId>> = groups.iter().map(|g| self.resolve_all(g)).collect();
                undo = Some(Fault::Reconnect(self.network.partition(&resolved)));
                let text = format!("fault: network partitioned into {}", self.describe_groups(&self.network.islands()));
                self.note(EventKind::Fault, None, text);
            }
            Fault::CutOneWay { from, to } => {
                if let (Some(a), Some(b)) = (self.resolve(from), self.resolve(to)) {
                    if a == b {
                        self.skip_self_link(a);
                        return None;
                    }
                    undo = Some(Fault::Reconnect(self.network.cut_one_way(a, b)));
                    let text = format!(
                        "fault: one-way cut: {} can no longer reach {} (the reverse still works)",
                        self.hosts[a.index()].name,
                        self.hosts[b.index()].name
                    );
                    self.note(EventKind::Fault, None, text);
                }
            }
            Fault::Bridge { side_a, side_b } => {
                let a = self.resolve_all(&side_a);
                // A host both sides name right now (through a role) stays on side A.
                let b: Vec<HostId> = self.resolve_all(&side_b).into_iter().filter(|h| !a.contains(h)).collect();
                undo = Some(Fault::Reconnect(self.network.bridge(&a, &b)));
                let text = format!(
                    "fault: bridge partition: {} and {} cannot reach each other; other hosts reach both",
                    self.describe_groups(&[a]),
                    self.describe_groups(&[b])
                );
                self.note(EventKind::Fault, None, text);
            }
            Fault::Heal => {
                self.network.heal();
                self.note(EventKind::Fault, None, "fault: network healed".to_string());
            }
            Fault::Reconnect(cut) => {
                self.network.uncut(&cut);
                let text = if self.network.is_whole() {
                    "fault: network healed".to_string()
                } else {
                    format!(
                        "fault: the links that cut closed are open again, but other cuts remain: {}",
                        self.describe_groups(&self.network.islands())
                    )
                };
                self.note(EventKind::Fault, None, text);
            }
            Fault::RestoreLoss(losses) => {
                let n = self.hosts.len();
                for (slot, &loss_ppm) in losses.iter().enumerate() {
                    let (a, b) = (HostId((slot / n) as u32), HostId((slot % n) as u32));
                    let profile = LinkProfile { loss_ppm, ..self.network.link(a, b) };
                    self.network.set_one_way(a, b, profile);
                }
                self.note(EventKind::Fault, None, "fault: each link loses messages as it did before".to_string());
            }
            Fault::MessageLoss { ppm } => {
                let n = self.hosts.len();
                let before: Vec<u32> = (0..n * n)
                    .map(|slot| self.network.link(HostId((slot / n) as u32), HostId((slot % n) as u32)).loss_ppm)
                    .collect();
                let others = |slot: &usize| slot / n != slot % n;
                let first = (0..n * n).find(others).map_or(0, |s| before[s]);
                undo = Some(if (0..n * n).filter(others).all(|s| before[s] == first) {
                    Fault::MessageLoss { ppm: first }
                } else {
                    Fault::RestoreLoss(before)
                });
                for a in 0..self.hosts.len() {
                    for b in 0..self.hosts.len() {
                        let (a, b) = (HostId(a as u32), HostId(b as u32));
                        let profile = LinkProfile { loss_ppm: ppm, ..self.network.link(a, b) };
                        self.network.set_link(a, b, profile);
                    }
                }
                self.note(
                    EventKind::Fault,
                    None,
                    format!("fault: every link now loses {} of messages", crate::time::percent_of_ppm(ppm)),
                );
            }
            Fault::Link { a, b, profile } => {
                if let (Some(a), Some(b)) = (self.resolve(a), self.resolve(b)) {
                    if a == b {
                        self.skip_self_link(a);
                        return None;
                    }
                    undo =
                        Some(Fault::Link { a: Target::Host(a), b: Target::Host(b), profile: self.network.link(a, b) });
                    self.network.set_link(a, b, profile);
                    let text = format!(
                        "fault: link {}–{} now {profile}",
                        self.hosts[a.index()].name,
                        self.hosts[b.index()].name
                    );
                    self.note(EventKind::Fault, None, text);
                }
            }
            Fault::SlowDisk { profile, .. } => {
                let h = host.expect("single target");
                let before = self.hosts[h.index()].disk.profile;
                undo = Some(Fault::SlowDisk { target: Target::Host(h), profile: before });
                self.hosts[h.index()].disk.profile = profile;
                self.note(EventKind::Fault, Some(h), format!("fault: disk of {name} now takes {profile}"));
            }
            Fault::AddMember { host, learner } => self.add_member(host, learner),
            Fault::RemoveMember(_) => self.member_command(host.expect("single target"), MemberChange::Remove),
            Fault::PromoteLearner(_) => self.member_command(host.expect("single target"), MemberChange::Promote),
            Fault::For { fault, .. } => return self.apply_one(*fault),
        }
        undo
    }

    /// A fault in a few words, with the host it hit ("crash cp-2"), for recovery lines.
    fn fault_label(&self, fault: &Fault, host: Option<HostId>) -> String {
        let name = |t: &Target| match t {
            Target::Host(h) => self.hosts.get(h.index()).map_or_else(|| format!("{h:?}"), |x| x.name.clone()),
            role => Self::describe_target(*role).to_string(),
        };
        let on = host.map(|h| self.hosts[h.index()].name.clone()).unwrap_or_default();
        let group = |g: &[Target]| g.iter().map(name).collect::<Vec<_>>().join(", ");
        let process = |p: &Process| match p {
            Process::Etcd => "etcd",
            Process::Apiserver => "kube-apiserver",
            Process::Scheduler => "kube-scheduler",
            Process::ControllerManager => "kube-controller-manager",
            Process::LoadBalancer => self.proxy_name(),
        };
        match fault {
            Fault::Kill { process: p, .. } => format!("kill {} on {on}", process(p)),
            Fault::Start { process: p, .. } => format!("start {} on {on}", process(p)),
            Fault::StopProcess { process: p, .. } => format!("stop {} on {on}", process(p)),
            Fault::PauseProcess { process: p, .. } => format!("pause {} on {on}", process(p)),
            Fault::ResumeProcess { process: p, .. } => format!("resume {} on {on}", process(p)),
            Fault::ClockStep { offset_us, .. } => format!("step the clock of {on} by {:+.3}s", *offset_us as f64 / 1e6),
            Fault::ClockRate { rate_ppm, .. } => format!("run the clock of {on} at {:.3}×", *rate_ppm as f64 / 1e6),
            Fault::ExpireCert { cert, .. } => format!("expire the {} certificate of {on}", cert.name()),
            Fault::RenewCerts(_) => format!("renew the certificates of {on}"),
            Fault::Crash(_) => format!("crash {on}"),
            Fault::Restart(_) => format!("restart {on}"),
            Fault::Stop(_) => format!("stop etcd on {on} gracefully"),
            Fault::Wipe(_) => format!("crash {on} and wipe its etcd data"),
            Fault::Pause(_) => format!("pause etcd on {on}"),
            Fault::Resume(_) => format!("resume etcd on {on}"),
            Fault::PauseHost(_) => format!("freeze host {on}"),
            Fault::ResumeHost(_) => format!("resume host {on}"),
            Fault::Isolate(_) => format!("isolate {on}"),
            Fault::Partition(groups) => {
                format!(
                    "partition {}",
                    groups.iter().map(|g| format!("[{}]", group(g))).collect::<Vec<_>>().join(" | ")
                )
            }
            Fault::CutOneWay { from, to } => format!("cut {} → {} one way", name(from), name(to)),
            Fault::Bridge { side_a, side_b } => format!("bridge partition [{}] | [{}]", group(side_a), group(side_b)),
            Fault::Heal => "heal the network".to_string(),
            Fault::Reconnect(cut) if self.network.whole_after_uncut(cut) => "heal the network".to_string(),
            Fault::Reconnect(_) => "reopen the links a cut closed".to_string(),
            Fault::RestoreLoss(_) => "put back each link's earlier message loss".to_string(),
            Fault::MessageLoss { ppm } => format!("lose {} of messages", crate::time::percent_of_ppm(*ppm)),
            Fault::Link { a, b, .. } => format!("change the link {}–{}", name(a), name(b)),
            Fault::SlowDisk { profile, .. } => {
                format!("set the disk of {on} to {profile}")
            }
            Fault::AddMember { host: h, learner } => {
                format!("add {} on {}", if *learner { "a learner" } else { "a member" }, name(&Target::Host(*h)))
            }
            Fault::RemoveMember(_) => format!("remove the member on {on}"),
            Fault::PromoteLearner(_) => format!("promote the learner on {on}"),
            Fault::For { fault, lasts } => format!("{} for {lasts}", self.fault_label(fault, host)),
        }
    }

    /// The host loses power: every process on it dies, none cleanly.
    fn power_off(&mut self, host: HostId) {
        if self.hosts[host.index()].up {
            self.hosts[host.index()].down_since = Some(self.now);
        }
        self.hosts[host.index()].up = false;
        // The gRPC keepalive, not refusals, decides when clients notice (`endpoint_usable`).
        self.hosts[host.index()].etcd_refusing_since = None;
        // No kernel is left to reset connections: their clients hear nothing.
        self.hosts[host.index()].apiserver = None;
        self.hosts[host.index()].frozen = false;
        if let Some(lb) = self.lb_index_of(host) {
            self.lbs[lb as usize].proxy_frozen = false;
        }
        // What its processes held dies with them, except HAProxy's check timers: they
        // are one chain per server, started once, and go on (idle) while the host is
        // down so that the LB checks again when it boots.
        for ev in std::mem::take(&mut self.hosts[host.index()].held) {
            if matches!(ev, Event::LbCheck(..) | Event::LbCheckDone(..)) {
                self.queue.push(self.now, ev);
            }
        }
        self.update_holding();
        self.kill_components(host);
        self.crash_process(host);
    }

    /// Freezes or thaws a whole host. etcd and the elected components use their own
    /// pause; the apiserver, kubelet and LB events wait in the host's `held` list.
    fn freeze_host(&mut self, host: HostId, freeze: bool) {
        let h = &mut self.hosts[host.index()];
        if h.frozen == freeze || !h.up {
            return;
        }
        h.frozen = freeze;
        let name = h.name.clone();
        let held = h.held.len();
        self.update_holding();
        if freeze {
            self.note(
                EventKind::Fault,
                Some(host),
                format!("fault: host {name} frozen (VM paused): its processes and kernel stop"),
            );
            if let Some(p) = self.hosts[host.index()].etcd.as_mut() {
                p.paused = true;
            }
            self.track_etcd_leaders();
        } else {
            self.note(EventKind::Fault, Some(host), format!("fault: host {name} resumed; {held} held events now run"));
            self.resume(host);
            self.release_held(host);
            self.send_parked_calls(host);
        }
        for c in Component::ALL {
            self.pause_component(host, c, freeze);
        }
    }

    /// Freezes the etcd process on `host` (SIGSTOP).
    fn pause_etcd(&mut self, host: HostId) {
        if let Some(p) = self.hosts[host.index()].etcd.as_mut() {
            p.paused = true;
            let name = self.hosts[host.index()].name.clone();
            self.note(EventKind::Fault, Some(host), format!("fault: etcd on {name} frozen (SIGSTOP)"));
            self.track_etcd_leaders();
            self.probes_go_unanswered(host, Process::Etcd);
        }
    }

    /// `etcdctl member remove|promote` for the member running on `host`.
    fn member_command(&mut self, host: HostId, command: fn(MemberId) -> MemberChange) {
        match self.hosts[host.index()].member {
            Some(m) => {
                self.reconfigure(command(m), host);
            }
            None => {
                let name = self.hosts[host.index()].name.clone();
                self.note(
                    EventKind::Membership,
                    Some(host),
                    format!("{} skipped: {name} runs no member", command(MemberId(0))),
                );
            }
        }
    }

    /// After a fault moved the clock of `h` or replaced its certificates: which
    /// certificates its clock now puts outside their validity, and which hosts' clocks
    /// do that to its own, so the reader sees why TLS to and from it fails. Each
    /// verifier is judged on what it checks: the clients an apiserver's serving
    /// certificate, etcd members and control-plane nodes the others (and a node's
    /// scheduler and controller-manager its own apiserver's); an LB checks none.
    /// Nothing is noted when every certificate in question is valid.
    fn note_certificates_refused(&mut self, h: HostId, change: CertChange) {
        use crate::model::certs::CertKind;
        let now = self.now;
        let clients = self.cp().is_some().then(|| self.client_host());
        // Hosts that present and check certificates: etcd members and control-plane
        // nodes; the clients only check.
        let nodes: Vec<HostId> = (0..self.hosts.len())
            .map(|i| HostId(i as u32))
            .filter(|x| self.hosts[x.index()].is_control_plane || self.hosts[x.index()].member.is_some())
            .collect();
        let checks = |verifier: HostId, holder: HostId| -> &'static [CertKind] {
            const SERVING: &[CertKind] = &[CertKind::ApiserverServing];
            const NODE: &[CertKind] = &[
                CertKind::EtcdPeer,
                CertKind::EtcdServer,
                CertKind::ApiserverEtcdClient,
                CertKind::SchedulerKubeconfig,
                CertKind::ControllerManagerKubeconfig,
            ];
            const OWN_NODE: &[CertKind] = &[
                CertKind::EtcdPeer,
                CertKind::EtcdServer,
                CertKind::ApiserverEtcdClient,
                CertKind::SchedulerKubeconfig,
                CertKind::ControllerManagerKubeconfig,
                CertKind::ApiserverServing,
            ];
            if Some(verifier) == clients {
                SERVING
            } else if verifier == holder && self.hosts[holder.index()].is_control_plane {
                OWN_NODE
            } else if nodes.contains(&verifier) {
                NODE
            } else {
                &[]
            }
        };
        let name = |x: HostId| self.hosts[x.index()].name.clone();
        let verdict = |verifier: HostId, holder: HostId| -> Option<Verdict> {
            let clock = &self.hosts[verifier.index()].clock;
            let local = clock.local(now);
            let certs = &self.hosts[holder.index()].certs;
            let kinds = checks(verifier, holder);
            let bad: Vec<CertKind> = kinds.iter().copied().filter(|&k| !certs.get(k).valid_at(local)).collect();
            if bad.is_empty() {
                return None;
            }
            let start = bad.iter().map(|&k| certs.get(k).not_before).filter(|&b| b > local).max();
            let whose = if bad.len() == kinds.len() {
                name(holder)
            } else {
                format!("{} ({})", name(holder), bad.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "))
            };
            Some(Verdict {
                not_yet_valid_for: start.map(|b| clock.real_duration(b.since(local))),
                expired: bad.iter().any(|&k| certs.get(k).not_after < local),
                whose,
            })
        };
        let mut notes = Vec::new();
        let refused_by_h: Vec<Verdict> = match change {
            CertChange::ClockMoved => nodes.iter().filter_map(|&x| verdict(h, x)).collect(),
            CertChange::Renewed => Vec::new(),
        };
        if !refused_by_h.is_empty() {
            let whose: Vec<&str> = refused_by_h.iter().map(|v| v.whose.as_str()).collect();
            notes.push(format!(
                "on the clock of {} the certificates of {} are {}: the TLS connections it checks them on fail (x509: certificate has expired or is not yet valid)",
                name(h),
                whose.join(", "),
                Verdict::describe(refused_by_h.iter()),
            ));
        }
        let refusing_h: Vec<(HostId, Verdict)> = (nodes.iter().copied().chain(clients))
            .filter(|&y| y != h)
            .filter_map(|y| verdict(y, h).map(|v| (y, v)))
            .collect();
        if !refusing_h.is_empty() {
            let who: Vec<String> = refusing_h.iter().map(|&(y, _)| name(y)).collect();
            notes.push(format!(
                "on the clocks of {} the certificates of {} are {}: they refuse its TLS connections",
                who.join(", "),
                name(h),
                Verdict::describe(refusing_h.iter().map(|(_, v)| v)),
            ));
        }
        for text in notes {
            self.note(EventKind::Fault, Some(h), text);
        }
    }

    /// What runs on the LB hosts, as the timeline names it.
    pub(super) fn proxy_name(&self) -> &'static str {
        match self.cp().map(|c| c.frontend) {
            Some(Frontend::Nginx(_)) => "nginx",
            _ => "HAProxy",
        }
    }

    /// The kubelet restarts every static pod of a node (after a certificate renewal).
    fn restart_static_pods(&mut self, host: HostId) {
        if !self.hosts[host.index()].up {
            return;
        }
        // The kubelet sends SIGTERM, and etcd's Stop hands leadership over before it
        // exits (a renewal on the leader costs no election timeout); the new process
        // starts once the old one is gone.
        if let Some(p) = self.hosts[host.index()].etcd.as_mut() {
            if p.paused {
                // A frozen process cannot act on SIGTERM: the kubelet kills it when the
                // grace period ends, and only what was fsynced survives.
                self.crash_process(host);
                self.start_etcd(host);
            } else {
                p.after_stop = AfterStop::NewPod;
                self.graceful_stop(host);
            }
        }
        if self.hosts[host.index()].apiserver.is_some() {
            self.stop_apiserver(host, false);
            self.start_apiserver(host);
        }
        for c in Component::ALL {
            self.kill_components_once(host, c);
        }
    }

    pub(super) fn describe_groups(&self, groups: &[Vec<HostId>]) -> String {
        groups
            .iter()
            .map(|g| {
                let names: Vec<&str> = g.iter().map(|h| self.hosts[h.index()].name.as_str()).collect();
                format!("{{{}}}", names.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    pub(super) fn add_member(&mut self, host: HostId, learner: bool) {
        if host.index() >= self.hosts.len() {
            return;
        }
        let name = self.hosts[host.index()].name.clone();
        if self.hosts[host.index()].etcd.is_some() {
            self.note(EventKind::Membership, Some(host), format!("member add skipped: {name} already runs etcd"));
            return;
        }
        let id = MemberId(self.next_member);
        if self.reconfigure(MemberChange::Add { id, learner }, host) {
            self.next_member += 1;
            let slot = id.0 as usize;
            if self.host_of.len() <= slot {
                self.host_of.resize(slot + 1, None);
            }
            self.host_of[slot] = Some(host);
            let h = &mut self.hosts[host.index()];
            h.member = Some(id);
            h.data = None;
        }
    }

    /// An etcdctl member command: checked and proposed by the leader. Returns true if
    /// the change was proposed.
    pub(super) fn reconfigure(&mut self, change: MemberChange, subject: HostId) -> bool {
        let now = self.now;
        let subject_name = self.hosts[subject.index()].name.clone();
        let Some((leader_host, _, _)) = self.leader() else {
            self.note(
                EventKind::Membership,
                Some(subject),
                format!("{change} for {subject_name} failed: no etcd leader (etcdserver: request timed out)"),
            );
            return false;
        };
        let started = self.started.clone();
        let p = self.hosts[leader_host.index()].etcd.as_mut().expect("leader runs");
        if let Err(e) = p.server.check_reconfig(change, &|m| started.contains(&m), now) {
            self.note(EventKind::Membership, Some(subject), format!("{change} for {subject_name} refused: {e}"));
            return false;
        }
        let result = p.server.raft.propose(crate::model::etcd::message::EntryKind::Conf(change.conf_change()));
        let leader_name = self.hosts[leader_host.index()].name.clone();
        let text = match result {
            Ok(()) => format!("{change} for {subject_name} proposed by leader {leader_name}"),
            Err(ProposalError::ConfChangePending) => format!(
                "{change} for {subject_name} will time out (etcdserver: request timed out): a previous membership change is not applied yet, so raft replaced it with an empty entry"
            ),
            Err(ProposalError::Dropped(why)) => {
                format!("{change} for {subject_name} failed: raft proposal dropped ({why})")
            }
        };
        self.note(EventKind::Membership, Some(subject), text);
        self.after_step(leader_host);
        result.is_ok()
    }

    /// SIGTERM to etcd (embed's Close). It first stops its client servers: the
    /// listeners close at once, so new client calls are refused, and with TLS (as
    /// kubeadm runs it) the HTTP server's Shutdown waits up to the request timeout for
    /// open connections to go idle; the apiservers' watch streams never do, so with a
    /// control plane that is the full request timeout. Only then does raft stop
    /// (`stop_raft`). Without apiservers nothing holds a stream open.
    pub(super) fn graceful_stop(&mut self, host: HostId) {
        let now = self.now;
        let name = self.hosts[host.index()].name.clone();
        let timeout = self.spec.etcd.request_timeout();
        let watched = self.spec.control_plane.is_some();
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if p.paused {
            // A stopped process cannot act on SIGTERM: it does once it resumes.
            p.sigterm_waiting = true;
            return;
        }
        if p.clients_closed {
            // Already closing: etcd's interrupt handler is running Close and a second
            // SIGTERM changes nothing (a kubelet restart asked for meanwhile still
            // happens once it exits).
            return;
        }
        if !watched {
            self.stop_raft(host);
            return;
        }
        p.clients_closed = true;
        let inc = p.incarnation;
        let (kind, what) = stop_words(p.after_stop != AfterStop::Exit, &name);
        self.refusing_from_now(host);
        self.note(
            kind,
            Some(host),
            format!(
                "{what}: it closes its client listeners at once (new connections are refused; the apiservers' calls wait for a channel) and waits up to its request timeout ({timeout}) for the apiservers' open watch streams before raft stops"
            ),
        );
        self.queue.push(now + timeout, Event::EtcdClientsClosed(host, inc));
    }

    /// etcd's Stop: a leader hands leadership to the longest-connected voter and waits
    /// up to the request timeout for it to take over; then the process exits cleanly.
    pub(super) fn stop_raft(&mut self, host: HostId) {
        let now = self.now;
        let name = self.hosts[host.index()].name.clone();
        let timeout = self.spec.etcd.request_timeout();
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        let (kind, what) = stop_words(p.after_stop != AfterStop::Exit, &name);
        let what = if p.clients_closed { format!("etcd on {name} has cut its client streams") } else { what };
        let raft = &p.server.raft;
        if raft.is_leader() && raft.config.voters.len() > 1 {
            if let Some(to) = p.server.longest_connected_voter(now) {
                p.stopping_for = Some(to);
                p.server.raft.request_transfer(to);
                let inc = p.incarnation;
                let to_name = self.member_name(to);
                self.note(kind, Some(host), format!("{what}: as leader it first hands leadership to {to_name}"));
                self.queue.push(now + timeout, Event::StopProcess(host, inc));
                self.after_step(host);
                return;
            }
            self.note(kind, Some(host), format!("{what}: no connected voter to hand leadership to"));
        } else {
            self.note(kind, Some(host), what);
        }
        self.stop_now(host);
    }

    pub(super) fn check_stopping(&mut self, host: HostId) {
        let Some(p) = self.hosts[host.index()].etcd.as_ref() else { return };
        if let Some(to) = p.stopping_for
            && p.server.raft.lead == Some(to)
        {
            self.stop_now(host);
        }
    }

    /// Clean exit: the in-flight fsync completes, then the process is gone.
    pub(super) fn stop_now(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        let Some(mut p) = h.etcd.take() else { return };
        if let Some(batch) = p.writing.take() {
            h.data.get_or_insert_with(DurableState::default).apply(&batch);
        }
        let name = h.name.clone();
        self.refusing_from_now(host);
        self.answer_calls_of_gone_member(host, p.incarnation, RequestError::ServerStopped);
        if p.after_stop == AfterStop::KilledForProbes {
            // The kubelet's kill has ended: it starts the container in the same sync,
            // subject to the back-off, as after a SIGKILL.
            self.etcd_exits_for_kubelet(host, p.incarnation, format!("etcd on {name} stopped"));
            self.track_etcd_leaders();
            return;
        }
        self.note(EventKind::Etcd, Some(host), format!("etcd on {name} stopped"));
        self.track_etcd_leaders();
        if p.after_stop == AfterStop::NewPod {
            self.start_etcd(host);
        }
    }

    /// The process dies; only what was fsynced survives. On a host that stays up the
    /// kernel resets its connections, which breaks the watch streams it fed at once.
    pub(super) fn crash_process(&mut self, host: HostId) {
        if let Some(p) = self.hosts[host.index()].etcd.take() {
            self.track_etcd_leaders();
            if self.hosts[host.index()].up {
                self.refusing_from_now(host);
                self.watch_streams_reset(host);
                self.answer_calls_of_gone_member(host, p.incarnation, RequestError::ConnectionClosed);
            }
        }
    }

    /// etcd exited on a host that stays up (killed, or it panicked): the kubelet starts
    /// the static pod again, at once the first time, later after the crash-loop
    /// back-off. Returns how the timeline says when.
    pub(super) fn kubelet_restarts_etcd(&mut self, host: HostId) -> String {
        let h = &mut self.hosts[host.index()];
        let delay = h.etcd_backoff.next_delay(self.now);
        let exited = h.incarnation;
        self.restart_after_exit(host, delay, |delayed| Event::EtcdRestart(host, exited, delayed))
    }

    /// Nothing started etcd since the exit (a `start` fault, a reboot): start it now.
    pub(super) fn on_etcd_restart(&mut self, host: HostId, exited: u32, delayed: bool) {
        let h = &self.hosts[host.index()];
        if h.incarnation != exited || !h.up || h.etcd.is_some() {
            return;
        }
        if delayed {
            self.note_restart_after_backoff(host, "etcd");
        }
        self.start_etcd(host);
    }

    pub(super) fn resume(&mut self, host: HostId) {
        let name = self.hosts[host.index()].name.clone();
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if !p.paused {
            return;
        }
        p.paused = false;
        let stash = std::mem::take(&mut p.stash);
        let inc = p.incarnation;
        self.note(
            EventKind::Fault,
            Some(host),
            format!("fault: etcd on {name} resumed (SIGCONT); {} queued events now processed", stash.len()),
        );
        // What it believes once the backlog is processed is what counts for split brain,
        // not the instant in between.
        self.replaying_stash = true;
        for s in stash {
            if self.process_mut(host, inc).is_none() {
                break;
            }
            match s {
                Stashed::Deliver(slot) => {
                    let msg = self.release_slot(slot);
                    self.step_message(host, msg);
                }
                Stashed::DiskDone => self.complete_write(host),
                Stashed::Request(id) => {
                    if let Some(req) = self.pending.get_mut(&id) {
                        req.taken_late = Some(self.now);
                    }
                    self.deliver_request(id);
                }
                Stashed::Deadline(id) => self.on_deadline(id),
            }
        }
        if let Some(p) = self.process_mut(host, inc)
            && p.writing.is_none()
            && std::mem::take(&mut p.tick_pending)
        {
            p.server.raft.tick();
            self.after_step(host);
        }
        self.replaying_stash = false;
        self.track_etcd_leaders();
        if let Some(p) = self.process_mut(host, inc)
            && std::mem::take(&mut p.sigterm_waiting)
        {
            self.graceful_stop(host);
        }
        self.probed_process_resumed(host, Process::Etcd);
    }
}

/// Who stops etcd, for the timeline: the kubelet restarting it, or the scenario.
fn stop_words(by_kubelet: bool, name: &str) -> (EventKind, String) {
    if by_kubelet {
        (EventKind::Kubelet, format!("the kubelet restarts etcd on {name} (SIGTERM)"))
    } else {
        (EventKind::Fault, format!("fault: graceful stop of etcd on {name}"))
    }
}
