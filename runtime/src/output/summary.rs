//! `summary.json`: what ran and what came out, for scripts and for people.
//!
//! ```json
//! {
//!   "network": "cuba",
//!   "backend": "cranelift",
//!   "dt_ms": 0.1,
//!   "duration_ms": 1000.0,
//!   "seed": 42,
//!   "populations": {
//!     "exc": { "size": 3200, "spikes": 12345, "rate_hz": 3.86, "cv_isi": 0.91 }
//!   },
//!   "projections": { "exc_to_all": { "synapses": 128000 } },
//!   "synapses": 128000,
//!   "synapse_bytes": 524288,
//!   "synaptic_events": 493800,
//!   "timing_s": { "compile": 0.01, "build": 0.2, "simulate": 1.5 },
//!   "synapses_built_per_s": 640000.0,
//!   "interrupted": false,
//!   "t_reached_ms": 1000.0,
//!   "peak_memory_bytes": 52428800,
//!   "reproducibility": {
//!     "command_line": ["nmlc", "run", "cuba.nml", "--seed", "42"],
//!     "nmlc_version": "0.1.0",
//!     "git_commit": "64b5380…",
//!     "model_file": "cuba.nml",
//!     "model_sha256": "9f86d081…",
//!     "files_sha256": { "cuba.nml": "9f86d081…" }
//!   },
//!   "extra": {}
//! }
//! ```
//!
//! Maps are ordered by name so the file is stable from run to run. Rates are taken
//! over the time actually simulated, `t_reached_ms`, so an interrupted run reports
//! true rates. `extra` is an open map for backend-specific facts.
//!
//! `cv_isi` is the coefficient of variation of the interspike intervals
//! ([`cv_isi`]): for every recorded neuron with at least two spikes, the
//! standard deviation of its intervals (population formula, divided by the
//! number of intervals) over their mean; then the mean over those neurons. It
//! is `null` when the population's spikes are not recorded or no recorded
//! neuron spiked twice. A clock-like neuron has 0, a Poisson process 1.
//!
//! `peak_memory_bytes` is the most resident memory the process held up to the
//! moment the summary was written (`VmHWM` of `/proc/self/status`); `null`
//! where the system does not report it. `reproducibility` is what the caller
//! knows about how the run was started ([`Reproducibility`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The contents of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The network's name.
    pub network: String,
    /// The backend that ran it, such as `cranelift`.
    pub backend: String,
    /// The time step in milliseconds.
    pub dt_ms: f64,
    /// The requested duration in milliseconds.
    pub duration_ms: f64,
    /// The seed of all random streams.
    pub seed: u64,
    /// Per population, by name.
    pub populations: BTreeMap<String, PopulationSummary>,
    /// Per projection, by name.
    pub projections: BTreeMap<String, ProjectionSummary>,
    /// The number of synapses in all projections.
    pub synapses: u64,
    /// Bytes of synapse storage in all projections (connectivity, values,
    /// delays, per-synapse plastic state).
    #[serde(default)]
    pub synapse_bytes: u64,
    /// The number of spike deliveries across synapses during the run.
    pub synaptic_events: u64,
    /// Wall-clock time of each phase.
    pub timing_s: TimingSummary,
    /// Synapses built per second of the build phase ([`build_rate`]).
    #[serde(default)]
    pub synapses_built_per_s: Option<f64>,
    /// Whether the run stopped before `duration_ms` (for example on Ctrl-C).
    pub interrupted: bool,
    /// The model time the run reached in milliseconds.
    pub t_reached_ms: f64,
    /// The peak resident memory of the process in bytes, if the system says.
    pub peak_memory_bytes: Option<u64>,
    /// How to run it again.
    pub reproducibility: Reproducibility,
    /// Anything else a backend wants to report.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// What one population did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationSummary {
    /// The number of neurons.
    pub size: u64,
    /// The number of spikes of all its neurons.
    pub spikes: u64,
    /// The mean firing rate per neuron in Hz.
    pub rate_hz: f64,
    /// The mean coefficient of variation of the interspike intervals of the
    /// recorded neurons ([`cv_isi`]); `None` without a spike recorder or
    /// without a recorded neuron that spiked twice.
    pub cv_isi: Option<f64>,
}

