//! A host's disk as etcd's write-ahead log sees it: each fsync takes a base latency plus
//! uniform jitter, and writes complete one after another in the order they were issued.

use crate::engine::rng::{SimRng, StreamId};
use crate::time::{SimDuration, SimTime};

/// fsync latency of one disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskProfile {
    pub fsync_base: SimDuration,
    /// Extra latency drawn uniformly from `[0, fsync_jitter]` per fsync.
    pub fsync_jitter: SimDuration,
}

impl Default for DiskProfile {
    /// A healthy SSD: 1–2 ms per fsync, well under etcd's recommended 10 ms p99.
    fn default() -> Self {
        DiskProfile { fsync_base: SimDuration::from_millis(1), fsync_jitter: SimDuration::from_millis(1) }
    }
}

impl std::fmt::Display for DiskProfile {
    /// `2.500s per fsync`, or `1ms + up to 1ms per fsync` with jitter.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fsync_jitter == SimDuration::ZERO {
            write!(f, "{} per fsync", self.fsync_base)
        } else {
            write!(f, "{} + up to {} per fsync", self.fsync_base, self.fsync_jitter)
        }
    }
}

pub struct Disk {
    pub profile: DiskProfile,
    busy_until: SimTime,
    rng: SimRng,
}

impl Disk {
    pub fn new(profile: DiskProfile, seed: u64, host: u32) -> Self {
        Disk { profile, busy_until: SimTime::ZERO, rng: SimRng::new(seed, StreamId::Disk(host)) }
    }

    /// Issues a write plus fsync now; returns when it is durable.
    pub fn fsync(&mut self, now: SimTime) -> SimTime {
        let latency = self.profile.fsync_base + self.rng.duration_up_to(self.profile.fsync_jitter);
        let done = now.max(self.busy_until) + latency;
        self.busy_until = done;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_complete_in_issue_order_and_a_slow_disk_is_slow() {
        let slow = DiskProfile { fsync_base: SimDuration::from_millis(800), fsync_jitter: SimDuration::ZERO };
        let mut disk = Disk::new(slow, 1, 0);
        let first = disk.fsync(SimTime::ZERO);
        let second = disk.fsync(SimTime::ZERO);
        assert_eq!(first, SimTime(800_000));
        assert_eq!(second, SimTime(1_600_000), "second write queues behind the first");
    }
}
