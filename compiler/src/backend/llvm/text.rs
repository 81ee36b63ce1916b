//! The wide step kernel as LLVM IR text: the IR lowered for `W` neurons at
//! once, one lane per neuron, as the two-neuron Cranelift kernel does for
//! two ([`crate::backend::cranelift`]'s `pairs`).
//!
//! Values: reals are `<W x double>` in both precisions (an `f32` model
//! rounds every value the interpreter rounds with `fptrunc` and `fpext`);
//! integers are `<W x i32>`, whose `add`, `sub` and `mul` wrap as `i32`
//! arithmetic does; truth values are `<W x i1>`. Constants are written as
//! the hexadecimal bits of their `double`, so no decimal conversion
//! intervenes.
//!
//! Control flow becomes data flow as in the two-neuron kernel: an `If`
//! runs both branches under the lane masks `outer & c` and `outer & !c`,
//! a store under a mask keeps the old value in the other lanes (`select`),
//! and `Spike` ors the mask into the spike flags. Columns, locals and the
//! counters live in `alloca`s that LLVM's `mem2reg` turns into registers.
//!
//! No instruction carries fast-math flags and no multiply-add is formed
//! (LLVM fuses only where asked to), so every lane performs exactly the
//! interpreter's IEEE operations: `exprel` is emitted with the operations
//! of [`crate::ir::exprel`] (function `nmlc_exprel_v`), and libm functions
//! are called lane by lane through symbols that LLVM does not recognise as
//! library functions (`nmlc_m_exp`, …), so it cannot replace or
//! constant-fold them with its own code.

use crate::abi::StepContext;
use crate::backend::BackendError;
use crate::backend::exprs::{self, Lower as _};
use crate::backend::lanes;
use crate::backend::math;
use crate::backend::places::{ExprCache, used_places};
use crate::ir::exprel as reference;
use crate::ir::{
    BinaryOp, Expr, Handle, MathFn, NeuronIr, Place, Precision, RandomFn, Type, Verified,
};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The kernel's symbol in the module.
pub(super) const KERNEL: &str = "nmlc_lanes";
/// The prefix of the symbols of the libm functions the kernel calls.
pub(super) const MATH_PREFIX: &str = "nmlc_m_";

/// A lowered IR value for `W` neurons: the name of an SSA value or a
/// constant, in the syntax of an operand; `<W x double>` reals, `<W x i32>`
/// integers, `<W x i1>` truth values.
type Val = exprs::Val<String>;

/// The text of a function body being written.
struct Code {
    out: String,
    next: u32,
    lanes: u32,
}

impl Code {
    fn new(lanes: u32) -> Code {
        Code {
            out: String::new(),
            next: 0,
            lanes,
        }
    }

