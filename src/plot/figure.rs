//! The figure as a plan: which points, lines and captions each panel shows,
//! decided once from the results and then drawn on any plotters backend (PNG
//! and SVG get the same content).

use image::ImageEncoder;
use image::codecs::png::PngEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::panels;
use super::results::{Results, SpikeTrain, Summary, Trace};
use super::sampling::{
    evenly_spaced, line_pieces, padded_range, population_rate, raster_stride, rate_bin_ms,
};

/// At most this many neurons are drawn in the raster.
pub const MAX_RASTER_ROWS: u64 = 2000;
/// At most about this many spikes are drawn in the raster.
pub const MAX_RASTER_POINTS: u64 = 50_000;
/// At most this many neurons are drawn per trace panel.
const MAX_TRACE_NEURONS: usize = 5;
/// At most this many trace panels are drawn.
const MAX_TRACE_PANELS: usize = 12;
/// At most this many points per trace line: two per pixel column.
const MAX_LINE_POINTS: usize = 2 * WIDTH as usize;

const WIDTH: u32 = 1200;
const TITLE_HEIGHT: u32 = 40;
const RASTER_HEIGHT: u32 = 420;
const RATE_HEIGHT: u32 = 200;
const TRACE_HEIGHT: u32 = 200;

/// Colours of populations and of the lines of a trace panel (Tableau 10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Everything drawn, panel by panel.
#[derive(Debug)]
pub struct Figure {
    /// The line above the panels: what ran.
    pub title: String,
    /// Where every x axis ends, in ms.
    pub end_ms: f64,
    /// The spike raster.
    pub raster: Raster,
    /// The population rates.
    pub rate: Rate,
    /// One panel per recorded variable.
    pub traces: Vec<TracePanel>,
}

/// The spike raster: populations stacked bottom-up in name order.
#[derive(Debug)]
pub struct Raster {
    /// The panel's title, with how much of the network is shown.
    pub caption: String,
    /// The rows of all populations.
    pub rows: u32,
    /// One band of rows per population.
    pub groups: Vec<RasterGroup>,
}

/// The band of one population in the raster.
#[derive(Debug)]
pub struct RasterGroup {
    /// The legend entry.
    pub legend: String,
    /// The population's colour.
    pub colour: RGBColor,
    /// Its lowest row.
    pub first_row: u32,
    /// How many rows it has.
    pub rows: u32,
    /// Row `first_row + k` shows neuron `k × stride`.
    pub stride: u32,
    /// `(time in ms, row + 0.5)` of every spike drawn.
    pub points: Vec<(f64, f64)>,
}

impl Raster {
    /// The neuron shown at height `y`, for the axis labels.
    pub fn neuron_at(&self, y: f64) -> Option<u64> {
        let row = y.floor();
        if row < 0.0 {
            return None;
        }
        let row = row as u32;
        let group = self
            .groups
            .iter()
            .find(|g| g.first_row <= row && row - g.first_row < g.rows)?;
        Some(u64::from(row - group.first_row) * u64::from(group.stride))
    }
}

/// The population-rate panel.
#[derive(Debug)]
pub struct Rate {
    /// The panel's title.
    pub caption: String,
    /// The bin width in ms.
    pub bin_ms: f64,
    /// Per population: its name, its colour and the rate of each bin in Hz.
    pub series: Vec<(String, RGBColor, Vec<f64>)>,
}

/// One recorded variable.
#[derive(Debug)]
pub struct TracePanel {
    /// The panel's title.
    pub caption: String,
    /// The y axis label, with the unit.
    pub y_label: String,
    /// The y range, in the variable's unit.
    pub y_range: (f64, f64),
    /// The neurons drawn.
    pub lines: Vec<TraceLine>,
}

/// The line of one neuron in a trace panel.
#[derive(Debug)]
pub struct TraceLine {
    /// The legend entry.
    pub label: String,
    /// The line's colour.
    pub colour: RGBColor,
    /// Runs of finite samples.
    pub pieces: Vec<Vec<(f64, f64)>>,
}

impl Figure {
    /// Decides what to draw.
    pub fn plan(results: &Results) -> Self {
        let summary = results.summary.as_ref();
        let end_ms = results.end_ms();
        let rows: Vec<u64> = results
            .spikes
            .iter()
            .map(|train| recorded_neurons(train, summary))
            .collect();
        let mut traces: Vec<TracePanel> = results
            .traces
            .iter()
            .take(MAX_TRACE_PANELS)
            .map(plan_trace)
            .collect();
        let left_out = results.traces.len().saturating_sub(MAX_TRACE_PANELS);
        if left_out > 0
            && let Some(last) = traces.last_mut()
        {
            last.caption.push_str(&format!(
                " ({left_out} more recorded variable(s) not drawn)"
            ));
        }
        Figure {
            title: title(summary, end_ms),
            end_ms,
            raster: plan_raster(&results.spikes, &rows),
            rate: plan_rate(&results.spikes, &rows, summary, end_ms),
            traces,
        }
    }

