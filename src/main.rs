//! The `hasim` command. Thin: parse arguments, call the simulation core, print what it
//! produced. Errors are rendered and mapped to exit codes in one place (`main`):
//! 0 success, 1 an expectation failed or a run broke a safety invariant, 2 bad input
//! (unreadable file, invalid scenario, bad flag). A panic (a bug) exits 101, after
//! `crash` has named the run and seed that reproduce it.

mod commands;
mod crash;
mod demo;
mod output;
mod parallel;
mod progress;

// Sweeps allocate and free many small buffers per run on every thread; mimalloc's
// thread-local free lists make that cheaper than glibc malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hasim_sim::sweep::Shard;

#[derive(Parser)]
#[command(
    name = "hasim",
    version,
    about = "Deterministic simulator of highly available Kubernetes control planes",
    long_about = "Deterministic simulator of highly available Kubernetes control planes.\n\n\
        Scenarios are YAML files (see `hasim schema scenario` and the scenarios/ directory). \
        The same scenario and seed always give the same report, byte for byte.",
    after_help = "Exit codes: 0 success; 1 an expectation failed or a safety invariant broke (run, sweep, \
        merge, compare, check, demo); 2 bad input (unreadable or invalid file, bad flag); \
        101 hasim crashed (a bug: the message names the seed and the command that reproduces it)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where and how a report is written.
