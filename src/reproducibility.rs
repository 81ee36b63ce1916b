//! What `summary.json` records so that a run can be repeated and its inputs
//! recognised: the command line, the version of nmlc (and the git commit it
//! was built from, where the build could tell), and the SHA-256 of every
//! file the run read from disk.

use std::collections::BTreeMap;
use std::path::Path;

use nmlc_compiler::Compilation;
use nmlc_compiler::model::{ConnectionRule, Network};
use nmlc_compiler::source::Origin;
use nmlc_runtime::output::Reproducibility;
use sha2::{Digest, Sha256};

/// The record of a run of `network` from `model_file`, whose compilation
/// is `c`. A file that cannot be read again is left out of the hashes.
pub fn of_run(c: &Compilation, network: &Network, model_file: &Path) -> Reproducibility {
    let mut files_sha256 = BTreeMap::new();
    let mut add = |path: &Path| {
        if let Some(hash) = file_sha256(path) {
            files_sha256.insert(path.display().to_string(), hash);
        }
    };
    for (_, file) in c.loaded.sources.files() {
        if let Origin::Disk(path) = &file.origin {
            add(path);
        }
    }
    for p in &network.projections {
        if let ConnectionRule::FromFile(path) = &p.rule {
            add(Path::new(path));
        }
    }
    Reproducibility {
        command_line: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        nmlc_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: option_env!("NMLC_GIT_COMMIT").map(String::from),
        model_file: model_file.display().to_string(),
        model_sha256: file_sha256(model_file).unwrap_or_default(),
        files_sha256,
    }
}

/// The SHA-256 of a file's bytes in lowercase hex.
fn file_sha256(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(
        Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_text() {
        let dir = std::env::temp_dir().join(format!("nmlc-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abc.txt");
        std::fs::write(&file, "abc").unwrap();
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            file_sha256(&file).as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
