//! What a result folder holds, read back from the files `nmlc run` writes:
//! `spikes.csv` and `trace_<population>_<variable>.csv`, or `results.npz`, and
//! `summary.json` where present (an interrupted run that was killed may lack it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use nmlc_runtime::output::spikes::SPIKES_CSV;

use super::PlotError;
use super::npz_reader::{self, NpyMatrix};

/// The archive `nmlc run --format npz` writes.
const RESULTS_NPZ: &str = "results.npz";
/// The summary every run writes last.
const SUMMARY_JSON: &str = "summary.json";

/// Everything a figure is drawn from.
#[derive(Debug, Default)]
pub struct Results {
    /// What `summary.json` says, if the folder has one.
    pub summary: Option<Summary>,
    /// The recorded spikes per population, in name order.
    pub spikes: Vec<SpikeTrain>,
    /// The recorded variables, in file (or entry) name order.
    pub traces: Vec<Trace>,
}

/// The facts of `summary.json` that the figure uses. They are picked from the
/// JSON one by one, so folders written by older or newer versions of nmlc, with
/// other fields, plot alike.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// The network's name.
    pub network: String,
    /// The backend that ran it.
    pub backend: String,
    /// The time step in ms.
    pub dt_ms: Option<f64>,
    /// The requested duration in ms.
    pub duration_ms: Option<f64>,
    /// The seed.
    pub seed: Option<u64>,
    /// Per population: its size and how many spikes it fired in all.
    pub populations: BTreeMap<String, PopulationFacts>,
    /// Whether the run stopped before its duration.
    pub interrupted: bool,
    /// The model time reached in ms.
    pub t_reached_ms: Option<f64>,
}

/// What `summary.json` says of one population.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct PopulationFacts {
    /// The number of neurons.
    pub size: Option<u64>,
    /// The number of spikes of all its neurons, recorded or not.
    pub spikes: Option<u64>,
}

impl Summary {
    /// Picks the facts out of the JSON of `summary.json`.
    pub fn from_json(json: &serde_json::Value) -> Self {
        let text = |key: &str| {
            json.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let number = |key: &str| json.get(key).and_then(serde_json::Value::as_f64);
        let populations = json
            .get("populations")
            .and_then(serde_json::Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(name, p)| {
                        let count = |key: &str| p.get(key).and_then(serde_json::Value::as_u64);
                        let facts = PopulationFacts {
                            size: count("size"),
                            spikes: count("spikes"),
                        };
                        (name.clone(), facts)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Summary {
            network: text("network"),
            backend: text("backend"),
            dt_ms: number("dt_ms"),
            duration_ms: number("duration_ms"),
            seed: json.get("seed").and_then(serde_json::Value::as_u64),
            populations,
            interrupted: json.get("interrupted").and_then(serde_json::Value::as_bool) == Some(true),
            t_reached_ms: number("t_reached_ms"),
        }
    }
}

/// The recorded spikes of one population.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SpikeTrain {
    /// The population's name.
    pub population: String,
    /// Spike times in ms, one per spike.
    pub times_ms: Vec<f64>,
    /// The neuron of each spike.
    pub neurons: Vec<u32>,
}

/// One recorded variable of some neurons of a population.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Trace {
    /// The population's name.
    pub population: String,
    /// The variable's name.
    pub variable: String,
    /// Its unit as declared (`mV`); empty if dimensionless or unknown.
    pub unit: String,
    /// The neuron of each column.
    pub neurons: Vec<u32>,
    /// The sample times in ms, one per row.
    pub times_ms: Vec<f64>,
    /// The samples, row-major: `values[row * neurons.len() + column]`.
    pub values: Vec<f64>,
}

impl Results {
    /// The time the figure's x axis ends at: where the run stopped, else the
    /// last recorded time.
    pub fn end_ms(&self) -> f64 {
        if let Some(t) = self.summary.as_ref().and_then(|s| s.t_reached_ms)
            && t.is_finite()
            && t > 0.0
        {
            return t;
        }
        let spikes = self.spikes.iter().flat_map(|s| s.times_ms.iter());
        let samples = self.traces.iter().flat_map(|t| t.times_ms.iter());
        let last = spikes
            .chain(samples)
            .copied()
            .filter(|t| t.is_finite())
            .fold(0.0, f64::max);
        if last > 0.0 { last } else { 1.0 }
    }
}

/// Reads the results in `dir`; the newer of `results.npz` and the CSV tables
/// if a folder holds both.
pub fn read(dir: &Path) -> Result<Results, PlotError> {
    let summary = read_summary(&dir.join(SUMMARY_JSON))?;
    let npz = dir.join(RESULTS_NPZ);
    let csv = dir.join(SPIKES_CSV);
    let trace_files = trace_files(dir)?;
    let use_npz = match (modified(&npz), modified(&csv)) {
        (Some(_), None) => trace_files.is_empty(),
        (Some(npz), Some(csv)) => npz >= csv,
        _ => false,
    };
    let mut results = if use_npz {
        read_npz(&npz, summary.as_ref())?
    } else if csv.is_file() || !trace_files.is_empty() {
        let spikes = if csv.is_file() {
            read_spikes_csv(&csv)?
        } else {
            Vec::new()
        };
        let mut populations: BTreeSet<&str> =
            spikes.iter().map(|s| s.population.as_str()).collect();
        if let Some(s) = &summary {
            populations.extend(s.populations.keys().map(String::as_str));
        }
        let traces = trace_files
            .iter()
            .map(|(path, stem)| read_trace_csv(path, stem, &populations))
            .collect::<Result<Vec<_>, _>>()?;
        Results {
            summary: None,
            spikes,
            traces,
        }
    } else {
        return Err(PlotError::NoResults {
            path: dir.to_path_buf(),
        });
    };
    results.summary = summary;
    Ok(results)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|m| m.modified().ok())
}

