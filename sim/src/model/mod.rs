//! One module per real component. Each is a pure state machine: it is told what
//! happened (a message, a reply, a timer) and says what it wants done; the world in
//! `cluster` carries that out over the simulated network and clock.
//!
//! - `etcd`: the Raft quorum and the etcdserver layer around it (wired into `cluster`).
//! - `lease`: client-go leader election (kube-scheduler, kube-controller-manager).
//! - `lb`: HAProxy active checks and balancing; nginx stream passive failover.
//! - `keepalived`: VRRP for the control-plane VIP.
//! - `kubelet`: static-pod probes and crash-loop back-off.
//! - `reflector`: client-go's reflector giving up on a failing watch (the watch cache's).
//! - `certs`: kubeadm certificates and their validity.
//! - `clock`: per-host clock offset and rate.
//!
//! All of them run inside the world (`cluster`).

pub mod certs;
pub mod clock;
pub mod etcd;
pub mod keepalived;
pub mod kubelet;
pub mod lb;
pub mod lease;
pub mod reflector;
