//! The two-neuron step kernel: the same IR lowered to two-lane SIMD code
//! that advances neurons `i` and `i + 1` together.
//!
//! It has the scalar kernel's signature ([`super::KernelFn`]) and is called
//! for an even number of neurons; the scalar kernel does the last one of an
//! odd range. Each lane performs exactly the scalar kernel's IEEE
//! operations, so results are bit-identical to the interpreter's.
//!
//! Values: reals are `f64x2`; integers are `i64x2` holding sign-extended
//! `i32` values (each `+`, `-`, `*` is wrapped back to 32 bits, as `i32`
//! arithmetic wraps); truth values are `i64x2` lane masks (all ones or all
//! zeros), as vector comparisons produce them.
//!
//! Control flow becomes data flow: an `If` evaluates its condition as a
//! mask and runs both branches under the masks `outer & c` and
//! `outer & !c`; a store under a mask keeps the old value in the other
//! lane (`bitselect`), and `Spike` ors the mask into the spike flags. The
//! expressions of a branch are evaluated for both lanes; they have no side
//! effects (a random draw is addressed by its index, so drawing one that
//! a lane does not use changes nothing). `exprel` is inline (see
//! [`super::vmath`]); libm functions are called lane by lane.
//!
//! In `f32` models every value the interpreter rounds is rounded to single
//! precision and back, as in the scalar kernel.
//!
//! Only kernels without `While` are lowered this way
//! ([`crate::backend::lanes::supported`]).
//! Where Cranelift cannot compile the function for the host, the scalar
//! kernel does all neurons. (Vector `floor`, `ceil` and `trunc` become
//! SSE4.1 instructions, or libm calls lane by lane on an older CPU, as
//! the scalar kernel's do.)

use super::{ops, vmath};
use crate::abi::StepContext;
use crate::backend::BackendError;
use crate::backend::exprs::{self, Lower as _};
use crate::backend::lanes;
use crate::backend::math;
use crate::backend::places::{ExprCache, used_places};
use crate::ir::{
    BinaryOp, Expr, Handle, MathFn, NeuronIr, Place, Precision, RandomFn, Type, Verified,
};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    Endianness, FuncRef, Function, InstBuilder, MemFlagsData, Value, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::JITModule;
use cranelift_module::Module;
use std::collections::HashMap;

/// A lowered IR value for two neurons: `f64x2` reals, `i64x2` integers
/// (sign-extended `i32` lanes) and `i64x2` lane masks.
type Val = exprs::Val<Value>;

/// Builds the two-neuron step function of `ir` into `func`.
pub(super) fn lower_pairs(
    module: &mut JITModule,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
    ir: &NeuronIr,
    info: &Verified,
) -> Result<(), BackendError> {
    let config = module.target_config();
    let b = FunctionBuilder::new(func, fctx);
    let mut e = Pairs::new(module, b, ir, info, config.pointer_type())?;
    e.neuron_loop(ir);
    let Pairs { mut b, .. } = e;
    b.seal_all_blocks();
    b.finalize(config);
    Ok(())
}

struct Slot {
    place: Place,
    ty: Type,
    base: Value,
    var: Variable,
    written: bool,
}

struct Pairs<'m, 'f> {
    module: &'m mut JITModule,
    b: FunctionBuilder<'f>,
    ir: &'m NeuronIr,
    /// An `f32` model: every value the interpreter rounds is rounded to
    /// single precision and back, lane by lane.
    single: bool,
    pointer: types::Type,
    end: Value,
    spikes: Value,
    /// `t` and `dt` splatted; the rest scalar.
    t: Value,
    dt: Value,
    step: Value,
    seed: Value,
    population: Value,
    first_neuron: Value,
    /// The scales of the decay frames, in both lanes.
    frames: Vec<Value>,
    columns: Vec<Slot>,
    locals: Vec<Variable>,
    /// The lanes the code being emitted runs for (`None`: both).
    mask: Option<Value>,
    /// Lane masks of the neurons that spiked.
    spiked: Variable,
    /// Lane masks, all ones while every state value stored is finite.
    finite: Variable,
    neuron: Variable,
    count: Variable,
    /// Index of the pair's first neuron (`i32`), valid in the body.
    index: Value,
    imports: HashMap<&'static str, FuncRef>,
    cache: ExprCache<Val>,
}

