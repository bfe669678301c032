//! hasim-sim: the simulation core of hasim. Pure and single-threaded: a run is a
//! function of its specification and seed, with no wall clock, no threads and no
//! iteration over hash maps. Front ends (CLI, TUI, sweeps) only read what it produces.
//!
//! - `engine`: simulated time, event queue, seeded random streams, network and disks.
//! - `model`: one module per real component (so far `etcd`).
//! - `cluster`: hosts running etcd members, the builder API, faults and run outcomes.
//! - `check`: the Raft safety invariants checked during every run.
//! - `scenario`: YAML scenario files in: types, validation, diagnostics.
//! - `report`: what a run reports, as JSON with a stable order and as text.
//! - `sweep`: many seeds of a scenario summarised; shards merged; configurations compared.

pub mod check;
pub mod cluster;
pub mod engine;
pub mod fault;
pub mod ids;
pub mod model;
pub mod report;
pub mod scenario;
pub mod sweep;
pub mod time;

pub use check::{Violation, ViolationKind};
pub use cluster::{
    ClientLoad, ClusterBuilder, ClusterSpec, Component, ControlPlaneReport, ControlPlaneSpec, EtcdOverlap,
    EtcdPlacement, Failure, FaultRecovery, Frontend, LeadingSpell, NginxConfig, Outage, Overlap, Plane,
    PlaneAvailability, RequestError, RequestKind, RunOutcome, Simulation, Workload,
};
pub use engine::{DiskProfile, LinkProfile};
pub use fault::{Fault, Process, Target};
pub use ids::{HostId, LogIndex, MemberId, Term};
pub use model::etcd::EtcdSettings;
pub use time::{SimDuration, SimTime};
