//! `nmlc`: the command-line interface over the nmlc compiler and runtime.
//!
//! This is the only place that prints: it parses arguments, runs a command
//! and turns diagnostics into reports on stderr. Exit codes: 0 success,
//! 1 the model has errors, 2 bad usage, 3 runtime failure.

mod commands;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Compiler and simulator for neuron, synapse and network models written in NML.
#[derive(Parser, Debug)]
#[command(name = "nmlc", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The output format of diagnostics.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DiagnosticFormat {
    /// Human-readable reports with source snippets.
    Human,
    /// One JSON array of diagnostics on stdout (for editors).
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check model files: syntax, names, units. Exits 1 if there is an error.
    Check {
        /// The `.nml` files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
        format: DiagnosticFormat,
    },
    /// Show the standard model library: all models, or one in detail.
    Doc {
        /// A model name (e.g. `LIF`) or module (e.g. `stdlib.neurons.lif`).
        model: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Deeply nested models recurse in the checker; give it room.
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || match cli.command {
            Command::Check { files, format } => commands::check(&files, format),
            Command::Doc { model } => commands::doc(model.as_deref()),
        });
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!(
                "nmlc: internal error (this is a bug in nmlc; please report it with the model file)"
            );
            ExitCode::from(3)
        }
    }
}