fn read_text(path: &Path) -> Result<String, PlotError> {
    std::fs::read_to_string(path).map_err(|source| PlotError::Unreadable {
        path: path.to_path_buf(),
        source,
    })
}

fn malformed(path: &Path, line: Option<usize>, problem: impl Into<String>) -> PlotError {
    PlotError::Malformed {
        path: path.to_path_buf(),
        line,
        problem: problem.into(),
    }
}

fn read_summary(path: &Path) -> Result<Option<Summary>, PlotError> {
    if !path.is_file() {
        return Ok(None);
    }
    let json: serde_json::Value = serde_json::from_str(&read_text(path)?)
        .map_err(|e| malformed(path, Some(e.line()), e.to_string()))?;
    Ok(Some(Summary::from_json(&json)))
}

/// `(path, stem)` of every `trace_<stem>.csv`, by name. Temporary files of a
/// writer (`.trace_….tmp`) start with a dot and do not match.
fn trace_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, PlotError> {
    let unreadable = |source| PlotError::Unreadable {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        let Some(stem) = name
            .to_str()
            .and_then(|n| n.strip_prefix("trace_"))
            .and_then(|n| n.strip_suffix(".csv"))
        else {
            continue;
        };
        if !stem.is_empty() && entry.path().is_file() {
            files.push((entry.path(), stem.to_string()));
        }
    }
    files.sort();
    Ok(files)
}

/// Reads `population,neuron,time_ms` rows into one train per population.
fn read_spikes_csv(path: &Path) -> Result<Vec<SpikeTrain>, PlotError> {
    let text = read_text(path)?;
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, "population,neuron,time_ms")) => {}
        _ => {
            return Err(malformed(
                path,
                Some(1),
                "the header is not `population,neuron,time_ms`",
            ));
        }
    }
    let mut trains: BTreeMap<&str, SpikeTrain> = BTreeMap::new();
    for (index, line) in lines {
        if line.is_empty() {
            continue;
        }
        let bad = |problem: &str| malformed(path, Some(index + 1), problem);
        let mut fields = line.split(',');
        let (Some(population), Some(neuron), Some(time), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("expected three fields: population,neuron,time_ms"));
        };
        let neuron: u32 = neuron
            .parse()
            .map_err(|_| bad(&format!("`{neuron}` is not a neuron index")))?;
        let time: f64 = time
            .parse()
            .map_err(|_| bad(&format!("`{time}` is not a time in ms")))?;
        let train = trains.entry(population).or_insert_with(|| SpikeTrain {
            population: population.to_string(),
            ..SpikeTrain::default()
        });
        train.times_ms.push(time);
        train.neurons.push(neuron);
    }
    Ok(trains.into_values().collect())
}

/// Reads one trace table; `stem` is `<population>_<variable>`, split at the
/// longest known population name that fits.
fn read_trace_csv(
    path: &Path,
    stem: &str,
    populations: &BTreeSet<&str>,
) -> Result<Trace, PlotError> {
    let text = read_text(path)?;
    let mut lines = text.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, line)| split_csv_line(line))
        .unwrap_or_default();
    if header.first().map(String::as_str) != Some("time_ms") {
        return Err(malformed(
            path,
            Some(1),
            "the first column is not `time_ms`",
        ));
    }
    let mut neurons = Vec::new();
    let mut unit = String::new();
    for label in &header[1..] {
        let (neuron, label_unit) = parse_column_label(label).ok_or_else(|| {
            malformed(
                path,
                Some(1),
                format!("`{label}` is not a column label such as `3 [mV]`"),
            )
        })?;
        neurons.push(neuron);
        unit = label_unit.to_string();
    }
    let (population, variable) = split_stem(stem, populations);
    let mut trace = Trace {
        population,
        variable,
        unit,
        neurons,
        ..Trace::default()
    };
    for (index, line) in lines {
        if line.is_empty() {
            continue;
        }
        let before = trace.values.len();
        let mut fields = line.split(',');
        let bad_number =
            |field: &str| malformed(path, Some(index + 1), format!("`{field}` is not a number"));
        let time = fields.next().unwrap_or_default();
        trace
            .times_ms
            .push(time.parse().map_err(|_| bad_number(time))?);
        for field in fields {
            trace
                .values
                .push(field.parse().map_err(|_| bad_number(field))?);
        }
        if trace.values.len() - before != trace.neurons.len() {
            return Err(malformed(
                path,
                Some(index + 1),
                format!("expected {} columns", header.len()),
            ));
        }
    }
    Ok(trace)
}

