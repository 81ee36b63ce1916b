//! Lowering the step kernel of a [`NeuronIr`] to one Cranelift function.
//!
//! See the parent module for how each IR construct maps to Cranelift. This
//! file has the neuron loop ([`lower_step`]), statements (`Emitter::block`)
//! and expressions (`Emitter::expr`), with the expression cache described
//! there.

use super::ops;
use crate::abi::StepContext;
use crate::backend::BackendError;
use crate::backend::exprs::{self, Lower as _};
use crate::backend::math::{self, Lowering};
use crate::backend::places::{ExprCache, used_places};
use crate::ir::{
    BinaryOp, Block, Expr, Handle, MathFn, NeuronIr, Place, Precision, RandomFn, Stmt, Type,
    UnaryOp, Verified,
};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, Block as ClifBlock, FuncRef, Function, InstBuilder, InstructionData, MemFlagsData,
    Opcode, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use std::collections::HashMap;

/// A lowered IR value: an `f64` real, an `i32`, or an `i8` truth value (0
/// or 1).
type Val = exprs::Val<Value>;

/// Builds the step function of `ir` into `func` (whose signature is set).
pub(super) fn lower_step(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    ir: &NeuronIr,
    info: &Verified,
) -> Result<(), BackendError> {
    let config = module.target_config();
    let b = FunctionBuilder::new(func, fctx);
    let mut e = Emitter::new(module, b, ir, info, config.pointer_type())?;
    e.neuron_loop(ir);
    let Emitter { mut b, .. } = e;
    b.seal_all_blocks();
    b.finalize(config);
    Ok(())
}

/// Where a column lives while one neuron is processed.
struct ColumnSlot {
    place: Place,
    /// Element type of the column.
    ty: Type,
    /// Its base pointer (loaded in the entry block).
    base: Value,
    /// Its value for the current neuron.
    var: Variable,
    /// Whether the step kernel writes it (then it is stored back).
    written: bool,
}

/// Values of the [`StepContext`], loaded once in the entry block.
struct ContextValues {
    t: Value,
    dt: Value,
    step: Value,
    seed: Value,
    population: Value,
    /// Population index of the first neuron of the columns (chunked
    /// populations): `Index` and random streams use `first_neuron + i`.
    first_neuron: Value,
    /// The scales of the decay frames.
    frames: Vec<Value>,
}

struct Emitter<'m, 'f> {
    module: &'m mut JITModule,
    b: FunctionBuilder<'f>,
    ir: &'m NeuronIr,
    single: bool,
    pointer: types::Type,
    /// Arguments of the function.
    start: Value,
    end: Value,
    spikes: Value,
    ctx: ContextValues,
    /// Columns the step kernel uses, in binding order.
    columns: Vec<ColumnSlot>,
    /// The variable of each local.
    locals: Vec<Variable>,
    /// Whether the step kernel has one `Spike` statement, outside any
    /// `While`: it runs at most once per neuron, so it appends the neuron
    /// to the spike list where it stands. Otherwise it sets the `spiked`
    /// flag and the neuron is appended after the step block.
    direct_spikes: bool,
    /// Whether the code being emitted is out of line (a spike branch):
    /// blocks created now are marked cold.
    cold: bool,
    /// The neuron counter, spike flag and spike count.
    neuron: Variable,
    spiked: Variable,
    count: Variable,
    /// 1 while every state value stored so far is finite, else 0 (`i8`).
    finite: Variable,
    /// The current neuron's index as `i32` and `f64`, valid in the body.
    index: Value,
    /// Imported functions, by symbol.
    imports: HashMap<&'static str, FuncRef>,
    /// Lowered expressions whose values are still valid here.
    cache: ExprCache<Val>,
}

