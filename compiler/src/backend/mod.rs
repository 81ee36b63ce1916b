//! Backends: from verified IR to something that runs a step kernel.
//!
//! Every backend implements [`StepKernel`] over the same storage (the
//! columns of [`crate::ir::NeuronIr::columns`], see [`crate::abi`]), so the
//! runtime does not care which one runs. The reference interpreter
//! ([`Backend::Interp`]) defines the semantics; the others are tested
//! against it.

pub mod cranelift;
#[cfg(feature = "llvm")]
pub mod llvm;
pub(crate) mod places;

use crate::abi::{ColumnData, StepContext};
use crate::ir::interp::Interpreter;
use crate::ir::{NeuronIr, Verified};

/// Which backend runs the step kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The reference IR interpreter.
    Interp,
    /// Native code through Cranelift.
    Jit,
}

impl Backend {
    /// The name used on the command line and in `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Interp => "interp",
            Backend::Jit => "jit",
        }
    }
}

/// A compiled step kernel of one population.
pub trait StepKernel: Send + Sync {
    /// Advances neurons `start..end` by one step, appending the index of
    /// each neuron that spiked to `spikes` (in increasing order).
    ///
    /// `cols` are the population's columns in binding order; their lengths
    /// are the population size, checked by the caller.
    fn step(
        &self,
        ctx: &StepContext,
        cols: &mut [ColumnData],
        start: usize,
        end: usize,
        spikes: &mut Vec<u32>,
    );
}

/// Why a backend could not compile a kernel (a bug or an unsupported host,
/// never a user error: user errors are caught before).
#[derive(Clone, Debug, PartialEq)]
pub struct BackendError(pub String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The interpreter as a [`StepKernel`].
pub struct InterpKernel {
    ir: NeuronIr,
    info: Verified,
}

impl InterpKernel {
    /// Wraps an IR for interpretation.
    pub fn new(ir: NeuronIr, info: Verified) -> InterpKernel {
        InterpKernel { ir, info }
    }
}

impl StepKernel for InterpKernel {
    fn step(
        &self,
        ctx: &StepContext,
        cols: &mut [ColumnData],
        start: usize,
        end: usize,
        spikes: &mut Vec<u32>,
    ) {
        Interpreter::new(&self.ir, &self.info).step(ctx, cols, start, end, spikes);
    }
}

/// Compiles the step kernel of `ir` with the chosen backend.
pub fn compile_step(
    ir: &NeuronIr,
    info: &Verified,
    backend: Backend,
) -> Result<Box<dyn StepKernel>, BackendError> {
    match backend {
        Backend::Interp => Ok(Box::new(InterpKernel::new(ir.clone(), info.clone()))),
        Backend::Jit => Ok(Box::new(cranelift::JitKernel::compile(ir, info)?)),
    }
}
