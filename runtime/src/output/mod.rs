//! Result files that NumPy and pandas users read directly.
//!
//! An [`OutputDir`] is the folder of one run. It writes:
//!
//! - `spikes.csv`: `population,neuron,time_ms`, one row per spike in time order,
//!   ties broken by population order, then neuron index ([`spikes`]);
//! - `trace_<population>_<variable>.csv`: `time_ms` and one column per recorded
//!   neuron, labelled like `3 [mV]` ([`traces`]);
//! - `.npy` arrays and a `.npz` archive of all spikes and traces ([`npy`], [`npz`]);
//! - `summary.json`: what ran, how long, how many spikes ([`summary`]).
//!
//! Every file is written atomically: to a temporary file in the same folder,
//! `fsync`ed, then renamed over the destination. A reader finds the previous
//! version or the complete new one, never a half-written file.
//!
//! Numbers in CSV files are printed with Rust's shortest round-trip formatting, so
//! parsing a value gives back the exact `f64` the simulator held. A spike's time is
//! `step × dt_ms` in `f64`; which step a spike belongs to is the simulator's
//! convention, not the writer's.
//!
//! I/O failures never panic; they come back as [`OutputError`]s that say whether
//! the folder is not writable, the disk is full, or a name is unusable.

mod atomic;
mod error;
pub mod npy;
pub mod npz;
pub mod spikes;
pub mod summary;
pub mod traces;

use std::path::{Path, PathBuf};

pub use error::OutputError;
pub use npy::{NpyArray, NpyData};
pub use summary::{
    PopulationSummary, ProjectionSummary, Reproducibility, RunSummary, TimingSummary, build_rate,
    cv_isi,
};

/// The spikes of one population, as the simulator recorded them.
#[derive(Debug, Clone, Copy)]
pub struct PopulationSpikes<'a> {
    /// The population's name; it becomes part of file and column names.
    pub population: &'a str,
    /// `(step, neuron index)` of every spike, in any order.
    pub spikes: &'a [(u64, u32)],
}

/// One recorded state variable of some neurons of a population.
#[derive(Debug, Clone, Copy)]
pub struct TraceRecording<'a> {
    /// The population's name.
    pub population: &'a str,
    /// The variable's name, such as `v`.
    pub variable: &'a str,
    /// The variable's unit as the user wrote it, such as `mV`; empty if
    /// dimensionless.
    pub unit: &'a str,
    /// The indices of the recorded neurons, one column each.
    pub neurons: &'a [u32],
    /// The sample times in milliseconds, one row each.
    pub times_ms: &'a [f64],
    /// The samples, row-major: `values[row * neurons.len() + column]`.
    pub values: &'a [f64],
}

impl TraceRecording<'_> {
    /// Checks the names and that `values` holds one sample per time and neuron.
    pub fn check(&self) -> Result<(), OutputError> {
        error::check_name(self.population)?;
        error::check_name(self.variable)?;
        let expected = self.times_ms.len() * self.neurons.len();
        if self.values.len() != expected {
            return Err(OutputError::ShapeMismatch {
                what: format!("trace of {}.{}", self.population, self.variable),
                expected,
                found: self.values.len(),
            });
        }
        Ok(())
    }
}

/// The folder that receives the results of one run.
#[derive(Debug, Clone)]
pub struct OutputDir {
    path: PathBuf,
}

