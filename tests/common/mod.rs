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

/// A scratch path as a command-line argument.
pub fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A file's text; a missing file fails the test.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
