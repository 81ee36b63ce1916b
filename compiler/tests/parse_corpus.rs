//! Every `.nml` file of the standard library and of the examples parses
//! without a diagnostic.
//!
//! This is the floor under the model corpus: the semantic checker holds the
//! files to more, but a file that does not even parse is caught here first,
//! with the line and column of each problem.

use nmlc_compiler::source::FileId;
use nmlc_compiler::syntax::parse_file;
use std::path::{Path, PathBuf};

fn nml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            nml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "nml") {
            found.push(path);
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[test]
fn stdlib_and_examples_parse_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    nml_files(&root.join("stdlib"), &mut files);
    nml_files(&root.join("examples"), &mut files);
    assert!(
        !files.is_empty(),
        "no .nml files found under stdlib/ or examples/"
    );

    let mut report = String::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("corpus files are readable UTF-8");
        let (_, diagnostics) = parse_file(FileId(0), &text);
        for d in diagnostics {
            let place = d.primary.as_ref().map_or(String::from("?"), |label| {
                let (line, col) = line_col(&text, label.span.start as usize);
                format!("{line}:{col}")
            });
            report.push_str(&format!(
                "{}:{place}: [{}] {}\n",
                path.strip_prefix(&root).unwrap_or(path).display(),
                d.code,
                d.message
            ));
        }
    }
    assert!(
        report.is_empty(),
        "corpus files with diagnostics:\n{report}"
    );
}