    fn line(&mut self, s: &str) {
        self.out.push_str("  ");
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// Emits `%vN = rhs` and returns `%vN`.
    fn val(&mut self, rhs: &str) -> String {
        self.next += 1;
        let name = format!("%v{}", self.next);
        let _ = writeln!(self.out, "  {name} = {rhs}");
        name
    }

    fn start(&mut self, label: &str) {
        let _ = writeln!(self.out, "{label}:");
    }

    /// `<W x elem>`.
    fn vt(&self, elem: &str) -> String {
        format!("<{} x {elem}>", self.lanes)
    }

    fn d(&self) -> String {
        self.vt("double")
    }

    fn i(&self) -> String {
        self.vt("i32")
    }

    fn b(&self) -> String {
        self.vt("i1")
    }

    fn l(&self) -> String {
        self.vt("i64")
    }

    fn splat(&self, elem: &str, lit: &str) -> String {
        let parts: Vec<String> = (0..self.lanes).map(|_| format!("{elem} {lit}")).collect();
        format!("<{}>", parts.join(", "))
    }

    /// A `<W x double>` constant of `x` in every lane.
    fn real(&self, x: f64) -> String {
        self.splat("double", &format!("0x{:016X}", x.to_bits()))
    }

    fn int(&self, x: i32) -> String {
        self.splat("i32", &x.to_string())
    }

    fn long(&self, x: i64) -> String {
        self.splat("i64", &x.to_string())
    }

    fn truth(&self, x: bool) -> String {
        self.splat("i1", if x { "true" } else { "false" })
    }

    /// The lane mask as a `W`-bit integer.
    fn bits(&mut self, mask: &str) -> String {
        let b = self.b();
        self.val(&format!("bitcast {b} {mask} to i{}", self.lanes))
    }

    fn fbin(&mut self, op: &str, x: &str, y: &str) -> String {
        let d = self.d();
        self.val(&format!("{op} {d} {x}, {y}"))
    }

    fn fcmp(&mut self, cc: &str, x: &str, y: &str) -> String {
        let d = self.d();
        self.val(&format!("fcmp {cc} {d} {x}, {y}"))
    }

    fn select(&mut self, ty: &str, m: &str, x: &str, y: &str) -> String {
        let b = self.b();
        self.val(&format!("select {b} {m}, {ty} {x}, {ty} {y}"))
    }

    fn dselect(&mut self, m: &str, x: &str, y: &str) -> String {
        let d = self.d();
        self.select(&d, m, x, y)
    }

    /// A vector intrinsic of one `<W x double>` argument.
    fn intrinsic(&mut self, name: &str, x: &str) -> String {
        let d = self.d();
        self.val(&format!(
            "call {d} @llvm.{name}.v{}f64({d} {x})",
            self.lanes
        ))
    }
}

/// The intrinsics the generated code may call, declared in every module.
fn intrinsic_declarations(lanes: u32) -> String {
    let d = format!("<{lanes} x double>");
    let i = format!("<{lanes} x i32>");
    let mut s = String::new();
    for name in ["sqrt", "fabs", "floor", "ceil", "round", "trunc"] {
        let _ = writeln!(s, "declare {d} @llvm.{name}.v{lanes}f64({d})");
    }
    let _ = writeln!(
        s,
        "declare {i} @llvm.fptosi.sat.v{lanes}i32.v{lanes}f64({d})"
    );
    s
}

/// `exprel` on every lane, with exactly the operations of
/// [`reference::exprel`] (see the two-lane Cranelift version,
/// `cranelift::vmath`, which this mirrors): a branch skips the range
/// reduction and the division where every lane has `k = 0`.
fn exprel_function(lanes: u32) -> String {
    let mut c = Code::new(lanes);
    let (d, l) = (c.d(), c.l());
    // Reduction.
    let over = c.fcmp("ogt", "%x", &c.real(710.0));
    let xc = c.dselect(&over, &c.real(710.0), "%x");
    let under = c.fcmp("olt", &xc, &c.real(-746.0));
    let xc = c.dselect(&under, &c.real(-746.0), &xc);
    let t = c.fbin("fmul", &xc, &c.real(reference::INV_LN2));
    let t = c.fbin("fadd", &t, &c.real(reference::ROUND));
    let kf = c.fbin("fsub", &t, &c.real(reference::ROUND));
    let central = c.fcmp("oeq", &kf, &c.real(0.0));
    let bits = c.bits(&central);
    let all = c.val(&format!("icmp eq i{lanes} {bits}, -1"));
    c.line(&format!("br i1 {all}, label %near, label %far"));

    c.start("near");
    let near = taylor(&mut c, "%x");
    c.line("br label %merge");

    c.start("far");
    let t_bits = c.val(&format!("bitcast {d} {t} to {l}"));
    let round_bits = c.long(reference::ROUND.to_bits() as i64);
    let k = c.val(&format!("sub {l} {t_bits}, {round_bits}"));
    let a = c.fbin("fmul", &kf, &c.real(reference::LN2_HI));
    let r = c.fbin("fsub", &xc, &a);
    let a = c.fbin("fmul", &kf, &c.real(reference::LN2_LO));
    let r = c.fbin("fsub", &r, &a);
    let k1 = c.val(&format!("ashr {l} {k}, {}", c.long(1)));
    let k2 = c.val(&format!("sub {l} {k}, {k1}"));
    let scale = |c: &mut Code, e: &str| {
        let biased = c.val(&format!("add {l} {e}, {}", c.long(1023)));
        let shifted = c.val(&format!("shl {l} {biased}, {}", c.long(52)));
        c.val(&format!("bitcast {l} {shifted} to {d}"))
    };
    let s1 = scale(&mut c, &k1);
    let s2 = scale(&mut c, &k2);
    let p = taylor(&mut c, &r);
    let re = c.fbin("fmul", &r, &p);
    let one = c.real(1.0);
    let s = c.fbin("fmul", &s1, &s2);
    let near_one = c.fbin("fsub", &s, &one);
    let tail = c.fbin("fmul", &s1, &re);
    let tail = c.fbin("fmul", &tail, &s2);
    let small_k = c.fbin("fadd", &near_one, &tail);
    let big = c.fbin("fadd", &one, &re);
    let big = c.fbin("fmul", &big, &s1);
    let big = c.fbin("fmul", &big, &s2);
    let big_k = c.fbin("fsub", &big, &one);
    let is_small = c.fcmp("ole", &kf, &c.real(64.0));
    let em1 = c.dselect(&is_small, &small_k, &big_k);
    let quotient = c.fbin("fdiv", &em1, "%x");
    let y = c.dselect(&central, &p, &quotient);
    let is_inf = c.fcmp("oeq", "%x", &c.real(f64::INFINITY));
    let far = c.dselect(&is_inf, "%x", &y);
    c.line("br label %merge");

    c.start("merge");
    let result = c.val(&format!("phi {d} [{near}, %near], [{far}, %far]"));
    c.line(&format!("ret {d} {result}"));
    format!(
        "define internal {d} @nmlc_exprel_v({d} %x) #1 {{\nentry:\n{}}}\n",
        c.out
    )
}

/// The Taylor polynomial of `exprel` by Estrin's scheme, as
/// [`reference::taylor`].
fn taylor(c: &mut Code, r: &str) -> String {
    let e = reference::E;
    let r2 = c.fbin("fmul", r, r);
    let r4 = c.fbin("fmul", &r2, &r2);
    let r8 = c.fbin("fmul", &r4, &r4);
    let p = |c: &mut Code, j: usize| {
        let hi = c.fbin("fmul", r, &c.real(e[j + 1]));
        c.fbin("fadd", &c.real(e[j]), &hi)
    };
    let (p0, p2, p4, p6, p8, p10) = (p(c, 0), p(c, 2), p(c, 4), p(c, 6), p(c, 8), p(c, 10));
    let t = c.fbin("fmul", &p2, &r2);
    let q0 = c.fbin("fadd", &p0, &t);
    let t = c.fbin("fmul", &p6, &r2);
    let q1 = c.fbin("fadd", &p4, &t);
    let t = c.fbin("fmul", &p10, &r2);
    let q2 = c.fbin("fadd", &p8, &t);
    let t = c.fbin("fmul", &q1, &r4);
    let s0 = c.fbin("fadd", &q0, &t);
    let t = c.fbin("fmul", &c.real(e[12]), &r4);
    let s1 = c.fbin("fadd", &q2, &t);
    let t = c.fbin("fmul", &s1, &r8);
    c.fbin("fadd", &s0, &t)
}

struct Slot {
    place: Place,
    ty: Type,
    /// The typed pointer to element 0.
    base: String,
    /// The `alloca` holding the lanes.
    var: String,
    written: bool,
}

/// The whole module text of the `W`-lane kernel of `ir`, and the libm
/// symbols it calls (to be bound to their addresses).
pub(super) fn module(
    ir: &NeuronIr,
    info: &Verified,
    lanes: u32,
    cpu: &str,
    features: &str,
) -> Result<(String, Vec<&'static str>), BackendError> {
    let mut k = Kernel::new(ir, info, lanes)?;
    k.neuron_loop();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "define i32 @{KERNEL}(i8* noalias nocapture readonly %ctx, i8** noalias nocapture readonly %cols, i32 %start, i32 %end, i32* noalias nocapture %spikes) #0 {{"
    );
    text.push_str(&k.code.out);
    text.push_str("}\n\n");
    if k.uses_exprel {
        text.push_str(&exprel_function(lanes));
    }
    text.push_str(&intrinsic_declarations(lanes));
    for (symbol, arity) in &k.calls {
        let params = vec!["double"; *arity].join(", ");
        let _ = writeln!(text, "declare double @{MATH_PREFIX}{symbol}({params}) #2");
    }
    if k.uses_random {
        let _ = writeln!(
            text,
            "declare double @{}(i64, i32, i32, i64, i32, i32) #2",
            math::RANDOM_SYMBOL
        );
    }
    let width = 64 * lanes;
    let target = format!(
        "\"target-cpu\"=\"{cpu}\" \"target-features\"=\"{features}\" \"min-legal-vector-width\"=\"{width}\" \"prefer-vector-width\"=\"{width}\""
    );
    let _ = writeln!(text, "attributes #0 = {{ nounwind {target} }}");
    let _ = writeln!(text, "attributes #1 = {{ nounwind alwaysinline {target} }}");
    let _ = writeln!(text, "attributes #2 = {{ nounwind }}");
    let _ = writeln!(text, "!0 = !{{!\"branch_weights\", i32 1, i32 4000}}");
    Ok((text, k.calls.into_keys().collect()))
}

