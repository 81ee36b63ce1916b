//! Drawing the panels of a planned [`Figure`](super::figure::Figure) with
//! plotters, on whichever backend the caller chose.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::figure::{Raster, Rate, TracePanel};

/// The font family of all text: the embedded DejaVu Sans.
pub const FONT: &str = super::FONT_FAMILY;

const CAPTION_SIZE: u32 = 16;
const LABEL_SIZE: u32 = 12;
const AXIS_SIZE: u32 = 14;
const LEGEND_SIZE: u32 = 13;
/// The strip right of every chart that holds its legend; the same for all
/// panels, so their time axes line up.
const LEGEND_WIDTH: u32 = 190;
/// The longest legend entry in characters, before it is cut with `…`.
const LEGEND_CHARS: usize = 24;

/// How a legend entry is marked.
#[derive(Clone, Copy)]
enum Mark {
    /// A filled square, for a population.
    Square,
    /// A short line, for a neuron's trace.
    Line,
}

/// Turns a plotters error into the message the CLI shows.
fn failed(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A chart over `0..end_ms` and `y`, with a caption and labelled axes.
fn chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    end_ms: f64,
    y: std::ops::Range<f64>,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    ChartBuilder::on(area)
        .caption(caption, (FONT, CAPTION_SIZE))
        .margin(8)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(36)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..end_ms, y)
        .map_err(failed)
}

/// Which grid lines a panel has.
#[derive(Clone, Copy)]
enum Grid {
    /// None: the raster, where lines would hide spikes.
    Off,
    /// Horizontal lines only.
    Rows,
    /// Horizontal and vertical lines.
    Both,
}

/// Draws the axes shared by all panels: time in ms along x, `y_desc` up y.
fn draw_axes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    end_ms: f64,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
    y_labels: usize,
    grid: Grid,
) -> Result<(), String> {
    let time_label = tick_label(end_ms);
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.1))
        .x_desc("time (ms)")
        .y_desc(y_desc)
        .x_label_formatter(&time_label)
        .y_label_formatter(y_label)
        .y_labels(y_labels)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, AXIS_SIZE));
    match grid {
        Grid::Off => mesh.disable_mesh(),
        Grid::Rows => mesh.disable_x_mesh(),
        Grid::Both => &mut mesh,
    };
    mesh.draw().map_err(failed)
}

/// Tick labels for an axis spanning `span`: enough decimals for ticks a
/// hundredth of the span apart, trailing zeros dropped: `100`, `0.25`, `-65`,
/// not `100.0` or `0.30000000000000004`. Very large or very fine axes (a run
/// that blew up) use exponents: `1.5e200`.
fn tick_label(span: f64) -> impl Fn(&f64) -> String {
    let scientific = !(1e-4..1e7).contains(&span);
    let decimals = if scientific {
        3
    } else {
        (-(span / 100.0).log10()).ceil().clamp(0.0, 12.0) as usize
    };
    move |x: &f64| {
        let text = if scientific && *x != 0.0 {
            format!("{x:.decimals$e}")
        } else {
            format!("{x:.decimals$}")
        };
        let (mantissa, exponent) = text.split_at(text.find('e').unwrap_or(text.len()));
        let mantissa = if mantissa.contains('.') {
            mantissa.trim_end_matches('0').trim_end_matches('.')
        } else {
            mantissa
        };
        // `-0` reads as a mistake.
        let mantissa = if mantissa == "-0" { "0" } else { mantissa };
        format!("{mantissa}{exponent}")
    }
}

/// Draws `entries` in the strip right of a chart, as many as fit.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(&str, RGBColor)],
    mark: Mark,
) -> Result<(), String> {
    let (width, height) = area.dim_in_pixel();
    let left = width.saturating_sub(LEGEND_WIDTH) as i32 + 14;
    let line_height = 18;
    let top = 40;
    let room = (height as i32 - top - 20).max(line_height) / line_height;
    let style = (FONT, LEGEND_SIZE)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (text, colour)) in entries.iter().enumerate() {
        let y = top + k as i32 * line_height;
        if k as i32 + 1 == room && entries.len() > k + 1 {
            let more = format!("… {} more", entries.len() - k);
            area.draw(&Text::new(more, (left, y), style.clone()))
                .map_err(failed)?;
            break;
        }
        match mark {
            Mark::Square => area.draw(&Rectangle::new(
                [(left, y - 5), (left + 10, y + 5)],
                colour.filled(),
            )),
            Mark::Line => area.draw(&PathElement::new(
                vec![(left - 2, y), (left + 12, y)],
                colour.stroke_width(2),
            )),
        }
        .map_err(failed)?;
        let text: String = if text.chars().count() > LEGEND_CHARS {
            text.chars().take(LEGEND_CHARS - 1).chain(['…']).collect()
        } else {
            text.to_string()
        };
        area.draw(&Text::new(text, (left + 18, y), style.clone()))
            .map_err(failed)?;
    }
    Ok(())
}

/// Writes `text` in the middle of an empty panel.
fn say_empty<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    text: &str,
    end_ms: f64,
    y: (f64, f64),
) -> Result<(), String> {
    let style = (FONT, CAPTION_SIZE)
        .into_font()
        .color(&BLACK.mix(0.6))
        .pos(Pos::new(HPos::Center, VPos::Center));
    chart
        .plotting_area()
        .draw(&Text::new(
            text.to_string(),
            (end_ms / 2.0, (y.0 + y.1) / 2.0),
            style,
        ))
        .map_err(failed)
}

