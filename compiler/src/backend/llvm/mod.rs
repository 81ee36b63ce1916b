//! The LLVM backend (`--features llvm`): step kernels that advance as many
//! neurons at once as the host's widest vector registers hold (8 with
//! AVX-512, 4 with AVX2), compiled by LLVM 14 through inkwell.
//!
//! The kernel has the native kernel ABI of the Cranelift backend
//! ([`crate::backend::cranelift`], [`KernelFn`]) and is called for a
//! multiple of its lane count; the Cranelift kernels do the rest of a
//! range ([`crate::backend::cranelift::JitKernel`] combines them). Every
//! lane performs exactly the interpreter's IEEE operations ([`text`]), so
//! results are bit-identical to the interpreter's, the scalar kernel's and
//! the two-neuron kernel's, whichever does a neuron.
//!
//! The IR is written as LLVM assembly text, parsed, optimised (`-O2` with
//! the always-inliner, for `exprel`) and compiled by MCJIT for the host:
//! the function carries the host CPU's name and features, so LLVM uses its
//! vector units and schedules for it. Math functions resolve to the
//! addresses of the symbols the Cranelift kernels call (libm's, through
//! the interpreter's `f64` methods), bound explicitly: nothing is looked
//! up in the process by name.

mod text;

use crate::backend::BackendError;
use crate::backend::cranelift::KernelFn;
use crate::backend::lanes;
use crate::backend::math;
use crate::ir::{NeuronIr, Verified};
use inkwell::OptimizationLevel;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine,
};
use std::mem::ManuallyDrop;
use std::sync::Mutex;

/// LLVM's global state is set up once; compilations are serialised (each
/// has its own context, but MCJIT's registration of code is global).
static LLVM: Mutex<bool> = Mutex::new(false);

/// A step kernel compiled by LLVM for `lanes` neurons at a time.
pub struct WideKernel {
    function: KernelFn,
    lanes: usize,
    /// Owns the code `function` points into.
    _owner: Owner,
}

impl WideKernel {
    /// Compiles the wide kernel of `ir` for the host, or `None` where the
    /// kernel cannot be lowered this way (a `While` loop) or the host has
    /// no vectors wider than two `f64`s (the Cranelift two-neuron kernel
    /// serves it as well).
    pub fn compile(ir: &NeuronIr, info: &Verified) -> Result<Option<WideKernel>, BackendError> {
        let Some(lanes) = host_lanes(ir) else {
            return Ok(None);
        };
        let (cpu, features) = host();
        Self::compile_for(ir, info, lanes, &cpu, &features).map(Some)
    }

    /// Compiles the kernel for exactly `lanes` neurons at a time (any
    /// power of two from 2 to 16: LLVM splits vectors wider than the
    /// host's registers), or `None` where the kernel has a `While`. For
    /// tests of lane counts the host would not choose.
    pub fn compile_lanes(
        ir: &NeuronIr,
        info: &Verified,
        lanes: usize,
    ) -> Result<Option<WideKernel>, BackendError> {
        if !(2..=16).contains(&lanes) || !lanes.is_power_of_two() {
            return Err(BackendError(format!(
                "{lanes} lanes: not a power of two from 2 to 16"
            )));
        }
        if !lanes::supported(ir) {
            return Ok(None);
        }
        let (cpu, features) = host();
        Self::compile_for(ir, info, lanes, &cpu, &features).map(Some)
    }

    /// The host assembly LLVM makes of the wide kernel (after the same
    /// optimisation as [`WideKernel::compile`]), for inspection; `None`
    /// where [`WideKernel::compile`] would make no kernel.
    pub fn assembly(ir: &NeuronIr, info: &Verified) -> Result<Option<String>, BackendError> {
        let Some(lanes) = host_lanes(ir) else {
            return Ok(None);
        };
        let (cpu, features) = host();
        let (source, _) = text::module(ir, info, lanes as u32, &cpu, &features)?;
        let _serial = initialise()?;
        let context = Context::create();
        let module = parse(&context, &source, ir)?;
        let machine = optimise(&module, &cpu, &features)?;
        let code = machine
            .write_to_memory_buffer(&module, FileType::Assembly)
            .map_err(|e| BackendError(format!("LLVM could not print the kernel: {e}")))?;
        Ok(Some(String::from_utf8_lossy(code.as_slice()).into_owned()))
    }

