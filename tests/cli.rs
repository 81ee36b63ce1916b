//! Integration tests of the `nmlc` binary: exit codes, where diagnostics go
//! and what they look like, for good input, broken input and input that is
//! not a model file at all. Whatever comes in, `nmlc` answers with a
//! diagnostic and an exit code, never a panic: 0 success, 1 the model has
//! errors, 2 bad usage.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `nmlc` with `args` from the repository root.
fn nmlc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nmlc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("nmlc runs")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = nmlc(args);
    let r = Run {
        code: out
            .status
            .code()
            .expect("nmlc exits with a code, not a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("internal error"),
        "nmlc {args:?} crashed:\n{}",
        r.stderr
    );
    r
}

/// A fresh file in this test binary's scratch folder.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a scratch file");
    path
}

fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

#[test]
fn check_accepts_an_example() {
    let r = run(&["check", "examples/cuba.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("ok"), "{}", r.stderr);
}

#[test]
fn check_accepts_several_files() {
    let r = run(&["check", "examples/cuba.nml", "examples/coba.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn check_reports_a_located_diagnostic() {
    let path = scratch_file(
        "broken.nml",
        b"neuron A {\n    state { V: mV = 0 mV }\n    equations {\n        V' = -V + 5 mA\n    }\n}\n",
    );
    let r = run(&["check", text(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::unit_mismatch"), "{}", r.stderr);
    // The snippet header names file, line and column.
    assert!(r.stderr.contains("broken.nml:4:"), "{}", r.stderr);
    assert!(r.stderr.contains("1 error(s)"), "{}", r.stderr);
}

#[test]
fn check_reports_a_missing_file() {
    let r = run(&["check", "no/such/model.nml"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::io"), "{}", r.stderr);
    assert!(r.stderr.contains("no/such/model.nml"), "{}", r.stderr);
}

#[test]
fn check_reports_a_directory() {
    let r = run(&["check", "examples"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::io"), "{}", r.stderr);
    assert!(r.stderr.contains("directory"), "{}", r.stderr);
}

#[test]
fn an_empty_file_is_a_valid_model() {
    let path = scratch_file("empty.nml", b"");
    let r = run(&["check", text(&path)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let path = scratch_file("latin1.nml", b"neuron A {\n    /// r\xe9sistance\n}\n");
    let r = run(&["check", text(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::invalid_utf8"), "{}", r.stderr);
}

#[test]
fn ten_megabytes_of_text_garbage_is_a_diagnostic() {
    // Words, numbers and brackets in random order: something a parser
    // has to look at all the way, unlike a long run of one character.
    let words: &[&[u8]] = &[
        b"neuron", b"{", b"}", b"(", b"x", b"=", b"1 mV", b"+", b"\n", b";",
    ];
    let mut bytes = Vec::with_capacity(10 << 20);
    let mut state: u64 = 0x1234_5678_9abc_def1;
    while bytes.len() < 10 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(words[(state % words.len() as u64) as usize]);
        bytes.push(b' ');
    }
    let path = scratch_file("garbage.nml", &bytes);
    let r = run(&["check", text(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::"), "{}", r.stderr);
}

#[test]
fn binary_garbage_is_a_diagnostic() {
    let mut state: u64 = 0xdead_beef_cafe_f00d;
    let bytes: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = scratch_file("binary.nml", &bytes);
    let r = run(&["check", text(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("nml::"), "{}", r.stderr);
}

#[test]
fn json_format_prints_located_diagnostics() {
    let path = scratch_file(
        "json.nml",
        b"neuron A {\n    state { V: mV = 0 mV }\n    equations {\n        V' = -V / tau\n    }\n}\n",
    );
    let r = run(&["check", "--format", "json", text(&path)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let value: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", r.stdout));
    let list = value.as_array().expect("a JSON array");
    assert_eq!(list.len(), 1, "{}", r.stdout);
    let d = &list[0];
    assert_eq!(d["code"], "nml::unknown_name");
    assert_eq!(d["severity"], "error");
    assert!(d["message"].as_str().is_some_and(|m| m.contains("tau")));
    assert!(d["file"].as_str().is_some_and(|f| f.ends_with("json.nml")));
    assert_eq!(d["line"], 4);
    assert_eq!(d["column"], 19);
    let (start, end) = (&d["span"]["start"], &d["span"]["end"]);
    let source = std::fs::read_to_string(&path).expect("read back");
    let (start, end) = (
        start.as_u64().expect("start") as usize,
        end.as_u64().expect("end") as usize,
    );
    assert_eq!(&source[start..end], "tau");
}

#[test]
fn json_format_prints_an_empty_array_for_a_good_model() {
    let r = run(&["check", "--format", "json", "examples/cuba.nml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let value: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(value, serde_json::json!([]));
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["check", "--frobnicate", "examples/cuba.nml"][..],
        &["check", "--format", "xml", "examples/cuba.nml"],
        &["check"],
        &[],
        &["nonsense"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "nmlc {args:?}:\n{}", r.stderr);
        assert!(!r.stderr.is_empty(), "nmlc {args:?} says nothing");
    }
}

#[test]
fn doc_lists_the_standard_library() {
    let r = run(&["doc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for model in ["LIF", "TsodyksMarkram", "PoissonSource"] {
        assert!(r.stdout.contains(model), "no {model} in:\n{}", r.stdout);
    }
}

#[test]
fn doc_shows_a_model_with_its_parameters() {
    let r = run(&["doc", "TsodyksMarkram"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for parameter in ["U", "tau_rec", "tau_fac", "tau_syn"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(parameter)),
            "no parameter {parameter} in:\n{}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("800 ms"), "{}", r.stdout);
}

#[test]
fn doc_of_an_unknown_model_exits_2_with_a_suggestion() {
    let r = run(&["doc", "Nope"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`Nope`"), "{}", r.stderr);
    assert!(
        r.stderr.contains("`nmlc doc` lists them all"),
        "{}",
        r.stderr
    );

    let r = run(&["doc", "LIf"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("did you mean"), "{}", r.stderr);
    assert!(r.stderr.contains("`LIF`"), "{}", r.stderr);
}
