//! Data-driven parser tests.
//!
//! Every `tests/parse/*.nml` file is parsed and pretty-printed; its snapshot
//! (`tests/snapshots/parse__NAME.snap`) holds the source, the fully
//! parenthesised printed tree and the diagnostics, so a `.snap` reads on its
//! own. Those fixtures must parse without diagnostics, and their printed
//! form must print the same after a second parse (round trip).
//!
//! Every `tests/parse/errors/*.nml` file is parsed the same way and its
//! snapshot (`error__NAME.snap`) holds the rendered diagnostics. Each
//! expected diagnostic is marked in the fixture with a comment
//! `//~ CODE` on the line where its primary span starts, or `//~ LINE: CODE`
//! for another line; the test checks that the codes and lines match exactly.
//! A few error inputs (deep nesting, invalid UTF-8) are built here instead of
//! living in files.

use nmlc_compiler::diagnostics::{Diagnostic, catalog, render};
use nmlc_compiler::source::{FileId, Origin, SourceMap};
use nmlc_compiler::syntax::{MAX_EXPR_DEPTH, MAX_NESTING, parse_file, print::print_file};
use std::path::{Path, PathBuf};

/// Width of rendered diagnostics in snapshots.
const RENDER_WIDTH: usize = 80;

fn fixture_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

/// The `.nml` files of a directory, sorted by name; at least `min_count`
/// of them, so that a moved directory does not pass as an empty one.
fn fixtures(dir: &Path, min_count: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "nml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= min_count,
        "expected at least {min_count} fixtures in {}, found {}",
        dir.display(),
        files.len()
    );
    files
}

/// A fixture's name and text, parsed.
fn parse_fixture(path: &Path) -> (String, String, Parsed) {
    let name = stem(path);
    let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
    let parsed = parse(&format!("{name}.nml"), &source);
    (name, source, parsed)
}

/// `parse/NAME.nml` or `parse/errors/NAME.nml`: a path that reads the same
/// on every machine.
fn relative_name(path: &Path) -> String {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    path.strip_prefix(&tests)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("fixture has a name")
        .to_string_lossy()
        .into_owned()
}

/// The result of parsing one text, ready to be snapshotted.
struct Parsed {
    sources: SourceMap,
    file: FileId,
    printed: String,
    diagnostics: Vec<Diagnostic>,
}

fn parse(name: &str, text: &str) -> Parsed {
    let mut sources = SourceMap::new();
    let file = sources.add(name, Origin::Memory, text);
    let (ast, diagnostics) = parse_file(file, text);
    Parsed {
        sources,
        file,
        printed: print_file(&ast),
        diagnostics,
    }
}

/// The snapshot body: source, printed tree and rendered diagnostics.
fn snapshot_text(source: &str, parsed: &Parsed) -> String {
    let rendered = if parsed.diagnostics.is_empty() {
        "(none)\n".to_string()
    } else {
        render::to_plain_text(&parsed.diagnostics, &parsed.sources, RENDER_WIDTH)
    };
    format!(
        "----- SOURCE\n{}\n----- PRINTED\n{}\n----- DIAGNOSTICS\n{}",
        source.trim_end(),
        parsed.printed.trim_end(),
        rendered.trim_end()
    )
}

fn assert_parse_snapshot(name: &str, input_file: &Path, source: &str, parsed: &Parsed) {
    insta::with_settings!({
        input_file => input_file,
        description => format!("parse and pretty-print tests/{}", relative_name(input_file)),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, snapshot_text(source, parsed));
    });
}

/// `print(parse(print(parse(src)))) == print(parse(src))`, and the printed
/// form parses without diagnostics.
fn assert_round_trip(name: &str, printed: &str) {
    let again = parse(name, printed);
    assert!(
        again.diagnostics.is_empty(),
        "{name}: the printed form does not parse:\n{printed}\n{}",
        render::to_plain_text(&again.diagnostics, &again.sources, RENDER_WIDTH)
    );
    assert_eq!(
        again.printed, printed,
        "{name}: printing is not stable under re-parsing"
    );
}

#[test]
fn valid_fixtures_parse_print_and_round_trip() {
    for path in fixtures(&fixture_dir("parse"), 30) {
        let (name, source, parsed) = parse_fixture(&path);
        assert!(
            parsed.diagnostics.is_empty(),
            "{name}: a valid fixture has diagnostics:\n{}",
            render::to_plain_text(&parsed.diagnostics, &parsed.sources, RENDER_WIDTH)
        );
        assert_round_trip(&name, &parsed.printed);
        assert_parse_snapshot(&format!("parse__{name}"), &path, &source, &parsed);
    }
}

