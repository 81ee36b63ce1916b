//! Records the git commit nmlc is built from, for `summary.json`
//! (`NMLC_GIT_COMMIT`; absent when the source is not a git checkout or git
//! is missing).

use std::process::Command;

fn main() {
    // Rebuild when HEAD moves: a new commit or another branch.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() == 40);
    if let Some(commit) = commit {
        println!("cargo:rustc-env=NMLC_GIT_COMMIT={commit}");
    }
}
