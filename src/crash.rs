//! What hasim says when the simulation core panics. A panic is a bug in hasim, never
//! bad input, and it happens in one run of one scenario with one seed: the message
//! names them and the `hasim run` command that replays the run alone, so the failure
//! can be reproduced and reported even when it came from seed 7,412 of a sweep.
//!
//! Each thread remembers the run it is simulating; the panic hook, which runs on the
//! panicking thread before unwinding, reads it from there. Exit code 101 (Rust's for a
//! panic) tells such a failure apart from a failed expectation (1) or bad input (2).

use std::cell::RefCell;
use std::sync::OnceLock;

/// Set in the environment to make the run with this seed panic on purpose, so tests
/// can check what a crash prints. Only for that: it has no other effect.
pub const TEST_PANIC_SEED: &str = "HASIM_TEST_PANIC_SEED";

/// One simulation run, as the command line names it.
#[derive(Clone)]
struct RunId {
    file: String,
    variant: Option<String>,
    seed: u64,
}

impl RunId {
    /// The command that replays this run on its own.
    fn reproduce(&self) -> String {
        // A file named like a flag would be read as one.
        let file = if self.file.starts_with('-') { quoted(&format!("./{}", self.file)) } else { quoted(&self.file) };
        match &self.variant {
            Some(v) => format!("hasim run {file} --variant {} --seed {}", quoted(v), self.seed),
            None => format!("hasim run {file} --seed {}", self.seed),
        }
    }
}

/// A word as a POSIX shell would read it back: plain when it is safe, single-quoted
/// otherwise.
fn quoted(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

thread_local! {
    static RUN: RefCell<Option<RunId>> = const { RefCell::new(None) };
}

/// Puts back the run the thread was in before (none, unless runs nest) when this one
/// ends, whether it returns or unwinds.
struct Simulating(Option<RunId>);

impl Drop for Simulating {
    fn drop(&mut self) {
        let previous = self.0.take();
        // `try_with`: during thread teardown the slot may be gone; nothing to restore then.
        let _ = RUN.try_with(|r| *r.borrow_mut() = previous);
    }
}

/// Runs `f`, the simulation of the scenario `file` (its `variant`) with `seed` and
/// the making of its report, so that a panic inside names them.
pub fn simulating<T>(file: &str, variant: Option<&str>, seed: u64, f: impl FnOnce() -> T) -> T {
    let run = RunId { file: file.to_string(), variant: variant.map(str::to_string), seed };
    let previous = RUN.with(|r| r.borrow_mut().replace(run));
    let _restore = Simulating(previous);
    if test_panic_seed() == Some(seed) {
        panic!("{TEST_PANIC_SEED}={seed} asked this run to panic");
    }
    f()
}

fn test_panic_seed() -> Option<u64> {
    static SEED: OnceLock<Option<u64>> = OnceLock::new();
    *SEED.get_or_init(|| std::env::var(TEST_PANIC_SEED).ok().and_then(|s| s.parse().ok()))
}

/// Makes a panic inside a run say which run it was, after Rust's usual message.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        // `try_with`, and `try_borrow`: a second panic inside the hook would abort.
        if let Some(run) = RUN.try_with(|r| r.try_borrow().ok().and_then(|r| r.clone())).ok().flatten() {
            eprintln!("{}", crash_note(&run));
        }
    }));
}

fn crash_note(run: &RunId) -> String {
    let variant = run.variant.as_deref().map(|v| format!(" (variant {v})")).unwrap_or_default();
    format!(
        "error: hasim crashed simulating {}{variant} with seed={}: this is a bug in hasim, not in the scenario.\n  \
         reproduce with: {}\n  \
         Please report it with the scenario file and the message above.",
        run.file,
        run.seed,
        run.reproduce()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_the_seed_and_a_command_that_replays_the_run() {
        let run = RunId { file: "scenarios/a b.yaml".into(), variant: Some("members-5".into()), seed: 7412 };
        let note = crash_note(&run);
        assert!(note.contains("with seed=7412"), "{note}");
        assert!(
            note.contains("reproduce with: hasim run 'scenarios/a b.yaml' --variant members-5 --seed 7412"),
            "{note}"
        );
    }

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted() {
        assert_eq!(quoted("scenarios/x.yaml"), "scenarios/x.yaml");
        assert_eq!(quoted("it's $HOME"), r"'it'\''s $HOME'");
        assert_eq!(quoted(""), "''");
        let flag_like = RunId { file: "-x.yaml".into(), variant: None, seed: 3 };
        assert_eq!(flag_like.reproduce(), "hasim run ./-x.yaml --seed 3");
    }
}