#[derive(Args, Clone)]
struct OutputArgs {
    /// text for people (colour on a terminal), json for programs. Default: json when
    /// -o names a .json file, text otherwise.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the report to FILE (written whole or not at all) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Which seeds a sweep or comparison runs.
#[derive(Args, Clone)]
struct SeedArgs {
    /// How many seeds to run (1 to 100000000).
    #[arg(long, value_name = "N", value_parser = sweep_seed_count)]
    seeds: u64,
    /// The first seed (then first+1, …). Default: the scenario's `seed`.
    #[arg(long, value_name = "S", value_parser = seed)]
    first_seed: Option<u64>,
    /// Threads to run seeds on (1 to 1024; default: every core). The output does not depend on it.
    #[arg(long, short = 'j', value_name = "K", value_parser = jobs)]
    jobs: Option<u64>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario and report what happened.
    Run {
        /// The scenario (YAML).
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long, value_parser = seed)]
        seed: Option<u64>,
        /// Which of the scenario's `variants:` to run.
        #[arg(long, value_name = "NAME")]
        variant: Option<String>,
        /// In text output, print every timeline event before the summary.
        #[arg(long)]
        timeline: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run many seeds of a scenario and report distributions and the worst seeds.
    Sweep {
        /// The scenario (YAML).
        file: PathBuf,
        #[command(flatten)]
        seeds: SeedArgs,
        /// Run only part I of N of the seeds (for a CI matrix); join parts with `hasim merge`.
        #[arg(long, value_name = "I/N")]
        shard: Option<Shard>,
        /// Which of the scenario's `variants:` to sweep.
        #[arg(long, value_name = "NAME")]
        variant: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Join the JSON outputs of `hasim sweep --shard` into the unsharded sweep report.
    Merge {
        /// Shard reports (JSON), in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run the same seeds against several scenarios or a scenario's variants, side by side.
    /// Exits 1 when any run fails its expectations, as sweep does.
    Compare {
        /// Scenario files; a file with `variants:` contributes each variant.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How many seeds per configuration (1 to 10000000: a comparison runs them for
        /// every configuration, so its cap is a tenth of sweep's).
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = compare_seed_count)]
        seeds: u64,
        /// The first seed. Default: the first file's `seed`.
        #[arg(long, value_name = "S", value_parser = seed)]
        first_seed: Option<u64>,
        /// Threads to run seeds on (1 to 1024; default: every core). The output does not depend on it.
        #[arg(long, short = 'j', value_name = "K", value_parser = jobs)]
        jobs: Option<u64>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run scenarios and check their `expect` blocks (files, or directories of *.yaml).
    Check {
        /// Scenario files, or directories: each directory's *.yaml and *.yml files, not
        /// those of its subdirectories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Replay a run in the terminal UI (or browse a sweep or comparison report).
    #[command(after_help = "Keys: space play/pause, n/p step, f/F next/previous fault, o/O outage, \
        +/- speed, g seek, Tab pane, ? help, q quit.")]
    Tui {
        /// The scenario to run and replay.
        #[arg(required_unless_present = "report", conflicts_with = "report")]
        file: Option<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long, value_parser = seed, conflicts_with = "report")]
        seed: Option<u64>,
        /// Which of the scenario's `variants:` to run.
        #[arg(long, value_name = "NAME", conflicts_with = "report")]
        variant: Option<String>,
        /// A JSON report written by `hasim run`, `sweep`, `merge` or `compare`.
        #[arg(long, value_name = "REPORT.json")]
        report: Option<PathBuf>,
    },
    /// Print a JSON Schema.
    Schema {
        #[arg(value_enum)]
        of: SchemaOf,
    },
    /// Run the built-in demo: an etcd cluster under write load loses its leader.
    Demo {
        /// Seed for every random choice; the same seed gives the same run.
        #[arg(long, default_value_t = 1, value_parser = seed)]
        seed: u64,
        /// Number of etcd members (1–7).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=7))]
        members: u8,
        /// Disable etcd's PreVote (the etcd 3.4 default).
        #[arg(long)]
        no_pre_vote: bool,
        /// Client writes per second, spread over the members (0 to 10000, the cap of
        /// scenario files).
        #[arg(long, default_value_t = 100, value_parser = writes_per_sec)]
        writes_per_sec: u32,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaOf {
    /// Scenario files.
    Scenario,
    /// `hasim run --format json`.
    Report,
    /// `hasim sweep --format json` (and merge).
    Sweep,
    /// `hasim compare --format json`.
    Compare,
}

/// A whole number from `range`, or an error that says what was expected (clap prints
/// it after "invalid value 'abc' for '--seeds <N>'").
fn whole(text: &str, range: std::ops::RangeInclusive<u64>, what: &str) -> Result<u64, String> {
    let expected = || format!("expected {what}: a whole number from {} to {}", range.start(), range.end());
    match text.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(expected()),
    }
}

fn sweep_seed_count(text: &str) -> Result<u64, String> {
    whole(text, 1..=100_000_000, "how many seeds to run")
}

fn compare_seed_count(text: &str) -> Result<u64, String> {
    whole(text, 1..=10_000_000, "how many seeds to run per configuration")
}

fn seed(text: &str) -> Result<u64, String> {
    whole(text, 0..=u64::MAX, "a seed")
}

fn jobs(text: &str) -> Result<u64, String> {
    whole(text, 1..=1024, "a thread count")
}

/// The demo keeps every request in memory: the cap of scenario files keeps it small.
fn writes_per_sec(text: &str) -> Result<u32, String> {
    whole(text, 0..=10_000, "writes per second").map(|n| n as u32)
}

/// How a command ended, short of success.
pub enum Failure {
    /// Bad input: each message is printed as an error; exit 2. (Scenario diagnostics
    /// are printed as they are found, so a check of many files shows them in place.)
    BadInput(Vec<String>),
    /// An expectation or invariant did not hold (already reported): exit 1.
    Unmet,
    /// A run crashed (a bug in hasim), and the command caught it to go on with the
    /// others (`check`); the crash note is already printed: exit 101, as an uncaught
    /// panic exits.
    Crashed,
}

impl Failure {
    pub fn bad(message: impl Into<String>) -> Failure {
        Failure::BadInput(vec![message.into()])
    }
}

fn main() -> ExitCode {
    crash::install_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { file, seed, variant, timeline, out } => {
            commands::run(&file, seed, variant.as_deref(), timeline, &out.into())
        }
        Command::Sweep { file, seeds, shard, variant, out } => {
            commands::sweep(&file, &seeds.into(), shard, variant.as_deref(), &out.into())
        }
        Command::Merge { shards, out } => commands::merge(&shards, &out.into()),
        Command::Compare { files, seeds, first_seed, jobs, out } => {
            let seeds = commands::Seeds { count: seeds, first: first_seed, jobs };
            commands::compare(&files, &seeds, &out.into())
        }
        Command::Check { paths, junit } => commands::check(&paths, junit.as_deref()),
        Command::Tui { file, seed, variant, report } => match (file, report) {
            (_, Some(report)) => commands::tui_report(&report),
            (Some(file), None) => commands::tui(&file, seed, variant.as_deref()),
            (None, None) => Err(Failure::bad("give a scenario file or --report REPORT.json")),
        },
        Command::Schema { of } => commands::schema(match of {
            SchemaOf::Scenario => hasim_sim::scenario::schema(),
            SchemaOf::Report => hasim_sim::report::schema(),
            SchemaOf::Sweep => hasim_sim::sweep::sweep_schema(),
            SchemaOf::Compare => hasim_sim::sweep::compare_schema(),
        }),
        Command::Demo { seed, members, no_pre_vote, writes_per_sec } => {
            demo::demo(seed, members, !no_pre_vote, writes_per_sec)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Unmet) => ExitCode::from(1),
        Err(Failure::Crashed) => ExitCode::from(101),
        Err(Failure::BadInput(messages)) => {
            for m in messages {
                output::error(&m);
            }
            ExitCode::from(2)
        }
    }
}

impl From<OutputArgs> for output::Destination {
    fn from(a: OutputArgs) -> Self {
        output::Destination::new(a.format, a.output)
    }
}

impl From<SeedArgs> for commands::Seeds {
    fn from(a: SeedArgs) -> Self {
        commands::Seeds { count: a.seeds, first: a.first_seed, jobs: a.jobs }
    }
}
