//! One module per real component. So far: `etcd` (the Raft quorum and the server layer
//! around it).

pub mod clock;
pub mod etcd;
pub mod keepalived;
pub mod lb;
pub mod lease;