impl<'m, 'f> Emitter<'m, 'f> {
    fn new(
        module: &'m mut JITModule,
        mut b: FunctionBuilder<'f>,
        ir: &'m NeuronIr,
        info: &Verified,
        pointer: types::Type,
    ) -> Result<Emitter<'m, 'f>, BackendError> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let (ctx_ptr, cols_ptr, start, end, spikes) =
            (params[0], params[1], params[2], params[3], params[4]);
        let flags = MemFlagsData::trusted().with_readonly();
        let field = |b: &mut FunctionBuilder, ty, offset: usize| {
            b.ins().load(ty, flags, ctx_ptr, offset as i32)
        };
        let single = ir.precision == Precision::F32;
        let ctx = ContextValues {
            t: field(&mut b, types::F64, std::mem::offset_of!(StepContext, t)),
            dt: field(&mut b, types::F64, std::mem::offset_of!(StepContext, dt)),
            step: field(&mut b, types::I64, std::mem::offset_of!(StepContext, step)),
            seed: field(&mut b, types::I64, std::mem::offset_of!(StepContext, seed)),
            population: field(
                &mut b,
                types::I32,
                std::mem::offset_of!(StepContext, population),
            ),
            first_neuron: field(
                &mut b,
                types::I32,
                std::mem::offset_of!(StepContext, first_neuron),
            ),
            frames: (0..ir.frames.len())
                .map(|f| {
                    field(
                        &mut b,
                        types::F64,
                        std::mem::offset_of!(StepContext, frames) + 8 * f,
                    )
                })
                .collect(),
        };
        let ctx = ContextValues {
            t: round_if(&mut b, single, ctx.t),
            dt: round_if(&mut b, single, ctx.dt),
            ..ctx
        };