impl OutputDir {
    /// Opens `path` for results, creating it and its parents if needed.
    ///
    /// An existing folder that holds anything is refused unless `overwrite` is set,
    /// so one run never silently mixes its files with another's. With `overwrite`,
    /// files of the same name are replaced (atomically) and other files are left
    /// alone: nmlc never deletes what it did not write. A probe file checks that the
    /// folder is writable before the simulation spends time.
    pub fn create(path: impl AsRef<Path>, overwrite: bool) -> Result<Self, OutputError> {
        let path = path.as_ref().to_path_buf();
        match std::fs::metadata(&path) {
            Ok(metadata) if !metadata.is_dir() => return Err(OutputError::NotADirectory { path }),
            Ok(_) => {
                let mut entries =
                    std::fs::read_dir(&path).map_err(|error| OutputError::from_io(&path, error))?;
                if entries.next().is_some() && !overwrite {
                    return Err(OutputError::NotEmpty { path });
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(&path)
                    .map_err(|error| OutputError::from_io(&path, error))?;
            }
            Err(error) => return Err(OutputError::from_io(&path, error)),
        }
        let directory = OutputDir { path };
        directory.check_writable()?;
        Ok(directory)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `file_name` in the folder, atomically.
    pub fn write_file(&self, file_name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        atomic::write_atomically(&self.path, file_name, |writer| {
            std::io::Write::write_all(writer, bytes)
        })
    }

    /// Writes `spikes.csv`; see [`spikes`].
    pub fn write_spikes_csv(
        &self,
        populations: &[PopulationSpikes<'_>],
        dt_ms: f64,
    ) -> Result<PathBuf, OutputError> {
        spikes::write_spikes_csv(&self.path, populations, dt_ms)
    }

    /// Writes `trace_<population>_<variable>.csv`; see [`traces`].
    pub fn write_trace_csv(&self, trace: &TraceRecording<'_>) -> Result<PathBuf, OutputError> {
        traces::write_trace_csv(&self.path, trace)
    }

    /// Writes one `.npy` array as `file_name`; see [`npy`].
    pub fn write_npy(&self, file_name: &str, array: &NpyArray<'_>) -> Result<PathBuf, OutputError> {
        atomic::write_atomically(&self.path, file_name, |writer| array.write_to(writer))
    }

    /// Writes all spikes and traces into one `.npz` archive; see [`npz`].
    pub fn write_results_npz(
        &self,
        file_name: &str,
        populations: &[PopulationSpikes<'_>],
        traces: &[TraceRecording<'_>],
        dt_ms: f64,
    ) -> Result<PathBuf, OutputError> {
        npz::write_results_npz(&self.path, file_name, populations, traces, dt_ms)
    }

    /// Writes `summary.json`; see [`summary`].
    pub fn write_summary(&self, summary: &RunSummary) -> Result<PathBuf, OutputError> {
        let mut json = serde_json::to_vec_pretty(summary).map_err(OutputError::Json)?;
        json.push(b'\n');
        self.write_file("summary.json", &json)
    }

    fn check_writable(&self) -> Result<(), OutputError> {
        let probe = self
            .path
            .join(format!(".nmlc-write-probe.{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|error| OutputError::from_io(&self.path, error))?;
        std::fs::remove_file(&probe).map_err(|error| OutputError::from_io(&probe, error))
    }
}

/// The time of step boundary `step` in ms: `step × dt`, with the last-bit
/// error of the product removed (`671 × 0.1` is 67.10000000000001 in
/// floating point; grid times are short decimals, so the product is
/// rounded to 12 significant digits and prints as `67.1`).
pub fn grid_time(step: u64, dt_ms: f64) -> f64 {
    let t = step as f64 * dt_ms;
    if t == 0.0 || !t.is_finite() {
        return t;
    }
    format!("{t:.11e}").parse().unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_folders_with_parents() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("a/b/run");
        let out = OutputDir::create(&path, false).unwrap();
        assert!(out.path().is_dir());
        assert_eq!(
            std::fs::read_dir(&path).unwrap().count(),
            0,
            "the probe is gone"
        );
    }

    #[test]
    fn a_non_empty_folder_needs_overwrite() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let refused = OutputDir::create(root.path(), false);
        assert!(matches!(refused, Err(OutputError::NotEmpty { .. })));
        let out = OutputDir::create(root.path(), true).unwrap();
        out.write_file("summary.json", b"{}").unwrap();
        let kept = std::fs::read_to_string(root.path().join("notes.txt")).unwrap();
        assert_eq!(
            kept, "mine",
            "overwrite never deletes files it did not write"
        );
    }

    #[test]
    fn an_empty_existing_folder_is_fine() {
        let root = tempfile::tempdir().unwrap();
        assert!(OutputDir::create(root.path(), false).is_ok());
    }

    #[test]
    fn a_file_in_the_way_is_a_typed_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("results");
        std::fs::write(&file, "").unwrap();
        let at_file = OutputDir::create(&file, true);
        assert!(
            matches!(at_file, Err(OutputError::NotADirectory { .. })),
            "{at_file:?}"
        );
        let below_file = OutputDir::create(file.join("run"), true);
        assert!(
            matches!(
                below_file,
                Err(OutputError::NotADirectory { .. }) | Err(OutputError::Io { .. })
            ),
            "{below_file:?}"
        );
    }

    #[test]
    fn unusable_file_names_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let out = OutputDir::create(root.path(), false).unwrap();
        let escaped = out.write_file("../escape.txt", b"x");
        assert!(matches!(escaped, Err(OutputError::InvalidName { .. })));
    }
}
