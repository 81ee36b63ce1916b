//! The Cranelift JIT backend: one native function per population step
//! kernel.
//!
//! # The native kernel ABI
//!
//! The step kernel of a population is compiled to
//!
//! ```text
//! extern "C" fn(ctx: *const StepContext,
//!               cols: *const *mut u8,
//!               start: u32, end: u32,
//!               spikes: *mut u32) -> u32
//! ```
//!
//! - `ctx` is the [`StepContext`] of the step (`#[repr(C)]`; the field
//!   offsets are taken from Rust with `offset_of!`, never written twice);
//! - `cols[k]` points at element 0 of column `k` in the binding order of
//!   [`crate::ir::NeuronIr::columns`]: `f64` or `f32` elements by the model's
//!   precision, `i32` for the refractory counter;
//! - the function advances neurons `start..end`, writes the index of every
//!   neuron that spiked to `spikes[0..n]` in increasing order and returns `n`
//!   (so `spikes` needs room for `end - start` entries), with bit 31
//!   ([`NOT_FINITE`]) set where a value it stored to a state column is NaN
//!   or infinite (`|x| < inf` is false: the runtime's finiteness check,
//!   made while the value is in a register).
//!
//! The generated code indexes columns only at `start..end` and never
//! allocates. [`JitKernel::step`] is the safe wrapper: it checks the number,
//! element types and lengths of the columns against `end` and reserves the
//! spike buffer before it calls the function.
//!
//! # How the IR maps to Cranelift
//!
//! The function is a loop over neurons tested at the bottom (a guard for an
//! empty range, then `body`, which ends with `i + 1` and a branch back while
//! `i < end`). In the body, for one neuron:
//!
//! - **Places.** Every column the step kernel reads or writes is loaded into
//!   a Cranelift [`Variable`] at the start of the body, and every column it
//!   writes is stored back at the end. No other code touches the neuron's
//!   elements meanwhile, so this is the interpreter's memory semantics, and
//!   `Load`/`Store` become `use_var`/`def_var`: an expression evaluated at
//!   each use sees every earlier `Store`. Locals are variables too, reset to
//!   0 for each neuron as in the interpreter.
//! - **Values.** Reals are `f64` SSA values in both precisions; integers are
//!   `i32`; truth values are `i8` 0/1. For `f32` models each operation the
//!   interpreter rounds is followed by `fdemote`+`fpromote` (round to single
//!   precision and back), so the JIT reproduces the interpreter's rule
//!   bit for bit; `f32` columns are loaded with `fpromote` and stored with
//!   `fdemote`. Conversions between kinds follow the interpreter's dynamic
//!   rules (`Value::real`, `Value::bool`), which the static kinds determine.
//! - **Expressions** are lowered at each use, with a cache from handle to
//!   SSA value ([`lower`]): an entry lives while its defining block dominates
//!   the code being emitted, and a `Store` drops every entry whose expression
//!   (transitively) loads the stored place. The cache is what keeps shared
//!   subexpressions such as `exprel(…)` and `m ^ 3` from being called twice.
//! - **`If`** becomes a branch to a then and an else block joined in a merge
//!   block. Its condition is lowered as control flow: `!` swaps the
//!   targets, `&&` and `||` short-circuit (exact, since expressions have no
//!   side effects), so comparisons fuse with their branches, and a constant
//!   condition is a jump. The branch that emits a spike, and every block
//!   inside it, is cold (laid out after the loop). An `If` whose branches
//!   only store cheap expressions to integer or truth-value places is
//!   if-converted into `select`s (conditional moves) instead; stores to
//!   reals keep the branch, which skips the other side's work where a
//!   `select` of floats would be a branch on x64 anyway.
//!   **`While`** is a header that tests `n < max_iterations && condition`,
//!   a body and an exit, with its own iteration counter variable.
//! - **`Spike`**: where the step kernel has one `Spike` statement, outside
//!   any `While`, it runs at most once per neuron and appends the neuron's
//!   index to the spike list where it stands. Otherwise it sets an `i8`
//!   flag variable and the index is appended (without a branch) after the
//!   body, so a neuron is recorded once however many `Spike`s run.
//! - **`Select`** evaluates both arms (expressions have no side effects) and
//!   emits `select`.
//! - **Math functions** ([`crate::backend::math`]): `sqrt`, `abs`, `floor`, `ceil` are native
//!   instructions (IEEE-exact, as in Rust); `min`/`max`/`clip` are compares
//!   and selects that ignore a NaN operand like `f64::min`; `round` is
//!   `trunc` plus a half-away-from-zero correction; `sign`, `heaviside`
//!   are selects; the transcendental functions are imported symbols
//!   (`exp`, `expm1`, `log`, …, `pow`; `nmlc_exprel` for nmlc's own
//!   `exprel`, which the two-neuron kernel has inline, [`vmath`]) registered
//!   with [`JITBuilder::symbol`]
//!   and bound to `extern "C"` wrappers of the very `f64` methods the
//!   interpreter calls, so both use the same libm. `Rem` is
//!   `a - b * floor(a / b)`, `RoundToInt` is `round` then the saturating
//!   `fcvt_to_sint_sat` (NaN gives 0, as Rust's `as i32`).
//! - **`Random`** calls [`crate::abi::nmlc_random`] with
//!   `(seed, population, neuron, step, draw, normal)`.

