//! What the integration tests share: running the `nmlc` binary, scratch
//! folders, reading results. Each test file includes it with `mod common;`
//! and uses what it needs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one `nmlc` invocation did.
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

/// Runs `nmlc` with `args` from the repository root; a panic or an
/// internal error fails the test.
pub fn nmlc(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_nmlc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("nmlc runs");
    let r = Run {
        code: out.status.code().expect("nmlc exits with a code"),
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

/// An empty scratch folder for one test, below a folder named after the
/// test file (what a previous run left is removed).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(env!("CARGO_CRATE_NAME"))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

/// Writes `model` as `model.nml` into a new scratch folder `name`;
/// returns the folder and the file.
pub fn scratch_model(name: &str, model: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let file = dir.join("model.nml");
    std::fs::write(&file, model).expect("write the model");
    (dir, file)
}

/// A scratch path as a command-line argument.
pub fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A file's text; a missing file fails the test.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `summary.json` of a result folder.
pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&dir.join("summary.json"))).expect("summary.json is JSON")
}

/// `(population, neuron, time_ms)` rows of `spikes.csv`, after checking
/// the header; a row that is not three fields fails the test.
pub fn spikes(dir: &Path) -> Vec<(String, u32, f64)> {
    let table = read(&dir.join("spikes.csv"));
    let mut lines = table.lines();
    assert_eq!(lines.next(), Some("population,neuron,time_ms"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "{l}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}