/// The step context's fields, loaded once (`t` and `dt` splatted).
struct Ctx {
    t: String,
    dt: String,
    step: String,
    seed: String,
    population: String,
    first: String,
    /// The scales of the decay frames, splatted.
    frames: Vec<String>,
}

/// A field of the step context.
fn field(c: &mut Code, ty: &str, offset: usize) -> String {
    let at = c.val(&format!(
        "getelementptr inbounds i8, i8* %ctx, i64 {offset}"
    ));
    let p = c.val(&format!("bitcast i8* {at} to {ty}*"));
    c.val(&format!("load {ty}, {ty}* {p}"))
}

/// A scalar in every lane.
fn splat_scalar(c: &mut Code, ty: &str, x: &str) -> String {
    let v = c.vt(ty);
    let one = c.val(&format!("insertelement {v} undef, {ty} {x}, i32 0"));
    c.val(&format!(
        "shufflevector {v} {one}, {v} undef, {} zeroinitializer",
        c.vt("i32")
    ))
}

/// The element type of a column.
fn element(ty: Type) -> &'static str {
    match ty {
        Type::F64 => "double",
        Type::F32 => "float",
        Type::I32 | Type::Bool => "i32",
    }
}

/// The type of a value of an IR type, for `W` neurons.
fn lanes_type(c: &Code, ty: Type) -> String {
    match ty {
        Type::F64 | Type::F32 => c.d(),
        Type::I32 => c.i(),
        Type::Bool => c.b(),
    }
}