        let (used, written) = used_places(ir);
        let mut columns = Vec::new();
        for (k, col) in ir.columns().iter().enumerate() {
            if !used.contains(&col.place) {
                continue;
            }
            let binding = info.binding(col.place).ok_or_else(|| {
                BackendError(format!("verified IR: {:?} has no column", col.place))
            })?;
            let offset = i32::try_from(binding * pointer.bytes() as usize)
                .map_err(|_| BackendError("too many columns".into()))?;
            debug_assert_eq!(binding, k);
            let base = b.ins().load(pointer, flags, cols_ptr, offset);
            let var = b.declare_var(value_type(col.ty));
            columns.push(ColumnSlot {
                place: col.place,
                ty: col.ty,
                base,
                var,
                written: written.contains(&col.place),
            });
        }
        let locals = ir
            .local_types
            .iter()
            .map(|ty| b.declare_var(value_type(*ty)))
            .collect();
        let neuron = b.declare_var(types::I32);
        let spiked = b.declare_var(types::I8);
        let count = b.declare_var(types::I32);
        let finite = b.declare_var(types::I8);
        let index = b.ins().iconst(types::I32, 0);
        Ok(Emitter {
            module,
            b,
            ir,
            single,
            pointer,
            start,
            end,
            spikes,
            ctx,
            columns,
            locals,
            direct_spikes: spike_statements(&ir.step) == (1, 0),
            cold: false,
            neuron,
            spiked,
            count,
            finite,
            index,
            imports: HashMap::new(),
            cache: ExprCache::new(ir),
        })
    }

    /// The loop over neurons `start..end` around the step block, tested
    /// at the bottom (one conditional branch per neuron) after a guard for
    /// an empty range.
    fn neuron_loop(&mut self, ir: &NeuronIr) {
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.b.ins().iconst(types::I32, 0);
        self.b.def_var(self.count, zero);
        let yes = self.b.ins().iconst(types::I8, 1);
        self.b.def_var(self.finite, yes);
        self.b.def_var(self.neuron, self.start);
        let any = self
            .b
            .ins()
            .icmp(IntCC::UnsignedLessThan, self.start, self.end);
        self.b.ins().brif(any, body, &[], exit, &[]);

        self.b.switch_to_block(body);
        self.index = self.b.use_var(self.neuron);
        self.load_neuron();
        self.cache.clear();
        self.block(&ir.step);
        self.store_neuron();
        if !self.direct_spikes {
            self.record_flagged_spike();
        }
        let next = self.b.ins().iadd_imm_s(self.index, 1);
        self.b.def_var(self.neuron, next);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next, self.end);
        self.b.ins().brif(more, body, &[], exit, &[]);

        self.b.switch_to_block(exit);
        let n = self.b.use_var(self.count);
        let finite = self.b.use_var(self.finite);
        let n = super::with_finite_flag(&mut self.b, n, finite);
        self.b.ins().return_(&[n]);
    }

    /// Appends the neuron to the spike list where its only `Spike`
    /// statement runs (see [`Emitter::direct_spikes`]).
    fn record_spike(&mut self) {
        let n = self.write_spike_slot();
        let n1 = self.b.ins().iadd_imm_s(n, 1);
        self.b.def_var(self.count, n1);
    }

    /// Appends the neuron to the spike list without a branch, after the
    /// step block: its index is written at `spikes[count]` and `count`
    /// advances by the spike flag.
    fn record_flagged_spike(&mut self) {
        let n = self.write_spike_slot();
        let spiked = self.b.use_var(self.spiked);
        let spiked = self.b.ins().uextend(types::I32, spiked);
        let n1 = self.b.ins().iadd(n, spiked);
        self.b.def_var(self.count, n1);
    }

    /// Writes the neuron's index at `spikes[count]` and returns `count`.
    /// `count` is at most the number of neurons done before this one, so
    /// the write stays within the `end - start` entries the caller
    /// provides.
    fn write_spike_slot(&mut self) -> Value {
        let n = self.b.use_var(self.count);
        let offset = self.element_offset(n, 4);
        let address = self.b.ins().iadd(self.spikes, offset);
        self.b
            .ins()
            .store(MemFlagsData::trusted(), self.index, address, 0);
        n
    }

    /// `index * size` as a pointer-sized byte offset (`index` is an
    /// unsigned `i32`).
    fn element_offset(&mut self, index: Value, size: i64) -> Value {
        let wide = if self.pointer == types::I32 {
            index
        } else {
            self.b.ins().uextend(self.pointer, index)
        };
        self.b.ins().imul_imm_s(wide, size)
    }

    /// Loads the neuron's elements into the column variables and resets the
    /// locals and the spike flag.
    fn load_neuron(&mut self) {
        let flags = MemFlagsData::trusted();
        for k in 0..self.columns.len() {
            let ColumnSlot { ty, base, var, .. } = self.columns[k];
            let offset = self.element_offset(self.index, i64::from(memory_type(ty).bytes()));
            let address = self.b.ins().iadd(base, offset);
            let raw = self.b.ins().load(memory_type(ty), flags, address, 0);
            let v = if ty == Type::F32 {
                self.b.ins().fpromote(types::F64, raw)
            } else {
                raw
            };
            self.b.def_var(var, v);
        }
        for k in 0..self.locals.len() {
            let zero = self.zero(value_type(self.ir.local_types[k]));
            self.b.def_var(self.locals[k], zero);
        }
        let no = self.b.ins().iconst(types::I8, 0);
        self.b.def_var(self.spiked, no);
    }

    /// Stores the written column variables back.
    fn store_neuron(&mut self) {
        let flags = MemFlagsData::trusted();
        for k in 0..self.columns.len() {
            let ColumnSlot {
                ty,
                base,
                var,
                written,
                ..
            } = self.columns[k];
            if !written {
                continue;
            }
            let v = self.b.use_var(var);
            let v = if ty == Type::F32 {
                self.b.ins().fdemote(types::F32, v)
            } else {
                v
            };
            if matches!(self.columns[k].place, Place::State(_)) && ty != Type::I32 {
                // |v| < inf: false for infinities and NaN.
                let magnitude = self.b.ins().fabs(v);
                let inf = if ty == Type::F32 {
                    self.b.ins().f32const(f32::INFINITY)
                } else {
                    self.b.ins().f64const(f64::INFINITY)
                };
                let ok = self.b.ins().fcmp(FloatCC::LessThan, magnitude, inf);
                let finite = self.b.use_var(self.finite);
                let finite = self.b.ins().band(finite, ok);
                self.b.def_var(self.finite, finite);
            }
            let offset = self.element_offset(self.index, i64::from(memory_type(ty).bytes()));
            let address = self.b.ins().iadd(base, offset);
            self.b.ins().store(flags, v, address, 0);
        }
    }

    fn zero(&mut self, ty: types::Type) -> Value {
        if ty == types::F64 {
            self.b.ins().f64const(0.0)
        } else {
            self.b.ins().iconst(ty, 0)
        }
    }

    // ----- statements -------------------------------------------------

    fn block(&mut self, block: &Block) {
        for s in &block.0 {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt) {
        match s {
            Stmt::Store(place, h) => {
                let v = self.expr(*h);
                self.store(*place, v);
            }
            Stmt::If(c, then, otherwise) => self.lower_if(*c, then, otherwise),
            Stmt::While {
                condition,
                body,
                max_iterations,
            } => self.lower_while(*condition, body, *max_iterations),
            Stmt::Spike if self.direct_spikes => self.record_spike(),
            Stmt::Spike => {
                let yes = self.b.ins().iconst(types::I8, 1);
                self.b.def_var(self.spiked, yes);
            }
            // Verified step kernels contain neither (see `ir::verify`).
            Stmt::Integrate | Stmt::Propagator { .. } => {}
        }
    }

    fn lower_if(&mut self, c: Handle<Expr>, then: &Block, otherwise: &Block) {
        if self.is_cheap(then) && self.is_cheap(otherwise) {
            let cond = self.expr(c);
            let cond = self.bool_of(cond);
            self.if_convert(cond, then, otherwise);
            return;
        }
        let then_block = self.new_block();
        let else_block = self.new_block();
        let merge = self.new_block();
        // A neuron spikes in few of its steps: the branch that emits the
        // spike goes out of line (with every block inside it), so the usual
        // path falls through.
        let (then_cold, else_cold) = match (has_spike(then), has_spike(otherwise)) {
            (true, false) => (true, self.cold),
            (false, true) => (self.cold, true),
            _ => (self.cold, self.cold),
        };
        for (block, cold) in [(then_block, then_cold), (else_block, else_cold)] {
            if cold {
                self.b.set_cold_block(block);
            }
        }
        let before = self.cache.snapshot();
        self.branch(c, then_block, else_block);
        // Parts of the condition may have been evaluated in blocks that do
        // not dominate both branches.
        self.cache.restore(before.clone());
        let region = self.cold;

        self.b.switch_to_block(then_block);
        self.cold = then_cold;
        self.block(then);
        self.b.ins().jump(merge, &[]);

        self.cache.restore(before.clone());
        self.b.switch_to_block(else_block);
        self.cold = else_cold;
        self.block(otherwise);
        self.b.ins().jump(merge, &[]);

        self.b.switch_to_block(merge);
        self.cold = region;
        self.cache.restore(before);
        for p in stored_places(then)
            .into_iter()
            .chain(stored_places(otherwise))
        {
            self.cache.forget(p);
        }
    }

    /// Ends the current block with a branch on the truth of `c` to `yes`
    /// or `no`. `!`, `&&` and `||` become control flow (short-circuit,
    /// which is exact since expressions have no side effects), so the
    /// comparisons at the leaves fuse with their branches instead of
    /// being materialised as truth values; a constant condition becomes a
    /// jump. The caller restores the expression cache afterwards.
    fn branch(&mut self, c: Handle<Expr>, yes: ClifBlock, no: ClifBlock) {
        if !self.cache.contains(c) {
            match self.ir.exprs.get(c) {
                Expr::Unary(UnaryOp::Not, x) => return self.branch(*x, no, yes),
                Expr::Binary(op @ (BinaryOp::And | BinaryOp::Or), x, y) => {
                    let rest = self.new_block();
                    if *op == BinaryOp::And {
                        self.branch(*x, rest, no);
                    } else {
                        self.branch(*x, yes, rest);
                    }
                    self.b.switch_to_block(rest);
                    return self.branch(*y, yes, no);
                }
                _ => {}
            }
        }
        let v = self.expr(c);
        let v = self.bool_of(v);
        match self.constant(v) {
            Some(k) => {
                let target = if k != 0 { yes } else { no };
                self.b.ins().jump(target, &[]);
            }
            None => {
                self.b.ins().brif(v, yes, &[], no, &[]);
            }
        }
    }

    /// The value of an integer literal.
    fn constant(&self, v: Value) -> Option<i64> {
        let dfg = &self.b.func.dfg;
        let inst = dfg.value_def(v).inst()?;
        match dfg.insts[inst] {
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } => Some(imm.bits()),
            _ => None,
        }
    }

    /// A new block, cold if it belongs to a cold region.
    fn new_block(&mut self) -> ClifBlock {
        let block = self.b.create_block();
        if self.cold {
            self.b.set_cold_block(block);
        }
        block
    }

    /// Whether a branch is cheap enough to run unconditionally: stores to
    /// integer and truth-value places (and spike flags) only, few of them,
    /// and no calls in their expressions. Stores to reals are left to a
    /// branch: the x64 backend lowers a `select` of floats to a branch
    /// anyway, and a branch skips the work of the other side.
    fn is_cheap(&self, block: &Block) -> bool {
        const MAX_STATEMENTS: usize = 8;
        const MAX_NEW_NODES: usize = 48;
        if block.0.len() > MAX_STATEMENTS {
            return false;
        }
        let mut seen = Vec::new();
        block.0.iter().all(|s| match s {
            Stmt::Spike => !self.direct_spikes,
            Stmt::Store(place, h) => {
                self.place_type(*place)
                    .is_some_and(|ty| value_type(ty) != types::F64)
                    && self.is_cheap_expr(*h, &mut seen, MAX_NEW_NODES)
            }
            _ => false,
        })
    }

    /// Whether an expression has no calls and at most `budget` nodes that
    /// are not already cached.
    fn is_cheap_expr(&self, h: Handle<Expr>, seen: &mut Vec<Handle<Expr>>, budget: usize) -> bool {
        if self.cache.contains(h) || seen.contains(&h) {
            return true;
        }
        seen.push(h);
        if seen.len() > budget {
            return false;
        }
        let mut operands =
            |xs: &[Handle<Expr>]| xs.iter().all(|x| self.is_cheap_expr(*x, seen, budget));
        match self.ir.exprs.get(h) {
            Expr::Random(..) | Expr::Binary(BinaryOp::Pow, ..) => false,
            Expr::Math(m, xs) => {
                let calls = matches!(math::lowering(*m), Lowering::Call { .. });
                !calls && operands(xs)
            }
            Expr::Unary(_, a) | Expr::RoundToInt(a) => operands(&[*a]),
            Expr::Binary(_, a, b) => operands(&[*a, *b]),
            Expr::Select(c, a, b) => operands(&[*c, *a, *b]),
            _ => true,
        }
    }

    /// An `If` whose branches are cheap (see [`Emitter::is_cheap`]) as
    /// straight-line code: both branches are evaluated, each from the state
    /// before the `If`, and every place either writes becomes a `select`
    /// on the condition. Expressions cannot trap, so this is exact.
    fn if_convert(&mut self, cond: Value, then: &Block, otherwise: &Block) {
        let mut targets: Vec<Variable> = Vec::new();
        for s in then.0.iter().chain(&otherwise.0) {
            let var = match s {
                Stmt::Store(place, _) => self.variable_of(*place),
                Stmt::Spike => Some(self.spiked),
                _ => None,
            };
            if let Some(var) = var.filter(|v| !targets.contains(v)) {
                targets.push(var);
            }
        }
        let before: Vec<Value> = targets.iter().map(|v| self.b.use_var(*v)).collect();
        let cache = self.cache.snapshot();

        self.block(then);
        let taken: Vec<Value> = targets.iter().map(|v| self.b.use_var(*v)).collect();
        for (var, value) in targets.iter().zip(&before) {
            self.b.def_var(*var, *value);
        }
        self.cache.restore(cache.clone());

        self.block(otherwise);
        for (var, value) in targets.iter().zip(taken) {
            let not_taken = self.b.use_var(*var);
            let merged = self.b.ins().select(cond, value, not_taken);
            self.b.def_var(*var, merged);
        }
        self.cache.restore(cache);
        for p in stored_places(then)
            .into_iter()
            .chain(stored_places(otherwise))
        {
            self.cache.forget(p);
        }
    }

    /// The element type of a place the kernel uses.
    fn place_type(&self, place: Place) -> Option<Type> {
        match place {
            Place::Local(k) => Some(self.ir.local_types[k as usize]),
            column => self
                .columns
                .iter()
                .find(|c| c.place == column)
                .map(|c| c.ty),
        }
    }

    /// The variable that holds a place for the current neuron.
    fn variable_of(&self, place: Place) -> Option<Variable> {
        match place {
            Place::Local(k) => Some(self.locals[k as usize]),
            column => self
                .columns
                .iter()
                .find(|c| c.place == column)
                .map(|c| c.var),
        }
    }

    fn lower_while(&mut self, condition: Handle<Expr>, body: &Block, max_iterations: u32) {
        // Values from before the loop stay valid in it only if the body
        // cannot change them.
        for p in stored_places(body) {
            self.cache.forget(p);
        }
        // The counter is an `i64`, so any `u32` bound is an exact immediate.
        let iterations = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(iterations, zero);
        let header = self.new_block();
        let body_block = self.new_block();
        let exit = self.new_block();
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(header);
        let n = self.b.use_var(iterations);
        let limit = i64::from(max_iterations);
        let below = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, n, limit);
        let cond = self.expr(condition);
        let cond = self.bool_of(cond);
        let go = self.b.ins().band(below, cond);
        self.b.ins().brif(go, body_block, &[], exit, &[]);
        let at_header = self.cache.snapshot();

        self.b.switch_to_block(body_block);
        self.block(body);
        let n1 = self.b.ins().iadd_imm_s(n, 1);
        self.b.def_var(iterations, n1);
        self.b.ins().jump(header, &[]);

        self.b.switch_to_block(exit);
        self.cache.restore(at_header);
    }

    fn store(&mut self, place: Place, v: Val) {
        match place {
            Place::Local(k) => {
                let var = self.locals[k as usize];
                let v = match self.ir.local_types[k as usize] {
                    Type::F64 | Type::F32 => self.real_of(v),
                    Type::I32 => self.int_of(v),
                    Type::Bool => self.bool_of(v),
                };
                self.b.def_var(var, v);
            }
            column => {
                let Some(slot) = self.columns.iter().find(|c| c.place == column) else {
                    return;
                };
                let (ty, var) = (slot.ty, slot.var);
                let v = match ty {
                    Type::I32 => self.int_of(v),
                    // `ColumnData::set` rounds to the column's precision.
                    _ => {
                        let x = self.real_of(v);
                        self.round(x)
                    }
                };
                self.b.def_var(var, v);
            }
        }
        self.cache.forget(place);
    }

    // ----- expressions ------------------------------------------------

    fn expr(&mut self, h: Handle<Expr>) -> Val {
        let ir = self.ir;
        exprs::expr(self, ir, h)
    }

    fn load(&mut self, place: Place) -> Val {
        match place {
            Place::Local(k) => {
                let v = self.b.use_var(self.locals[k as usize]);
                match self.ir.local_types[k as usize] {
                    Type::F64 | Type::F32 => Val::Real(v),
                    Type::I32 => Val::Int(v),
                    Type::Bool => Val::Bool(v),
                }
            }
            column => {
                let slot = self
                    .columns
                    .iter()
                    .find(|c| c.place == column)
                    .expect("every loaded column has a slot (see `used_places`)");
                let (ty, var) = (slot.ty, slot.var);
                let v = self.b.use_var(var);
                if ty == Type::I32 {
                    Val::Int(v)
                } else {
                    Val::Real(v)
                }
            }
        }
    }

    /// Whether a value is an `f64` literal.
    fn is_constant(&self, v: Value) -> bool {
        let dfg = &self.b.func.dfg;
        dfg.value_def(v)
            .inst()
            .is_some_and(|inst| dfg.insts[inst].opcode() == Opcode::F64const)
    }

    /// The reference to an imported function returning `f64`, declared on
    /// first use.
    fn import(&mut self, symbol: &'static str, params: &[types::Type]) -> FuncRef {
        import(self.module, self.b.func, &mut self.imports, symbol, params)
    }

    /// An `i32`, as `ColumnData::set` converts (`x as i32`, saturating).
    fn int_of(&mut self, v: Val) -> Value {
        match v {
            Val::Int(i) => i,
            Val::Bool(c) => self.b.ins().uextend(types::I32, c),
            Val::Real(x) => self.b.ins().fcvt_to_sint_sat(types::I32, x),
        }
    }
}