impl PopulationSummary {
    /// The summary of `spikes` from `size` neurons over `t_reached_ms`; the rate is
    /// `spikes / size / (t_reached_ms / 1000)`, and 0 when there are no neurons or
    /// no time.
    pub fn new(size: u64, spikes: u64, t_reached_ms: f64) -> Self {
        let neuron_seconds = size as f64 * t_reached_ms / 1000.0;
        let rate_hz = if neuron_seconds > 0.0 {
            spikes as f64 / neuron_seconds
        } else {
            0.0
        };
        PopulationSummary {
            size,
            spikes,
            rate_hz,
            cv_isi: None,
        }
    }
}

/// The mean coefficient of variation of the interspike intervals of the
/// neurons in `spikes` (`(step, neuron)` pairs, in time order, neurons below
/// `size`).
///
/// Per neuron with at least two spikes: `std / mean` of its intervals, where
/// `std` is the population standard deviation (`numpy.std` with `ddof=0`);
/// a neuron whose intervals are all zero is left out. The result is the mean
/// over those neurons, `None` if there are none. Intervals are counted in
/// steps: the ratio does not depend on the unit.
pub fn cv_isi(spikes: &[(u64, u32)], size: usize) -> Option<f64> {
    // Welford's running mean and sum of squared deviations, per neuron.
    let mut last: Vec<Option<u64>> = vec![None; size];
    let mut count = vec![0u64; size];
    let mut mean = vec![0.0f64; size];
    let mut m2 = vec![0.0f64; size];
    for &(step, neuron) in spikes {
        let j = neuron as usize;
        if j >= size {
            continue;
        }
        if let Some(previous) = last[j] {
            let interval = step.saturating_sub(previous) as f64;
            count[j] += 1;
            let delta = interval - mean[j];
            mean[j] += delta / count[j] as f64;
            m2[j] += delta * (interval - mean[j]);
        }
        last[j] = Some(step);
    }
    let cvs: Vec<f64> = (0..size)
        .filter(|&j| count[j] > 0 && mean[j] > 0.0)
        .map(|j| (m2[j].max(0.0) / count[j] as f64).sqrt() / mean[j])
        .collect();
    (!cvs.is_empty()).then(|| cvs.iter().sum::<f64>() / cvs.len() as f64)
}

/// How a run was started, so that it can be run again and its inputs
/// recognised: filled in by the caller, which knows the command line and
/// the files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reproducibility {
    /// The command line, program name first.
    pub command_line: Vec<String>,
    /// The version of nmlc (`Cargo.toml`'s).
    pub nmlc_version: String,
    /// The git commit nmlc was built from, where the build could tell.
    pub git_commit: Option<String>,
    /// The model file as given on the command line.
    pub model_file: String,
    /// The SHA-256 of the model file's bytes, in lowercase hex.
    pub model_sha256: String,
    /// The SHA-256 of every file read from disk (the model file, the files
    /// it imports outside the standard library, connection lists), by path.
    pub files_sha256: BTreeMap<String, String>,
}

/// What one projection is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionSummary {
    /// The number of synapses it made.
    pub synapses: u64,
}

/// Wall-clock seconds of each phase of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimingSummary {
    /// Parsing, checking and code generation.
    pub compile: f64,
    /// Building the network: allocating state, drawing connectivity.
    pub build: f64,
    /// The simulation loop.
    pub simulate: f64,
}