mod lower;
mod ops;
mod pairs;
mod vmath;

use crate::abi::{ColumnData, StepContext};
use crate::backend::{BackendError, StepKernel};
use crate::backend::{lanes, math};
use crate::ir::{NeuronIr, Type, Verified};
use cranelift_codegen::ir::{AbiParam, UserFuncName, types};
use cranelift_codegen::settings::Configurable;
use cranelift_codegen::{Context, settings};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use std::sync::Mutex;

/// The native form of a step kernel (see the module documentation).
pub type KernelFn = extern "C" fn(
    ctx: *const StepContext,
    cols: *const *mut u8,
    start: u32,
    end: u32,
    spikes: *mut u32,
) -> u32;

/// Bit 31 of a kernel's return value: a state value it stored was NaN or
/// infinite.
pub const NOT_FINITE: u32 = 1 << 31;

/// How many neurons a compiled kernel may advance at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vectorise {
    /// One at a time: the scalar kernel only.
    Scalar,
    /// Two at a time where the kernel allows it ([`pairs`]).
    Pairs,
    /// As many as the host's widest vectors hold: LLVM's kernel
    /// ([`crate::backend::llvm`], with the `llvm` feature) where the host
    /// has vectors of four or more `f64`s, else two.
    Widest,
    /// LLVM's kernel for exactly this many neurons (a power of two from 2
    /// to 16), whatever the host: for tests.
    #[cfg(feature = "llvm")]
    Llvm(usize),
}

/// A kernel that advances several neurons per iteration.
struct Lanes {
    function: KernelFn,
    lanes: usize,
    /// Owns the code of an LLVM kernel (a Cranelift kernel's code is in
    /// the module of [`JitKernel`]).
    #[cfg(feature = "llvm")]
    _llvm: Option<crate::backend::llvm::WideKernel>,
}

/// A step kernel compiled to native code by Cranelift (with LLVM's wide
/// kernel for the bulk of the neurons where enabled).
pub struct JitKernel {
    function: KernelFn,
    /// The version for several neurons at a time, where the kernel has one.
    lanes: Option<Lanes>,
    /// Element type of each column, in binding order.
    column_types: Vec<Type>,
    /// Owns the code `function` points into; freed when the kernel drops.
    /// (A mutex only to make the kernel `Sync`: it is never locked while
    /// the kernel runs.)
    module: Mutex<Option<JITModule>>,
}

/// Columns whose pointers fit on the stack in [`JitKernel::step`].
const STACK_COLUMNS: usize = 32;

impl JitKernel {
    /// Compiles the step kernel of a verified IR.
    pub fn compile(ir: &NeuronIr, info: &Verified) -> Result<JitKernel, BackendError> {
        Self::compile_with(ir, info, Vectorise::Widest)
    }