impl exprs::Lower for Emitter<'_, '_> {
    type V = Value;

    ops::same_for_lanes!();

    fn real(&mut self, x: f64) -> Value {
        self.b.ins().f64const(x)
    }

    fn int(&mut self, x: i32) -> Value {
        // Narrow immediates are written zero-extended.
        self.b.ins().iconst(types::I32, i64::from(x as u32))
    }

    fn truth(&mut self, x: bool) -> Value {
        self.b.ins().iconst(types::I8, i64::from(x))
    }

    fn load(&mut self, place: Place) -> Val {
        Emitter::load(self, place)
    }

    fn time(&mut self) -> Value {
        self.ctx.t
    }

    fn dt(&mut self) -> Value {
        self.ctx.dt
    }

    fn frame_scale(&mut self, f: u32) -> Value {
        self.ctx.frames[f as usize]
    }

    fn index(&mut self) -> Value {
        let neuron = self.b.ins().iadd(self.index, self.ctx.first_neuron);
        self.b.ins().fcvt_from_uint(types::F64, neuron)
    }

    fn random(&mut self, kind: RandomFn, draw: u32) -> Value {
        let f = self.import(math::RANDOM_SYMBOL, &ops::RANDOM_PARAMS);
        let (draw, normal) = ops::draw_args(&mut self.b, kind, draw);
        let neuron = self.b.ins().iadd(self.index, self.ctx.first_neuron);
        let args = [
            self.ctx.seed,
            self.ctx.population,
            neuron,
            self.ctx.step,
            draw,
            normal,
        ];
        let call = self.b.ins().call(f, &args);
        self.b.inst_results(call)[0]
    }