struct Kernel<'m> {
    ir: &'m NeuronIr,
    ctx: Ctx,
    /// The `alloca` of the spike flags.
    spiked: String,
    code: Code,
    single: bool,
    columns: Vec<Slot>,
    locals: Vec<String>,
    mask: Option<String>,
    cache: ExprCache<Val>,
    /// The index of the first neuron of the lanes (`i32`), in the body.
    index: String,
    /// The libm symbols called, with their number of arguments.
    calls: BTreeMap<&'static str, usize>,
    uses_exprel: bool,
    uses_random: bool,
}

impl<'m> Kernel<'m> {
    fn new(ir: &'m NeuronIr, info: &Verified, lanes: u32) -> Result<Kernel<'m>, BackendError> {
        let mut code = Code::new(lanes);
        code.start("entry");
        let single = ir.precision == Precision::F32;
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
            let elem = element(col.ty);
            let slot = code.val(&format!(
                "getelementptr inbounds i8*, i8** %cols, i64 {binding}"
            ));
            let raw = code.val(&format!("load i8*, i8** {slot}, align 8"));
            let base = code.val(&format!("bitcast i8* {raw} to {elem}*"));
            let lanes_ty = lanes_type(&code, col.ty);
            let var = code.val(&format!("alloca {lanes_ty}"));
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
            .map(|ty| {
                let t = lanes_type(&code, *ty);
                code.val(&format!("alloca {t}"))
            })
            .collect();
        let round = |c: &mut Code, x: String| {
            if single {
                let s = c.val(&format!("fptrunc double {x} to float"));
                c.val(&format!("fpext float {s} to double"))
            } else {
                x
            }
        };
        let t = field(&mut code, "double", std::mem::offset_of!(StepContext, t));
        let t = round(&mut code, t);
        let t = splat_scalar(&mut code, "double", &t);
        let dt = field(&mut code, "double", std::mem::offset_of!(StepContext, dt));
        let dt = round(&mut code, dt);
        let dt = splat_scalar(&mut code, "double", &dt);
        let ctx = Ctx {
            t,
            dt,
            step: field(&mut code, "i64", std::mem::offset_of!(StepContext, step)),
            seed: field(&mut code, "i64", std::mem::offset_of!(StepContext, seed)),
            population: field(
                &mut code,
                "i32",
                std::mem::offset_of!(StepContext, population),
            ),
            first: field(
                &mut code,
                "i32",
                std::mem::offset_of!(StepContext, first_neuron),
            ),
            frames: (0..ir.frames.len())
                .map(|f| {
                    let s = field(
                        &mut code,
                        "double",
                        std::mem::offset_of!(StepContext, frames) + 8 * f,
                    );
                    splat_scalar(&mut code, "double", &s)
                })
                .collect(),
        };
        Ok(Kernel {
            ctx,
            spiked: String::new(),
            ir,
            code,
            single,
            columns,
            locals,
            mask: None,
            cache: ExprCache::new(ir),
            index: String::new(),
            calls: BTreeMap::new(),
            uses_exprel: false,
            uses_random: false,
        })
    }

    /// The loop over lanes `i, …, i + W - 1` for `i = start, start + W, …
    /// < end` (`end - start` is a multiple of `W`), tested at the bottom.
    fn neuron_loop(&mut self) {
        let lanes = self.code.lanes;
        let (d, b) = (self.code.d(), self.code.b());
        let c = &mut self.code;
        let count = c.val("alloca i32");
        c.line(&format!("store i32 0, i32* {count}"));
        let spiked = c.val(&format!("alloca {b}"));
        // `x - x` is +0 for every finite `x` and NaN otherwise, so the OR
        // of its bits over every stored state value is zero exactly when
        // all were finite. Integer ORs keep the loop-carried chain at one
        // cycle; a mask `and` becomes a chain of masked compares (three
        // cycles each) that bounded the whole loop.
        let q = c.vt("i64");
        let finite = c.val(&format!("alloca {q}"));
        c.line(&format!("store {q} zeroinitializer, {q}* {finite}"));
        let neuron = c.val("alloca i32");
        c.line(&format!("store i32 %start, i32* {neuron}"));
        let any = c.val("icmp ult i32 %start, %end");
        c.line(&format!("br i1 {any}, label %body, label %exit"));

        c.start("body");
        self.index = c.val(&format!("load i32, i32* {neuron}"));
        let wide = c.val(&format!("zext i32 {} to i64", self.index));
        // Load the lanes of every column.
        for k in 0..self.columns.len() {
            let Slot { ty, base, var, .. } = &self.columns[k];
            let elem = element(*ty);
            let c = &mut self.code;
            let at = c.val(&format!(
                "getelementptr inbounds {elem}, {elem}* {base}, i64 {wide}"
            ));
            let ev = c.vt(elem);
            let p = c.val(&format!("bitcast {elem}* {at} to {ev}*"));
            let align = if *ty == Type::F64 { 8 } else { 4 };
            let v = c.val(&format!("load {ev}, {ev}* {p}, align {align}"));
            let v = if *ty == Type::F32 {
                c.val(&format!("fpext {ev} {v} to {d}"))
            } else {
                v
            };
            let lt = lanes_type(c, *ty);
            c.line(&format!("store {lt} {v}, {lt}* {var}"));
        }
        for k in 0..self.locals.len() {
            let lt = lanes_type(&self.code, self.ir.local_types[k]);
            let var = self.locals[k].clone();
            self.code
                .line(&format!("store {lt} zeroinitializer, {lt}* {var}"));
        }
        self.code
            .line(&format!("store {b} zeroinitializer, {b}* {spiked}"));
        self.spiked = spiked.clone();
        self.cache.clear();
        self.mask = None;
        let ir = self.ir;
        lanes::block(self, &ir.step);

        // Store the written columns.
        let mut checks = Vec::new();
        for k in 0..self.columns.len() {
            let Slot {
                ty,
                base,
                var,
                written,
                ..
            } = &self.columns[k];
            if !written {
                continue;
            }
            let elem = element(*ty);
            let state = matches!(self.columns[k].place, Place::State(_));
            let c = &mut self.code;
            let lt = lanes_type(c, *ty);
            let v = c.val(&format!("load {lt}, {lt}* {var}"));
            if state && *ty != Type::I32 {
                // An `f32` column's value is already rounded to single
                // precision, so it overflowed if it is infinite here.
                let zero = c.val(&format!("fsub {d} {v}, {v}"));
                checks.push(c.val(&format!("bitcast {d} {zero} to {q}")));
            }
            let ev = c.vt(elem);
            let v = if *ty == Type::F32 {
                c.val(&format!("fptrunc {d} {v} to {ev}"))
            } else {
                v
            };
            let at = c.val(&format!(
                "getelementptr inbounds {elem}, {elem}* {base}, i64 {wide}"
            ));
            let p = c.val(&format!("bitcast {elem}* {at} to {ev}*"));
            let align = if *ty == Type::F64 { 8 } else { 4 };
            c.line(&format!("store {ev} {v}, {ev}* {p}, align {align}"));
        }

        // Into the running value (integer ORs: one cycle each).
        let c = &mut self.code;
        let so_far = c.val(&format!("load {q}, {q}* {finite}"));
        let all = checks
            .iter()
            .fold(so_far, |acc, x| c.val(&format!("or {q} {acc}, {x}")));
        c.line(&format!("store {q} {all}, {q}* {finite}"));

        // Spikes are rare: one test of every lane's flag skips the
        // appending. Each index is then written at `spikes[count]` and
        // `count` advances by its flag; `count` is at most the number of
        // neurons done before, so every write stays within the `end -
        // start` entries the caller provides.
        let flags = c.val(&format!("load {b}, {b}* {spiked}"));
        let bits = c.bits(&flags);
        let has = c.val(&format!("icmp ne i{lanes} {bits}, 0"));
        c.line(&format!(
            "br i1 {has}, label %append, label %latch, !prof !0"
        ));
        c.start("append");
        for lane in 0..lanes {
            let n = c.val(&format!("load i32, i32* {count}"));
            let n64 = c.val(&format!("zext i32 {n} to i64"));
            let at = c.val(&format!(
                "getelementptr inbounds i32, i32* %spikes, i64 {n64}"
            ));
            let i = c.val(&format!("add i32 {}, {lane}", self.index));
            c.line(&format!("store i32 {i}, i32* {at}, align 4"));
            let f = c.val(&format!("lshr i{lanes} {bits}, {lane}"));
            let f = c.val(&format!("and i{lanes} {f}, 1"));
            let f = if lanes < 32 {
                c.val(&format!("zext i{lanes} {f} to i32"))
            } else {
                f
            };
            let n1 = c.val(&format!("add i32 {n}, {f}"));
            c.line(&format!("store i32 {n1}, i32* {count}"));
        }
        c.line("br label %latch");
        c.start("latch");
        let next = c.val(&format!("add i32 {}, {lanes}", self.index));
        c.line(&format!("store i32 {next}, i32* {neuron}"));
        let more = c.val(&format!("icmp ult i32 {next}, %end"));
        c.line(&format!("br i1 {more}, label %body, label %exit"));
        c.start("exit");
        let n = c.val(&format!("load i32, i32* {count}"));
        // Bit 31: a state value stored was not finite.
        let flags = c.val(&format!("load {q}, {q}* {finite}"));
        let any = c.val(&format!("icmp ne {q} {flags}, zeroinitializer"));
        let bits = c.bits(&any);
        let bad = c.val(&format!("icmp ne i{lanes} {bits}, 0"));
        let bad = c.val(&format!("zext i1 {bad} to i32"));
        let bad = c.val(&format!("shl i32 {bad}, 31"));
        let n = c.val(&format!("or i32 {n}, {bad}"));
        c.line(&format!("ret i32 {n}"));
    }
}

impl Kernel<'_> {
    // ----- statements -------------------------------------------------