    /// Compiles the step kernel, with a version for several neurons at a
    /// time as `vectorise` asks and the kernel allows
    /// ([`lanes::supported`]; where a backend cannot compile it for the
    /// host, the scalar kernel does every neuron).
    pub fn compile_with(
        ir: &NeuronIr,
        info: &Verified,
        vectorise: Vectorise,
    ) -> Result<JitKernel, BackendError> {
        #[cfg(feature = "llvm")]
        let wide = match vectorise {
            // As for the two-neuron kernel: where LLVM cannot compile it,
            // the Cranelift kernels do every neuron.
            Vectorise::Widest => crate::backend::llvm::WideKernel::compile(ir, info)
                .ok()
                .flatten(),
            Vectorise::Llvm(lanes) => {
                crate::backend::llvm::WideKernel::compile_lanes(ir, info, lanes)?
            }
            _ => None,
        };
        #[cfg(not(feature = "llvm"))]
        let wide: Option<()> = None;
        let mut module = new_module()?;
        let function_id = emit(&mut module, ir, info, Form::Scalar)?;
        let pairs_id = if vectorise != Vectorise::Scalar && wide.is_none() && lanes::supported(ir) {
            emit(&mut module, ir, info, Form::Pairs).ok()
        } else {
            None
        };
        module
            .finalize_definitions()
            .map_err(|e| BackendError(format!("Cranelift could not finalize the kernel: {e}")))?;
        // SAFETY: both are finalized functions just defined with the
        // signature of `KernelFn` (see `kernel_signature`), and they stay
        // valid while `module` lives, which the kernel owns.
        let function = unsafe {
            std::mem::transmute::<*const u8, KernelFn>(module.get_finalized_function(function_id))
        };
        let pairs = pairs_id.map(|id| Lanes {
            // SAFETY: as for `function`.
            function: unsafe {
                std::mem::transmute::<*const u8, KernelFn>(module.get_finalized_function(id))
            },
            lanes: 2,
            #[cfg(feature = "llvm")]
            _llvm: None,
        });
        #[cfg(feature = "llvm")]
        let lanes = match wide {
            Some(w) => Some(Lanes {
                function: w.function(),
                lanes: w.lanes(),
                _llvm: Some(w),
            }),
            None => pairs,
        };
        #[cfg(not(feature = "llvm"))]
        let lanes = pairs;
        Ok(JitKernel {
            function,
            lanes,
            column_types: ir.columns().iter().map(|c| c.ty).collect(),
            module: Mutex::new(Some(module)),
        })
    }

    /// How many neurons the kernel advances per iteration in the bulk of
    /// a range: 1 (scalar only), 2 ([`pairs`]) or LLVM's lane count.
    pub fn lanes(&self) -> usize {
        self.lanes.as_ref().map_or(1, |l| l.lanes)
    }

    /// The Cranelift IR (CLIF text) of the step kernel, for inspection and
    /// snapshot tests.
    pub fn clif(ir: &NeuronIr, info: &Verified) -> Result<String, BackendError> {
        let mut module = new_module()?;
        let mut ctx = module.make_context();
        build_function(&mut module, &mut ctx, ir, info, Form::Scalar)?;
        Ok(ctx.func.display().to_string())
    }

    /// The machine code of the step kernel as the host's assembly text
    /// (Cranelift's disassembly of its lowered code), for inspecting what the
    /// optimiser made of a kernel.
    pub fn disassembly(ir: &NeuronIr, info: &Verified) -> Result<String, BackendError> {
        let mut module = new_module()?;
        let mut ctx = module.make_context();
        build_function(&mut module, &mut ctx, ir, info, Form::Scalar)?;
        let mut text = compiled_text(&module, &mut ctx)?;
        #[cfg(feature = "llvm")]
        if let Some(wide) = crate::backend::llvm::WideKernel::assembly(ir, info)? {
            text.push_str(
                "// LLVM's kernel for several neurons at a time (the scalar loop above does the rest)\n",
            );
            text.push_str(&wide);
            return Ok(text);
        }
        if lanes::supported(ir) {
            let mut ctx = module.make_context();
            build_function(&mut module, &mut ctx, ir, info, Form::Pairs)?;
            if let Ok(pairs) = compiled_text(&module, &mut ctx) {
                text.push_str(
                    "// two neurons at a time (the scalar loop above does an odd last one)\n",
                );
                text.push_str(&pairs);
            }
        }
        Ok(text)
    }

