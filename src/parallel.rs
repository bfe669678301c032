//! Runs seeds on a rayon thread pool with a progress bar on stderr. Results come back
//! in seed order whatever the thread count, so every figure computed from them is the
//! same for `--jobs 1` and `--jobs 64`. The bar (`progress`) is hidden when stderr is
//! not a terminal (CI logs, pipes).

use rayon::prelude::*;

use crate::{Failure, progress};

/// `f` applied to every seed, in the order given.
pub fn map_seeds<T: Send>(
    seeds: &[u64],
    jobs: Option<u64>,
    label: &str,
    f: impl Fn(u64) -> T + Sync,
) -> Result<Vec<T>, Failure> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(j) = jobs {
        builder = builder.num_threads(j as usize);
    }
    let pool = builder.build().map_err(|e| Failure::bad(format!("cannot start {jobs:?} threads: {e}")))?;
    let bar = progress::bar(seeds.len() as u64, "{prefix} [{bar:40}] {pos}/{len} seeds, {per_sec}, eta {eta}", label);
    let out = pool.install(|| {
        seeds
            .par_iter()
            .map(|&s| {
                let r = f(s);
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    Ok(out)
}