    /// The figure's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let traces = u32::try_from(self.traces.len()).unwrap_or(u32::MAX);
        (
            WIDTH,
            TITLE_HEIGHT + RASTER_HEIGHT + RATE_HEIGHT + TRACE_HEIGHT.saturating_mul(traces),
        )
    }

    /// The figure as a PNG file.
    pub fn render_png(&self) -> Result<Vec<u8>, String> {
        let (width, height) = self.size();
        let mut rgb = vec![0u8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&rgb, width, height, image::ColorType::Rgb8)
            .map_err(|e| e.to_string())?;
        Ok(png)
    }

    /// The figure as an SVG document.
    pub fn render_svg(&self) -> Result<String, String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (title, rest) = root.split_vertically(TITLE_HEIGHT);
        title
            .draw(&Text::new(
                self.title.as_str(),
                (15, 12),
                (panels::FONT, 18).into_font(),
            ))
            .map_err(|e| e.to_string())?;
        let (raster, rest) = rest.split_vertically(RASTER_HEIGHT);
        panels::draw_raster(&raster, &self.raster, self.end_ms)?;
        let (rate, mut rest) = rest.split_vertically(RATE_HEIGHT);
        panels::draw_rate(&rate, &self.rate, self.end_ms)?;
        for trace in &self.traces {
            let (panel, below) = rest.split_vertically(TRACE_HEIGHT);
            panels::draw_trace(&panel, trace, self.end_ms)?;
            rest = below;
        }
        Ok(())
    }
}

/// `CUBA · 1000 ms · dt 0.1 ms · seed 0 · jit`, and whether the run stopped early.
fn title(summary: Option<&Summary>, end_ms: f64) -> String {
    let Some(s) = summary else {
        return format!("nmlc results · {end_ms} ms (no summary.json)");
    };
    let mut parts = vec![s.network.clone()];
    parts.extend(s.duration_ms.map(|t| format!("{t} ms")));
    parts.extend(s.dt_ms.map(|dt| format!("dt {dt} ms")));
    parts.extend(s.seed.map(|seed| format!("seed {seed}")));
    parts.push(s.backend.clone());
    parts.retain(|p| !p.is_empty());
    let mut title = parts.join(" · ");
    if s.interrupted {
        title.push_str(&format!(" · stopped early at {end_ms} ms"));
    }
    title
}

/// How many neurons of a population the spike file covers: all of them when
/// it holds every spike `summary.json` counted, else those up to the highest
/// index that spiked (a recorder of `P[0:50]`).
fn recorded_neurons(train: &SpikeTrain, summary: Option<&Summary>) -> u64 {
    let seen = train.neurons.iter().max().map_or(0, |&n| u64::from(n) + 1);
    let facts = summary.and_then(|s| s.populations.get(&train.population));
    match facts.and_then(|p| p.spikes.zip(p.size)) {
        Some((spikes, size)) if spikes == train.times_ms.len() as u64 && size >= seen => size,
        _ => seen,
    }
}

fn plan_raster(spikes: &[SpikeTrain], rows: &[u64]) -> Raster {
    let per_neuron: Vec<Vec<u64>> = spikes
        .iter()
        .zip(rows)
        .map(|(train, &rows)| {
            let mut counts = vec![0u64; rows as usize];
            for &n in &train.neurons {
                if let Some(c) = counts.get_mut(n as usize) {
                    *c += 1;
                }
            }
            counts
        })
        .collect();
    let stride = raster_stride(&per_neuron, MAX_RASTER_ROWS, MAX_RASTER_POINTS);
    let kept: u64 = per_neuron
        .iter()
        .flat_map(|p| p.iter().step_by(stride as usize))
        .sum();
    // Only when single neurons alone exceed the cap are spikes thinned too.
    let every = kept.div_ceil(MAX_RASTER_POINTS).max(1) as usize;
    let mut groups = Vec::new();
    let mut first_row = 0u32;
    for (index, (train, &rows)) in spikes.iter().zip(rows).enumerate() {
        let shown = u32::try_from(rows.div_ceil(u64::from(stride))).unwrap_or(u32::MAX);
        let points: Vec<(f64, f64)> = train
            .times_ms
            .iter()
            .zip(&train.neurons)
            .filter(|(_, n)| *n % stride == 0)
            .step_by(every)
            .map(|(&t, &n)| (t, f64::from(first_row + n / stride) + 0.5))
            .collect();
        groups.push(RasterGroup {
            legend: format!("{} ({} spikes)", train.population, train.times_ms.len()),
            colour: PALETTE[index % PALETTE.len()],
            first_row,
            rows: shown,
            stride,
            points,
        });
        first_row = first_row.saturating_add(shown);
    }
    let total: u64 = rows.iter().sum();
    let spikes_total: usize = spikes.iter().map(|s| s.times_ms.len()).sum();
    let mut caption = if spikes_total == 0 {
        "Spikes: none recorded".to_string()
    } else if stride > 1 {
        format!("Spikes: showing {first_row} of {total} neurons (one in {stride})")
    } else {
        format!(
            "Spikes: {total} neuron{}",
            if total == 1 { "" } else { "s" }
        )
    };
    if every > 1 {
        caption.push_str(&format!(", one spike in {every}"));
    }
    Raster {
        caption,
        rows: first_row,
        groups,
    }
}

