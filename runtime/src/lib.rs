//! The nmlc runtime: the parts of a simulation that do not depend on the model.
//!
//! The compiler turns an NML network into kernels; the runtime supplies what every
//! backend shares around them:
//!
//! - [`rng`]: counter-based random numbers (Philox4x32-10), so CPU and GPU backends
//!   draw the same numbers for the same neuron at the same step, whatever the
//!   thread or work-item order.
//! - [`ring_buffer`]: per-target circular accumulators that deliver spikes after
//!   their synaptic delay, as NEST does.
//! - [`output`]: the result files (`spikes.csv`, traces, `.npy`/`.npz`,
//!   `summary.json`), written atomically so that a crash never leaves a half-written
//!   file.
//!
//! Invariant: the runtime knows nothing of the NML source, the AST or the IR; it
//! deals in populations, neuron indices, steps and plain arrays.

#![deny(missing_docs)]

pub mod output;
pub mod ring_buffer;
pub use nmlc_compiler::abi::rng;
