//! The kernel ABI: what the runtime and every backend agree on.
//!
//! - Storage: a population is a set of columns (structure of arrays), one
//!   per [`crate::ir::Column`] of its IR, in that order; reals are `f64` or
//!   `f32` by the model's precision, the refractory counter is `i32`.
//! - A step kernel runs for neurons `start..end` with a [`StepContext`]
//!   (time at the start of the step, `dt`, step number, seed, population id)
//!   and appends the indices of neurons that spiked to a spike list.
//! - A state in a decay frame ([`crate::ir::Frame`]) is stored divided by
//!   its frame's scale, which the context carries ([`StepContext::frames`]).
//! - Random numbers are the counter-based streams of [`rng`]: draw number
//!   `k` of neuron `i` at step `n` of population `p` is a pure function of
//!   `(seed, p, i, n, k)` ([`random`]), so every backend and every thread
//!   count draws the same numbers.
//! - Kernels never allocate; sizes are fixed when the network is built.
#![deny(missing_docs)]

pub mod aligned;
pub mod rng;

pub use aligned::Aligned;

use crate::model::RandomFn;

/// What a step kernel knows about the step.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct StepContext {
    /// Time at the start of the step (ms).
    pub t: f64,
    /// The time step (ms).
    pub dt: f64,
    /// The step number (`t = step · dt`).
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// The population's index in the network.
    pub population: u32,
    /// The population index of the first neuron of the columns handed to
    /// the kernel: a population may be stored in chunks (one per thread),
    /// and element `k` of a chunk is neuron `first_neuron + k`. `Index` and
    /// the random streams use the population index, so results do not
    /// depend on how the population is split.
    pub first_neuron: u32,
    /// The scale of each decay frame of the population at this step
    /// ([`crate::ir::Frame::scale`]): a framed state's column holds its
    /// value divided by the scale. Unused entries are 1.
    pub frames: [f64; MAX_FRAMES],
}

/// The most decay frames a population has ([`crate::ir::Frame`]).
pub const MAX_FRAMES: usize = 4;

/// Draw `draw` of `neuron` at `step`: uniform on [0, 1) or standard normal.
///
/// Each draw uses its own Philox block `k = draw` of the noise stream; a
/// normal value is the first of the Box–Muller pair from the block's two
/// 64-bit halves.
pub fn random(
    seed: u64,
    population: u32,
    neuron: u32,
    step: u64,
    draw: u32,
    kind: RandomFn,
) -> f64 {
    let stream = rng::Stream::new(seed, rng::StreamKind::Noise, population, neuron);
    let block = stream.draw(step, draw);
    let hi = (u64::from(block[1]) << 32) | u64::from(block[0]);
    let lo = (u64::from(block[3]) << 32) | u64::from(block[2]);
    match kind {
        RandomFn::Uniform => rng::uniform_f64(hi),
        RandomFn::Normal => {
            // Box–Muller: u1 in (0, 1] so the logarithm is finite.
            let u1 = 1.0 - rng::uniform_f64(hi);
            let u2 = rng::uniform_f64(lo);
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }
}

/// The C-ABI entry the generated code calls for [`random`].
pub extern "C" fn nmlc_random(
    seed: u64,
    population: u32,
    neuron: u32,
    step: u64,
    draw: u32,
    normal: u32,
) -> f64 {
    let kind = if normal != 0 {
        RandomFn::Normal
    } else {
        RandomFn::Uniform
    };
    random(seed, population, neuron, step, draw, kind)
}

/// One column of population storage, starting on a cache line
/// ([`Aligned`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// Reals in double precision.
    F64(Aligned<f64>),
    /// Reals in single precision.
    F32(Aligned<f32>),
    /// Integers (refractory counters).
    I32(Aligned<i32>),
}

impl ColumnData {
    /// A zeroed column of `n` elements of the given type.
    pub fn zeros(ty: crate::ir::Type, n: usize) -> ColumnData {
        match ty {
            crate::ir::Type::F64 | crate::ir::Type::Bool => ColumnData::F64(Aligned::zeros(n)),
            crate::ir::Type::F32 => ColumnData::F32(Aligned::zeros(n)),
            crate::ir::Type::I32 => ColumnData::I32(Aligned::zeros(n)),
        }
    }

    /// Element `i` as a double.
    pub fn get(&self, i: usize) -> f64 {
        match self {
            ColumnData::F64(v) => v[i],
            ColumnData::F32(v) => f64::from(v[i]),
            ColumnData::I32(v) => f64::from(v[i]),
        }
    }

    /// Sets element `i` (rounded to the column's type).
    pub fn set(&mut self, i: usize, x: f64) {
        match self {
            ColumnData::F64(v) => v[i] = x,
            ColumnData::F32(v) => v[i] = x as f32,
            ColumnData::I32(v) => v[i] = x as i32,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::F64(v) => v.len(),
            ColumnData::F32(v) => v.len(),
            ColumnData::I32(v) => v.len(),
        }
    }

    /// Whether the column is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A pointer to the first element, for generated code.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            ColumnData::F64(v) => v.as_mut_ptr() as *mut u8,
            ColumnData::F32(v) => v.as_mut_ptr() as *mut u8,
            ColumnData::I32(v) => v.as_mut_ptr() as *mut u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_pure_functions_of_their_coordinates() {
        let a = random(7, 1, 2, 3, 0, RandomFn::Uniform);
        assert_eq!(a, random(7, 1, 2, 3, 0, RandomFn::Uniform));
        assert_ne!(a, random(7, 1, 2, 3, 1, RandomFn::Uniform));
        assert_ne!(a, random(7, 1, 3, 3, 0, RandomFn::Uniform));
        assert!((0.0..1.0).contains(&a));
        let n = random(7, 1, 2, 3, 0, RandomFn::Normal);
        assert!(n.is_finite());
    }
}