/// The spike raster, with a legend of the populations.
pub fn draw_raster<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    raster: &Raster,
    end_ms: f64,
) -> Result<(), String> {
    let rows = f64::from(raster.rows.max(1));
    let mut chart = chart(area, &raster.caption, end_ms, 0.0..rows)?;
    let neuron_label = |y: &f64| {
        raster
            .neuron_at(*y)
            .map(|n| n.to_string())
            .unwrap_or_default()
    };
    let rows_shown = raster.rows.clamp(2, 10) as usize;
    draw_axes(
        &mut chart,
        end_ms,
        "neuron",
        &neuron_label,
        rows_shown,
        Grid::Off,
    )?;
    // Thin lines between the bands of the populations.
    let borders = raster.groups.iter().skip(1).map(|g| {
        let y = f64::from(g.first_row);
        PathElement::new(vec![(0.0, y), (end_ms, y)], BLACK.mix(0.25))
    });
    chart.draw_series(borders).map_err(failed)?;
    for group in &raster.groups {
        let colour = group.colour;
        let points = group
            .points
            .iter()
            .map(|&point| Circle::new(point, 1, colour.filled()));
        chart.draw_series(points).map_err(failed)?;
    }
    if raster.groups.iter().all(|g| g.points.is_empty()) {
        say_empty(&mut chart, "no spikes recorded", end_ms, (0.0, rows))?;
    }
    let legend: Vec<(&str, RGBColor)> = raster
        .groups
        .iter()
        .map(|g| (g.legend.as_str(), g.colour))
        .collect();
    draw_legend(area, &legend, Mark::Square)
}

/// The population rates as histograms: a light bar and an outline per bin.
pub fn draw_rate<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rate: &Rate,
    end_ms: f64,
) -> Result<(), String> {
    let highest = rate
        .series
        .iter()
        .flat_map(|(_, _, hz)| hz.iter().copied())
        .filter(|hz| hz.is_finite())
        .fold(0.0, f64::max);
    let top = if highest > 0.0 { highest * 1.1 } else { 1.0 };
    let mut chart = chart(area, &rate.caption, end_ms, 0.0..top)?;
    let rate_label = tick_label(top);
    draw_axes(&mut chart, end_ms, "rate (Hz)", &rate_label, 5, Grid::Rows)?;
    let bin = |b: usize| {
        let start = b as f64 * rate.bin_ms;
        (start, (start + rate.bin_ms).min(end_ms))
    };
    for (_, colour, hz) in &rate.series {
        let bars = hz
            .iter()
            .enumerate()
            .filter(|(_, r)| **r > 0.0)
            .map(|(b, &r)| {
                let (start, end) = bin(b);
                Rectangle::new([(start, 0.0), (end, r)], colour.mix(0.2).filled())
            });
        chart.draw_series(bars).map_err(failed)?;
        let outline = hz.iter().enumerate().flat_map(|(b, &r)| {
            let (start, end) = bin(b);
            [(start, r), (end, r)]
        });
        chart
            .draw_series(LineSeries::new(outline, colour.stroke_width(1)))
            .map_err(failed)?;
    }
    if highest == 0.0 {
        say_empty(&mut chart, "no spikes recorded", end_ms, (0.0, top))?;
    }
    let legend: Vec<(&str, RGBColor)> = rate
        .series
        .iter()
        .map(|(name, colour, _)| (name.as_str(), *colour))
        .collect();
    draw_legend(area, &legend, Mark::Square)
}

/// One recorded variable: a line per drawn neuron.
pub fn draw_trace<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    trace: &TracePanel,
    end_ms: f64,
) -> Result<(), String> {
    let (low, high) = trace.y_range;
    let mut chart = chart(area, &trace.caption, end_ms, low..high)?;
    let value_label = tick_label(high - low);
    draw_axes(
        &mut chart,
        end_ms,
        &trace.y_label,
        &value_label,
        6,
        Grid::Both,
    )?;
    for line in &trace.lines {
        for piece in &line.pieces {
            chart
                .draw_series(LineSeries::new(
                    piece.iter().copied(),
                    line.colour.stroke_width(1),
                ))
                .map_err(failed)?;
        }
    }
    if trace.lines.iter().all(|l| l.pieces.is_empty()) {
        say_empty(&mut chart, "nothing to draw", end_ms, (low, high))?;
    }
    let legend: Vec<(&str, RGBColor)> = trace
        .lines
        .iter()
        .map(|l| (l.label.as_str(), l.colour))
        .collect();
    draw_legend(area, &legend, Mark::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_have_the_decimals_their_spacing_needs() {
        let ms = tick_label(1000.0);
        assert_eq!((ms(&100.0), ms(&0.0)), ("100".to_string(), "0".to_string()));
        let mv = tick_label(3.0);
        assert_eq!(
            [mv(&0.30000000000000004), mv(&-0.0), mv(&0.25), mv(&-8.0)],
            ["0.3", "0", "0.25", "-8"]
        );
        let huge = tick_label(1e200);
        assert_eq!([huge(&1.5e200), huge(&0.0)], ["1.5e200", "0"]);
    }
}