    fn store(&mut self, place: Place, v: Val) {
        let (var, ty) = match place {
            Place::Local(k) => (
                self.locals[k as usize].clone(),
                self.ir.local_types[k as usize],
            ),
            column => {
                let Some(slot) = self.columns.iter().find(|c| c.place == column) else {
                    return;
                };
                (slot.var.clone(), slot.ty)
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
        let lt = lanes_type(&self.code, ty);
        let new = match self.mask.clone() {
            None => new,
            Some(m) => {
                let old = self.code.val(&format!("load {lt}, {lt}* {var}"));
                self.code.select(&lt, &m, &new, &old)
            }
        };
        self.code.line(&format!("store {lt} {new}, {lt}* {var}"));
        self.cache.forget(place);
    }

    // ----- expressions ------------------------------------------------

    fn expr(&mut self, h: Handle<Expr>) -> Val {
        let ir = self.ir;
        exprs::expr(self, ir, h)
    }

    fn load(&mut self, place: Place) -> Val {
        let (var, ty) = match place {
            Place::Local(k) => (
                self.locals[k as usize].clone(),
                self.ir.local_types[k as usize],
            ),
            column => {
                let slot = self
                    .columns
                    .iter()
                    .find(|c| c.place == column)
                    .expect("every loaded column has a slot (see `used_places`)");
                (slot.var.clone(), slot.ty)
            }
        };
        let lt = lanes_type(&self.code, ty);
        let v = self.code.val(&format!("load {lt}, {lt}* {var}"));
        match ty {
            Type::F64 | Type::F32 => Val::Real(v),
            Type::I32 => Val::Int(v),
            Type::Bool => Val::Bool(v),
        }
    }

    /// A libm function called for each lane.
    fn call_lanes(&mut self, symbol: &'static str, args: &[String]) -> String {
        self.calls.insert(symbol, args.len());
        let c = &mut self.code;
        let d = c.d();
        let mut acc = "undef".to_string();
        for lane in 0..c.lanes {
            let lane_args: Vec<String> = args
                .iter()
                .map(|a| {
                    let x = c.val(&format!("extractelement {d} {a}, i32 {lane}"));
                    format!("double {x}")
                })
                .collect();
            let r = c.val(&format!(
                "call double @{MATH_PREFIX}{symbol}({})",
                lane_args.join(", ")
            ));
            acc = c.val(&format!("insertelement {d} {acc}, double {r}, i32 {lane}"));
        }
        acc
    }

    /// Reals as `i32` lanes (`x as i32`: saturating, NaN 0).
    fn saturate_to_int(&mut self, x: &str) -> String {
        let (d, i, lanes) = (self.code.d(), self.code.i(), self.code.lanes);
        self.code.val(&format!(
            "call {i} @llvm.fptosi.sat.v{lanes}i32.v{lanes}f64({d} {x})"
        ))
    }

    fn int_of(&mut self, v: Val) -> String {
        match v {
            Val::Int(x) => x,
            Val::Bool(m) => {
                let (i, b) = (self.code.i(), self.code.b());
                self.code.val(&format!("zext {b} {m} to {i}"))
            }
            Val::Real(x) => self.saturate_to_int(&x),
        }
    }
}

impl exprs::Lower for Kernel<'_> {
    type V = String;

    fn cache(&mut self) -> &mut ExprCache<Val> {
        &mut self.cache
    }

    fn single(&self) -> bool {
        self.single
    }

    fn real(&mut self, x: f64) -> String {
        self.code.real(x)
    }

    fn int(&mut self, x: i32) -> String {
        self.code.int(x)
    }

    fn truth(&mut self, x: bool) -> String {
        self.code.truth(x)
    }

    fn load(&mut self, place: Place) -> Val {
        Kernel::load(self, place)
    }

    fn time(&mut self) -> String {
        self.ctx.t.clone()
    }

    fn dt(&mut self) -> String {
        self.ctx.dt.clone()
    }

    fn frame_scale(&mut self, f: u32) -> String {
        self.ctx.frames[f as usize].clone()
    }

    fn index(&mut self) -> String {
        let first = self.ctx.first.clone();
        let n = self.code.val(&format!("add i32 {}, {first}", self.index));
        let n = splat_scalar(&mut self.code, "i32", &n);
        let offsets: Vec<String> = (0..self.code.lanes).map(|l| format!("i32 {l}")).collect();
        let i = self.code.i();
        let n = self
            .code
            .val(&format!("add {i} {n}, <{}>", offsets.join(", ")));
        let d = self.code.d();
        self.code.val(&format!("uitofp {i} {n} to {d}"))
    }

    fn random(&mut self, kind: RandomFn, draw: u32) -> String {
        self.uses_random = true;
        let normal = i32::from(kind == RandomFn::Normal);
        let first = self.ctx.first.clone();
        let first = self.code.val(&format!("add i32 {}, {first}", self.index));
        let Ctx {
            seed,
            population,
            step,
            ..
        } = &self.ctx;
        let (seed, population, step) = (seed.clone(), population.clone(), step.clone());
        let d = self.code.d();
        let mut acc = "undef".to_string();
        for lane in 0..self.code.lanes {
            let neuron = self.code.val(&format!("add i32 {first}, {lane}"));
            let x = self.code.val(&format!(
                "call double @{}(i64 {seed}, i32 {population}, i32 {neuron}, i64 {step}, i32 {draw}, i32 {normal})",
                math::RANDOM_SYMBOL
            ));
            acc = self
                .code
                .val(&format!("insertelement {d} {acc}, double {x}, i32 {lane}"));
        }
        acc
    }

    fn int_arith(&mut self, op: BinaryOp, x: String, y: String) -> String {
        let name = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            _ => "mul",
        };
        let i = self.code.i();
        self.code.val(&format!("{name} {i} {x}, {y}"))
    }