impl<'m, 'f> Pairs<'m, 'f> {
    fn new(
        module: &'m mut JITModule,
        mut b: FunctionBuilder<'f>,
        ir: &'m NeuronIr,
        info: &Verified,
        pointer: types::Type,
    ) -> Result<Pairs<'m, 'f>, BackendError> {
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
        let t = field(&mut b, types::F64, std::mem::offset_of!(StepContext, t));
        let dt = field(&mut b, types::F64, std::mem::offset_of!(StepContext, dt));
        let step = field(&mut b, types::I64, std::mem::offset_of!(StepContext, step));
        let seed = field(&mut b, types::I64, std::mem::offset_of!(StepContext, seed));
        let population = field(
            &mut b,
            types::I32,
            std::mem::offset_of!(StepContext, population),
        );
        let first_neuron = field(
            &mut b,
            types::I32,
            std::mem::offset_of!(StepContext, first_neuron),
        );
        let single = ir.precision == Precision::F32;
        let t = super::lower::round_if(&mut b, single, t);
        let dt = super::lower::round_if(&mut b, single, dt);
        let t = b.ins().splat(types::F64X2, t);
        let dt = b.ins().splat(types::F64X2, dt);
        let frames = (0..ir.frames.len())
            .map(|f| {
                let s = field(
                    &mut b,
                    types::F64,
                    std::mem::offset_of!(StepContext, frames) + 8 * f,
                );
                b.ins().splat(types::F64X2, s)
            })
            .collect();

        let (used, written) = used_places(ir);
        let mut columns = Vec::new();
        for (k, col) in ir.columns().iter().enumerate() {
            if !used.contains(&col.place) {
                continue;
            }
            let binding = info.binding(col.place).ok_or_else(|| {
                BackendError(format!("verified IR: {:?} has no column", col.place))
            })?;
            debug_assert_eq!(binding, k);
            let offset = i32::try_from(binding * pointer.bytes() as usize)
                .map_err(|_| BackendError("too many columns".into()))?;
            let base = b.ins().load(pointer, flags, cols_ptr, offset);
            let var = b.declare_var(lanes_type(col.ty));
            columns.push(Slot {
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
            .map(|ty| b.declare_var(lanes_type(*ty)))
            .collect();
        let spiked = b.declare_var(types::I64X2);
        let finite = b.declare_var(types::I64X2);
        let neuron = b.declare_var(types::I32);
        let count = b.declare_var(types::I32);
        let zero = b.ins().iconst(types::I32, 0);
        b.def_var(count, zero);
        let ones = b.ins().iconst(types::I64, -1);
        let ones = b.ins().splat(types::I64X2, ones);
        b.def_var(finite, ones);
        b.def_var(neuron, start);
        let index = start;
        Ok(Pairs {
            module,
            b,
            ir,
            single,
            pointer,
            end,
            spikes,
            t,
            dt,
            step,
            seed,
            population,
            first_neuron,
            frames,
            columns,
            locals,
            mask: None,
            spiked,
            finite,
            neuron,
            count,
            index,
            imports: HashMap::new(),
            cache: ExprCache::new(ir),
        })
    }

    /// The loop over pairs `i, i + 1` for `i = start, start + 2, … < end`
    /// (`end - start` is even), tested at the bottom.
    fn neuron_loop(&mut self, ir: &NeuronIr) {
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let start = self.b.use_var(self.neuron);
        let any = self.b.ins().icmp(IntCC::UnsignedLessThan, start, self.end);
        self.b.ins().brif(any, body, &[], exit, &[]);

        self.b.switch_to_block(body);
        self.index = self.b.use_var(self.neuron);
        self.load_pair();
        self.cache.clear();
        self.mask = None;
        lanes::block(self, &ir.step);
        self.store_pair();
        self.record_spikes();
        let next = self.b.ins().iadd_imm_s(self.index, 2);
        self.b.def_var(self.neuron, next);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, next, self.end);
        self.b.ins().brif(more, body, &[], exit, &[]);

        self.b.switch_to_block(exit);
        let n = self.b.use_var(self.count);
        let finite = self.b.use_var(self.finite);
        let finite = self.b.ins().vall_true(finite);
        let n = super::with_finite_flag(&mut self.b, n, finite);
        self.b.ins().return_(&[n]);
    }

    fn address(&mut self, base: Value, size: i64) -> Value {
        let wide = if self.pointer == types::I32 {
            self.index
        } else {
            self.b.ins().uextend(self.pointer, self.index)
        };
        let offset = self.b.ins().imul_imm_s(wide, size);
        self.b.ins().iadd(base, offset)
    }

    fn load_pair(&mut self) {
        let flags = MemFlagsData::trusted();
        for k in 0..self.columns.len() {
            let Slot { ty, base, var, .. } = self.columns[k];
            let v = if ty == Type::I32 {
                let address = self.address(base, 4);
                self.b.ins().sload32x2(flags, address, 0)
            } else if ty == Type::F32 {
                // Both elements as one 8-byte load, widened.
                let address = self.address(base, 4);
                let both = self.b.ins().load(types::I64, flags, address, 0);
                let both = self.b.ins().scalar_to_vector(types::I64X2, both);
                let little = MemFlagsData::new().with_endianness(Endianness::Little);
                let singles = self.b.ins().bitcast(types::F32X4, little, both);
                self.b.ins().fvpromote_low(singles)
            } else {
                let address = self.address(base, 8);
                self.b.ins().load(types::F64X2, flags, address, 0)
            };
            self.b.def_var(var, v);
        }
        for k in 0..self.locals.len() {
            let zero = self.zero(self.ir.local_types[k]);
            self.b.def_var(self.locals[k], zero);
        }
        let no = self.int_splat(0);
        self.b.def_var(self.spiked, no);
    }

    fn store_pair(&mut self) {
        let flags = MemFlagsData::trusted();
        for k in 0..self.columns.len() {
            let Slot {
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
            if ty != Type::I32 && matches!(self.columns[k].place, Place::State(_)) {
                // |v| < inf, false for infinities and NaN (an `f32`
                // column's value is already rounded to single precision).
                let magnitude = self.b.ins().fabs(v);
                let inf = self.real_splat(f64::INFINITY);
                let ok = self.b.ins().fcmp(FloatCC::LessThan, magnitude, inf);
                let finite = self.b.use_var(self.finite);
                let finite = self.b.ins().band(finite, ok);
                self.b.def_var(self.finite, finite);
            }
            if ty == Type::I32 {
                // The low halves of both lanes, side by side: one 8-byte
                // store.
                let little = MemFlagsData::new().with_endianness(Endianness::Little);
                let bytes = self.b.ins().bitcast(types::I8X16, little, v);
                let order: [u8; 16] = [0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11];
                let order = self
                    .b
                    .func
                    .dfg
                    .immediates
                    .push(cranelift_codegen::ir::ConstantData::from(&order[..]));
                let packed = self.b.ins().shuffle(bytes, bytes, order);
                let packed = self.b.ins().bitcast(types::I64X2, little, packed);
                let both = self.b.ins().extractlane(packed, 0);
                let address = self.address(base, 4);
                self.b.ins().store(flags, both, address, 0);
            } else if ty == Type::F32 {
                let singles = self.b.ins().fvdemote(v);
                let little = MemFlagsData::new().with_endianness(Endianness::Little);
                let both = self.b.ins().bitcast(types::I64X2, little, singles);
                let both = self.b.ins().extractlane(both, 0);
                let address = self.address(base, 4);
                self.b.ins().store(flags, both, address, 0);
            } else {
                let address = self.address(base, 8);
                self.b.ins().store(flags, v, address, 0);
            }
        }
    }

    /// Appends the spiking neurons of the pair. Spikes are rare: one test
    /// of both lanes' flags skips the appending when neither spiked. Each
    /// index is then written at `spikes[count]` and `count` advances by
    /// its flag; `count` is at most the number of neurons done before, so
    /// both writes stay within the `end - start` entries the caller
    /// provides.
    fn record_spikes(&mut self) {
        let spiked = self.b.use_var(self.spiked);
        let bits = self.b.ins().vhigh_bits(types::I32, spiked);
        let append = self.b.create_block();
        let done = self.b.create_block();
        self.b.set_cold_block(append);
        self.b.ins().brif(bits, append, &[], done, &[]);

        self.b.switch_to_block(append);
        for lane in 0..2u8 {
            let n = self.b.use_var(self.count);
            let wide = if self.pointer == types::I32 {
                n
            } else {
                self.b.ins().uextend(self.pointer, n)
            };
            let offset = self.b.ins().imul_imm_s(wide, 4);
            let address = self.b.ins().iadd(self.spikes, offset);
            let i = self.b.ins().iadd_imm_s(self.index, i64::from(lane));
            self.b.ins().store(MemFlagsData::trusted(), i, address, 0);
            let flag = self.b.ins().ushr_imm_u(bits, i64::from(lane));
            let flag = self.b.ins().band_imm_u(flag, 1);
            let n1 = self.b.ins().iadd(n, flag);
            self.b.def_var(self.count, n1);
        }
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
    }

    fn zero(&mut self, ty: Type) -> Value {
        match ty {
            Type::F64 | Type::F32 => self.real_splat(0.0),
            Type::I32 | Type::Bool => self.int_splat(0),
        }
    }

    fn real_splat(&mut self, x: f64) -> Value {
        let s = self.b.ins().f64const(x);
        self.b.ins().splat(types::F64X2, s)
    }

    fn int_splat(&mut self, x: i64) -> Value {
        let s = self.b.ins().iconst(types::I64, x);
        self.b.ins().splat(types::I64X2, s)
    }

    // ----- statements -------------------------------------------------

    fn store(&mut self, place: Place, v: Val) {
        let (var, ty) = match place {
            Place::Local(k) => (self.locals[k as usize], self.ir.local_types[k as usize]),
            column => {
                let Some(slot) = self.columns.iter().find(|c| c.place == column) else {
                    return;
                };
                (slot.var, slot.ty)
            }
        };
        let new = match ty {
            Type::F64 | Type::F32 => {
                let x = self.real_of(v);
                // `ColumnData::set` rounds to the column's precision.
                if matches!(place, Place::Local(_)) {
                    x
                } else {
                    self.round(x)
                }
            }
            Type::I32 => self.int_of(v),
            Type::Bool => self.bool_of(v),
        };
        let new = match self.mask {
            None => new,
            Some(m) => {
                let old = self.b.use_var(var);
                self.blend(m, new, old)
            }
        };
        self.b.def_var(var, new);
        self.cache.forget(place);
    }

    /// `m ? x : y` lane by lane, for any lane type.
    fn blend(&mut self, m: Value, x: Value, y: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        let m = if ty == types::I64X2 {
            m
        } else {
            self.b.ins().bitcast(ty, MemFlagsData::new(), m)
        };
        self.b.ins().bitselect(m, x, y)
    }

    // ----- expressions ------------------------------------------------

    fn expr(&mut self, h: Handle<Expr>) -> Val {
        let ir = self.ir;
        exprs::expr(self, ir, h)
    }

    fn load(&mut self, place: Place) -> Val {
        let (var, ty) = match place {
            Place::Local(k) => (self.locals[k as usize], self.ir.local_types[k as usize]),
            column => {
                let slot = self
                    .columns
                    .iter()
                    .find(|c| c.place == column)
                    .expect("every loaded column has a slot (see `used_places`)");
                (slot.var, slot.ty)
            }
        };
        let v = self.b.use_var(var);
        match ty {
            Type::F64 | Type::F32 => Val::Real(v),
            Type::I32 => Val::Int(v),
            Type::Bool => Val::Bool(v),
        }
    }

    /// Sign-extends the low 32 bits of each lane: `i32` wrapping.
    fn wrap(&mut self, x: Value) -> Value {
        let x = self.b.ins().ishl_imm_u(x, 32);
        self.b.ins().sshr_imm_u(x, 32)
    }

    /// Two `f64` values as the lanes of an `f64x2`.
    fn pack(&mut self, lane0: Value, lane1: Value) -> Value {
        let v = self.b.ins().scalar_to_vector(types::F64X2, lane0);
        self.b.ins().insertlane(v, lane1, 1)
    }

    /// An imported `f64` function called for each lane.
    fn call_lanes(&mut self, symbol: &'static str, args: &[Value]) -> Value {
        let params = vec![types::F64; args.len()];
        let f = self.import(symbol, &params);
        let mut out = Vec::new();
        for lane in 0..2u8 {
            let lane_args: Vec<Value> = args
                .iter()
                .map(|a| self.b.ins().extractlane(*a, lane))
                .collect();
            let call = self.b.ins().call(f, &lane_args);
            out.push(self.b.inst_results(call)[0]);
        }
        self.pack(out[0], out[1])
    }

    fn import(&mut self, symbol: &'static str, params: &[types::Type]) -> FuncRef {
        super::lower::import(self.module, self.b.func, &mut self.imports, symbol, params)
    }

    /// Reals as `i32` lanes (`x as i32`, saturating, NaN 0), sign-extended.
    fn lanes_to_int(&mut self, x: Value) -> Value {
        let mut out = Vec::new();
        for lane in 0..2u8 {
            let r = self.b.ins().extractlane(x, lane);
            let i = self.b.ins().fcvt_to_sint_sat(types::I32, r);
            out.push(self.b.ins().sextend(types::I64, i));
        }
        let v = self.b.ins().scalar_to_vector(types::I64X2, out[0]);
        self.b.ins().insertlane(v, out[1], 1)
    }

    fn int_of(&mut self, v: Val) -> Value {
        match v {
            Val::Int(i) => i,
            Val::Bool(m) => self.b.ins().ineg(m),
            Val::Real(x) => self.lanes_to_int(x),
        }
    }
}

impl exprs::Lower for Pairs<'_, '_> {
    type V = Value;

    ops::same_for_lanes!();

    fn real(&mut self, x: f64) -> Value {
        self.real_splat(x)
    }

    fn int(&mut self, x: i32) -> Value {
        self.int_splat(i64::from(x))
    }

    fn truth(&mut self, x: bool) -> Value {
        self.int_splat(if x { -1 } else { 0 })
    }

    fn load(&mut self, place: Place) -> Val {
        Pairs::load(self, place)
    }

    fn time(&mut self) -> Value {
        self.t
    }

    fn dt(&mut self) -> Value {
        self.dt
    }

    fn frame_scale(&mut self, f: u32) -> Value {
        self.frames[f as usize]
    }

    fn index(&mut self) -> Value {
        let neuron = self.b.ins().iadd(self.index, self.first_neuron);
        let x = self.b.ins().fcvt_from_uint(types::F64, neuron);
        let x = self.b.ins().splat(types::F64X2, x);
        let zero = self.b.ins().f64const(0.0);
        let one = self.b.ins().f64const(1.0);
        let lanes = self.b.ins().scalar_to_vector(types::F64X2, zero);
        let lanes = self.b.ins().insertlane(lanes, one, 1);
        self.b.ins().fadd(x, lanes)
    }

    fn random(&mut self, kind: RandomFn, draw: u32) -> Value {
        let f = self.import(math::RANDOM_SYMBOL, &ops::RANDOM_PARAMS);
        let (draw, normal) = ops::draw_args(&mut self.b, kind, draw);
        let first = self.b.ins().iadd(self.index, self.first_neuron);
        let mut lanes = Vec::new();
        for lane in 0..2 {
            let neuron = self.b.ins().iadd_imm_s(first, lane);
            let args = [self.seed, self.population, neuron, self.step, draw, normal];
            let call = self.b.ins().call(f, &args);
            lanes.push(self.b.inst_results(call)[0]);
        }
        self.pack(lanes[0], lanes[1])
    }

    fn int_arith(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        let r = ops::int_arith(&mut self.b, op, x, y);
        self.wrap(r)
    }

    fn int_neg(&mut self, x: Value) -> Value {
        let n = self.b.ins().ineg(x);
        self.wrap(n)
    }

    fn to_int(&mut self, x: Value) -> Value {
        self.lanes_to_int(x)
    }

    fn not(&mut self, x: Value) -> Value {
        self.b.ins().bnot(x)
    }

    fn farith(&mut self, op: BinaryOp, a: Value, b: Value) -> Value {
        ops::farith(&mut self.b, op, a, b)
    }

    /// `f64::round` lane by lane: `trunc(x)`, plus `±1` (the sign of `x`)
    /// where the dropped fraction is at least one half.
    fn round_half_away(&mut self, x: Value) -> Value {
        let t = self.b.ins().trunc(x);
        let fraction = self.b.ins().fsub(x, t);
        let fraction = self.b.ins().fabs(fraction);
        let half = self.real_splat(0.5);
        let up = self
            .b
            .ins()
            .fcmp(FloatCC::GreaterThanOrEqual, fraction, half);
        let flags = MemFlagsData::new();
        let bits = self.b.ins().bitcast(types::I64X2, flags, x);
        let sign = self.int_splat(i64::MIN);
        let sign = self.b.ins().band(bits, sign);
        let one = self.int_splat(1.0f64.to_bits() as i64);
        let step = self.b.ins().bor(one, sign);
        let step = self.b.ins().bitcast(types::F64X2, flags, step);
        let away = self.b.ins().fadd(t, step);
        self.blend(up, away, t)
    }

    fn call(&mut self, symbol: &'static str, args: &[Value]) -> Value {
        self.call_lanes(symbol, args)
    }

    fn inline_exprel(&mut self, x: Value) -> Option<Value> {
        Some(vmath::Lanes { b: &mut self.b }.exprel(x))
    }

    fn select(&mut self, _kind: exprs::Kind, c: Value, x: Value, y: Value) -> Value {
        self.blend(c, x, y)
    }

    /// Rounds both lanes to single precision and back in `f32` models.
    fn round(&mut self, x: Value) -> Value {
        if self.single {
            let s = self.b.ins().fvdemote(x);
            self.b.ins().fvpromote_low(s)
        } else {
            x
        }
    }

    fn real_of(&mut self, v: Val) -> Value {
        match v {
            Val::Real(x) => x,
            Val::Int(i) => {
                let mut out = Vec::new();
                for lane in 0..2u8 {
                    let x = self.b.ins().extractlane(i, lane);
                    out.push(self.b.ins().fcvt_from_sint(types::F64, x));
                }
                self.pack(out[0], out[1])
            }
            Val::Bool(m) => {
                let one = self.int_splat(1.0f64.to_bits() as i64);
                let bits = self.b.ins().band(m, one);
                self.b
                    .ins()
                    .bitcast(types::F64X2, MemFlagsData::new(), bits)
            }
        }
    }

    fn bool_of(&mut self, v: Val) -> Value {
        match v {
            Val::Bool(m) => m,
            Val::Int(i) => {
                let zero = self.int_splat(0);
                self.b.ins().icmp(IntCC::NotEqual, i, zero)
            }
            Val::Real(x) => {
                let zero = self.real_splat(0.0);
                self.b.ins().fcmp(FloatCC::NotEqual, x, zero)
            }
        }
    }
}

/// The Cranelift type of a value of an IR type, for two neurons.
fn lanes_type(ty: Type) -> types::Type {
    match ty {
        Type::F64 | Type::F32 => types::F64X2,
        Type::I32 | Type::Bool => types::I64X2,
    }
}

impl lanes::MaskedLanes for Pairs<'_, '_> {
    type Val = Val;
    type Mask = Value;

    fn expr(&mut self, h: Handle<Expr>) -> Val {
        Pairs::expr(self, h)
    }

    fn truth(&mut self, v: Val) -> Value {
        self.bool_of(v)
    }

    fn and(&mut self, a: &Value, b: &Value) -> Value {
        exprs::Lower::and(self, *a, *b)
    }

    fn and_not(&mut self, a: &Value, b: &Value) -> Value {
        self.b.ins().band_not(*a, *b)
    }

    fn not(&mut self, a: &Value) -> Value {
        exprs::Lower::not(self, *a)
    }

    fn store(&mut self, place: Place, v: Val) {
        Pairs::store(self, place, v);
    }

    fn spike(&mut self) {
        let lanes = match self.mask {
            Some(m) => m,
            None => self.int_splat(-1),
        };
        let old = self.b.use_var(self.spiked);
        let new = self.b.ins().bor(old, lanes);
        self.b.def_var(self.spiked, new);
    }

    fn mask(&mut self) -> &mut Option<Value> {
        &mut self.mask
    }
}
