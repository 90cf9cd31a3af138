//! The `vigil` binary.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use vigil::cli::{Cli, Command, PluginsCommand};

fn main() -> ExitCode {
    let process_start = Instant::now();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => vigil::app::run(&config, process_start),
        Command::Demo(args) => vigil::app::demo(args, process_start),
        Command::Replay(args) => vigil::app::replay(args, process_start),
        Command::Eval(args) => vigil::app::eval(args),
        Command::CheckConfig { file } => vigil::app::check_config(&file),
        Command::Plugins {
            command: PluginsCommand::List(args),
        } => vigil::app::plugins_list(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