    fn int_neg(&mut self, x: String) -> String {
        let i = self.code.i();
        self.code.val(&format!("sub {i} zeroinitializer, {x}"))
    }

    fn int_cmp(&mut self, op: BinaryOp, x: String, y: String) -> String {
        let cc = int_cc(op).expect("a comparison");
        let i = self.code.i();
        self.code.val(&format!("icmp {cc} {i} {x}, {y}"))
    }

    fn to_int(&mut self, x: String) -> String {
        self.saturate_to_int(&x)
    }

    fn and(&mut self, x: String, y: String) -> String {
        let b = self.code.b();
        self.code.val(&format!("and {b} {x}, {y}"))
    }

    fn or(&mut self, x: String, y: String) -> String {
        let b = self.code.b();
        self.code.val(&format!("or {b} {x}, {y}"))
    }

    fn not(&mut self, x: String) -> String {
        let (b, all) = (self.code.b(), self.code.truth(true));
        self.code.val(&format!("xor {b} {x}, {all}"))
    }

    fn truth_eq(&mut self, op: BinaryOp, x: String, y: String) -> String {
        let cc = if op == BinaryOp::Eq { "eq" } else { "ne" };
        let b = self.code.b();
        self.code.val(&format!("icmp {cc} {b} {x}, {y}"))
    }

