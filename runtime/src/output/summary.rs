//! `summary.json`: what ran and what came out, for scripts and for people.
//!
//! ```json
//! {
//!   "network": "cuba",
//!   "backend": "cranelift",
//!   "dt_ms": 0.1,
//!   "duration_ms": 1000.0,
//!   "seed": 42,
//!   "populations": { "exc": { "size": 3200, "spikes": 12345, "rate_hz": 3.86 } },
//!   "projections": { "exc_to_all": { "synapses": 128000 } },
//!   "synapses": 128000,
//!   "synaptic_events": 493800,
//!   "timing_s": { "compile": 0.01, "build": 0.2, "simulate": 1.5 },
//!   "interrupted": false,
//!   "t_reached_ms": 1000.0,
//!   "extra": {}
//! }
//! ```
//!
//! Maps are ordered by name so the file is stable from run to run. Rates are taken
//! over the time actually simulated, `t_reached_ms`, so an interrupted run reports
//! true rates. `extra` is an open map for backend-specific facts.

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
    /// The number of spike deliveries across synapses during the run.
    pub synaptic_events: u64,
    /// Wall-clock time of each phase.
    pub timing_s: TimingSummary,
    /// Whether the run stopped before `duration_ms` (for example on Ctrl-C).
    pub interrupted: bool,
    /// The model time the run reached in milliseconds.
    pub t_reached_ms: f64,
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
        }
    }
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
            synaptic_events: 160,
            timing_s: TimingSummary {
                compile: 0.01,
                build: 0.02,
                simulate: 0.5,
            },
            interrupted: true,
            t_reached_ms: 500.0,
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
    fn summary_json_has_the_documented_keys_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let out = OutputDir::create(dir.path(), false).unwrap();
        let path = out.write_summary(&summary()).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["populations"]["exc"]["rate_hz"], 10.0);
        assert_eq!(json["projections"]["exc_to_inh"]["synapses"], 8);
        assert_eq!(json["timing_s"]["simulate"], 0.5);
        assert_eq!(json["interrupted"], true);
        assert_eq!(json["extra"]["threads"], 2);
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
