//! The `hasim` command. Thin: parse arguments, call the simulation core, print what it
//! produced. Errors are rendered and mapped to exit codes in one place (`main`):
//! 0 success, 1 an expectation failed or a run broke a safety invariant, 2 bad input
//! (unreadable file, invalid scenario, bad flag).

mod commands;
mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "hasim",
    version,
    about = "Deterministic simulator of highly available Kubernetes control planes",
    after_help = "Exit codes: 0 success; 1 an expectation failed or a safety invariant broke; 2 bad input."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario file and print what happened.
    Run {
        /// The scenario (YAML).
        file: std::path::PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print every timeline event, not only the summary.
        #[arg(long)]
        timeline: bool,
    },
    /// Run scenarios and check their `expect` blocks (files, or directories of *.yaml).
    Check {
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Print a JSON Schema.
    Schema {
        #[arg(value_enum)]
        of: SchemaOf,
    },
    /// Run the built-in demo: an etcd cluster under write load loses its leader.
    Demo {
        /// Seed for every random choice; the same seed gives the same run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of etcd members (1–7).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=7))]
        members: u8,
        /// Disable etcd's PreVote (the etcd 3.4 default).
        #[arg(long)]
        no_pre_vote: bool,
        /// Client writes per second, spread over the members.
        #[arg(long, default_value_t = 100)]
        writes_per_sec: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaOf {
    /// Scenario files.
    Scenario,
}

/// How a command ended, short of a crash.
pub enum Failure {
    /// Bad input: printed already, exit 2.
    BadInput,
    /// An expectation or invariant did not hold: exit 1.
    Unmet,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { file, seed, timeline } => commands::run(&file, seed, timeline),
        Command::Check { paths } => commands::check(&paths),
        Command::Schema { of: SchemaOf::Scenario } => commands::schema(),
        Command::Demo { seed, members, no_pre_vote, writes_per_sec } => {
            demo::demo(seed, members, !no_pre_vote, writes_per_sec)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Unmet) => ExitCode::from(1),
        Err(Failure::BadInput) => ExitCode::from(2),
    }
}