    fn fneg(&mut self, x: String) -> String {
        let d = self.code.d();
        self.code.val(&format!("fneg {d} {x}"))
    }

    fn farith(&mut self, op: BinaryOp, x: String, y: String) -> String {
        let name = match op {
            BinaryOp::Add => "fadd",
            BinaryOp::Sub => "fsub",
            BinaryOp::Mul => "fmul",
            _ => "fdiv",
        };
        self.code.fbin(name, &x, &y)
    }

    fn fcmp(&mut self, op: BinaryOp, x: String, y: String) -> String {
        let cc = float_cc(op).expect("a comparison");
        self.code.fcmp(cc, &x, &y)
    }

    fn is_nan(&mut self, x: String) -> String {
        self.code.fcmp("uno", &x, &x)
    }

    fn native(&mut self, m: MathFn, x: String) -> String {
        let name = match m {
            MathFn::Sqrt => "sqrt",
            MathFn::Abs => "fabs",
            MathFn::Floor => "floor",
            _ => "ceil",
        };
        self.code.intrinsic(name, &x)
    }

    /// `llvm.round`: half away from zero, as `f64::round`.
    fn round_half_away(&mut self, x: String) -> String {
        self.code.intrinsic("round", &x)
    }

    fn call(&mut self, symbol: &'static str, args: &[String]) -> String {
        self.call_lanes(symbol, args)
    }