    fn int_arith(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        ops::int_arith(&mut self.b, op, x, y)
    }

    fn int_neg(&mut self, x: Value) -> Value {
        self.b.ins().ineg(x)
    }

    fn to_int(&mut self, x: Value) -> Value {
        self.b.ins().fcvt_to_sint_sat(types::I32, x)
    }

    fn not(&mut self, x: Value) -> Value {
        self.b.ins().bxor_imm_u(x, 1)
    }

    fn farith(&mut self, op: BinaryOp, a: Value, b: Value) -> Value {
        // A constant left operand of `+` or `*` goes right, where the x64
        // backend folds it into a memory operand instead of materialising
        // it in a register every iteration. Exact: both are commutative in
        // IEEE arithmetic (with one NaN operand the result is that NaN).
        let (a, b) = if matches!(op, BinaryOp::Add | BinaryOp::Mul) && self.is_constant(a) {
            (b, a)
        } else {
            (a, b)
        };
        ops::farith(&mut self.b, op, a, b)
    }

    /// Rounds half away from zero (`f64::round`): `trunc(x)` plus `±1`
    /// where the dropped fraction is at least one half. The fraction
    /// `x - trunc(x)` is exact; NaN and infinities come through unchanged.
    fn round_half_away(&mut self, x: Value) -> Value {
        let t = self.b.ins().trunc(x);
        let fraction = self.b.ins().fsub(x, t);
        let fraction = self.b.ins().fabs(fraction);
        let half = self.b.ins().f64const(0.5);
        let up = self
            .b
            .ins()
            .fcmp(FloatCC::GreaterThanOrEqual, fraction, half);
        let one = self.b.ins().f64const(1.0);
        let step = self.b.ins().fcopysign(one, x);
        let away = self.b.ins().fadd(t, step);
        self.b.ins().select(up, away, t)
    }

