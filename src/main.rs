//! `nmlc`: the command-line interface over the nmlc compiler and runtime.
//!
//! This is the only place that prints: it parses arguments, runs a command
//! and turns diagnostics into reports on stderr. Exit codes: 0 success,
//! 1 the model has errors, 2 bad usage, 3 runtime failure (not enough
//! memory, a backend that cannot compile, a bug), 130 interrupted.

mod commands;
mod interrupt;
mod plot;
mod preflight;
mod progress;
mod reproducibility;
mod sweep;

use clap::{Args, Parser, Subcommand, ValueEnum};
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

/// The backends that run step kernels.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum BackendArg {
    /// Native code compiled with Cranelift.
    Jit,
    /// The reference IR interpreter (slow, defines the semantics).
    Interp,
}

/// Floating-point precision of the neurons' state.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PrecisionArg {
    /// 64-bit reals.
    F64,
    /// 32-bit reals.
    F32,
}

/// The layout of result files.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ResultFormat {
    /// CSV tables (spikes.csv, trace_*.csv, rate_*.csv).
    Csv,
    /// One NumPy archive, results.npz.
    Npz,
}

/// When `nmlc run` shows the progress of the simulation.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ProgressArg {
    /// A progress bar when stderr is a terminal and not `--quiet`.
    Auto,
    /// Always: a bar on a terminal, else a plain line every second.
    Always,
    /// Never.
    Never,
}

/// Which images `nmlc plot` writes.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PlotFormatArg {
    /// A PNG bitmap.
    Png,
    /// An SVG vector image.
    Svg,
    /// Both.
    Both,
}

/// The options of `nmlc plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The result folder of `nmlc run`.
    #[arg(value_name = "OUTDIR")]
    pub dir: PathBuf,
    /// Which images to write.
    #[arg(long, value_enum, default_value_t = PlotFormatArg::Both)]
    pub format: PlotFormatArg,
    /// The images' file name without extension, in OUTDIR (or a path) [default: plot].
    #[arg(short, long, value_name = "FILE_STEM")]
    pub output: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// How `nmlc ir` prints.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum IrFormat {
    /// The readable text form.
    Text,
    /// The IR as JSON.
    Json,
    /// The machine code the CPU JIT makes of each step kernel (host
    /// assembly), for seeing what a model costs per neuron and step.
    Asm,
}

/// The options of `nmlc run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The `.nml` file holding the network.
    pub file: PathBuf,
    /// The folder for results [default: nmlc-out/<network name>].
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The network to run, if the file defines several.
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// The time step, e.g. `0.05ms` [default: the file's, else 0.1 ms].
    #[arg(long, value_name = "TIME")]
    pub dt: Option<String>,
    /// The simulated time, e.g. `2s` [default: the file's, else 1000 ms].
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// The random seed [default: the file's, else 0].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// A network parameter (`--set g=4`, `--set we=2mV`) or a population's
    /// model parameter (`--set E.tau_m=15ms`); repeatable. `nmlc sweep`
    /// takes a list of values (`--set g=4,5,6`).
    #[arg(long, value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// The backend [default: jit where it is available, else interp].
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// The precision of the neurons' reals.
    #[arg(long, value_enum, default_value_t = PrecisionArg::F64)]
    pub precision: PrecisionArg,
    /// Worker threads [default: every core]; results are the same for every value.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// The format of the result files.
    #[arg(long, value_enum, default_value_t = ResultFormat::Csv)]
    pub format: ResultFormat,
    /// Write into a folder that already holds files (files of the same name are replaced).
    #[arg(long)]
    pub overwrite: bool,
    /// Also draw the results into plot.png and plot.svg in the result folder.
    #[arg(long)]
    pub plot: bool,
    /// Refuse a run whose recorded traces would take more than SIZE
    /// (`2GB`, `512MiB`, `none`).
    #[arg(long, value_name = "SIZE", default_value = preflight::DEFAULT_MAX_RECORD, value_parser = preflight::parse_size)]
    pub max_record: u64,
    /// Run even if the memory estimate exceeds the memory available.
    #[arg(long)]
    pub force: bool,
    /// Show the progress of the simulation on stderr: `auto` (a bar on a
    /// terminal, unless --quiet), `always` (plain lines when not a
    /// terminal), `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
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
        /// Also print, per neuron model, the solver nmlc would choose and why.
        #[arg(long)]
        explain: bool,
    },
    /// Show the standard model library: all models, or one in detail.
    Doc {
        /// A model name (e.g. `LIF`) or module (e.g. `stdlib.neurons.lif`).
        model: Option<String>,
    },
    /// Simulate a network and write its recordings.
    Run(RunArgs),
    /// Run a network for every combination of parameter values
    /// (`--set g=4,5,6 --set eta=1,2`), compiling it once.
    Sweep(RunArgs),
    /// Draw the results of a run (spike raster, rates, traces) as PNG and SVG.
    Plot(PlotArgs),
    /// Print the intermediate representation of every population of a network.
    Ir {
        /// The `.nml` file holding the network.
        file: PathBuf,
        /// The network, if the file defines several.
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
        /// How to print the IR.
        #[arg(long, value_enum, default_value_t = IrFormat::Text)]
        format: IrFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Deeply nested models recurse in the checker; give it room.
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || match cli.command {
            Command::Check {
                files,
                format,
                explain,
            } => commands::check(&files, format, explain),
            Command::Doc { model } => commands::doc(model.as_deref()),
            Command::Run(args) => commands::run(&args),
            Command::Plot(args) => commands::plot(&args),
            Command::Sweep(args) => sweep::sweep(&args),
            Command::Ir {
                file,
                network,
                format,
            } => commands::ir(&file, network.as_deref(), format),
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