    fn inline_exprel(&mut self, x: String) -> Option<String> {
        self.uses_exprel = true;
        let d = self.code.d();
        Some(self.code.val(&format!("call {d} @nmlc_exprel_v({d} {x})")))
    }

    fn select(&mut self, kind: exprs::Kind, c: String, x: String, y: String) -> String {
        match kind {
            exprs::Kind::Real => self.code.dselect(&c, &x, &y),
            exprs::Kind::Int => {
                let i = self.code.i();
                self.code.select(&i, &c, &x, &y)
            }
            exprs::Kind::Bool => {
                let b = self.code.b();
                self.code.select(&b, &c, &x, &y)
            }
        }
    }

    /// Rounds every lane to single precision and back in `f32` models.
    fn round(&mut self, x: String) -> String {
        if self.single {
            let (d, f) = (self.code.d(), self.code.vt("float"));
            let s = self.code.val(&format!("fptrunc {d} {x} to {f}"));
            self.code.val(&format!("fpext {f} {s} to {d}"))
        } else {
            x
        }
    }

    fn real_of(&mut self, v: Val) -> String {
        let (d, i, b) = (self.code.d(), self.code.i(), self.code.b());
        match v {
            Val::Real(x) => x,
            Val::Int(x) => self.code.val(&format!("sitofp {i} {x} to {d}")),
            Val::Bool(m) => self.code.val(&format!("uitofp {b} {m} to {d}")),
        }
    }

    fn bool_of(&mut self, v: Val) -> String {
        match v {
            Val::Bool(m) => m,
            Val::Int(x) => {
                let i = self.code.i();
                self.code.val(&format!("icmp ne {i} {x}, zeroinitializer"))
            }
            Val::Real(x) => {
                let zero = self.code.real(0.0);
                self.code.fcmp("une", &x, &zero)
            }
        }
    }
}

/// The signed integer comparison of a comparison operator.
fn int_cc(op: BinaryOp) -> Option<&'static str> {
    match op {
        BinaryOp::Lt => Some("slt"),
        BinaryOp::Le => Some("sle"),
        BinaryOp::Gt => Some("sgt"),
        BinaryOp::Ge => Some("sge"),
        BinaryOp::Eq => Some("eq"),
        BinaryOp::Ne => Some("ne"),
        _ => None,
    }
}

/// The float comparison of a comparison operator: ordered, except `!=`,
/// which is true for NaN (Rust's `!=`).
fn float_cc(op: BinaryOp) -> Option<&'static str> {
    match op {
        BinaryOp::Lt => Some("olt"),
        BinaryOp::Le => Some("ole"),
        BinaryOp::Gt => Some("ogt"),
        BinaryOp::Ge => Some("oge"),
        BinaryOp::Eq => Some("oeq"),
        BinaryOp::Ne => Some("une"),
        _ => None,
    }
}

impl lanes::MaskedLanes for Kernel<'_> {
    type Val = Val;
    type Mask = String;

    fn expr(&mut self, h: Handle<Expr>) -> Val {
        Kernel::expr(self, h)
    }

    fn truth(&mut self, v: Val) -> String {
        self.bool_of(v)
    }

    fn and(&mut self, a: &String, b: &String) -> String {
        exprs::Lower::and(self, a.clone(), b.clone())
    }

    fn and_not(&mut self, a: &String, b: &String) -> String {
        let not_b = exprs::Lower::not(self, b.clone());
        exprs::Lower::and(self, a.clone(), not_b)
    }

    fn not(&mut self, a: &String) -> String {
        exprs::Lower::not(self, a.clone())
    }

    fn store(&mut self, place: Place, v: Val) {
        Kernel::store(self, place, v);
    }

    fn spike(&mut self) {
        let b = self.code.b();
        let lanes = match &self.mask {
            Some(m) => m.clone(),
            None => self.code.truth(true),
        };
        let spiked = self.spiked.clone();
        let old = self.code.val(&format!("load {b}, {b}* {spiked}"));
        let new = self.code.val(&format!("or {b} {old}, {lanes}"));
        self.code.line(&format!("store {b} {new}, {b}* {spiked}"));
    }

    fn mask(&mut self) -> &mut Option<String> {
        &mut self.mask
    }
}
