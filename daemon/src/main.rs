//! The `vigil` binary.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use vigil::cli::{Cli, Command};

fn init_logging(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn main() -> ExitCode {
    let process_start = Instant::now();
    let cli = Cli::parse();
    let level = match &cli.command {
        Command::Replay(_) => "warn",
        _ => "info",
    };
    init_logging(level);
    let result = match cli.command {
        Command::Run { config } => vigil::app::run(&config, process_start),
        Command::Demo(args) => vigil::app::demo(args, process_start),
        Command::Replay(args) => vigil::app::replay(args, process_start),
        Command::CheckConfig { file } => vigil::app::check_config(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
