//! The arithmetic of a legible figure: rate bins, which raster rows to keep,
//! which neurons of a trace to draw, and how to thin a long line without
//! losing its peaks. Plain functions of numbers, so they are tested alone.

/// Bin widths of the rate panel in ms: round numbers.
const BIN_WIDTHS_MS: [f64; 13] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4,
];

/// About how many bins the rate panel should have at most.
const TARGET_BINS: f64 = 400.0;

/// The rate bin width for a run of `end_ms`: the smallest round width that
/// gives at most about 400 bins and is no finer than the time step.
pub fn rate_bin_ms(end_ms: f64, dt_ms: Option<f64>) -> f64 {
    let finest = (end_ms / TARGET_BINS).max(dt_ms.unwrap_or(0.0));
    BIN_WIDTHS_MS
        .iter()
        .copied()
        .find(|&w| w >= finest)
        .unwrap_or_else(|| (finest / 1e4).ceil() * 1e4)
}

/// The rate in Hz per neuron in each bin (b·w, (b+1)·w] up to `end_ms`, from
/// the spike times of `neurons` neurons; the last bin may be cut short by the
/// end of the run and is divided by its true width.
pub fn population_rate(times_ms: &[f64], neurons: f64, bin_ms: f64, end_ms: f64) -> Vec<f64> {
    let bins = (end_ms / bin_ms - 1e-9).ceil().max(1.0) as usize;
    let mut counts = vec![0u64; bins];
    for &t in times_ms {
        if !t.is_finite() || t < 0.0 {
            continue;
        }
        // A spike stamped exactly on a bin's end belongs to that bin, as in
        // `record rate`; the tolerance absorbs the last bit of `step × dt`.
        let bin = ((t / bin_ms - 1e-9).ceil() as usize).saturating_sub(1);
        if let Some(count) = counts.get_mut(bin) {
            *count += 1;
        }
    }
    counts
        .iter()
        .enumerate()
        .map(|(b, &count)| {
            let width_ms = bin_ms.min(end_ms - b as f64 * bin_ms);
            if neurons > 0.0 && width_ms > 0.0 {
                count as f64 / (neurons * width_ms / 1000.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Which raster rows to draw: every `stride`-th neuron (0, stride, 2·stride, …)
/// of every population, with the smallest stride that keeps at most
/// `max_rows` rows and `max_points` spikes. `spikes_per_neuron` holds, per
/// population, the spike count of each of its rows.
pub fn raster_stride(spikes_per_neuron: &[Vec<u64>], max_rows: u64, max_points: u64) -> u32 {
    let total_rows: u64 = spikes_per_neuron.iter().map(|p| p.len() as u64).sum();
    let widest = spikes_per_neuron
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(1)
        .max(1) as u64;
    let kept = |stride: u64| -> u64 {
        spikes_per_neuron
            .iter()
            .flat_map(|p| p.iter().step_by(stride as usize))
            .sum()
    };
    let mut stride = total_rows.div_ceil(max_rows.max(1)).max(1);
    // Each try costs one pass over the rows; growing by a quarter keeps the
    // number of tries logarithmic. A stride as wide as the widest population
    // keeps one neuron each; no further thinning helps.
    while stride < widest && kept(stride) > max_points {
        stride += (stride / 4).max(1);
    }
    u32::try_from(stride.min(widest)).unwrap_or(u32::MAX)
}

/// `count` indices spread evenly over `0..total`, first and last included.
pub fn evenly_spaced(total: usize, count: usize) -> Vec<usize> {
    if total <= count {
        return (0..total).collect();
    }
    if count <= 1 {
        return vec![0; count.min(1)];
    }
    (0..count)
        .map(|k| (k * (total - 1) + (count - 1) / 2) / (count - 1))
        .collect()
}

/// The line through `(times[k], values[k])` as pieces of finite points, at
/// most about `max_points` in all. Non-finite samples end a piece. A long line
/// keeps, for each run of consecutive samples, the lowest and the highest in
/// the order they occur, so a spike narrower than a pixel still reaches its
/// peak.
pub fn line_pieces(times: &[f64], values: &[f64], max_points: usize) -> Vec<Vec<(f64, f64)>> {
    let run = times.len().div_ceil((max_points / 2).max(1)).max(1);
    let mut pieces = Vec::new();
    let mut piece: Vec<(f64, f64)> = Vec::new();
    let mut k = 0;
    let n = times.len().min(values.len());
    while k < n {
        let end = (k + run).min(n);
        let chunk = k..end;
        k = end;
        let mut low: Option<usize> = None;
        let mut high: Option<usize> = None;
        for i in chunk {
            if !(values[i].is_finite() && times[i].is_finite()) {
                // Close the piece with what this run had before the gap.
                flush(&mut piece, times, values, low.take(), high.take());
                if !piece.is_empty() {
                    pieces.push(std::mem::take(&mut piece));
                }
                continue;
            }
            if low.is_none_or(|l| values[i] < values[l]) {
                low = Some(i);
            }
            if high.is_none_or(|h| values[i] > values[h]) {
                high = Some(i);
            }
        }
        flush(&mut piece, times, values, low, high);
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// Appends the lowest and highest sample of a run, in time order.
fn flush(
    piece: &mut Vec<(f64, f64)>,
    times: &[f64],
    values: &[f64],
    low: Option<usize>,
    high: Option<usize>,
) {
    let mut ends: Vec<usize> = low.into_iter().chain(high).collect();
    ends.sort_unstable();
    ends.dedup();
    piece.extend(ends.into_iter().map(|i| (times[i], values[i])));
}

/// The range of the finite values in `values`, widened by 5 % on each side
/// (by 1 around a constant); `None` if none is finite.
pub fn padded_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (low, high) = values.filter(|v| v.is_finite()).fold(
        None,
        |range: Option<(f64, f64)>, v| match range {
            None => Some((v, v)),
            Some((l, h)) => Some((l.min(v), h.max(v))),
        },
    )?;
    let pad = if high > low { (high - low) * 0.05 } else { 1.0 };
    Some((low - pad, high + pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_are_round_and_no_finer_than_a_step() {
        assert_eq!(rate_bin_ms(200.0, Some(0.1)), 1.0);
        assert_eq!(rate_bin_ms(1000.0, Some(0.1)), 5.0);
        assert_eq!(rate_bin_ms(10_000.0, Some(0.1)), 50.0);
        assert_eq!(rate_bin_ms(100.0, Some(1.5)), 2.0);
        assert_eq!(rate_bin_ms(1e9, None), 2.5e6);
    }

    #[test]
    fn rates_count_spikes_on_a_bin_end_in_that_bin_and_divide_by_true_width() {
        // Two neurons, bins of 2 ms over 5 ms: (0, 2], (2, 4], (4, 5].
        let rates = population_rate(
            &[0.1, 2.0, 2.1, 4.5, 4.5, 0.30000000000000004],
            2.0,
            2.0,
            5.0,
        );
        assert_eq!(rates, [750.0, 250.0, 1000.0]);
    }

    #[test]
    fn the_raster_stride_honours_both_caps() {
        let flat = vec![vec![1u64; 4000]];
        assert_eq!(raster_stride(&flat, 2000, u64::MAX), 2);
        assert_eq!(raster_stride(&flat, 5000, u64::MAX), 1);
        // 4000 spikes in 4000 rows, at most 500 points: every 8th neuron or
        // a little more.
        let stride = raster_stride(&flat, 2000, 500);
        assert!((8..=10).contains(&stride), "{stride}");
        // One neuron with more spikes than the cap: nothing to thin.
        assert_eq!(raster_stride(&[vec![10_000]], 2000, 10), 1);
        assert_eq!(raster_stride(&[], 2000, 10), 1);
    }

    #[test]
    fn evenly_spaced_includes_both_ends() {
        assert_eq!(evenly_spaced(3, 5), [0, 1, 2]);
        assert_eq!(evenly_spaced(100, 5), [0, 25, 50, 74, 99]);
        assert_eq!(evenly_spaced(100, 1), [0]);
    }

    #[test]
    fn long_lines_keep_their_peaks_and_gaps_split_them() {
        let times: Vec<f64> = (0..10_000).map(f64::from).collect();
        let mut values = vec![0.0; 10_000];
        values[5_001] = 40.0;
        let pieces = line_pieces(&times, &values, 100);
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].len() <= 100);
        assert!(pieces[0].contains(&(5_001.0, 40.0)));

        let values = [1.0, 2.0, f64::NAN, 3.0, f64::INFINITY];
        let pieces = line_pieces(&times[..5], &values, 100);
        assert_eq!(pieces, [vec![(0.0, 1.0), (1.0, 2.0)], vec![(3.0, 3.0)]]);
    }

    #[test]
    fn ranges_ignore_non_finite_values() {
        assert_eq!(
            padded_range([0.0, f64::NAN, 10.0].into_iter()),
            Some((-0.5, 10.5))
        );
        assert_eq!(padded_range([3.0].into_iter()), Some((2.0, 4.0)));
        assert_eq!(padded_range([f64::NAN].into_iter()), None);
    }
}