    fn compile_for(
        ir: &NeuronIr,
        info: &Verified,
        lanes: usize,
        cpu: &str,
        features: &str,
    ) -> Result<WideKernel, BackendError> {
        let (source, calls) = text::module(ir, info, lanes as u32, cpu, features)?;
        let serial = initialise()?;
        let context = Box::new(Context::create());
        // SAFETY: the context lives on the heap and `Owner` drops the
        // module and the engine before it (see `Owner::drop`), so the
        // borrow never outlives it.
        let context_ref: &'static Context = unsafe { &*(context.as_ref() as *const Context) };
        let module = parse(context_ref, &source, ir)?;
        optimise(&module, cpu, features)?;
        let symbols = math::symbols();
        let mut bindings = Vec::new();
        for symbol in calls {
            let address = symbols
                .iter()
                .find(|(name, _)| *name == symbol)
                .map(|(_, a)| *a)
                .ok_or_else(|| BackendError(format!("no address for {symbol}")))?;
            bindings.push((format!("{}{symbol}", text::MATH_PREFIX), address));
        }
        bindings.push((
            math::RANDOM_SYMBOL.to_string(),
            crate::abi::nmlc_random as *const u8,
        ));
        let engine = module
            .create_jit_execution_engine(OptimizationLevel::Aggressive)
            .map_err(|e| BackendError(format!("LLVM could not create a JIT: {e}")))?;
        let owner = Owner {
            module: ManuallyDrop::new(module),
            engine: ManuallyDrop::new(engine),
            _context: ManuallyDrop::new(context),
        };
        for (symbol, address) in &bindings {
            if let Some(f) = owner.module.get_function(symbol) {
                owner.engine.add_global_mapping(&f, *address as usize);
            }
        }
        let address = owner.engine.get_function_address(text::KERNEL);
        // `Owner::drop` takes the lock: release it first.
        drop(serial);
        let address =
            address.map_err(|e| BackendError(format!("LLVM did not compile the kernel: {e:?}")))?;
        // SAFETY: the kernel was defined with the signature of `KernelFn`
        // (see `text::module`) and compiled by the engine, which `Owner`
        // keeps alive as long as the function pointer is reachable.
        let function = unsafe { std::mem::transmute::<usize, KernelFn>(address) };
        Ok(WideKernel {
            function,
            lanes,
            _owner: owner,
        })
    }

    /// The native function.
    pub fn function(&self) -> KernelFn {
        self.function
    }

    /// Neurons per iteration.
    pub fn lanes(&self) -> usize {
        self.lanes
    }
}

/// Takes the global LLVM lock, setting LLVM up on first use.
fn initialise() -> Result<std::sync::MutexGuard<'static, bool>, BackendError> {
    let mut initialised = LLVM.lock().unwrap_or_else(|p| p.into_inner());
    if !*initialised {
        Target::initialize_native(&InitializationConfig::default())
            .map_err(|e| BackendError(format!("LLVM could not set up the host target: {e}")))?;
        *initialised = true;
    }
    Ok(initialised)
}

/// Parses and verifies the module text.
fn parse<'c>(
    context: &'c Context,
    source: &str,
    ir: &NeuronIr,
) -> Result<Module<'c>, BackendError> {
    let buffer = MemoryBuffer::create_from_memory_range_copy(source.as_bytes(), "kernel");
    let module = context.create_module_from_ir(buffer).map_err(|e| {
        BackendError(format!(
            "LLVM rejected the kernel of {}: {e}",
            ir.population
        ))
    })?;
    module.verify().map_err(|e| {
        BackendError(format!(
            "the LLVM kernel of {} is invalid: {e}",
            ir.population
        ))
    })?;
    Ok(module)
}

/// Runs LLVM's `-O2` pipeline (which inlines `exprel`) for the host and
/// returns the host's target machine.
fn optimise(module: &Module, cpu: &str, features: &str) -> Result<TargetMachine, BackendError> {
    let triple = TargetMachine::get_default_triple();
    let machine = Target::from_triple(&triple)
        .map_err(|e| BackendError(format!("LLVM has no target for this host: {e}")))?
        .create_target_machine(
            &triple,
            cpu,
            features,
            OptimizationLevel::Aggressive,
            RelocMode::Default,
            CodeModel::JITDefault,
        )
        .ok_or_else(|| BackendError("LLVM could not describe this host".into()))?;
    module
        .run_passes("default<O2>", &machine, PassBuilderOptions::create())
        .map_err(|e| BackendError(format!("LLVM's optimiser failed: {e}")))?;
    Ok(machine)
}

/// The host CPU's name and features, as LLVM names them (asked once).
fn host() -> (String, String) {
    static HOST: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        (
            TargetMachine::get_host_cpu_name().to_string(),
            TargetMachine::get_host_cpu_features().to_string(),
        )
    })
    .clone()
}

/// Neurons per iteration on this host, a full vector register of `f64`s:
/// `None` where the kernel cannot run several neurons at once or the host's
/// vectors hold no more than two (Cranelift's two-neuron kernel serves).
fn host_lanes(ir: &NeuronIr) -> Option<usize> {
    let (_, features) = host();
    let has = |f: &str| features.split(',').any(|x| x == format!("+{f}"));
    let lanes = if has("avx512f") {
        8
    } else if has("avx") {
        4
    } else {
        return None;
    };
    lanes::supported(ir).then_some(lanes)
}

/// The LLVM objects behind a kernel, dropped in dependency order.
struct Owner {
    module: ManuallyDrop<Module<'static>>,
    engine: ManuallyDrop<ExecutionEngine<'static>>,
    _context: ManuallyDrop<Box<Context>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _serial = LLVM.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: each field is dropped exactly once, here: the module
        // first (it shares the engine), then the engine (which frees the
        // code and the module), then the context both were made in.
        unsafe {
            ManuallyDrop::drop(&mut self.module);
            ManuallyDrop::drop(&mut self.engine);
            ManuallyDrop::drop(&mut self._context);
        }
    }
}

// SAFETY: after construction the LLVM objects are only dropped (under the
// global lock), never used; the kernel itself is plain machine code that
// reads its arguments only, so it may be called from any thread at once.
unsafe impl Send for Owner {}
unsafe impl Sync for Owner {}