/// `3 [mV]` → (3, "mV"); `3` → (3, "").
fn parse_column_label(label: &str) -> Option<(u32, &str)> {
    let label = label.trim();
    match label.split_once(' ') {
        Some((neuron, unit)) => {
            let unit = unit.trim().strip_prefix('[')?.strip_suffix(']')?;
            Some((neuron.parse().ok()?, unit))
        }
        None => Some((label.parse().ok()?, "")),
    }
}

/// Splits a header line, undoing the RFC 4180 quoting the writer applies to
/// labels with a comma or quote in the unit.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = fields.last_mut() {
                    f.push('"');
                }
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

/// `<population>_<variable>` split at the longest population name that leaves
/// a variable; at the first `_` if no name fits.
fn split_stem(stem: &str, populations: &BTreeSet<&str>) -> (String, String) {
    let known = populations
        .iter()
        .filter_map(|p| {
            let variable = stem.strip_prefix(p)?.strip_prefix('_')?;
            (!variable.is_empty()).then_some((*p, variable))
        })
        .max_by_key(|(p, _)| p.len());
    let (population, variable) = known.or_else(|| stem.split_once('_')).unwrap_or(("", stem));
    (population.to_string(), variable.to_string())
}

/// Reads `results.npz`: `<pop>_times_ms` / `<pop>_neurons` pairs are spikes,
/// `<pop>_<var>` matrices with `_time_ms` and `_neurons` beside them are
/// traces. The archive does not store units.
fn read_npz(path: &Path, summary: Option<&Summary>) -> Result<Results, PlotError> {
    let bytes = std::fs::read(path).map_err(|source| PlotError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let entries: BTreeMap<String, NpyMatrix> = npz_reader::read_npz(&bytes)
        .map_err(|problem| malformed(path, None, problem))?
        .into_iter()
        .collect();
    let shape_error = |name: &str| {
        malformed(
            path,
            None,
            format!("entry `{name}` has an unexpected shape"),
        )
    };
    let mut spikes = Vec::new();
    for (name, times) in &entries {
        let Some(population) = name.strip_suffix("_times_ms") else {
            continue;
        };
        let Some(neurons) = entries.get(&format!("{population}_neurons")) else {
            continue;
        };
        if times.values.len() != neurons.values.len() {
            return Err(shape_error(name));
        }
        spikes.push(SpikeTrain {
            population: population.to_string(),
            times_ms: times.values.clone(),
            neurons: neurons.values.iter().map(|&n| n as u32).collect(),
        });
    }
    let mut populations: BTreeSet<&str> = spikes.iter().map(|s| s.population.as_str()).collect();
    if let Some(s) = summary {
        populations.extend(s.populations.keys().map(String::as_str));
    }
    let mut traces = Vec::new();
    for (name, samples) in &entries {
        let (Some(times), Some(neurons)) = (
            entries.get(&format!("{name}_time_ms")),
            entries.get(&format!("{name}_neurons")),
        ) else {
            continue;
        };
        let (rows, columns) = (times.values.len(), neurons.values.len());
        if samples.shape != [rows, columns] {
            return Err(shape_error(name));
        }
        let (population, variable) = split_stem(name, &populations);
        traces.push(Trace {
            population,
            variable,
            unit: String::new(),
            neurons: neurons.values.iter().map(|&n| n as u32).collect(),
            times_ms: times.values.clone(),
            values: samples.values.clone(),
        });
    }
    Ok(Results {
        summary: None,
        spikes,
        traces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_labels_give_neuron_and_unit() {
        assert_eq!(parse_column_label("3 [mV]"), Some((3, "mV")));
        assert_eq!(parse_column_label("12"), Some((12, "")));
        assert_eq!(parse_column_label("x [mV]"), None);
        assert_eq!(
            split_csv_line(r#"time_ms,"0 [a,""b]",1"#),
            ["time_ms", r#"0 [a,"b]"#, "1"]
        );
    }

    #[test]
    fn file_stems_split_at_the_longest_population_name() {
        let populations = BTreeSet::from(["P", "P_exc"]);
        let split = |stem| split_stem(stem, &populations);
        assert_eq!(split("P_exc_V_m"), ("P_exc".into(), "V_m".into()));
        assert_eq!(split("P_V_m"), ("P".into(), "V_m".into()));
        assert_eq!(split("Q_g_e"), ("Q".into(), "g_e".into()));
    }
}
