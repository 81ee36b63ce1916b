//! The nmlc compiler: from NML source text to checked models, IR and code.
//!
//! Data flows one way through the phases, one module each:
//!
//! 1. [`syntax`]: text → [`syntax::ast`] (pest grammar, spans on every node);
//! 2. [`loader`]: resolves `import`s (files and the embedded [`stdlib`]);
//! 3. [`check`]: names, units and structure → [`model`], the checked model
//!    that every later phase consumes.
//!
//! [`units`] holds the dimension algebra and the internal scale; every
//! problem found on the way is a [`diagnostics::Diagnostic`].

// A user error is a `Diagnostic` (spans, labels, help): returning it by
// value is the point, and it is rare, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod abi;
pub mod backend;
pub mod check;
pub mod diagnostics;
pub mod doc;
pub mod ir;
pub mod loader;
pub mod model;
pub mod names;
pub mod solvers;
pub mod source;
pub mod stdlib;
pub mod syntax;
pub mod units;

use std::path::PathBuf;

/// The result of loading and checking model files.
pub struct Compilation {
    /// Every file read, for rendering diagnostics.
    pub loaded: loader::Loaded,
    /// The checked program (possibly partial if there are errors).
    pub program: model::Program,
    /// Every problem found, sorted by location.
    pub diagnostics: Vec<diagnostics::Diagnostic>,
}

impl Compilation {
    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Loads the given files (and their imports) through `reader` and checks
/// them together.
pub fn compile_paths(paths: &[PathBuf], reader: &dyn loader::FileReader) -> Compilation {
    let mut l = loader::Loader::new(reader);
    for p in paths {
        l.load_path(p);
    }
    finish(l)
}

/// Checks source text given directly; imports resolve relative to `dir`.
pub fn compile_text(
    name: &str,
    text: &str,
    dir: Option<&std::path::Path>,
    reader: &dyn loader::FileReader,
) -> Compilation {
    let mut l = loader::Loader::new(reader);
    l.load_text(name, text, dir);
    finish(l)
}

/// Loads and checks every standard-library module.
pub fn compile_stdlib() -> Compilation {
    let reader = loader::DiskReader;
    let mut l = loader::Loader::new(&reader);
    for (module, _) in stdlib::modules() {
        l.load_stdlib(&module);
    }
    finish(l)
}

fn finish(l: loader::Loader) -> Compilation {
    let (loaded, mut diags) = l.finish();
    // Checking after syntax errors would report consequences of the
    // missing items; report the syntax errors alone.
    let program = if diags.has_errors() {
        model::Program::default()
    } else {
        let (program, check_diags) = check::check(&loaded);
        diags.extend(check_diags.into_sorted());
        program
    };
    Compilation {
        loaded,
        program,
        diagnostics: diags.into_sorted(),
    }
}
