//! Networks of populations: building them from the checked model, running
//! the time steps, recording, and writing the results.
//!
//! A run has three phases, each a function the CLI times:
//!
//! 1. [`compile`]: choose the network, resolve `dt`, `duration`, `seed`
//!    (the file's values, replaced by the command line's; defaults
//!    [`DEFAULT_DT_MS`], [`DEFAULT_DURATION_MS`], [`DEFAULT_SEED`]),
//!    evaluate population sizes, decide how each parameter is given
//!    (a constant, a per-neuron column, an expression of `t`; see
//!    [`ParamPlan`]), lower each population to IR and compile its step
//!    kernel with the chosen backend;
//! 2. [`Simulation::build`]: allocate the columns, fill per-neuron
//!    parameters, run the `derive` and `init` kernels with the interpreter,
//!    then apply the network's initial values; draws come from the Philox
//!    initialisation streams (see [`Simulation::build`] for the layout);
//! 3. [`Simulation::run`]: step `n` advances every population from
//!    `t_n = n·dt` to `t_{n+1}`; spikes are stamped `t_{n+1}` (NEST's
//!    convention); recorders sample after each step.
//!
//! A sweep ([`Sweep`]) runs phase 1 once and phases 2 and 3 for every
//! point of a grid of parameter values; swept values are kept out of the
//! compiled code, in the network's data (see [`Sweep`]).
//!
//! Projections are built with the populations ([`projection`]): this
//! version delivers additive synapses (`on pre { post.X += w }`) through
//! per-target ring buffers; other synapse models are refused with a clear
//! error.

mod compile;
mod dense;
mod error;
pub mod estimate;
mod fault;
pub mod plastic;
pub mod projection;
mod record;
mod settings;
mod simulation;
mod sweep;
mod team;
pub mod values;
mod write;

pub use compile::{
    CompiledKind, CompiledNetwork, CompiledPopulation, DEFAULT_DT_MS, DEFAULT_DURATION_MS,
    DEFAULT_SEED, ParamPlan, RunOptions, compile, compile_ir, select_network,
};
pub use error::RunError;
pub use fault::{History, LOOK_BACK_LIMIT_S, LikelyCause, NonFinite};
pub use simulation::{Progress, STATE_SLOT, Simulation};
pub use sweep::{PointResult, SWEEP_CSV, Sweep, SweepAxis, SweepValue};
pub use write::{OutputFormat, RESULTS_NPZ};
