//! `trace_<population>_<variable>.csv`: one recorded variable over time.
//!
//! ```text
//! time_ms,0 [mV],3 [mV]
//! 0.0,-65.0,-65.0
//! 0.1,-64.9,-64.95
//! ```
//!
//! One row per sample time, one column per recorded neuron, labelled with the
//! neuron index and the variable's unit (just the index for a dimensionless
//! variable). Values use the shortest round-trip formatting, switching to
//! exponent notation for very small or large magnitudes (`1e-7`), which pandas and
//! `numpy.loadtxt` read as they are.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::TraceRecording;
use super::atomic::write_atomically;
use super::error::OutputError;

/// The file name of the trace of `variable` in `population`.
pub fn trace_file_name(population: &str, variable: &str) -> String {
    format!("trace_{population}_{variable}.csv")
}

/// Writes `dir/trace_<population>_<variable>.csv` atomically.
pub fn write_trace_csv(dir: &Path, trace: &TraceRecording<'_>) -> Result<PathBuf, OutputError> {
    trace.check()?;
    let file_name = trace_file_name(trace.population, trace.variable);
    write_atomically(dir, &file_name, |writer| {
        write!(writer, "time_ms")?;
        for neuron in trace.neurons {
            write!(writer, ",{}", csv_field(&column_label(*neuron, trace.unit)))?;
        }
        writeln!(writer)?;
        let columns = trace.neurons.len();
        for (row, time) in trace.times_ms.iter().enumerate() {
            write!(writer, "{time:?}")?;
            for value in &trace.values[row * columns..(row + 1) * columns] {
                write!(writer, ",{value:?}")?;
            }
            writeln!(writer)?;
        }
        Ok(())
    })
}

/// `3 [mV]`, or `3` for a dimensionless variable.
fn column_label(neuron: u32, unit: &str) -> String {
    if unit.is_empty() {
        neuron.to_string()
    } else {
        format!("{neuron} [{unit}]")
    }
}

/// Quotes a field the RFC 4180 way if it holds a comma, quote or line break, so an
/// odd unit cannot shift the columns.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::spikes::tests::parse_csv;
    use super::*;

    fn trace<'a>(neurons: &'a [u32], times_ms: &'a [f64], values: &'a [f64]) -> TraceRecording<'a> {
        TraceRecording {
            population: "exc",
            variable: "v",
            unit: "mV",
            neurons,
            times_ms,
            values,
        }
    }

    #[test]
    fn header_labels_columns_with_index_and_unit_and_values_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let times = [0.0, 0.1, 0.2];
        let values = [-65.0, -70.0, -64.9, 1e-7, 0.1 + 0.2, f64::MAX];
        let path = write_trace_csv(dir.path(), &trace(&[3, 7], &times, &values)).unwrap();
        assert_eq!(path.file_name().unwrap(), "trace_exc_v.csv");
        let (header, rows) = parse_csv(&std::fs::read_to_string(path).unwrap());
        assert_eq!(header, ["time_ms", "3 [mV]", "7 [mV]"]);
        assert_eq!(rows.len(), 3);
        for (row, time) in rows.iter().zip(times) {
            assert_eq!(row[0].parse::<f64>().unwrap(), time);
        }
        let parsed: Vec<f64> = rows
            .iter()
            .flat_map(|row| row[1..].iter().map(|x| x.parse().unwrap()))
            .collect();
        assert_eq!(parsed, values);
    }

    #[test]
    fn dimensionless_variables_are_labelled_by_index_alone() {
        assert_eq!(column_label(5, ""), "5");
        assert_eq!(csv_field("1 [a,b]"), "\"1 [a,b]\"");
    }

    #[test]
    fn values_that_do_not_fit_the_shape_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let result = write_trace_csv(dir.path(), &trace(&[0, 1], &[0.0, 0.1], &[1.0, 2.0, 3.0]));
        assert!(matches!(
            result,
            Err(OutputError::ShapeMismatch {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }
}