/// The `(line, code)` pairs marked with `//~` in a fixture.
fn expected_markers(source: &str) -> Vec<(usize, String)> {
    let mut expected = Vec::new();
    for (index, line) in source.lines().enumerate() {
        let Some(at) = line.find("//~") else { continue };
        let marker = line[at + 3..].trim();
        match marker.split_once(':') {
            Some((number, code)) if number.trim().chars().all(|c| c.is_ascii_digit()) => {
                let number = number.trim().parse().expect("marker line number");
                expected.push((number, code.trim().to_string()));
            }
            _ => expected.push((index + 1, marker.to_string())),
        }
    }
    expected.sort();
    expected
}

/// The `(line, code)` of each diagnostic's primary span.
fn found_markers(parsed: &Parsed) -> Vec<(usize, String)> {
    let file = parsed.sources.get(parsed.file);
    let mut found: Vec<(usize, String)> = parsed
        .diagnostics
        .iter()
        .map(|d| {
            let line = d
                .primary
                .as_ref()
                .map(|label| file.line_col(label.span.start as usize).0)
                .unwrap_or(0);
            (line, d.code.to_string())
        })
        .collect();
    found.sort();
    found
}

#[test]
fn error_fixtures_report_marked_diagnostics() {
    for path in fixtures(&fixture_dir("parse/errors"), 12) {
        let (name, source, parsed) = parse_fixture(&path);
        assert_eq!(
            found_markers(&parsed),
            expected_markers(&source),
            "{name}: diagnostics (line, code) differ from the `//~` markers:\n{}",
            render::to_plain_text(&parsed.diagnostics, &parsed.sources, RENDER_WIDTH)
        );
        assert_parse_snapshot(&format!("error__{name}"), &path, &source, &parsed);
    }
}

fn assert_generated_snapshot(name: &str, source: &str, parsed: &Parsed) {
    insta::with_settings!({
        description => format!("generated input: {name}"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("error__{name}"), snapshot_text(source, parsed));
    });
}

#[test]
fn brackets_nested_too_deeply_are_refused() {
    // One level more than allowed: the network's braces plus the parentheses.
    let depth = MAX_NESTING;
    let source = format!(
        "network N {{\n    x = {}1{}\n}}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let parsed = parse("deep_parens.nml", &source);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["nml::too_deeply_nested"]);
    assert_generated_snapshot("deep_parens", &source, &parsed);

    // At the limit it parses.
    let source = format!(
        "network N {{\n    x = {}1{}\n}}\n",
        "(".repeat(depth - 1),
        ")".repeat(depth - 1)
    );
    assert!(parse("ok.nml", &source).diagnostics.is_empty());
}

#[test]
fn expressions_nested_too_deeply_are_refused() {
    let source = format!(
        "network N {{\n    x = {}1\n}}\n",
        "- ".repeat(MAX_EXPR_DEPTH + 1)
    );
    let parsed = parse("deep_negation.nml", &source);
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["nml::too_deeply_nested"]);
    assert_generated_snapshot("deep_negation", &source, &parsed);

    let source = format!(
        "network N {{\n    x = {}1\n}}\n",
        "- ".repeat(MAX_EXPR_DEPTH - 1)
    );
    assert!(parse("ok.nml", &source).diagnostics.is_empty());
}

#[test]
fn invalid_utf8_is_reported_at_the_first_bad_byte() {
    // The loader reads bytes; the parser only ever sees `&str`. This is the
    // conversion it performs: a diagnostic at the first bad byte, and the
    // lossily decoded text is what the source map holds.
    let bytes: Vec<u8> = [
        b"neuron A {\n    parameters { a = 1 ".as_slice(),
        &[0xff, 0xfe],
        b" mV }\n}\n",
    ]
    .concat();
    let error = std::str::from_utf8(&bytes).expect_err("the bytes are not UTF-8");
    let offset = error.valid_up_to();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let mut parsed = parse("invalid_utf8.nml", &text);
    let replacement_len = '\u{fffd}'.len_utf8();
    let span = nmlc_compiler::source::Span::new(parsed.file, offset, offset + replacement_len);
    parsed
        .diagnostics
        .insert(0, catalog::invalid_utf8(span, offset));
    let codes: Vec<&str> = parsed.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["nml::invalid_utf8", "nml::syntax"]);
    assert_generated_snapshot("invalid_utf8", &text, &parsed);
}