    fn check_columns(&self, cols: &[ColumnData], end: usize) {
        assert_eq!(
            cols.len(),
            self.column_types.len(),
            "the JIT kernel expects {} columns",
            self.column_types.len()
        );
        for (k, (col, ty)) in cols.iter().zip(&self.column_types).enumerate() {
            let matches = matches!(
                (col, ty),
                (ColumnData::F64(_), Type::F64)
                    | (ColumnData::F32(_), Type::F32)
                    | (ColumnData::I32(_), Type::I32)
            );
            assert!(matches, "column {k} should hold {ty:?}");
            assert!(
                col.len() >= end,
                "column {k} has {} elements, the step needs {end}",
                col.len()
            );
        }
    }
}

impl StepKernel for JitKernel {
    fn step(
        &self,
        ctx: &StepContext,
        cols: &mut [ColumnData],
        start: usize,
        end: usize,
        spikes: &mut Vec<u32>,
    ) -> bool {
        assert!(
            start <= end,
            "empty or reversed neuron range {start}..{end}"
        );
        let end32 = u32::try_from(end).expect("populations have fewer than 2^32 neurons");
        self.check_columns(cols, end);
        let mut on_stack = [std::ptr::null_mut::<u8>(); STACK_COLUMNS];
        let mut on_heap = Vec::new();
        let pointers: &mut [*mut u8] = if cols.len() <= STACK_COLUMNS {
            &mut on_stack[..cols.len()]
        } else {
            on_heap.resize(cols.len(), std::ptr::null_mut());
            &mut on_heap
        };
        for (p, col) in pointers.iter_mut().zip(cols.iter_mut()) {
            *p = col.as_mut_ptr();
        }
        spikes.reserve(end - start);
        let len = spikes.len();
        // SAFETY: every column has the type the code was compiled for and at
        // least `end` elements (checked above), the code touches elements
        // `start..end` only, and `spikes` has room for `end - start` more
        // entries, of which it writes at most one per neuron.
        // Whole groups of lanes first, then what is left.
        let (even, first) = match &self.lanes {
            Some(l) if end - start >= l.lanes => {
                let even = start + (end - start) / l.lanes * l.lanes;
                // SAFETY: as below, for the neurons `start..even`.
                let r = unsafe {
                    (l.function)(
                        ctx,
                        pointers.as_ptr(),
                        start as u32,
                        even as u32,
                        spikes.as_mut_ptr().add(len),
                    )
                };
                (even, r)
            }
            _ => (start, 0),
        };
        let mut written = (first & !NOT_FINITE) as usize;
        let mut finite = first & NOT_FINITE == 0;
        if even < end {
            // SAFETY: every column has the type the code was compiled for
            // and at least `end` elements (checked above), the code touches
            // elements `even..end` only, and `spikes` has room for `end -
            // start` entries past `len`, of which `written` (at most `even -
            // start`) are used: the kernel writes at most one per neuron.
            let r = unsafe {
                (self.function)(
                    ctx,
                    pointers.as_ptr(),
                    even as u32,
                    end32,
                    spikes.as_mut_ptr().add(len + written),
                )
            };
            written += (r & !NOT_FINITE) as usize;
            finite &= r & NOT_FINITE == 0;
        }
        debug_assert!(written <= end - start);
        // SAFETY: the kernels initialised these `written` entries.
        unsafe { spikes.set_len(len + written) };
        finite
    }
}

impl Drop for JitKernel {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(module) = module {
            // SAFETY: `function` is the only pointer into this module's
            // code; it is private to the kernel, which is being dropped, so
            // no call is running and none can follow.
            unsafe { module.free_memory() };
        }
    }
}

