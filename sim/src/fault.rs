//! Faults that can be scheduled against a running cluster, and the targets they name.
//! A role target (`EtcdLeader`, `EtcdFollower`) is resolved at the moment the fault
//! fires, not when it is scheduled, just as an operator's "kill the leader" would be.

use crate::engine::network::Cut;
use crate::engine::{DiskProfile, LinkProfile};
use crate::ids::HostId;
use crate::time::SimDuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Host(HostId),
    /// The member that currently believes it is leader (highest term if several do).
    EtcdLeader,
    /// A running voting member that is not the leader, chosen with the fault stream.
    EtcdFollower,
    /// The node whose kube-scheduler holds the lease and leads.
    SchedulerLeader,
    /// The node whose kube-controller-manager holds the lease and leads.
    ControllerManagerLeader,
    /// The LB host that receives the control-plane endpoint's traffic (the VIP holder,
    /// or the one LB).
    LbActive,
}

/// A process on a control-plane or etcd host, or the proxy on an LB host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Etcd,
    Apiserver,
    Scheduler,
    ControllerManager,
    /// HAProxy or nginx on an LB host: a systemd service, not a static pod, so no
    /// kubelet starts it again (a `Start` does); keepalived beside it keeps running.
    LoadBalancer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The process dies (SIGKILL, OOM); the host stays up, so connections to it are
    /// refused at once. The kubelet starts it again when its next relist (within 1 s)
    /// notices, or after the crash-loop back-off if it exited within the last
    /// 10 minutes.
    Kill {
        target: Target,
        process: Process,
    },
    /// Start a process that is not running (as the kubelet would).
    Start {
        target: Target,
        process: Process,
    },
    /// Graceful stop (SIGTERM), as when the static pod's manifest is moved away: the
    /// process stays down until a `Start`. The scheduler releases its lease first, the
    /// controller-manager does not.
    StopProcess {
        target: Target,
        process: Process,
    },
    /// Freeze (SIGSTOP) or thaw (SIGCONT) one process. A frozen apiserver's kernel
    /// still accepts connections (a TCP check passes), but nothing is answered.
    PauseProcess {
        target: Target,
        process: Process,
    },
    ResumeProcess {
        target: Target,
        process: Process,
    },
    /// Step the host's clock by this many microseconds (negative: back).
    ClockStep {
        target: Target,
        offset_us: i64,
    },
    /// From now on the host's clock runs at `rate_ppm` / 1,000,000 of true speed.
    ClockRate {
        target: Target,
        rate_ppm: u64,
    },
    /// One of the node's certificates expires now (its notAfter is set to now).
    ExpireCert {
        target: Target,
        cert: crate::model::certs::CertKind,
    },
    /// `kubeadm certs renew all` on the node, then its static pods restart.
    RenewCerts(Target),
    /// Power loss: every process on the host dies; what was not fsynced is gone.
    Crash(Target),
    /// Boot a crashed host (or start a stopped etcd) from its data directory.
    Restart(Target),
    /// Graceful stop of etcd: a leader first hands leadership to the longest-connected
    /// voter, as etcd's Stop does.
    Stop(Target),
    /// Crash and erase the data directory (disk lost or `rm -rf` of the data dir).
    Wipe(Target),
    /// Freeze the etcd process (SIGSTOP): timers do not fire, inbound traffic waits.
    Pause(Target),
    Resume(Target),
    /// Freeze the whole host (a paused VM, a hypervisor stall): every process on it
    /// stops, its kernel answers nothing (not even TCP connects), timers do not fire
    /// and inbound traffic waits until it resumes; the clock keeps true time, so what
    /// came due fires at once.
    PauseHost(Target),
    ResumeHost(Target),
    /// Cut every link to and from the host.
    Isolate(Target),
    /// Symmetric partition into groups; hosts in no group form one more group.
    Partition(Vec<Vec<Target>>),
    /// `from`'s packets no longer reach `to`; the reverse still flows.
    CutOneWay {
        from: Target,
        to: Target,
    },
    /// Hosts in `side_a` and `side_b` cannot reach each other; hosts in neither (the
    /// bridge) still reach both sides.
    Bridge {
        side_a: Vec<Target>,
        side_b: Vec<Target>,
    },
    /// Restore every link.
    Heal,
    /// The end of a timed cut (`Isolate`, `Partition`, `CutOneWay` or `Bridge` with
    /// `for:`): reopens the links that cut closed, except those another cut still holds.
    Reconnect(Cut),
    /// Random loss on every link, in parts per million.
    MessageLoss {
        ppm: u32,
    },
    /// The end of a timed `MessageLoss` when the links did not all lose the same share
    /// before it: each directed link's earlier loss, in parts per million, row by row
    /// (from host 0 to hosts 0, 1, …, then from host 1, …).
    RestoreLoss(Vec<u32>),
    /// Latency and loss of the link between two hosts (both directions).
    Link {
        a: Target,
        b: Target,
        profile: LinkProfile,
    },
    /// Change a host's fsync latency.
    SlowDisk {
        target: Target,
        profile: DiskProfile,
    },
    /// `etcdctl member add` (optionally `--learner`), then start etcd on that host
    /// with an empty data directory, as an operator (or kubeadm join) does.
    AddMember {
        host: HostId,
        learner: bool,
    },
    /// `etcdctl member remove` for the member on that host.
    RemoveMember(Target),
    /// `etcdctl member promote` for the learner on that host.
    PromoteLearner(Target),
    /// `fault`, undone `lasts` later on the host it hit (see `Fault::revert`).
    For {
        fault: Box<Fault>,
        lasts: SimDuration,
    },
}

impl Fault {
    /// Whether a `for:` can end this fault. A wipe, an expired certificate, a
    /// renewal, a membership change or a restart has no natural undo. The undo itself
    /// is built when the fault fires (`Simulation::apply_fault`): it names the host the
    /// fault hit, and puts back what the fault replaced (the earlier disk, link, loss
    /// or clock-rate setting, or exactly the links a cut closed), so that it does not
    /// wipe out the scenario's own `timing` or another fault's effect.
    pub fn can_be_undone(&self) -> bool {
        matches!(
            self,
            Fault::Crash(_)
                | Fault::Stop(_)
                | Fault::Pause(_)
                | Fault::PauseHost(_)
                | Fault::Kill { .. }
                | Fault::StopProcess { .. }
                | Fault::PauseProcess { .. }
                | Fault::ClockStep { .. }
                | Fault::ClockRate { .. }
                | Fault::SlowDisk { .. }
                | Fault::Isolate(_)
                | Fault::Partition(_)
                | Fault::CutOneWay { .. }
                | Fault::Bridge { .. }
                | Fault::MessageLoss { .. }
                | Fault::Link { .. }
        )
    }
}