fn plan_rate(spikes: &[SpikeTrain], rows: &[u64], summary: Option<&Summary>, end_ms: f64) -> Rate {
    let bin_ms = rate_bin_ms(end_ms, summary.and_then(|s| s.dt_ms));
    let series = spikes
        .iter()
        .zip(rows)
        .enumerate()
        .map(|(index, (train, &neurons))| {
            (
                train.population.clone(),
                PALETTE[index % PALETTE.len()],
                population_rate(&train.times_ms, neurons as f64, bin_ms, end_ms),
            )
        })
        .collect();
    Rate {
        caption: format!("Population rate per neuron, {bin_ms} ms bins"),
        bin_ms,
        series,
    }
}

fn plan_trace(trace: &Trace) -> TracePanel {
    let columns = trace.neurons.len();
    let rows = trace.times_ms.len();
    let chosen = evenly_spaced(columns, MAX_TRACE_NEURONS);
    let column = |c: usize| -> Vec<f64> {
        (0..rows)
            .map(|r| {
                trace
                    .values
                    .get(r * columns + c)
                    .copied()
                    .unwrap_or(f64::NAN)
            })
            .collect()
    };
    let mut all_finite = true;
    let mut values_drawn = Vec::new();
    let lines = chosen
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let values = column(c);
            all_finite &= values.iter().all(|v| v.is_finite());
            let pieces = line_pieces(&trace.times_ms, &values, MAX_LINE_POINTS);
            values_drawn.extend(values);
            TraceLine {
                label: format!("neuron {}", trace.neurons[c]),
                colour: PALETTE[k % PALETTE.len()],
                pieces,
            }
        })
        .collect();
    let name = if trace.population.is_empty() {
        trace.variable.clone()
    } else {
        format!("{}.{}", trace.population, trace.variable)
    };
    let mut caption = if chosen.len() < columns {
        format!("{name}: showing {} of {columns} neurons", chosen.len())
    } else {
        name
    };
    let range = padded_range(values_drawn.iter().copied());
    if range.is_none() && rows > 0 {
        caption.push_str(" (no finite values)");
    } else if !all_finite {
        caption.push_str(" (values that are not finite are left out)");
    }
    TracePanel {
        caption,
        y_label: if trace.unit.is_empty() {
            trace.variable.clone()
        } else {
            format!("{} ({})", trace.variable, trace.unit)
        },
        y_range: range.unwrap_or((-1.0, 1.0)),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::super::results::PopulationFacts;
    use super::*;
    use std::collections::BTreeMap;

    fn train(population: &str, neurons: &[u32]) -> SpikeTrain {
        SpikeTrain {
            population: population.into(),
            times_ms: neurons.iter().map(|&n| f64::from(n)).collect(),
            neurons: neurons.to_vec(),
        }
    }

    #[test]
    fn a_population_recorded_whole_counts_all_its_neurons() {
        let facts = |spikes| PopulationFacts {
            size: Some(100),
            spikes: Some(spikes),
        };
        let summary = Summary {
            populations: BTreeMap::from([
                ("A".to_string(), facts(2)),
                ("B".to_string(), facts(50)),
            ]),
            ..Summary::default()
        };
        assert_eq!(recorded_neurons(&train("A", &[3, 7]), Some(&summary)), 100);
        assert_eq!(recorded_neurons(&train("B", &[3, 7]), Some(&summary)), 8);
        assert_eq!(recorded_neurons(&train("C", &[3, 7]), None), 8);
    }

    #[test]
    fn stacked_rows_map_back_to_neurons() {
        let a = train("A", &(0..3000).collect::<Vec<_>>());
        let b = train("B", &(0..1000).collect::<Vec<_>>());
        let raster = plan_raster(&[a, b], &[3000, 1000]);
        assert_eq!(raster.groups[0].stride, 2);
        assert_eq!(raster.rows, 2000);
        assert_eq!(raster.groups[1].first_row, 1500);
        assert_eq!(raster.neuron_at(1500.5), Some(0));
        assert_eq!(raster.neuron_at(1499.0), Some(2998));
        assert_eq!(raster.neuron_at(2000.0), None);
        assert!(raster.caption.contains("showing 2000 of 4000 neurons"));
        assert_eq!(raster.groups[1].points.len(), 500);
    }
}