/// Synapses built per second of wall-clock build time: `None` without
/// synapses, or when the build took no measurable time.
pub fn build_rate(synapses: u64, build_s: f64) -> Option<f64> {
    (synapses > 0 && build_s > 0.0).then(|| synapses as f64 / build_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::OutputDir;

    fn summary() -> RunSummary {
        RunSummary {
            network: "cuba".into(),
            backend: "cranelift".into(),
            dt_ms: 0.1,
            duration_ms: 1000.0,
            seed: 42,
            populations: BTreeMap::from([
                ("exc".into(), PopulationSummary::new(4, 20, 500.0)),
                ("inh".into(), PopulationSummary::new(0, 0, 500.0)),
            ]),
            projections: BTreeMap::from([("exc_to_inh".into(), ProjectionSummary { synapses: 8 })]),
            synapses: 8,
            synapse_bytes: 64,
            synaptic_events: 160,
            timing_s: TimingSummary {
                compile: 0.01,
                build: 0.02,
                simulate: 0.5,
            },
            synapses_built_per_s: build_rate(8, 0.02),
            interrupted: true,
            t_reached_ms: 500.0,
            peak_memory_bytes: Some(1 << 20),
            reproducibility: Reproducibility {
                command_line: vec!["nmlc".into(), "run".into(), "cuba.nml".into()],
                nmlc_version: "0.1.0".into(),
                git_commit: None,
                model_file: "cuba.nml".into(),
                model_sha256: "ab".repeat(32),
                files_sha256: BTreeMap::from([("cuba.nml".into(), "ab".repeat(32))]),
            },
            extra: BTreeMap::from([("threads".into(), serde_json::json!(2))]),
        }
    }

    #[test]
    fn rates_are_per_neuron_over_the_time_reached() {
        assert_eq!(PopulationSummary::new(4, 20, 500.0).rate_hz, 10.0);
        assert_eq!(PopulationSummary::new(0, 0, 500.0).rate_hz, 0.0);
        assert_eq!(PopulationSummary::new(3, 0, 0.0).rate_hz, 0.0);
    }

    #[test]
    fn cv_isi_is_the_mean_over_neurons_of_std_over_mean() {
        // Neuron 0: intervals 10 and 20 steps (mean 15, std 5): 1/3.
        // Neuron 1: one interval of 5: 0. Neuron 2: one spike, left out.
        let spikes = [(5, 1), (10, 0), (10, 1), (12, 2), (20, 0), (40, 0)];
        let cv = cv_isi(&spikes, 3).unwrap();
        assert!((cv - 1.0 / 6.0).abs() < 1e-15, "{cv}");
        // A clock: exactly 0.
        let clock: Vec<(u64, u32)> = (1..100).map(|k| (k * 7, 0)).collect();
        assert_eq!(cv_isi(&clock, 1), Some(0.0));
        assert_eq!(cv_isi(&[(3, 0), (4, 1)], 2), None);
        assert_eq!(cv_isi(&[], 0), None);
    }

    #[test]
    fn summary_json_has_the_documented_keys_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::create(dir.path(), false).unwrap();
        let path = out.write_summary(&summary()).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["populations"]["exc"]["rate_hz"], 10.0);
        assert_eq!(json["projections"]["exc_to_inh"]["synapses"], 8);
        assert_eq!(json["timing_s"]["simulate"], 0.5);
        assert_eq!(json["synapses_built_per_s"], 400.0);
        assert_eq!(json["interrupted"], true);
        assert_eq!(json["extra"]["threads"], 2);
        assert_eq!(json["peak_memory_bytes"], 1 << 20);
        assert_eq!(
            json["populations"]["exc"]["cv_isi"],
            serde_json::Value::Null
        );
        assert_eq!(json["reproducibility"]["command_line"][2], "cuba.nml");
        assert_eq!(
            json["reproducibility"]["git_commit"],
            serde_json::Value::Null
        );
        for key in ["nmlc_version", "model_file", "model_sha256", "files_sha256"] {
            assert!(json["reproducibility"].get(key).is_some(), "{key}");
        }
        for key in [
            "network",
            "backend",
            "dt_ms",
            "duration_ms",
            "seed",
            "synapses",
            "synaptic_events",
            "t_reached_ms",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(
            text.ends_with("}\n") && text.contains("\n  \"backend\""),
            "pretty-printed"
        );
        let back: RunSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, summary());
    }
}