    fn call(&mut self, symbol: &'static str, args: &[Value]) -> Value {
        let params = vec![types::F64; args.len()];
        let f = self.import(symbol, &params);
        let call = self.b.ins().call(f, args);
        self.b.inst_results(call)[0]
    }

    fn select(&mut self, _kind: exprs::Kind, c: Value, x: Value, y: Value) -> Value {
        self.b.ins().select(c, x, y)
    }

    /// Rounds to single precision (and back) in `f32` models.
    fn round(&mut self, x: Value) -> Value {
        round_if(&mut self.b, self.single, x)
    }

    fn real_of(&mut self, v: Val) -> Value {
        match v {
            Val::Real(x) => x,
            Val::Int(i) => self.b.ins().fcvt_from_sint(types::F64, i),
            Val::Bool(c) => {
                let i = self.b.ins().uextend(types::I32, c);
                self.b.ins().fcvt_from_sint(types::F64, i)
            }
        }
    }

    fn bool_of(&mut self, v: Val) -> Value {
        match v {
            Val::Bool(c) => c,
            Val::Int(i) => self.b.ins().icmp_imm_s(IntCC::NotEqual, i, 0),
            Val::Real(x) => {
                let zero = self.b.ins().f64const(0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, zero)
            }
        }
    }
}

