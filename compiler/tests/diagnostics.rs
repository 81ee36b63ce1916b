//! Data-driven tests of the checker's diagnostics.
//!
//! Every `tests/diagnostics/*.nml` file is a small invalid program. It is
//! compiled with [`compile_text`] (imports resolve relative to the fixture's
//! folder; helper files that fixtures import live in
//! `tests/diagnostics/imports/`, which is not scanned for tests).
//!
//! **Markers.** Each expected diagnostic is marked in the source with a
//! comment `//~ nml::CODE` on the line where its primary span starts, or
//! `//~ LINE: nml::CODE` for another line of the same file. Markers may sit
//! in any loaded file that is not part of the standard library (an import
//! cycle is reported in the helper file that closes it). The test checks
//! that the `(file, line, code)` of every diagnostic equals the markers
//! exactly: every marked diagnostic is reported on its line, and nothing
//! else is reported.
//!
//! **Snapshots.** Each fixture's snapshot `snapshots/diagnostics__NAME.snap`
//! holds the source (and that of imported helper files) and the rendered
//! diagnostics, so a `.snap` reads on its own.

use nmlc_compiler::diagnostics::render;
use nmlc_compiler::loader::{DiskReader, FileReader};
use nmlc_compiler::source::Origin;
use nmlc_compiler::{Compilation, compile_text};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Width of rendered diagnostics in snapshots.
const RENDER_WIDTH: usize = 80;

/// The fixture folder relative to the crate root; file names in snapshots
/// are relative so that they read the same on every machine.
const FIXTURE_DIR: &str = "tests/diagnostics";

/// Reads files relative to the crate root, whatever the working directory.
struct CrateReader;

impl FileReader for CrateReader {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        DiskReader.read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
    }
}

/// The `.nml` fixtures, sorted by name.
fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "nml"))
        .collect();
    files.sort();
    // A moved folder must not pass as an empty one.
    assert!(
        files.len() >= 45,
        "expected at least 45 fixtures in {}, found {}",
        dir.display(),
        files.len()
    );
    files
}

fn compile_fixture(path: &Path) -> (String, String, Compilation) {
    let name = path
        .file_name()
        .expect("fixture has a name")
        .to_string_lossy()
        .into_owned();
    let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
    let c = compile_text(&name, &source, Some(Path::new(FIXTURE_DIR)), &CrateReader);
    (name, source, c)
}

/// A marker or diagnostic position: file name, 1-based line, code.
type Mark = (String, usize, String);

/// The files of a compilation that are not standard-library modules, with
/// their names and texts.
fn user_files(c: &Compilation) -> Vec<(String, String)> {
    c.loaded
        .files
        .iter()
        .map(|f| c.loaded.sources.get(f.id))
        .filter(|s| !matches!(s.origin, Origin::Stdlib(_)))
        .map(|s| (s.name.clone(), s.text.to_string()))
        .collect()
}

/// The `//~` markers of every user file.
fn expected_marks(files: &[(String, String)]) -> BTreeSet<Mark> {
    let mut expected = BTreeSet::new();
    for (name, text) in files {
        for (index, line) in text.lines().enumerate() {
            let Some(at) = line.find("//~") else { continue };
            let marker = line[at + 3..].trim();
            let (line_number, code) = match marker.split_once(": ") {
                Some((number, code)) if number.chars().all(|ch| ch.is_ascii_digit()) => {
                    (number.parse().expect("marker line number"), code.trim())
                }
                _ => (index + 1, marker),
            };
            assert!(
                code.starts_with("nml::"),
                "{name}:{}: malformed marker `{line}`",
                index + 1
            );
            expected.insert((name.clone(), line_number, code.to_string()));
        }
    }
    expected
}

/// Where each diagnostic's primary span starts.
fn found_marks(c: &Compilation) -> BTreeSet<Mark> {
    c.diagnostics
        .iter()
        .map(|d| match &d.primary {
            Some(label) => {
                let file = c.loaded.sources.get(label.span.file);
                let (line, _) = file.line_col(label.span.start as usize);
                (file.name.clone(), line, d.code.to_string())
            }
            None => ("(no location)".to_string(), 0, d.code.to_string()),
        })
        .collect()
}

/// The snapshot body: every user file's source, then the diagnostics.
fn snapshot_text(files: &[(String, String)], c: &Compilation) -> String {
    let mut out = String::new();
    for (i, (name, text)) in files.iter().rev().enumerate() {
        // The fixture itself is loaded last (after its imports); show it first.
        if i == 0 {
            out.push_str("----- SOURCE\n");
        } else {
            out.push_str(&format!("----- IMPORTED {name}\n"));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    let rendered = render::to_plain_text(&c.diagnostics, &c.loaded.sources, RENDER_WIDTH);
    out.push_str("----- DIAGNOSTICS\n");
    out.push_str(rendered.trim_end());
    out
}

#[test]
fn fixtures_report_exactly_the_marked_diagnostics() {
    let mut failures = Vec::new();
    for path in fixtures() {
        let (name, _source, c) = compile_fixture(&path);
        let files = user_files(&c);
        let expected = expected_marks(&files);
        let found = found_marks(&c);
        if expected.is_empty() {
            failures.push(format!("{name}: has no `//~` marker"));
        }
        if expected != found {
            let missing: Vec<_> = expected.difference(&found).collect();
            let unexpected: Vec<_> = found.difference(&expected).collect();
            failures.push(format!(
                "{name}: missing {missing:?}, unexpected {unexpected:?}\n{}",
                render::to_plain_text(&c.diagnostics, &c.loaded.sources, RENDER_WIDTH)
            ));
        }
        let stem = name.trim_end_matches(".nml");
        insta::with_settings!({
            input_file => &path,
            description => format!("nmlc check {FIXTURE_DIR}/{name}"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(format!("diagnostics__{stem}"), snapshot_text(&files, &c));
        });
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_reachable_code_has_a_fixture() {
    // Codes that source text given to `compile_text` cannot produce: a file
    // that cannot be read and invalid UTF-8 come from the file system (the
    // CLI tests in `tests/cli.rs` cover them). Later phases (IR lowering,
    // code generation) emit `nml::noise_nonlinear`, `nml::unsupported`,
    // `nml::solver_not_applicable` and `nml::internal`, after
    // `compile_text`.
    let not_from_text = [
        "nml::io",
        "nml::invalid_utf8",
        "nml::noise_nonlinear",
        "nml::unsupported",
    ];
    let catalog = include_str!("../src/diagnostics/catalog.rs");
    let mut codes: BTreeSet<&str> = BTreeSet::new();
    for piece in catalog.split("\"nml::").skip(1) {
        let end = piece.find('"').expect("code ends with a quote");
        codes.insert(&piece[..end]);
    }
    let mut marked = BTreeSet::new();
    for path in fixtures() {
        let (_, _, c) = compile_fixture(&path);
        for (_, _, code) in expected_marks(&user_files(&c)) {
            marked.insert(code);
        }
    }
    let missing: Vec<String> = codes
        .iter()
        .map(|code| format!("nml::{code}"))
        .filter(|code| !marked.contains(code) && !not_from_text.contains(&code.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "diagnostic codes without a fixture: {missing:?}"
    );
}
