//! `spikes.csv`: every spike of the run in one table.
//!
//! ```text
//! population,neuron,time_ms
//! exc,3,0.1
//! inh,0,0.1
//! exc,7,0.30000000000000004
//! ```
//!
//! Rows are in time order; spikes of one step are ordered by the population's
//! position in the input, then by neuron index, so the file is the same whatever
//! order threads recorded the spikes in. `time_ms = step × dt_ms`, printed in the
//! shortest form that parses back to the same `f64`
//! (`pandas.read_csv("spikes.csv")` needs no options).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::PopulationSpikes;
use super::atomic::write_atomically;
use super::error::{OutputError, check_name};

/// The file name of the spike table.
pub const SPIKES_CSV: &str = "spikes.csv";

/// Writes `dir/spikes.csv` atomically from the spikes of all populations.
pub fn write_spikes_csv(
    dir: &Path,
    populations: &[PopulationSpikes<'_>],
    dt_ms: f64,
) -> Result<PathBuf, OutputError> {
    for population in populations {
        check_name(population.population)?;
    }
    let events = spikes_in_time_order(populations);
    write_atomically(dir, SPIKES_CSV, |writer| {
        writeln!(writer, "population,neuron,time_ms")?;
        for (step, population, neuron) in events {
            let name = populations[population].population;
            writeln!(
                writer,
                "{name},{neuron},{:?}",
                super::grid_time(step, dt_ms)
            )?;
        }
        Ok(())
    })
}

/// All spikes as `(step, population index, neuron)`, sorted by step, then
/// population order, then neuron.
pub(crate) fn spikes_in_time_order(populations: &[PopulationSpikes<'_>]) -> Vec<(u64, usize, u32)> {
    let mut events: Vec<(u64, usize, u32)> = populations
        .iter()
        .enumerate()
        .flat_map(|(index, population)| {
            population
                .spikes
                .iter()
                .map(move |&(step, neuron)| (step, index, neuron))
        })
        .collect();
    events.sort_unstable();
    events
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Parses the simple CSV this module writes (no quoting), header first.
    pub(crate) fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines = text.lines();
        let split = |line: &str| line.split(',').map(str::to_string).collect::<Vec<_>>();
        let header = lines.next().map(split).unwrap_or_default();
        (header, lines.map(split).collect())
    }

    #[test]
    fn rows_are_merged_by_time_then_population_then_neuron() {
        let dir = tempfile::tempdir().unwrap();
        let exc = [(3, 9), (1, 4), (3, 2)];
        let inh = [(3, 0), (0, 5)];
        let populations = [
            PopulationSpikes {
                population: "exc",
                spikes: &exc,
            },
            PopulationSpikes {
                population: "inh",
                spikes: &inh,
            },
        ];
        let path = write_spikes_csv(dir.path(), &populations, 0.1).unwrap();
        let (header, rows) = parse_csv(&std::fs::read_to_string(path).unwrap());
        assert_eq!(header, ["population", "neuron", "time_ms"]);
        let order: Vec<(&str, u32)> = rows
            .iter()
            .map(|row| (row[0].as_str(), row[1].parse().unwrap()))
            .collect();
        assert_eq!(
            order,
            [("inh", 5), ("exc", 4), ("exc", 2), ("exc", 9), ("inh", 0)]
        );
    }

    #[test]
    fn times_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let dt_ms = 0.1;
        let spikes: Vec<(u64, u32)> = (0..1000).map(|step| (step * 7919, 0)).collect();
        let populations = [PopulationSpikes {
            population: "p",
            spikes: &spikes,
        }];
        let path = write_spikes_csv(dir.path(), &populations, dt_ms).unwrap();
        let (_, rows) = parse_csv(&std::fs::read_to_string(path).unwrap());
        for (row, (step, _)) in rows.iter().zip(&spikes) {
            let time: f64 = row[2].parse().unwrap();
            assert_eq!(
                time.to_bits(),
                crate::output::grid_time(*step, dt_ms).to_bits(),
                "{}",
                row[2]
            );
        }
    }

    #[test]
    fn no_spikes_gives_just_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let populations = [PopulationSpikes {
            population: "p",
            spikes: &[],
        }];
        let path = write_spikes_csv(dir.path(), &populations, 0.1).unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "population,neuron,time_ms\n"
        );
    }

    #[test]
    fn a_name_with_a_comma_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let populations = [PopulationSpikes {
            population: "a,b",
            spikes: &[(0, 0)],
        }];
        let result = write_spikes_csv(dir.path(), &populations, 0.1);
        assert!(matches!(result, Err(OutputError::InvalidName { .. })));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