pub(super) fn round_if(b: &mut FunctionBuilder, single: bool, x: Value) -> Value {
    if single {
        let s = b.ins().fdemote(types::F32, x);
        b.ins().fpromote(types::F64, s)
    } else {
        x
    }
}

/// The reference to an imported function of `params` returning `f64`,
/// declared in `func` on first use (`imports` remembers it).
pub(super) fn import(
    module: &mut JITModule,
    func: &mut Function,
    imports: &mut HashMap<&'static str, FuncRef>,
    symbol: &'static str,
    params: &[types::Type],
) -> FuncRef {
    if let Some(f) = imports.get(symbol) {
        return *f;
    }
    let mut sig = module.make_signature();
    sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
    sig.returns.push(AbiParam::new(types::F64));
    let id = module
        .declare_function(symbol, Linkage::Import, &sig)
        .expect("math symbols are declared with one signature each");
    let f = module.declare_func_in_func(id, func);
    imports.insert(symbol, f);
    f
}

/// The Cranelift type of values of an IR type (reals are `f64` in both
/// precisions).
fn value_type(ty: Type) -> types::Type {
    match ty {
        Type::F64 | Type::F32 => types::F64,
        Type::I32 => types::I32,
        Type::Bool => types::I8,
    }
}

/// The Cranelift type of a column's elements.
fn memory_type(ty: Type) -> types::Type {
    match ty {
        Type::F64 | Type::Bool => types::F64,
        Type::F32 => types::F32,
        Type::I32 => types::I32,
    }
}

