//! Benchmarks of the simulation core.
//!
//! - `queue_hold_1000`: raw `EventQueue` throughput under the classic "hold" model (1,000 pending
//!   events; each operation pops the earliest and pushes one at a later time). One item = one
//!   pop + push pair. Target: at least 10 M events/s on one core.
//! - `cluster_3_members_100_writes_per_sec_10_min`: a whole 3-member etcd run under write load.
//!   Target: at most 0.2 s wall per run.
//! - `control_plane_1h_5000_node_leases`: one simulated hour of a stacked 3-node control plane
//!   with 5,000 node leases and 50 client requests/s. Target: at most 10 s wall, 500 MB peak.
//! - `sweep_200_seeds_stacked_3_lose_one_3m`: 200 seeds of the shipped "lose one node"
//!   scenario at 3 simulated minutes each, on every core. Target: 10,000 seeds in 30 s on 2
//!   cores (0.6 s per 200).
//!
//! Run with `cargo bench --bench engine`.

use divan::Bencher;
use divan::counter::ItemsCount;
use hasim_sim::engine::EventQueue;
use hasim_sim::{ClientLoad, ClusterBuilder, ControlPlaneSpec, Plane, RunOutcome, SimDuration, SimTime, Workload};

fn main() {
    divan::main();
}

/// Pending events kept in the queue by the hold model.
const HOLD_PENDING: usize = 1_000;
/// Pop + push pairs per benchmarked call (large enough to hide divan's per-call overhead).
const HOLD_OPS_PER_CALL: usize = 1_000;
/// Increments (and initial times) are uniform in `0..=HOLD_SPREAD_US` microseconds.
const HOLD_SPREAD_US: u64 = 1_023;

/// Marsaglia xorshift64: a few cycles per draw, so the benchmark measures the queue.
#[inline(always)]
fn xorshift64(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[divan::bench]
fn queue_hold_1000(bencher: Bencher) {
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut queue: EventQueue<u32, 0> = EventQueue::with_capacity(HOLD_PENDING + 1);
    for i in 0..HOLD_PENDING as u32 {
        queue.push(SimTime(xorshift64(&mut rng) & HOLD_SPREAD_US), i);
    }

    // The queue persists across calls and samples, so what is measured is the steady state.
    bencher.counter(ItemsCount::new(HOLD_OPS_PER_CALL)).bench_local(|| {
        for _ in 0..HOLD_OPS_PER_CALL {
            let (at, event) = queue.pop().expect("the hold model never empties the queue");
            let inc = xorshift64(&mut rng) & HOLD_SPREAD_US;
            queue.push(SimTime(at.0 + inc), divan::black_box(event));
        }
    });

    assert_eq!(queue.len(), HOLD_PENDING);
}

/// One 10-minute run of a 3-member cluster with 100 writes per second.
fn run_cluster() -> RunOutcome {
    ClusterBuilder::new(3)
        .seed(1)
        .workload(Workload { writes_per_sec: 100, ..Default::default() })
        .run_for(SimDuration::from_mins(10))
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn cluster_3_members_100_writes_per_sec_10_min(bencher: Bencher) {
    let mut checked = false;
    bencher.bench_local(|| {
        let outcome = run_cluster();
        // A broken model must not look fast: check the first run (O(1), negligible).
        if !checked {
            outcome.assert_safe();
            assert!(
                outcome.stats.writes_ok > 55_000,
                "only {} writes acknowledged in 10 min at 100/s (seed {})",
                outcome.stats.writes_ok,
                outcome.seed
            );
            checked = true;
        }
        outcome
    });
}

/// One simulated hour of a stacked 3-node control plane with 5,000 worker kubelets
/// renewing node leases every 10 s (500 writes/s) and 50 client requests/s.
/// Target: at most 10 s wall on one core, peak memory at most 500 MB.
fn run_control_plane_hour() -> RunOutcome {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.clients = ClientLoad {
        writes_per_sec: 20,
        quorum_reads_per_sec: 15,
        cache_reads_per_sec: 15,
        worker_nodes: 5_000,
        ..ClientLoad::default()
    };
    ClusterBuilder::new(3).seed(1).control_plane(cp).run_for(SimDuration::from_secs(3_600))
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn control_plane_1h_5000_node_leases(bencher: Bencher) {
    let mut checked = false;
    bencher.bench_local(|| {
        let outcome = run_control_plane_hour();
        if !checked {
            outcome.assert_safe();
            let leases = outcome.control_plane.as_ref().map_or(0, |c| c.plane(Plane::NodeLease).ok);
            assert!(leases > 1_700_000, "only {leases} node-lease renewals in an hour (seed {})", outcome.seed);
            checked = true;
        }
        outcome
    });
}

/// Seeds per call of the sweep benchmark; the 10,000-seed figure is 50 calls' worth.
const SWEEP_SEEDS: u64 = 200;

/// The shipped "lose one node" scenario, stretched to 3 simulated minutes.
fn stacked_3_lose_one_3m() -> hasim_sim::scenario::Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/stacked-3-lose-one.yaml");
    let text = std::fs::read_to_string(path).expect("the shipped scenario");
    let mut s = hasim_sim::scenario::load(path, &text).expect("it loads").scenario;
    s.duration = hasim_sim::scenario::Dur(SimDuration::from_secs(180));
    s
}

/// `hasim sweep` of the 3-node stacked "lose one node" scenario (3 simulated minutes per
/// seed) on every core, as the binary runs it: rayon over seeds, one summary per seed.
/// Target (issue 5): 10,000 seeds in at most 30 s on 2 cores, i.e. 0.6 s per call.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn sweep_200_seeds_stacked_3_lose_one_3m(bencher: Bencher) {
    use rayon::prelude::*;
    let s = stacked_3_lose_one_3m();
    bencher.counter(ItemsCount::new(SWEEP_SEEDS)).bench_local(|| {
        let runs: Vec<hasim_sim::sweep::RunSummary> = (1..=SWEEP_SEEDS)
            .into_par_iter()
            .map(|seed| {
                let out = hasim_sim::scenario::build(&s, Some(seed)).run_for(s.duration());
                hasim_sim::sweep::RunSummary::of(&s, &out)
            })
            .collect();
        assert!(runs.iter().all(|r| r.passed), "a seed failed its expectations");
        runs
    });
}
