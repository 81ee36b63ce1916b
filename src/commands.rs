//! The subcommands.

use crate::plot;
use crate::progress::Monitor;
use crate::{BackendArg, DiagnosticFormat, IrFormat, PrecisionArg, ResultFormat, RunArgs};
use nmlc_compiler::backend::Backend;
use nmlc_compiler::diagnostics::{Diagnostic, render};
use nmlc_compiler::ir::lower::PopulationSpec;
use nmlc_compiler::ir::{Precision, compile_neuron};
use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::units::{Dim, lookup_unit};
use nmlc_compiler::{Compilation, compile_paths, compile_stdlib};
use nmlc_runtime::network::{
    self, CompiledKind, CompiledNetwork, History, LOOK_BACK_LIMIT_S, OutputFormat, RunError,
    RunOptions, Simulation, SweepValue,
};
use nmlc_runtime::output::{OutputDir, TimingSummary, build_rate};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Prints the diagnostics of a compilation to stderr (or JSON to stdout).
fn report(c: &Compilation, format: DiagnosticFormat) {
    report_list(c, &c.diagnostics, format);
}

/// Prints `diagnostics` found in the files of `c`.
fn report_list(c: &Compilation, diagnostics: &[Diagnostic], format: DiagnosticFormat) {
    match format {
        DiagnosticFormat::Json => {
            let list: Vec<_> = diagnostics
                .iter()
                .map(|d| render::to_json(d, &c.loaded.sources))
                .collect();
            match serde_json::to_string_pretty(&list) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("nmlc: cannot encode diagnostics: {e}"),
            }
        }
        DiagnosticFormat::Human => {
            if std::io::stderr().is_terminal() {
                for d in diagnostics {
                    eprintln!("{:?}", render::to_report(d, &c.loaded.sources));
                }
            } else {
                eprint!(
                    "{}",
                    render::to_plain_text(diagnostics, &c.loaded.sources, 100)
                );
            }
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = diagnostics.len() - errors;
            if errors > 0 {
                eprintln!("nmlc: {errors} error(s), {warnings} warning(s)");
            }
        }
    }
}

/// `nmlc check FILE… [--explain]`
pub fn check(files: &[PathBuf], format: DiagnosticFormat, explain: bool) -> ExitCode {
    let c = compile_paths(files, &DiskReader);
    report(&c, format);
    if c.has_errors() {
        ExitCode::from(1)
    } else {
        if format == DiagnosticFormat::Human {
            let p = &c.program;
            eprintln!(
                "nmlc: ok: {} neuron model(s), {} synapse model(s), {} network(s)",
                p.neurons.len(),
                p.synapses.len(),
                p.networks.len()
            );
        }
        if explain {
            explain_solvers(&c);
        }
        ExitCode::SUCCESS
    }
}

