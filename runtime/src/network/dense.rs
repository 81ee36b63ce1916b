//! The per-step loops over every neuron of a chunk that run outside the
//! step kernel: taking the due ring-buffer slot into the state, and the
//! finiteness check; and the inversion of a Poisson generator's random
//! words into spike counts.
//!
//! A slot's value is added only where it is not zero (`x + 0` would turn
//! a `-0.0` state into `+0.0`), so that taking only the listed entries of
//! a sparse slot ([`take_listed`]) gives exactly what the dense pass gives.
//!
//! They are memory-bound passes over a few columns, run every step. A
//! portable x86-64 build vectorises them with SSE2 only; where the CPU has
//! AVX2 (checked once, cached by `is_x86_feature_detected!`) the same code
//! compiled for AVX2 runs instead, which moves twice the data per
//! instruction. Both versions perform the same IEEE operations in the same
//! order on each element, so results do not depend on which one runs.

use nmlc_compiler::abi::ColumnData;

/// Defines `pub(super) fn $name` running `$body`, compiled once for the
/// baseline target and once for AVX2, the latter chosen at run time.
macro_rules! dispatch {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:ident) => {
        $(#[$doc])*
        pub(super) fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just now.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

dispatch! {
    /// `column[i] += values[i]` where `values[i]` is not zero, and
    /// `values[i] = 0` (the slot is consumed).
    fn take(column: &mut [f64], values: &mut [f64]) = take_body
}

dispatch! {
    /// [`take`] where `counter[i] <= 0`; where it is positive (refractory)
    /// the value is multiplied by 0 instead of skipped, without a branch
    /// (so a NaN still arrives).
    fn take_open(column: &mut [f64], values: &mut [f64], counter: &[i32]) = take_open_body
}

dispatch! {
    /// `column[i] += values[i] * factor[i]` (one of several targets of a
    /// spike input; the slot is cleared after the last).
    fn add_scaled(column: &mut [f64], values: &[f64], factor: &[f64]) = add_scaled_body
}

dispatch! {
    /// Whether every value is finite: `x · 0` is 0 for finite `x` and NaN
    /// otherwise, summed in independent lanes so that it vectorises.
    fn all_finite(v: &[f64]) -> bool = all_finite_body
}

dispatch! {
    /// [`all_finite`] for single precision.
    fn all_finite_f32(v: &[f32]) -> bool = all_finite_body
}

/// The words a Poisson generator's trains count at once: eight Philox
/// blocks of four.
pub(super) const WORDS: usize = 4 * nmlc_compiler::abi::rng::PHILOX_LANES;

dispatch! {
    /// `counts[j]` = how many of `thresholds` are at or below `words[j]`;
    /// with increasing thresholds that tabulate a CDF, the inverse of the
    /// CDF at the word. The loop over the thresholds is the outer one, so
    /// each of its steps is one compare across all the words.
    fn count_at_or_below(words: &[u32; WORDS], thresholds: &[u32], counts: &mut [u32; WORDS]) = count_body
}

#[inline(always)]
fn count_body(words: &[u32; WORDS], thresholds: &[u32], counts: &mut [u32; WORDS]) {
    *counts = [0; WORDS];
    // The thresholds increase: none above the largest word counts, and
    // the table's tail (counts of small probability) is mostly above it.
    let top = words.iter().copied().max().unwrap_or(0);
    for &t in thresholds.iter().take_while(|&&t| t <= top) {
        for (c, &w) in counts.iter_mut().zip(words) {
            *c += u32::from(w >= t);
        }
    }
}

#[inline(always)]
fn take_body(column: &mut [f64], values: &mut [f64]) {
    for (x, v) in column.iter_mut().zip(values.iter_mut()) {
        *x = add_nonzero(*x, *v);
        *v = 0.0;
    }
}

/// `x + e`, or `x` itself where `e` is zero (a select, not a branch, in the
/// vectorised loops).
#[inline(always)]
pub(super) fn add_nonzero(x: f64, e: f64) -> f64 {
    if e != 0.0 { x + e } else { x }
}

/// The value of a slot entry for a neuron whose refractory counter is
/// `left`: multiplied by 0 while refractory, without a branch (so a NaN
/// still arrives).
#[inline(always)]
pub(super) fn open(v: f64, left: i32) -> f64 {
    v * f64::from(u8::from(left <= 0))
}

/// [`take`] or [`take_open`] for the entries of a slot listed in `listed`
/// (every entry that may be nonzero; repeats allowed), the same result as
/// the dense pass at the cost of the events instead of the neurons.
fn take_listed(column: &mut [f64], values: &mut [f64], listed: &[u32], counter: Option<&[i32]>) {
    for &i in listed {
        let i = i as usize;
        let v = match counter {
            Some(counter) => open(values[i], counter[i]),
            None => values[i],
        };
        column[i] = add_nonzero(column[i], v);
        values[i] = 0.0;
    }
}

/// Empties a due slot into the column of a state in a decay frame, which
/// holds the value over the frame's `scale`: each event is multiplied by
/// `1 / scale` (the same in both paths, so listing changes nothing but
/// speed). `listed` and `counter` as for [`add_slot`] (a neuron listed
/// twice gets its entry once: the entry is zero the second time).
/// Returns whether every entry it changed is finite (the step kernel does
/// not check a framed state).
pub(super) fn take_framed(
    column: &mut [f64],
    values: &mut [f64],
    listed: Option<&[u32]>,
    counter: Option<&[i32]>,
    scale: f64,
) -> bool {
    let inv = 1.0 / scale;
    let mut finite = true;
    match (listed, counter) {
        (Some(listed), _) => {
            for &i in listed {
                let i = i as usize;
                let v = match counter {
                    Some(counter) => open(values[i], counter[i]),
                    None => values[i],
                };
                let x = add_nonzero(column[i], v * inv);
                finite &= x.is_finite();
                column[i] = x;
                values[i] = 0.0;
            }
        }
        (None, Some(counter)) => {
            for ((x, v), &left) in column.iter_mut().zip(values.iter_mut()).zip(counter) {
                *x = add_nonzero(*x, open(*v, left) * inv);
                *v = 0.0;
            }
            finite = all_finite(column);
        }
        (None, None) => {
            for (x, v) in column.iter_mut().zip(values.iter_mut()) {
                *x = add_nonzero(*x, *v * inv);
                *v = 0.0;
            }
            finite = all_finite(column);
        }
    }
    finite
}

#[inline(always)]
fn take_open_body(column: &mut [f64], values: &mut [f64], counter: &[i32]) {
    for ((x, v), &left) in column.iter_mut().zip(values.iter_mut()).zip(counter) {
        *x = add_nonzero(*x, open(*v, left));
        *v = 0.0;
    }
}

#[inline(always)]
fn add_scaled_body(column: &mut [f64], values: &[f64], factor: &[f64]) {
    for ((x, v), f) in column.iter_mut().zip(values).zip(factor) {
        *x += v * f;
    }
}

/// The element types of [`all_finite_body`].
trait Real: Copy + std::ops::Mul<Output = Self> + std::ops::AddAssign + PartialEq {
    const ZERO: Self;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
}

#[inline(always)]
fn all_finite_body<T: Real>(v: &[T]) -> bool {
    // Sixteen lanes: two AVX registers of f64, or of f32 one.
    let mut lanes = [T::ZERO; 16];
    let mut blocks = v.chunks_exact(16);
    for block in &mut blocks {
        for (lane, &x) in lanes.iter_mut().zip(block) {
            *lane += x * T::ZERO;
        }
    }
    let mut sum = T::ZERO;
    for &x in blocks.remainder() {
        sum += x * T::ZERO;
    }
    for lane in lanes {
        sum += lane;
    }
    sum == T::ZERO
}

/// Adds a due slot into a state column of either precision: `factor`
/// scales each value (a spike input), `counter` zeroes it where the
/// neuron is refractory; with `clear` the slot is emptied as it is read.
/// The sum is formed in `f64` and rounded once for an `f32` column.
/// `listed`: every entry that may be nonzero, where they are few; a
/// cleared slot of an `f64` column is then taken entry by entry
/// ([`take_listed`], the same result as the dense pass).
pub(super) fn add_slot(
    column: &mut ColumnData,
    values: &mut [f64],
    factor: Option<&[f64]>,
    counter: Option<&[i32]>,
    listed: Option<&[u32]>,
    clear: bool,
) {
    if let (ColumnData::F64(c), None, Some(listed), true) = (&mut *column, factor, listed, clear) {
        take_listed(c, values, listed, counter);
        return;
    }
    match (column, factor, counter) {
        (ColumnData::F64(c), None, None) if clear => take(c, values),
        (ColumnData::F64(c), None, Some(counter)) if clear => take_open(c, values, counter),
        (ColumnData::F64(c), Some(f), None) => {
            add_scaled(c, values, f);
            if clear {
                values.fill(0.0);
            }
        }
        (column, factor, counter) => {
            if let Some(counter) = counter {
                for (v, &left) in values.iter_mut().zip(counter) {
                    *v *= f64::from(u8::from(left <= 0));
                }
            }
            match (column, factor) {
                (ColumnData::F64(c), None) => {
                    for (x, v) in c.iter_mut().zip(values.iter()) {
                        *x += v;
                    }
                }
                (ColumnData::F64(c), Some(f)) => add_scaled(c, values, f),
                (ColumnData::F32(c), None) => {
                    for (x, v) in c.iter_mut().zip(values.iter()) {
                        *x += *v as f32;
                    }
                }
                (ColumnData::F32(c), Some(f)) => {
                    for ((x, v), f) in c.iter_mut().zip(values.iter()).zip(f) {
                        *x += (v * f) as f32;
                    }
                }
                (ColumnData::I32(_), _) => {}
            }
            if clear {
                values.fill(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatched version (AVX2 where the CPU has it) and the
    /// baseline body give the plain loops' results, bit for bit.
    #[test]
    fn both_versions_agree_with_the_plain_loops() {
        let n = 37;
        let base: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 1e3).collect();
        let slot: Vec<f64> = (0..n).map(|i| (i as f64 * 1.3).cos()).collect();
        let counter: Vec<i32> = (0..n).map(|i| (i % 3) as i32 - 1).collect();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();

        let want: Vec<f64> = (0..n).map(|i| base[i] + slot[i]).collect();
        for f in [take, take_body, |c: &mut [f64], v: &mut [f64]| {
            let all: Vec<u32> = (0..v.len() as u32).collect();
            take_listed(c, v, &all, None)
        }] {
            let (mut c, mut v) = (base.clone(), slot.clone());
            f(&mut c, &mut v);
            assert_eq!(bits(&c), bits(&want));
            assert_eq!(v, vec![0.0; n]);
        }
        let want: Vec<f64> = (0..n)
            .map(|i| base[i] + slot[i] * f64::from(u8::from(counter[i] <= 0)))
            .collect();
        for f in [
            take_open,
            take_open_body,
            |c: &mut [f64], v: &mut [f64], k: &[i32]| {
                let all: Vec<u32> = (0..v.len() as u32).rev().collect();
                take_listed(c, v, &all, Some(k))
            },
        ] {
            let (mut c, mut v) = (base.clone(), slot.clone());
            f(&mut c, &mut v, &counter);
            assert_eq!(bits(&c), bits(&want));
            assert_eq!(v, vec![0.0; n]);
        }
        let want: Vec<f64> = (0..n).map(|i| base[i] + slot[i] * base[i]).collect();
        for f in [add_scaled, add_scaled_body] {
            let mut c = base.clone();
            f(&mut c, &slot, &base);
            assert_eq!(bits(&c), bits(&want));
        }
    }

    #[test]
    fn counts_invert_the_thresholds_at_their_edges() {
        let thresholds = [10, 20, 20, 4_000_000_000];
        let mut words = [0u32; WORDS];
        let edges = [
            0,
            9,
            10,
            11,
            19,
            20,
            21,
            3_999_999_999,
            4_000_000_000,
            u32::MAX,
        ];
        for (j, w) in words.iter_mut().enumerate() {
            *w = edges[j % edges.len()];
        }
        let expected: Vec<u32> = words
            .iter()
            .map(|&w| thresholds.iter().filter(|&&t| w >= t).count() as u32)
            .collect();
        assert_eq!(expected[..10], [0, 0, 1, 1, 1, 3, 3, 3, 4, 4]);
        for count in [count_at_or_below, count_body] {
            let mut counts = [7u32; WORDS];
            count(&words, &thresholds, &mut counts);
            assert_eq!(counts[..], expected[..]);
            count(&words, &[], &mut counts);
            assert_eq!(counts, [0; WORDS]);
            // Every word below the third threshold: the rest are skipped.
            let small: [u32; WORDS] = std::array::from_fn(|j| [0, 10, 19][j % 3]);
            count(&small, &thresholds, &mut counts);
            let expected: [u32; WORDS] = std::array::from_fn(|j| [0, 1, 1][j % 3]);
            assert_eq!(counts, expected);
        }
    }

    #[test]
    fn all_finite_finds_nan_and_infinity_anywhere() {
        let mut v = vec![1.5f64; 37];
        for check in [all_finite, all_finite_body::<f64>] {
            assert!(check(&v));
            for i in 0..v.len() {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    v[i] = bad;
                    assert!(!check(&v), "{bad} at {i}");
                    v[i] = 1.5;
                }
            }
        }
        let mut w = vec![0.25f32; 19];
        assert!(all_finite_f32(&w));
        w[18] = f32::NAN;
        assert!(!all_finite_f32(&w));
    }

    #[test]
    fn a_refractory_neuron_takes_nothing_but_a_nan() {
        let mut col = ColumnData::F64(vec![1.0, 2.0, 3.0].into());
        let mut slot = vec![10.0, 10.0, f64::NAN];
        add_slot(&mut col, &mut slot, None, Some(&[0, 5, 5]), None, true);
        let ColumnData::F64(c) = &col else {
            unreachable!()
        };
        assert_eq!(&c[..2], &[11.0, 2.0]);
        assert!(c[2].is_nan());
        assert_eq!(slot, vec![0.0; 3]);
    }

    /// Where nothing arrives, a state of `-0.0` stays `-0.0` in the dense
    /// passes as in the listed one (`-0.0 + 0.0` would be `+0.0`), so the
    /// two agree bit for bit whichever runs.
    #[test]
    fn nothing_arriving_leaves_every_bit_alone() {
        let base = vec![-0.0, 1.0, -0.0, 2.0];
        let slot = vec![0.0, 0.0, -0.0, 3.0];
        let counter = [0, 0, 0, 1];
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let (mut dense, mut v) = (base.clone(), slot.clone());
        take(&mut dense, &mut v);
        let (mut listed, mut v) = (base.clone(), slot.clone());
        take_listed(&mut listed, &mut v, &[3], None);
        assert_eq!(bits(&dense), bits(&[-0.0, 1.0, -0.0, 5.0]));
        assert_eq!(bits(&listed), bits(&dense));
        let (mut dense, mut v) = (base.clone(), slot.clone());
        take_open(&mut dense, &mut v, &counter);
        let (mut listed, mut v) = (base.clone(), slot.clone());
        take_listed(&mut listed, &mut v, &[3, 2], Some(&counter));
        assert_eq!(bits(&dense), bits(&base));
        assert_eq!(bits(&listed), bits(&base));
    }
}
