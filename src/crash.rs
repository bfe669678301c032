//! What hasim says when the simulation core panics. A panic is a bug in hasim, never
//! bad input, and it happens in one run of one scenario with one seed: the message
//! names them and the `hasim run` command that replays the run alone (for `hasim
//! demo`, the `hasim demo` command), so the failure can be reproduced and reported
//! even when it came from seed 7,412 of a sweep.
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
enum RunId {
    /// A run of a scenario file (one of its variants).
    Scenario { file: String, variant: Option<String>, seed: u64 },
    /// `hasim demo`'s built-in run; `flags` are every option that shapes it (defaults
    /// included), as the command line spells them.
    Demo { seed: u64, flags: String },
}

impl RunId {
    fn seed(&self) -> u64 {
        match *self {
            RunId::Scenario { seed, .. } | RunId::Demo { seed, .. } => seed,
        }
    }

    /// What was being simulated, for the note.
    fn what(&self) -> String {
        match self {
            RunId::Scenario { file, variant: Some(v), .. } => format!("{file} (variant {v})"),
            RunId::Scenario { file, variant: None, .. } => file.clone(),
            RunId::Demo { .. } => "the built-in demo".to_string(),
        }
    }

    /// The command that replays this run on its own.
    fn reproduce(&self) -> String {
        match self {
            RunId::Scenario { file, variant, seed } => {
                // A file named like a flag would be read as one.
                let file = if file.starts_with('-') { quoted(&format!("./{file}")) } else { quoted(file) };
                match variant {
                    Some(v) => format!("hasim run {file} --variant {} --seed {seed}", quoted(v)),
                    None => format!("hasim run {file} --seed {seed}"),
                }
            }
            RunId::Demo { seed, flags } => format!("hasim demo --seed {seed}{flags}"),
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
    in_run(RunId::Scenario { file: file.to_string(), variant: variant.map(str::to_string), seed }, f)
}

/// Runs `f`, `hasim demo`'s simulation with `seed`, so that a panic inside names the
/// demo command (with `flags`, the other options that shape the run) that replays it.
pub fn simulating_demo<T>(seed: u64, flags: String, f: impl FnOnce() -> T) -> T {
    in_run(RunId::Demo { seed, flags }, f)
}

fn in_run<T>(run: RunId, f: impl FnOnce() -> T) -> T {
    let seed = run.seed();
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

/// The command that replays the run of `file` (its `variant`) with `seed` alone: what a
/// report of a crash (such as a JUnit error) tells the reader to run.
pub fn reproduce_command(file: &str, variant: Option<&str>, seed: u64) -> String {
    RunId::Scenario { file: file.to_string(), variant: variant.map(str::to_string), seed }.reproduce()
}

/// The text a panic carried: what `panic!` formatted, or a placeholder for a payload
/// of another type.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "(a panic without a message)".to_string(),
    }
}

fn crash_note(run: &RunId) -> String {
    let (not_in, report_with) = match run {
        RunId::Scenario { .. } => ("not in the scenario", "the scenario file and the message above"),
        RunId::Demo { .. } => ("not in how it was run", "the message above"),
    };
    format!(
        "error: hasim crashed simulating {} with seed={}: this is a bug in hasim, {not_in}.\n  \
         reproduce with: {}\n  \
         Please report it with {report_with}.",
        run.what(),
        run.seed(),
        run.reproduce()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_the_seed_and_a_command_that_replays_the_run() {
        let run = RunId::Scenario { file: "scenarios/a b.yaml".into(), variant: Some("members-5".into()), seed: 7412 };
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
        let flag_like = RunId::Scenario { file: "-x.yaml".into(), variant: None, seed: 3 };
        assert_eq!(flag_like.reproduce(), "hasim run ./-x.yaml --seed 3");
    }

    #[test]
    fn a_demo_crash_names_the_demo_command_with_its_flags() {
        let run = RunId::Demo { seed: 9, flags: " --members 5 --no-pre-vote".into() };
        let note = crash_note(&run);
        assert!(note.contains("crashed simulating the built-in demo with seed=9"), "{note}");
        assert!(note.contains("reproduce with: hasim demo --seed 9 --members 5 --no-pre-vote"), "{note}");
    }
}
