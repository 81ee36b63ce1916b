//! The subcommands.

use crate::DiagnosticFormat;
use nmlc_compiler::diagnostics::render;
use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::{Compilation, compile_paths, compile_stdlib};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Prints the diagnostics of a compilation to stderr (or JSON to stdout).
fn report(c: &Compilation, format: DiagnosticFormat) {
    match format {
        DiagnosticFormat::Json => {
            let list: Vec<_> = c
                .diagnostics
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
                for d in &c.diagnostics {
                    eprintln!("{:?}", render::to_report(d, &c.loaded.sources));
                }
            } else {
                eprint!(
                    "{}",
                    render::to_plain_text(&c.diagnostics, &c.loaded.sources, 100)
                );
            }
            let errors = c.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = c.diagnostics.len() - errors;
            if errors > 0 {
                eprintln!("nmlc: {errors} error(s), {warnings} warning(s)");
            }
        }
    }
}

/// `nmlc check FILE…`
pub fn check(files: &[PathBuf], format: DiagnosticFormat) -> ExitCode {
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
