//! The discrete-event engine: time-ordered event queue, seeded random streams, the
//! network between hosts and the hosts' disks. Nothing here knows about Kubernetes or
//! Raft; the component models in `model` are driven by it.

pub mod disk;
pub mod idmap;
pub mod network;
pub mod queue;
pub mod rng;

pub use disk::{Disk, DiskProfile};
pub use idmap::IdMap;
pub use network::{Delivery, LinkProfile, Network};
pub use queue::EventQueue;
pub use rng::{SimRng, StreamId};