/// A JIT module for the host, with the math and random symbols registered.
fn new_module() -> Result<JITModule, BackendError> {
    let mut flags = settings::builder();
    let set = |flags: &mut settings::Builder, name: &str, value: &str| {
        flags
            .set(name, value)
            .map_err(|e| BackendError(format!("Cranelift setting {name}={value}: {e}")))
    };
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    set(&mut flags, "is_pic", "false")?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    let isa = cranelift_native::builder()
        .map_err(|e| BackendError(format!("this host is not supported by Cranelift: {e}")))?
        .finish(settings::Flags::new(flags))
        .map_err(|e| BackendError(format!("Cranelift could not configure the host: {e}")))?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    for (name, pointer) in math::symbols() {
        builder.symbol(name, pointer);
    }
    builder.symbol(math::RANDOM_SYMBOL, crate::abi::nmlc_random as *const u8);
    Ok(JITModule::new(builder))
}

/// The host assembly Cranelift makes of the function in `ctx`.
fn compiled_text(module: &JITModule, ctx: &mut Context) -> Result<String, BackendError> {
    ctx.set_disasm(true);
    let mut ctrl = cranelift_codegen::control::ControlPlane::default();
    let code = ctx.compile(module.isa(), &mut ctrl).map_err(|e| {
        BackendError(format!(
            "Cranelift could not compile the kernel: {:?}",
            e.inner
        ))
    })?;
    Ok(code.vcode.clone().unwrap_or_default())
}

/// The two forms of a step kernel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// One neuron per iteration ([`lower`]).
    Scalar,
    /// Two neurons per iteration ([`pairs`]).
    Pairs,
}

/// Declares and defines a form of the step function in `module`.
fn emit(
    module: &mut JITModule,
    ir: &NeuronIr,
    info: &Verified,
    form: Form,
) -> Result<cranelift_module::FuncId, BackendError> {
    let mut ctx = module.make_context();
    let id = build_function(module, &mut ctx, ir, info, form)?;
    module.define_function(id, &mut ctx).map_err(|e| {
        BackendError(format!(
            "Cranelift rejected the kernel of {}: {e:?}",
            ir.population
        ))
    })?;
    module.clear_context(&mut ctx);
    Ok(id)
}

/// Builds a form of the step function's CLIF into `ctx.func`.
fn build_function(
    module: &mut JITModule,
    ctx: &mut Context,
    ir: &NeuronIr,
    info: &Verified,
    form: Form,
) -> Result<cranelift_module::FuncId, BackendError> {
    let signature = kernel_signature(module);
    let name = match form {
        Form::Scalar => format!("step_{}", ir.population),
        Form::Pairs => format!("step2_{}", ir.population),
    };
    let id = module
        .declare_function(&name, Linkage::Local, &signature)
        .map_err(|e| BackendError(format!("Cranelift could not declare {name}: {e}")))?;
    ctx.func.signature = signature;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    match form {
        Form::Scalar => lower::lower_step(module, &mut ctx.func, &mut fctx, ir, info)?,
        Form::Pairs => pairs::lower_pairs(module, &mut ctx.func, &mut fctx, ir, info)?,
    }
    Ok(id)
}

/// The kernel's return value: the number of spikes `n`, with bit 31 set
/// where a state value stored was not finite (`finite` is an `i8` 0 or 1).
fn with_finite_flag(
    b: &mut cranelift_frontend::FunctionBuilder,
    n: cranelift_codegen::ir::Value,
    finite: cranelift_codegen::ir::Value,
) -> cranelift_codegen::ir::Value {
    use cranelift_codegen::ir::InstBuilder;
    let bad = b.ins().bxor_imm_u(finite, 1);
    let bad = b.ins().uextend(types::I32, bad);
    let bad = b.ins().ishl_imm_u(bad, 31);
    b.ins().bor(n, bad)
}

/// The signature of [`KernelFn`].
fn kernel_signature(module: &JITModule) -> cranelift_codegen::ir::Signature {
    let pointer = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(pointer)); // ctx
    sig.params.push(AbiParam::new(pointer)); // cols
    sig.params.push(AbiParam::new(types::I32)); // start
    sig.params.push(AbiParam::new(types::I32)); // end
    sig.params.push(AbiParam::new(pointer)); // spikes
    sig.returns.push(AbiParam::new(types::I32)); // spikes written
    sig
}
