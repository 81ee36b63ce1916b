//! The nmlc runtime: builds a network from the compiler's output and runs it.
//!
//! The compiler turns an NML network into a checked model and, per
//! population, IR and a step kernel; the runtime supplies what every
//! backend shares around them:
//!
//! - [`network`]: populations built from the checked network (sizes,
//!   per-neuron parameters, initial values), the simulation loop and the
//!   recorders;
//! - [`rng`]: counter-based random numbers (Philox4x32-10), so CPU and GPU backends
//!   draw the same numbers for the same neuron at the same step, whatever the
//!   thread or work-item order.
//! - [`ring_buffer`]: per-target circular accumulators that deliver spikes after
//!   their synaptic delay, as NEST does.
//! - [`host`]: the memory the machine has left and the process's peak.
//! - [`output`]: the result files (`spikes.csv`, traces, `.npy`/`.npz`,
//!   `summary.json`), written atomically so that a crash never leaves a half-written
//!   file.
//!
//! Invariant: the runtime consumes the checked model and the IR through the
//! compiler crate's API; it never sees the AST or the source text, and it
//! never prints (the CLI reports what it returns).

#![deny(missing_docs)]

pub mod connectivity;
pub mod host;
pub mod network;
pub mod output;
pub mod ring_buffer;
pub use nmlc_compiler::abi::rng;
