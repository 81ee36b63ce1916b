//! The standard model library, embedded in the binary at build time.
//!
//! `stdlib/neurons/lif.nml` in the source tree is the module
//! `stdlib.neurons.lif`; `import stdlib.neurons.lif` loads it from here, so an
//! installed `nmlc` needs no files besides the user's own.

mod files {
    include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));
}

/// Every standard-library module as (`stdlib.…` module path, text), sorted.
pub fn modules() -> impl Iterator<Item = (String, &'static str)> {
    files::FILES
        .iter()
        .map(|(module, text)| (format!("stdlib.{module}"), *text))
}

/// The text of a module such as `stdlib.neurons.lif`.
pub fn lookup(module: &str) -> Option<&'static str> {
    let rest = module.strip_prefix("stdlib.")?;
    files::FILES
        .iter()
        .find(|(m, _)| *m == rest)
        .map(|(_, text)| *text)
}
