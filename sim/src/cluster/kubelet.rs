//! The kubelet's liveness probes of etcd, kube-scheduler and kube-controller-manager
//! (the apiserver's, which also fail on its etcd check, are in `control_plane`). Their
//! health endpoints fail only when nothing answers (`model::kubelet::HangProbe`), so
//! only a process frozen by a fault is killed: after kubeadm's 8 failed probes in a row
//! (24 for a startup probe), each waiting out its 15 s timeout, the kubelet sends
//! SIGTERM. A stopped process cannot act on it; SIGKILL follows after the 30 s grace
//! period, and the kubelet starts the container again, at once unless the one before
//! it exited within the back-off (`RestartBackoff::delay_after_kill`).
//! If the process resumes in between, it acts on the SIGTERM that waited: etcd stops
//! gracefully, the scheduler releases its lease, and the kubelet starts them again.

use super::*;
use crate::fault::Process;
use crate::model::kubelet::{HangProbe, ProbeConfig};

use control_plane::{TERMINATION_GRACE_PERIOD, restart_when};
use leases::Component;

impl Simulation {
    /// The probe state and incarnation of `process` on `host`, if it runs.
    fn hang_probe(&mut self, host: HostId, process: Process) -> Option<(&mut HangProbe, u32)> {
        let h = &mut self.hosts[host.index()];
        match process {
            Process::Etcd => h.etcd.as_mut().map(|p| (&mut p.hang, p.incarnation)),
            Process::Scheduler | Process::ControllerManager => {
                let c = leases::component_of(process);
                h.components.procs[c as usize].as_mut().map(|p| (&mut p.hang, p.incarnation))
            }
            Process::Apiserver | Process::LoadBalancer => None,
        }
    }

    /// A fault froze `process` on `host`: the kubelet's probes go unanswered from the
    /// next one on. If the whole host is frozen its kubelet probes nothing; a second
    /// SIGSTOP changes nothing.
    pub(super) fn probes_go_unanswered(&mut self, host: HostId, process: Process) {
        if self.hosts[host.index()].frozen {
            return;
        }
        let now = self.now;
        let Some((hang, inc)) = self.hang_probe(host, process).filter(|(h, _)| !h.is_frozen()) else { return };
        let (at, _) = hang.freeze(now);
        self.queue.push(at, Event::ProbesFailed(host, process, inc, now));
    }

    /// `process` on `host` resumed: a probe waiting for it is answered, and a SIGTERM
    /// the kubelet sent meanwhile is acted on now.
    pub(super) fn probed_process_resumed(&mut self, host: HostId, process: Process) {
        let Some((hang, _)) = self.hang_probe(host, process) else { return };
        hang.thaw();
        if !std::mem::take(&mut hang.terminating) {
            return;
        }
        let name = self.hosts[host.index()].name.clone();
        let what = match process {
            Process::Etcd => "etcd",
            _ => leases::component_of(process).name(),
        };
        self.note(
            EventKind::Kubelet,
            Some(host),
            format!("{what} on {name} resumed and acts on the kubelet's SIGTERM, which waited"),
        );
        match process {
            Process::Etcd => {
                // etcd's interrupt handler runs its graceful stop, and the kubelet
                // starts the container again once it has exited (`stop_now`). (The
                // SIGKILL still comes at the end of the grace period if the stop
                // outlasts it.)
                if let Some(p) = self.hosts[host.index()].etcd.as_mut() {
                    p.after_stop = AfterStop::KilledForProbes;
                }
                self.graceful_stop(host);
            }
            _ => {
                let c = leases::component_of(process);
                self.stop_component_for_kubelet(host, c);
            }
        }
    }

    /// The probes of `process` (incarnation `inc`) on `host` have failed the threshold
    /// of times in a row, if it has stayed frozen since `since`: the kubelet kills it.
    pub(super) fn on_probes_failed(&mut self, host: HostId, process: Process, inc: u32, since: SimTime) {
        let Some((hang, running)) = self.hang_probe(host, process) else { return };
        if running != inc || !hang.frozen_since(since) {
            return;
        }
        hang.terminating = true;
        let cfg = hang.failing_probe().unwrap_or(ProbeConfig::LIVENESS);
        let (what, endpoint) = match process {
            Process::Etcd => ("etcd", "/livez"),
            _ => (leases::component_of(process).name(), "/healthz"),
        };
        let probe = if cfg == ProbeConfig::STARTUP { " startup probe" } else { "" };
        let name = self.hosts[host.index()].name.clone();
        self.note(
            EventKind::Kubelet,
            Some(host),
            format!(
                "kubelet is killing {what} on {name}: its {endpoint}{probe} failed {} times in a row (no answer within its {} timeout); frozen, it cannot act on SIGTERM, so SIGKILL follows after the {} grace period",
                cfg.failure_threshold, cfg.timeout, TERMINATION_GRACE_PERIOD
            ),
        );
        self.queue.push(self.now + TERMINATION_GRACE_PERIOD, Event::ProbedSigkill(host, process, inc));
    }

    /// The grace period ran out: SIGKILL, which a stopped process cannot ignore, if
    /// that incarnation still runs (frozen still, or slow to stop).
    pub(super) fn on_probed_sigkill(&mut self, host: HostId, process: Process, inc: u32) {
        if self.hang_probe(host, process).is_none_or(|(_, running)| running != inc) {
            return;
        }
        let name = self.hosts[host.index()].name.clone();
        match process {
            Process::Etcd => {
                self.crash_process(host);
                let what = format!("kubelet sent SIGKILL to the frozen etcd on {name}: only what it fsynced survives");
                self.etcd_exits_for_kubelet(host, inc, what);
            }
            _ => {
                let c = leases::component_of(process);
                let what = format!("kubelet sent SIGKILL to the frozen {} on {name}", c.name());
                self.component_exits_for_kubelet(host, c, what);
            }
        }
    }

    /// The kubelet killed etcd (incarnation `inc`) on `host`, which has just exited:
    /// it starts it again in the same pod sync, at once or after the back-off.
    pub(super) fn etcd_exits_for_kubelet(&mut self, host: HostId, inc: u32, what: String) {
        let restart = self.hosts[host.index()].etcd_backoff.delay_after_kill(self.now);
        let delay = restart.delay();
        self.note(EventKind::Kubelet, Some(host), format!("{what}; {}", restart_when(restart)));
        self.queue.push(self.now + delay, Event::EtcdRestart(host, inc, delay > SimDuration::ZERO));
    }

    /// The kubelet killed `c` on `host` (it has just exited): it starts it again in
    /// the same pod sync, at once or after the crash-loop back-off.
    pub(super) fn component_exits_for_kubelet(&mut self, host: HostId, c: Component, what: String) {
        let Some(inc) = self.hosts[host.index()].components.procs[c as usize].as_ref().map(|p| p.incarnation) else {
            return;
        };
        self.exit_component(host, c, false);
        let restart = self.hosts[host.index()].components.backoff[c as usize].delay_after_kill(self.now);
        let delay = restart.delay();
        self.note(EventKind::Kubelet, Some(host), format!("{what}; {}", restart_when(restart)));
        self.queue.push(self.now + delay, Event::ComponentRestart(host, c, inc, delay > SimDuration::ZERO));
    }
}
