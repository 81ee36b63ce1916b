//! Backends: from verified IR to something that runs a step kernel.
//!
//! Every backend implements [`StepKernel`] over the same storage (the
//! columns of [`crate::ir::NeuronIr::columns`], see [`crate::abi`]), so the
//! runtime does not care which one runs. The reference interpreter
//! ([`Backend::Interp`]) defines the semantics; the others are tested
//! against it.

pub mod cranelift;
pub(crate) mod exprs;
pub(crate) mod lanes;
#[cfg(feature = "llvm")]
pub mod llvm;
pub(crate) mod math;
pub(crate) mod places;

use crate::abi::{ColumnData, StepContext};
use crate::ir::interp::Interpreter;
use crate::ir::{NeuronIr, Place, Verified};

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
    /// each neuron that spiked to `spikes` (in increasing order). Returns
    /// whether every value it stored to a state column
    /// ([`written_states`]) is finite: the runtime's check for NaN and
    /// infinities, made where the values are at hand.
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
    ) -> bool;
}

/// The state variables whose columns a step kernel writes: the ones whose
/// finiteness [`StepKernel::step`] reports (others, changed only by
/// synaptic events, are for the caller to check).
pub fn written_states(ir: &NeuronIr) -> Vec<u32> {
    let (_, written) = places::used_places(ir);
    written
        .iter()
        .filter_map(|p| match p {
            Place::State(k) => Some(*k),
            _ => None,
        })
        .collect()
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
    /// The bindings of [`written_states`].
    written: Vec<usize>,
}

impl InterpKernel {
    /// Wraps an IR for interpretation.
    pub fn new(ir: NeuronIr, info: Verified) -> InterpKernel {
        let written = written_states(&ir)
            .into_iter()
            .filter_map(|k| info.binding(Place::State(k)))
            .collect();
        InterpKernel { ir, info, written }
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
    ) -> bool {
        Interpreter::new(&self.ir, &self.info).step(ctx, cols, start, end, spikes);
        self.written.iter().all(|&b| match &cols[b] {
            ColumnData::F64(v) => v[start..end].iter().all(|x| x.is_finite()),
            ColumnData::F32(v) => v[start..end].iter().all(|x| x.is_finite()),
            ColumnData::I32(_) => true,
        })
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
