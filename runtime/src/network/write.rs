//! Writing a run's results through [`crate::output`].
//!
//! CSV format: `spikes.csv`, one `trace_<population>_<variable>.csv` per
//! recorded variable, one `rate_<population>.csv` (`time_ms,rate_hz`, the
//! bin start) per rate recorder, and `summary.json`.
//!
//! NPZ format: `results.npz` holding `<population>_times_ms` and
//! `<population>_neurons` for each population with a spike recorder,
//! `<population>_<variable>` (`[time, neuron]`), `…_time_ms` and
//! `…_neurons` for each trace, `rate_<population>_time_ms` and
//! `rate_<population>_hz` for each rate recorder; and `summary.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::output::npz::{NpzEntry, write_npz};
use crate::output::{
    NpyArray, NpyData, OutputDir, PopulationSpikes, PopulationSummary, Reproducibility, RunSummary,
    TimingSummary, TraceRecording, cv_isi,
};

use super::error::RunError;
use super::simulation::Simulation;

/// The file layout of the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// CSV tables.
    #[default]
    Csv,
    /// One `.npz` archive.
    Npz,
}

/// The name of the archive written in the NPZ format.
pub const RESULTS_NPZ: &str = "results.npz";

impl Simulation<'_, '_> {
    /// What the run did, for `summary.json`; `reproducibility` is what the
    /// caller knows about how it was started. The peak memory is read now.
    pub fn summary(&self, timing: TimingSummary, reproducibility: &Reproducibility) -> RunSummary {
        let c = self.compiled;
        let t_reached_ms = self.t_reached_ms();
        let populations = c
            .populations
            .iter()
            .enumerate()
            .zip(&self.spike_counts)
            .map(|((k, p), &n)| {
                let cv_isi = self.recorders.spike_mask[k]
                    .as_ref()
                    .and_then(|_| cv_isi(&self.recorders.spikes[k], p.size as usize));
                (
                    p.name.clone(),
                    PopulationSummary {
                        cv_isi,
                        ..PopulationSummary::new(u64::from(p.size), n, t_reached_ms)
                    },
                )
            })
            .collect();
        let mut extra = BTreeMap::new();
        extra.insert(
            "precision".to_string(),
            serde_json::Value::String(format!("{:?}", c.precision).to_lowercase()),
        );
        extra.insert(
            "steps".to_string(),
            serde_json::Value::from(self.steps_done),
        );
        let params: serde_json::Map<String, serde_json::Value> = c
            .network
            .params
            .iter()
            .zip(&c.network_params)
            .map(|(q, v)| (q.name.clone(), serde_json::Value::from(*v)))
            .collect();
        extra.insert(
            "network_parameters_internal".to_string(),
            serde_json::Value::Object(params),
        );
        RunSummary {
            network: c.network.name.clone(),
            backend: c.backend.name().to_string(),
            dt_ms: c.dt_ms,
            duration_ms: c.duration_ms,
            seed: c.seed,
            populations,
            projections: self
                .projections()
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        crate::output::ProjectionSummary {
                            synapses: p.csr.len() as u64,
                        },
                    )
                })
                .collect(),
            synapses: self.synapses(),
            synapse_bytes: self.synapse_bytes(),
            synaptic_events: self.synaptic_events,
            synapses_built_per_s: crate::output::build_rate(self.synapses(), timing.build),
            timing_s: timing,
            interrupted: self.stopped,
            t_reached_ms,
            peak_memory_bytes: crate::host::peak_memory_bytes(),
            reproducibility: reproducibility.clone(),
            extra,
        }
    }

    /// Writes every result file and `summary.json`; returns the paths.
    pub fn write(
        &self,
        dir: &OutputDir,
        format: OutputFormat,
        timing: TimingSummary,
        reproducibility: &Reproducibility,
    ) -> Result<Vec<PathBuf>, RunError> {
        let c = self.compiled;
        let r = &self.recorders;
        let spikes: Vec<PopulationSpikes> = c
            .populations
            .iter()
            .enumerate()
            .filter(|(k, _)| r.spike_mask[*k].is_some())
            .map(|(k, p)| PopulationSpikes {
                population: &p.name,
                spikes: &r.spikes[k],
            })
            .collect();
        let traces: Vec<TraceRecording> = r
            .traces
            .iter()
            .map(|t| TraceRecording {
                population: &c.populations[t.population].name,
                variable: &t.variable,
                unit: &t.unit,
                neurons: &t.neurons,
                times_ms: &t.times_ms,
                values: &t.values,
            })
            .collect();
        let rates: Vec<(String, Vec<f64>, Vec<f64>)> = r
            .rates
            .iter()
            .map(|rate| {
                let neurons = f64::from(rate.end - rate.start);
                let mut times = Vec::new();
                let mut hz = Vec::new();
                for (b, &count) in rate.counts.iter().enumerate() {
                    let first = b as u64 * rate.every_steps;
                    if first >= self.steps_done {
                        break;
                    }
                    let steps = rate.every_steps.min(self.steps_done - first);
                    let width_s = steps as f64 * c.dt_ms / 1000.0;
                    times.push(crate::output::grid_time(first, c.dt_ms));
                    hz.push(if neurons > 0.0 {
                        count as f64 / (neurons * width_s)
                    } else {
                        0.0
                    });
                }
                (rate.stem.clone(), times, hz)
            })
            .collect();
        let mut written = Vec::new();
        match format {
            OutputFormat::Csv => {
                written.push(dir.write_spikes_csv(&spikes, c.dt_ms)?);
                for t in &traces {
                    written.push(dir.write_trace_csv(t)?);
                }
                for (stem, times, hz) in &rates {
                    let mut text = String::from("time_ms,rate_hz\n");
                    for (t, v) in times.iter().zip(hz) {
                        let _ = writeln!(text, "{t:?},{v:?}");
                    }
                    written.push(dir.write_file(&format!("{stem}.csv"), text.as_bytes())?);
                }
            }
            OutputFormat::Npz => {
                // Spikes are recorded step by step, each step's neurons in
                // increasing order: already in time order.
                let columns: Vec<(Vec<f64>, Vec<u32>)> = spikes
                    .iter()
                    .map(|s| {
                        (
                            s.spikes
                                .iter()
                                .map(|(step, _)| crate::output::grid_time(*step, c.dt_ms))
                                .collect(),
                            s.spikes.iter().map(|(_, j)| *j).collect(),
                        )
                    })
                    .collect();
                let mut entries = Vec::new();
                for (s, (times, neurons)) in spikes.iter().zip(&columns) {
                    entries.push(vector(
                        format!("{}_times_ms", s.population),
                        NpyData::F64(times),
                    ));
                    entries.push(vector(
                        format!("{}_neurons", s.population),
                        NpyData::U32(neurons),
                    ));
                }
                for t in &traces {
                    t.check()?;
                    let prefix = format!("{}_{}", t.population, t.variable);
                    entries.push(vector(
                        format!("{prefix}_time_ms"),
                        NpyData::F64(t.times_ms),
                    ));
                    entries.push(NpzEntry {
                        name: prefix.clone(),
                        array: NpyArray::new(
                            vec![t.times_ms.len(), t.neurons.len()],
                            NpyData::F64(t.values),
                        )?,
                    });
                    entries.push(vector(format!("{prefix}_neurons"), NpyData::U32(t.neurons)));
                }
                for (stem, times, hz) in &rates {
                    entries.push(vector(format!("{stem}_time_ms"), NpyData::F64(times)));
                    entries.push(vector(format!("{stem}_hz"), NpyData::F64(hz)));
                }
                written.push(write_npz(dir.path(), RESULTS_NPZ, &entries)?);
            }
        }
        written.push(dir.write_summary(&self.summary(timing, reproducibility))?);
        Ok(written)
    }
}

fn vector(name: String, data: NpyData<'_>) -> NpzEntry<'_> {
    NpzEntry {
        name,
        array: NpyArray::vector(data),
    }
}
