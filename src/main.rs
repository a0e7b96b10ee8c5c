use std::process::ExitCode;

use clap::Parser;
use egress_advisor::cli::{Cli, Command};
use egress_advisor::cmd;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::EXIT_AFTER.store(true, std::sync::atomic::Ordering::Relaxed);
    let result = match &cli.command {
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Recommend(a) => cmd::recommend::run(a),
        Command::Merge(a) => cmd::analyze::merge(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Migrate(a) => cmd::migrate::run(a),
        Command::ListInputs(a) => cmd::list_inputs(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Telemetry(a) => cmd::telemetry::run(a),
        Command::Completions(a) => cmd::completions(a),
        Command::Man(a) => cmd::man(a),
    };
    result.unwrap_or_else(cmd::Error::report).into()
}