/// `nmlc doc [MODEL]`
pub fn doc(model: Option<&str>) -> ExitCode {
    let c = compile_stdlib();
    if c.has_errors() {
        report(&c, DiagnosticFormat::Human);
        return ExitCode::from(3);
    }
    let listing = nmlc_compiler::doc::Library::new(&c);
    match model {
        None => {
            print!("{}", listing.overview());
            ExitCode::SUCCESS
        }
        Some(name) => match listing.detail(name) {
            Some(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            None => {
                let suggestions = listing.suggest(name);
                eprintln!("nmlc: no standard-library model or module named `{name}`{suggestions}");
                eprintln!("      `nmlc doc` lists them all");
                ExitCode::from(2)
            }
        },
    }
}

/// Prints, per neuron model, the solver chosen with default parameters.
fn explain_solvers(c: &Compilation) {
    let mut out = String::new();
    for model in &c.program.neurons {
        let spec = PopulationSpec::defaults(model, &model.name, network::DEFAULT_DT_MS);
        out.push_str(&match compile_neuron(model, &spec) {
            Ok((ir, _)) => format!(
                "{}: solver {}: {}\n",
                model.name,
                ir.solver.kind.name(),
                ir.solver.reason
            ),
            Err(d) => format!(
                "{}: cannot be compiled with its defaults: {}\n",
                model.name, d.message
            ),
        });
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
}

/// Reports a runtime error: with the source where it points into the model.
pub(crate) fn report_run_error(c: &Compilation, e: &RunError) -> ExitCode {
    match e.diagnostic() {
        Some(d) => report_list(c, &[d], DiagnosticFormat::Human),
        None => eprintln!("nmlc: {e}"),
    }
    ExitCode::from(e.exit_code())
}

/// Loads and checks one file; `None` (after reporting) if it has errors.
fn load(file: &Path) -> Option<Compilation> {
    let c = compile_paths(&[file.to_path_buf()], &DiskReader);
    if c.has_errors() {
        report(&c, DiagnosticFormat::Human);
        return None;
    }
    if !c.diagnostics.is_empty() {
        report(&c, DiagnosticFormat::Human);
    }
    Some(c)
}

/// Prints a phase line `nmlc: …` on stderr, unless `quiet`.
pub(crate) fn sayer(quiet: bool) -> impl Fn(String) {
    move |text| {
        if !quiet {
            eprintln!("nmlc: {text}");
        }
    }
}

/// [`load`], then says how long it took; also returns that time (s).
pub(crate) fn load_timed(file: &Path, say: &impl Fn(String)) -> Option<(Compilation, f64)> {
    let started = Instant::now();
    let c = load(file)?;
    let check_s = started.elapsed().as_secs_f64();
    say(format!("parse/check {check_s:.3} s"));
    Some((c, check_s))
}

/// Splits `0.05ms`, `0.05 ms` or `2` into a number and a unit name.
fn split_quantity(text: &str) -> Option<(f64, &str)> {
    let text = text.trim();
    let split = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .rev()
        .find(|&i| i > 0 && text[..i].trim().parse::<f64>().is_ok())?;
    let number = text[..split].trim().parse::<f64>().ok()?;
    if !number.is_finite() {
        return None;
    }
    Some((number, text[split..].trim()))
}

/// A quantity from the command line in the internal scale, with its
/// dimension. A bare number is dimensionless.
fn parse_quantity(flag: &str, text: &str) -> Result<(f64, Dim), String> {
    let (number, unit) = split_quantity(text)
        .ok_or_else(|| format!("{flag}: `{text}` is not a quantity such as `0.1ms` or `2 s`"))?;
    if unit.is_empty() {
        return Ok((number, Dim::ONE));
    }
    let u = lookup_unit(unit).map_err(|e| {
        let mut message = format!("{flag}: unknown unit `{unit}` in `{text}`");
        if !e.candidates.is_empty() {
            message.push_str(&format!(
                " (did you mean {}?)",
                e.candidates
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        message
    })?;
    Ok((number * u.internal_factor(), u.dim))
}

/// A time from the command line, in ms.
fn parse_time(flag: &str, text: &str) -> Result<f64, String> {
    let (value, dim) = parse_quantity(flag, text)?;
    if dim != Dim::TIME {
        return Err(format!(
            "{flag} must be a time with its unit, such as `0.1ms` or `2s`; `{text}` is {}",
            nmlc_compiler::units::describe(dim)
        ));
    }
    if value <= 0.0 {
        return Err(format!("{flag} must be positive, not `{text}`"));
    }
    Ok(value)
}

/// `--set NAME=VALUE` or, for `nmlc sweep`, `--set NAME=V1,V2,…`: the
/// name and each value (internal scale, dimension, text as given).
pub(crate) fn parse_set(item: &str) -> Result<(String, Vec<SweepValue>), String> {
    let (name, values) = item
        .split_once('=')
        .filter(|(name, _)| !name.trim().is_empty())
        .ok_or_else(|| format!("--set: `{item}` is not of the form NAME=VALUE"))?;
    let name = name.trim();
    let flag = format!("--set {name}");
    let mut out = Vec::new();
    for text in values.split(',').map(str::trim) {
        let (value, dim) = parse_quantity(&flag, text)?;
        out.push(SweepValue {
            value,
            dim,
            label: text.to_string(),
        });
    }
    Ok((name.to_string(), out))
}

/// The run options from the command line; an error is a usage error.
fn run_options(args: &RunArgs) -> Result<RunOptions, String> {
    let mut options = options_but_set(args)?;
    for item in &args.set {
        let (name, values) = parse_set(item)?;
        let [v] = values.as_slice() else {
            return Err(format!(
                "--set {name}: `nmlc run` takes one value; a list of values is for `nmlc sweep`"
            ));
        };
        options.set.push((name, v.value, v.dim));
    }
    Ok(options)
}

/// The run options from the command line except `--set`.
pub(crate) fn options_but_set(args: &RunArgs) -> Result<RunOptions, String> {
    Ok(RunOptions {
        network: args.network.clone(),
        dt_ms: args
            .dt
            .as_deref()
            .map(|t| parse_time("--dt", t))
            .transpose()?,
        duration_ms: args
            .duration
            .as_deref()
            .map(|t| parse_time("--duration", t))
            .transpose()?,
        seed: args.seed,
        backend: args.backend.map(|b| match b {
            BackendArg::Jit => Backend::Jit,
            BackendArg::Interp => Backend::Interp,
        }),
        precision: match args.precision {
            PrecisionArg::F64 => Precision::F64,
            PrecisionArg::F32 => Precision::F32,
        },
        set: Vec::new(),
        threads: args.threads.map(usize::from),
    })
}

/// `nmlc run FILE …`
pub fn run(args: &RunArgs) -> ExitCode {
    let options = match run_options(args) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("nmlc: {message}");
            return ExitCode::from(2);
        }
    };
    let say = sayer(args.quiet);
    let Some((c, check_s)) = load_timed(&args.file, &say) else {
        return ExitCode::from(1);
    };

    let started = Instant::now();
    let compiled = match network::compile(&c.program, &options) {
        Ok(compiled) => compiled,
        Err(e) => return report_run_error(&c, &e),
    };
    let compile_s = started.elapsed().as_secs_f64();
    let (network_line, population_lines) = describe_compiled(&compiled);
    say(format!("compile {compile_s:.3} s: {network_line}"));
    population_lines.into_iter().for_each(&say);
    if let Err(code) = crate::preflight::check(&c, &compiled, args) {
        return code;
    }

    let path = args
        .output
        .clone()
        .unwrap_or_else(|| Path::new("nmlc-out").join(&compiled.network.name));
    let dir = match open_output(&path, args.overwrite) {
        Ok(dir) => dir,
        Err(code) => return code,
    };

    let started = Instant::now();
    let mut sim = match Simulation::build(&compiled) {
        Ok(sim) => sim,
        Err(e) => return report_run_error(&c, &e),
    };
    let build_s = started.elapsed().as_secs_f64();
    // Plain digits: bench/run_peers.py reads `(\d+) synapse`,
    // `([0-9.]+) bytes per synapse` and `([0-9.]+) million per second`.
    let synapses = sim.synapses();
    let rate = match build_rate(synapses, build_s) {
        Some(r) => format!(" ({:.1} million per second)", r / 1e6),
        None => String::new(),
    };
    let bytes = match synapses {
        0 => String::new(),
        n => format!(
            "{rate}, {:.1} bytes per synapse",
            sim.synapse_bytes() as f64 / n as f64
        ),
    };
    say(format!(
        "build {build_s:.3} s: {} neuron(s), {synapses} synapse(s){bytes}",
        sim.neurons(),
    ));

    crate::interrupt::install();
    let mut monitor = Monitor::new(args.progress, args.quiet, String::new());
    let started = Instant::now();
    let outcome = sim.run_observed(&mut |p| monitor.observe(p));
    let simulate_s = started.elapsed().as_secs_f64();
    monitor.finish();
    let reached = sim.progress();
    let steps_text = if reached.steps_done < reached.steps {
        format!("{} of {} step(s)", reached.steps_done, reached.steps)
    } else {
        format!("{} step(s)", reached.steps)
    };
    say(format!(
        "simulate {simulate_s:.3} s: {steps_text}, {} spike(s)",
        reached.spikes
    ));

    let timing = TimingSummary {
        compile: check_s + compile_s,
        build: build_s,
        simulate: simulate_s,
    };
    let format = match args.format {
        ResultFormat::Csv => OutputFormat::Csv,
        ResultFormat::Npz => OutputFormat::Npz,
    };
    let reproducibility = crate::reproducibility::of_run(&c, compiled.network, &args.file);
    let written = sim.write(&dir, format, timing, &reproducibility);
    // The network's memory is given back before a NaN is looked into.
    drop(sim);
    match written {
        Ok(files) => say(format!(
            "wrote {} file(s) to {}",
            files.len(),
            dir.path().display()
        )),
        Err(e) => return report_run_error(&c, &e),
    }
    // Plotting reads what was just written, so a run stopped early is drawn too.
    let plot_failure = args
        .plot
        .then(|| write_plot(dir.path(), None, plot::ImageFormats::BOTH, args.quiet))
        .and_then(Result::err);
    match outcome {
        Ok(()) if reached.steps_done < reached.steps => {
            eprintln!(
                "nmlc: interrupted at t = {} ms of {} ms; the results up to then are in {}",
                nmlc_runtime::output::grid_time(reached.steps_done, compiled.dt_ms),
                compiled.duration_ms,
                dir.path().display()
            );
            ExitCode::from(crate::interrupt::EXIT_INTERRUPTED)
        }
        Ok(()) => plot_failure.map_or(ExitCode::SUCCESS, ExitCode::from),
        Err(mut e) => {
            eprintln!(
                "nmlc: the results up to the stop are in {}",
                dir.path().display()
            );
            look_back(&mut e, &compiled, simulate_s, &say);
            report_run_error(&c, &e)
        }
    }
}

/// For a NaN or infinite state, finds its last finite value by running
/// the network again (see [`RunError::look_back`]), saying so when that
/// may take a while.
pub(crate) fn look_back(
    e: &mut RunError,
    compiled: &CompiledNetwork,
    simulate_s: f64,
    say: &impl Fn(String),
) {
    if let RunError::NonFinite(fault) = e
        && fault.history == History::NotLookedFor
        && (1.0..=LOOK_BACK_LIMIT_S).contains(&simulate_s)
    {
        say(format!(
            "running the network again to t = {} ms to find the last finite value of `{}`",
            fault.last_time_ms(),
            fault.variable
        ));
    }
    // A Ctrl-C gives the search up.
    e.look_back(compiled, simulate_s, &mut |_| {
        !crate::interrupt::requested()
    });
}

/// What `nmlc run` says about a compiled network: one line for the
/// network, one per neuron population (its solver and why).
pub(crate) fn describe_compiled(compiled: &CompiledNetwork) -> (String, Vec<String>) {
    let network = format!(
        "network {}, {} population(s), backend {}, dt = {} ms, duration = {} ms, seed {}",
        compiled.network.name,
        compiled.populations.len(),
        compiled.backend.name(),
        compiled.dt_ms,
        compiled.duration_ms,
        compiled.seed
    );
    let populations = compiled
        .populations
        .iter()
        .filter_map(|p| match &p.kind {
            CompiledKind::Neuron { ir, .. } => Some(format!(
                "  {} = {}({}): solver {} ({})",
                p.name,
                ir.model,
                p.size,
                ir.solver.kind.name(),
                ir.solver.reason
            )),
            _ => None,
        })
        .collect();
    (network, populations)
}

/// Opens the result folder; on failure reports why and gives the exit code.
pub(crate) fn open_output(path: &Path, overwrite: bool) -> Result<OutputDir, ExitCode> {
    OutputDir::create(path, overwrite).map_err(|e| {
        let e = RunError::Output(e);
        eprintln!("nmlc: {e}");
        if e.exit_code() == 2 {
            eprintln!("      choose another folder with -o DIR, or pass --overwrite");
        }
        ExitCode::from(e.exit_code())
    })
}

/// `nmlc plot OUTDIR [--format png|svg|both] [-o FILE_STEM]`
pub fn plot(args: &crate::PlotArgs) -> ExitCode {
    let formats = plot::ImageFormats {
        png: args.format != crate::PlotFormatArg::Svg,
        svg: args.format != crate::PlotFormatArg::Png,
    };
    match write_plot(&args.dir, args.output.as_deref(), formats, args.quiet) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

/// Draws the results in `dir` and reports; the exit code on failure.
pub(crate) fn write_plot(
    dir: &Path,
    stem: Option<&Path>,
    formats: plot::ImageFormats,
    quiet: bool,
) -> Result<(), u8> {
    match plot::plot_folder(dir, stem, formats) {
        Ok(files) => {
            if !quiet {
                for file in files {
                    eprintln!("nmlc: wrote {}", file.display());
                }
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("nmlc: {e}");
            if let Some(help) = e.help() {
                eprintln!("      {help}");
            }
            Err(e.exit_code())
        }
    }
}

/// `nmlc ir FILE [--network NAME] [--format text|json]`
pub fn ir(file: &Path, network_name: Option<&str>, format: IrFormat) -> ExitCode {
    let Some(c) = load(file) else {
        return ExitCode::from(1);
    };
    let options = RunOptions {
        network: network_name.map(String::from),
        ..RunOptions::default()
    };
    let compiled = match network::compile_ir(&c.program, &options) {
        Ok(compiled) => compiled,
        Err(e) => return report_run_error(&c, &e),
    };
    let mut out = String::new();
    match format {
        IrFormat::Text => {
            for p in &compiled.populations {
                match &p.kind {
                    CompiledKind::Neuron { ir, .. } => {
                        out.push_str(&format!(
                            "// {} = {}({}): solver {} ({})\n",
                            p.name,
                            ir.model,
                            p.size,
                            ir.solver.kind.name(),
                            ir.solver.reason
                        ));
                        out.push_str(&nmlc_compiler::ir::print::print(ir));
                        out.push('\n');
                    }
                    CompiledKind::Source { spikes } => out.push_str(&format!(
                        "// {} = SpikeSource({}): {} spike(s), no kernels\n\n",
                        p.name,
                        p.size,
                        spikes.len()
                    )),
                    CompiledKind::Generator { .. } => out.push_str(&format!(
                        "// {} = PoissonGenerator({}): a train per synapse, no kernels\n\n",
                        p.name, p.size
                    )),
                }
            }
        }
        IrFormat::Asm => {
            for p in &compiled.populations {
                let CompiledKind::Neuron { ir, .. } = &p.kind else {
                    continue;
                };
                let asm = nmlc_compiler::ir::verify(ir)
                    .map_err(|e| e.to_string())
                    .and_then(|info| {
                        nmlc_compiler::backend::cranelift::JitKernel::disassembly(ir, &info)
                            .map_err(|e| e.to_string())
                    });
                match asm {
                    Ok(asm) => out.push_str(&format!("// {} step kernel\n{asm}\n", p.name)),
                    Err(e) => {
                        eprintln!("nmlc: cannot compile the step kernel of {}: {e}", p.name);
                        return ExitCode::from(3);
                    }
                }
            }
        }
        IrFormat::Json => {
            let list: Vec<serde_json::Value> = compiled
                .populations
                .iter()
                .map(|p| match &p.kind {
                    CompiledKind::Neuron { ir, .. } => serde_json::json!({
                        "population": p.name,
                        "size": p.size,
                        "ir": ir,
                    }),
                    CompiledKind::Source { spikes } => serde_json::json!({
                        "population": p.name,
                        "size": p.size,
                        "spike_source": spikes.len(),
                    }),
                    CompiledKind::Generator { .. } => serde_json::json!({
                        "population": p.name,
                        "size": p.size,
                        "poisson_generator": true,
                    }),
                })
                .collect();
            match serde_json::to_string_pretty(&list) {
                Ok(text) => {
                    out.push_str(&text);
                    out.push('\n');
                }
                Err(e) => {
                    eprintln!("nmlc: cannot encode the IR: {e}");
                    return ExitCode::from(3);
                }
            }
        }
    }
    // A closed pipe (`nmlc ir … | head`) is not an error.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
    ExitCode::SUCCESS
}
