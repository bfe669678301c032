//! Seeded randomness. One ChaCha8 stream per component, all derived from the run seed,
//! so adding a component (or drawing more numbers in one) never shifts what another
//! component sees.
//!
//! A stream hands out ChaCha8's 32-bit words in order: a `u64` is two of them, the
//! first as its low half, and a number in a range is drawn with `rand`'s widening
//! multiply (one more word pair in the rare case the first leaves it undecided). That
//! is exactly what `rand`'s `random_range` on a `ChaCha8Rng` gives, so old seeds
//! replay. The words are read from a buffer of the next 64, filled from the generator
//! in one go, so a draw is a few instructions inline where it is made, and only a
//! refill is a call.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::time::SimDuration;

/// Which part of the simulation a stream belongs to. The numeric value is the ChaCha
/// stream id, so it must stay stable across versions for old seeds to replay.
#[derive(Clone, Copy, Debug)]
pub enum StreamId {
    /// Message latency, jitter and loss decisions.
    Network,
    /// fsync latency of one host's disk.
    Disk(u32),
    /// Randomised election timeout of one etcd member.
    EtcdMember(u64),
    /// Choosing a target when a fault names a role such as "etcd-follower".
    Faults,
    /// Client workload: arrival jitter and target choice.
    Workload,
    /// Initial phase of each host's timers.
    Boot,
    /// Retry jitter of one leader-election client (host, component, incarnation).
    Elector(u32),
    /// When each host's kubelet relists its containers.
    Kubelet,
}

impl StreamId {
    fn number(self) -> u64 {
        match self {
            StreamId::Network => 1,
            StreamId::Faults => 2,
            StreamId::Workload => 3,
            StreamId::Boot => 4,
            StreamId::Kubelet => 5,
            StreamId::Disk(h) => (1 << 32) | u64::from(h),
            StreamId::EtcdMember(m) => (2 << 32) | (m & 0xffff_ffff),
            StreamId::Elector(e) => (3 << 32) | u64::from(e),
        }
    }
}

/// Words of the stream buffered at once: the generator's own block of four ChaCha
/// blocks, so every refill starts where the generator's output does.
const WORDS: usize = 64;

/// One component's random stream.
#[derive(Clone, Debug)]
pub struct SimRng {
    rng: ChaCha8Rng,
    /// The stream's next words, little-endian.
    buf: [u8; WORDS * 4],
    /// Index of the next unread word in `buf`; `WORDS` when all are read.
    next: usize,
}

impl SimRng {
    pub fn new(run_seed: u64, stream: StreamId) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(run_seed);
        rng.set_stream(stream.number());
        SimRng { rng, buf: [0; WORDS * 4], next: WORDS }
    }

    /// Reads the next `WORDS` words of the stream into the buffer.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        self.rng.fill_bytes(&mut self.buf);
        self.next = 0;
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        if self.next >= WORDS {
            self.refill();
        }
        let i = self.next;
        self.next = i + 1;
        let bytes = self.buf[i * 4..i * 4 + 4].try_into().expect("four bytes");
        u32::from_le_bytes(bytes)
    }

    /// The next two words, the first as the low half.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let i = self.next;
        if i + 2 > WORDS {
            return self.next_u64_across();
        }
        self.next = i + 2;
        let bytes = self.buf[i * 4..i * 4 + 8].try_into().expect("eight bytes");
        u64::from_le_bytes(bytes)
    }

    /// `next_u64` when the buffer holds fewer than two unread words.
    #[cold]
    #[inline(never)]
    fn next_u64_across(&mut self) -> u64 {
        let lo = self.next_u32();
        let hi = self.next_u32();
        (u64::from(hi) << 32) | u64::from(lo)
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // The high half of draw * n, corrected by one more draw when the low half is
        // close enough to overflow that the next bits could carry into it (`rand`'s
        // `sample_single_inclusive`).
        let wide = u128::from(self.next_u64()) * u128::from(n);
        let (hi, lo) = ((wide >> 64) as u64, wide as u64);
        if lo > n.wrapping_neg() {
            let next_hi = ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64;
            return hi + u64::from(lo.checked_add(next_hi).is_none());
        }
        hi
    }

    /// `below` for a range that fits 32 bits: drawn from one word, as `rand` does.
    #[inline]
    fn below_u32(&mut self, n: u32) -> u32 {
        let wide = u64::from(self.next_u32()) * u64::from(n);
        let (hi, lo) = ((wide >> 32) as u32, wide as u32);
        if lo > n.wrapping_neg() {
            let next_hi = ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32;
            return hi + u32::from(lo.checked_add(next_hi).is_none());
        }
        hi
    }

    /// True with probability `ppm` parts per million.
    #[inline]
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && (ppm >= 1_000_000 || self.below_u32(1_000_000) < ppm)
    }

    /// A duration uniform in `[0, max]`.
    #[inline]
    pub fn duration_up_to(&mut self, max: SimDuration) -> SimDuration {
        SimDuration(self.below(max.0.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_of_one_seed_are_independent_and_reproducible() {
        let a1: Vec<u64> = (0..4).map(|_| SimRng::new(7, StreamId::Network).next_u64()).collect();
        assert!(a1.windows(2).all(|w| w[0] == w[1]), "same seed and stream must repeat");
        let mut net = SimRng::new(7, StreamId::Network);
        let mut disk = SimRng::new(7, StreamId::Disk(0));
        assert_ne!(net.next_u64(), disk.next_u64());
        assert_ne!(SimRng::new(8, StreamId::Network).next_u64(), SimRng::new(7, StreamId::Network).next_u64());
    }

    /// The draws are exactly those of `rand`'s `random_range` on the same `ChaCha8Rng`
    /// (what every earlier version drew, so seeds replay), across buffer refills, with
    /// one-word and two-word draws mixed so that a two-word draw straddles a refill.
    #[test]
    fn draws_match_rand_on_the_same_chacha_stream() {
        use rand::RngExt;
        for seed in [0, 1, 7, 0xdead_beef] {
            let mut ours = SimRng::new(seed, StreamId::Disk(3));
            let mut theirs = ChaCha8Rng::seed_from_u64(seed);
            theirs.set_stream(StreamId::Disk(3).number());
            // Small ranges, ranges just past a power of two (where a second draw is
            // likeliest), and ranges near the top of u64.
            let ranges = [1, 2, 3, 501, 1_000_001, (1 << 63) + 1, u64::MAX - 1, u64::MAX, 0];
            for i in 0..5_000u64 {
                let n = ranges[(i % ranges.len() as u64) as usize];
                if i % 7 == 3 {
                    let ppm = (i * 7919 % 1_200_000) as u32;
                    let want = ppm > 0 && (ppm >= 1_000_000 || theirs.random_range(0..1_000_000u32) < ppm);
                    assert_eq!(ours.chance_ppm(ppm), want, "seed {seed} draw {i}");
                } else if i % 11 == 5 {
                    assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {seed} draw {i}");
                } else {
                    let want = if n == 0 { 0 } else { theirs.random_range(0..n) };
                    assert_eq!(ours.below(n), want, "seed {seed} draw {i} below {n}");
                }
            }
        }
    }
}
