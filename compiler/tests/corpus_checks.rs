//! The model corpus checks cleanly.
//!
//! Every `.nml` file of the standard library and of the examples passes the
//! whole checker (through [`compile_paths`], imports included) without a
//! single diagnostic, error or warning; the embedded standard library does
//! too, and every standard-library model documents itself and each of its
//! parameters, because `nmlc doc` shows those texts to users.

use nmlc_compiler::diagnostics::render;
use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::{Compilation, compile_paths, compile_stdlib};
use std::path::{Path, PathBuf};

/// Width of rendered diagnostics in failure messages.
const RENDER_WIDTH: usize = 100;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `.nml` files below `dir`, sorted, searched recursively.
fn nml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "nml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn rendered(c: &Compilation) -> String {
    render::to_plain_text(&c.diagnostics, &c.loaded.sources, RENDER_WIDTH)
}

fn assert_checks_cleanly(folder: &str, min_count: usize) {
    let files = nml_files(&repository_root().join(folder));
    assert!(
        files.len() >= min_count,
        "expected at least {min_count} .nml files under {folder}/, found {}",
        files.len()
    );
    let mut failures = String::new();
    for path in &files {
        let c = compile_paths(std::slice::from_ref(path), &DiskReader);
        if !c.diagnostics.is_empty() {
            failures.push_str(&format!("{}:\n{}\n", path.display(), rendered(&c)));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn every_example_checks_without_a_diagnostic() {
    assert_checks_cleanly("examples", 10);
}

#[test]
fn every_stdlib_file_checks_without_a_diagnostic() {
    assert_checks_cleanly("stdlib", 15);
}

#[test]
fn all_examples_check_together() {
    // One compilation of every example at once: they share the standard
    // library, which must load once and define each model once, and their
    // own model and network names do not clash.
    let files = nml_files(&repository_root().join("examples"));
    let c = compile_paths(&files, &DiskReader);
    assert!(c.diagnostics.is_empty(), "{}", rendered(&c));
}

#[test]
fn embedded_stdlib_is_clean() {
    let c = compile_stdlib();
    assert!(c.diagnostics.is_empty(), "{}", rendered(&c));
    let p = &c.program;
    assert!(!p.neurons.is_empty() && !p.synapses.is_empty());
    assert!(
        p.neurons.iter().any(|n| n.name == "LIF"),
        "the standard library has no `LIF`"
    );
}

/// `Some(text)` that has words in it.
fn documented(doc: &Option<String>) -> bool {
    doc.as_deref().is_some_and(|d| !d.trim().is_empty())
}

#[test]
fn every_stdlib_model_and_parameter_is_documented() {
    let c = compile_stdlib();
    let p = &c.program;
    let mut missing = Vec::new();
    for n in &p.neurons {
        if !documented(&n.doc) {
            missing.push(format!("neuron `{}` has no doc comment", n.name));
        }
        for q in &n.params {
            if !documented(&q.doc) {
                missing.push(format!("parameter `{}` of `{}` has no doc", q.name, n.name));
            }
        }
    }
    for s in &p.synapses {
        if !documented(&s.doc) {
            missing.push(format!("synapse `{}` has no doc comment", s.name));
        }
        // The values of `on pre(w: …)` are documented in the model's doc
        // header; `nmlc doc` describes them itself.
        for q in &s.params {
            if !documented(&q.doc) {
                missing.push(format!("parameter `{}` of `{}` has no doc", q.name, s.name));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