/// The number of `Spike` statements in a block (at any depth), and how
/// many of them are inside a `While`.
fn spike_statements(block: &Block) -> (usize, usize) {
    fn walk(block: &Block, in_loop: bool, out: &mut (usize, usize)) {
        for s in &block.0 {
            match s {
                Stmt::Spike => {
                    out.0 += 1;
                    out.1 += usize::from(in_loop);
                }
                Stmt::If(_, a, b) => {
                    walk(a, in_loop, out);
                    walk(b, in_loop, out);
                }
                Stmt::While { body, .. } => walk(body, true, out),
                _ => {}
            }
        }
    }
    let mut out = (0, 0);
    walk(block, false, &mut out);
    out
}

/// Whether a block has a `Spike` statement (at any depth).
fn has_spike(block: &Block) -> bool {
    spike_statements(block).0 > 0
}

/// Every place a block may store to (at any depth).
fn stored_places(block: &Block) -> Vec<Place> {
    let mut out = Vec::new();
    fn walk(block: &Block, out: &mut Vec<Place>) {
        for s in &block.0 {
            match s {
                Stmt::Store(p, _) => out.push(*p),
                Stmt::If(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Stmt::While { body, .. } => walk(body, out),
                _ => {}
            }
        }
    }
    walk(block, &mut out);
    out
}
