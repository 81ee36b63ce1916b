//! The expressions of a step kernel, lowered the same way by every code
//! generator: Cranelift's scalar and two-neuron kernels and LLVM's wide
//! kernel.
//!
//! What the interpreter defines (the rules for operands of mixed kinds,
//! the floored remainder, `min` and `max` as Rust computes them, `sign`,
//! `heaviside`, which results an `f32` model rounds) is written here once,
//! in terms of the primitive operations of [`Lower`] that each generator
//! provides for its own values (Cranelift `Value`s of one or two lanes,
//! LLVM operands of `W` lanes). Every primitive performs exactly one IEEE
//! operation per lane, or a libm call, so a generator that implements them
//! faithfully is bit-identical to the interpreter.

use crate::backend::math::{self, Lowering};
use crate::backend::places::ExprCache;
use crate::ir::{BinaryOp, Expr, Handle, MathFn, NeuronIr, Place, RandomFn, Type, UnaryOp};

/// A lowered value, by the kind the interpreter gives it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<V> {
    /// A real: `f64` lanes (rounded to `f32` precision where the
    /// interpreter rounds).
    Real(V),
    /// An `i32` (in each lane).
    Int(V),
    /// A truth value (in each lane).
    Bool(V),
}

/// The kind of the operands of a [`Lower::select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Real,
    Int,
    Bool,
}

/// The primitive operations of a code generator, on its values `V`.
pub(crate) trait Lower {
    /// A value: one lane or several.
    type V: Clone;

    /// The values of the expressions lowered so far.
    fn cache(&mut self) -> &mut ExprCache<Val<Self::V>>;
    /// Whether the model computes in single precision.
    fn single(&self) -> bool;

    // ----- leaves -----------------------------------------------------

    /// A real constant (already rounded for an `f32` model).
    fn real(&mut self, x: f64) -> Self::V;
    fn int(&mut self, x: i32) -> Self::V;
    fn truth(&mut self, x: bool) -> Self::V;
    fn load(&mut self, place: Place) -> Val<Self::V>;
    fn time(&mut self) -> Self::V;
    fn dt(&mut self) -> Self::V;
    /// The population index of the neuron (of each lane), as a real.
    fn index(&mut self) -> Self::V;
    /// The scale of decay frame `f` ([`crate::abi::StepContext::frames`]).
    fn frame_scale(&mut self, f: u32) -> Self::V;
    /// Draw `draw` of the neuron's noise stream, before rounding.
    fn random(&mut self, kind: RandomFn, draw: u32) -> Self::V;

    // ----- integers (`i32`, wrapping) ---------------------------------

    /// `Add`, `Sub` or `Mul`.
    fn int_arith(&mut self, op: BinaryOp, x: Self::V, y: Self::V) -> Self::V;
    fn int_neg(&mut self, x: Self::V) -> Self::V;
    /// A comparison, signed.
    fn int_cmp(&mut self, op: BinaryOp, x: Self::V, y: Self::V) -> Self::V;
    /// `x as i32`: saturating, NaN to 0.
    fn to_int(&mut self, x: Self::V) -> Self::V;

    // ----- truth values -----------------------------------------------

    fn and(&mut self, x: Self::V, y: Self::V) -> Self::V;
    fn or(&mut self, x: Self::V, y: Self::V) -> Self::V;
    fn not(&mut self, x: Self::V) -> Self::V;
    /// `Eq` or `Ne` of two truth values.
    fn truth_eq(&mut self, op: BinaryOp, x: Self::V, y: Self::V) -> Self::V;

    // ----- reals (not rounded) ----------------------------------------

    fn fneg(&mut self, x: Self::V) -> Self::V;
    /// `Add`, `Sub`, `Mul` or `Div`.
    fn farith(&mut self, op: BinaryOp, x: Self::V, y: Self::V) -> Self::V;
    /// A comparison as Rust's operators make it: false where an operand is
    /// NaN, except `!=`, which is true.
    fn fcmp(&mut self, op: BinaryOp, x: Self::V, y: Self::V) -> Self::V;
    fn is_nan(&mut self, x: Self::V) -> Self::V;
    /// `Sqrt`, `Abs`, `Floor` or `Ceil`: one instruction.
    fn native(&mut self, m: MathFn, x: Self::V) -> Self::V;
    /// `f64::round`: half away from zero.
    fn round_half_away(&mut self, x: Self::V) -> Self::V;
    /// A libm function of [`math::symbols`], for each lane.
    fn call(&mut self, symbol: &'static str, args: &[Self::V]) -> Self::V;
    /// `exprel` inline, where the generator has it (else it is called).
    fn inline_exprel(&mut self, _x: Self::V) -> Option<Self::V> {
        None
    }
    /// `c ? x : y`, lane by lane.
    fn select(&mut self, kind: Kind, c: Self::V, x: Self::V, y: Self::V) -> Self::V;
    /// Rounds to single precision in an `f32` model; otherwise `x`.
    fn round(&mut self, x: Self::V) -> Self::V;

    // ----- conversions ------------------------------------------------

    /// `Value::real`: integers and truth values as reals.
    fn real_of(&mut self, v: Val<Self::V>) -> Self::V;
    /// `Value::bool`: non-zero (or NaN) is true.
    fn bool_of(&mut self, v: Val<Self::V>) -> Self::V;
}

/// The value of expression `h` of `ir`, lowered once per kernel position
/// (the cache says which values are still valid).
pub(crate) fn expr<L: Lower>(l: &mut L, ir: &NeuronIr, h: Handle<Expr>) -> Val<L::V> {
    if let Some(v) = l.cache().get(h) {
        return v;
    }
    let v = lower_expr(l, ir, h);
    l.cache().insert(h, v.clone());
    v
}

fn lower_expr<L: Lower>(l: &mut L, ir: &NeuronIr, h: Handle<Expr>) -> Val<L::V> {
    match ir.exprs.get(h) {
        Expr::Real(x) => {
            let x = if l.single() { f64::from(*x as f32) } else { *x };
            Val::Real(l.real(x))
        }
        Expr::Int(i) => Val::Int(l.int(*i)),
        Expr::Bool(v) => Val::Bool(l.truth(*v)),
        Expr::Load(place) => l.load(*place),
        Expr::Time => Val::Real(l.time()),
        Expr::Dt => Val::Real(l.dt()),
        Expr::Index => Val::Real(l.index()),
        Expr::FrameScale(f) => Val::Real(l.frame_scale(*f)),
        Expr::Unary(op, x) => match (op, expr(l, ir, *x)) {
            (UnaryOp::Neg, Val::Int(i)) => Val::Int(l.int_neg(i)),
            (UnaryOp::Neg, other) => {
                let r = l.real_of(other);
                Val::Real(l.fneg(r))
            }
            (UnaryOp::Not, other) => {
                let c = l.bool_of(other);
                Val::Bool(l.not(c))
            }
        },
        Expr::Binary(op, a, b) => {
            let (a, b) = (expr(l, ir, *a), expr(l, ir, *b));
            binary(l, *op, a, b, ir.exprs.ty(h))
        }
        Expr::Math(m, xs) => {
            let args: Vec<L::V> = xs
                .iter()
                .map(|x| {
                    let v = expr(l, ir, *x);
                    l.real_of(v)
                })
                .collect();
            let r = math(l, *m, &args);
            Val::Real(l.round(r))
        }
        Expr::Select(c, a, b) => {
            let (c, a, b) = (expr(l, ir, *c), expr(l, ir, *a), expr(l, ir, *b));
            let c = l.bool_of(c);
            match (a, b) {
                (Val::Int(x), Val::Int(y)) => Val::Int(l.select(Kind::Int, c, x, y)),
                (Val::Bool(x), Val::Bool(y)) => Val::Bool(l.select(Kind::Bool, c, x, y)),
                (a, b) => {
                    let (x, y) = (l.real_of(a), l.real_of(b));
                    Val::Real(l.select(Kind::Real, c, x, y))
                }
            }
        }
        Expr::Random(kind, draw) => {
            let x = l.random(*kind, *draw);
            Val::Real(l.round(x))
        }
        Expr::RoundToInt(x) => {
            let x = expr(l, ir, *x);
            let x = l.real_of(x);
            let r = l.round_half_away(x);
            Val::Int(l.to_int(r))
        }
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne
    )
}

/// A binary operation with the interpreter's rules for mixed kinds:
/// integer arithmetic and comparisons stay integer, other integer
/// operations and every mixed one are done on reals; `and`/`or` take
/// truth values; `==`/`!=` of two truth values compare them as such.
fn binary<L: Lower>(l: &mut L, op: BinaryOp, a: Val<L::V>, b: Val<L::V>, ty: Type) -> Val<L::V> {
    if let (Val::Int(x), Val::Int(y)) = (&a, &b) {
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                return Val::Int(l.int_arith(op, x.clone(), y.clone()));
            }
            BinaryOp::And | BinaryOp::Or => {}
            _ if is_comparison(op) => return Val::Bool(l.int_cmp(op, x.clone(), y.clone())),
            _ => {
                let (x, y) = (l.real_of(a), l.real_of(b));
                return Val::Real(real_binary(l, op, x, y));
            }
        }
    }
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let (x, y) = (l.bool_of(a), l.bool_of(b));
            Val::Bool(if op == BinaryOp::And {
                l.and(x, y)
            } else {
                l.or(x, y)
            })
        }
        BinaryOp::Eq | BinaryOp::Ne if ty == Type::Bool && matches!(a, Val::Bool(_)) => {
            let (x, y) = (l.bool_of(a), l.bool_of(b));
            Val::Bool(l.truth_eq(op, x, y))
        }
        _ => {
            let (x, y) = (l.real_of(a), l.real_of(b));
            if is_comparison(op) {
                Val::Bool(l.fcmp(op, x, y))
            } else {
                Val::Real(real_binary(l, op, x, y))
            }
        }
    }
}

/// Arithmetic on reals, rounded for `f32` models; `%` is the floored
/// remainder `a - b · floor(a / b)`, as the interpreter computes it.
fn real_binary<L: Lower>(l: &mut L, op: BinaryOp, a: L::V, b: L::V) -> L::V {
    let r = match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => l.farith(op, a, b),
        BinaryOp::Rem => {
            let q = l.farith(BinaryOp::Div, a.clone(), b.clone());
            let q = l.native(MathFn::Floor, q);
            let p = l.farith(BinaryOp::Mul, b, q);
            l.farith(BinaryOp::Sub, a, p)
        }
        BinaryOp::Pow => l.call(math::POW, &[a, b]),
        // Comparisons and logic are handled by `binary`.
        _ => a,
    };
    l.round(r)
}

/// A math function of real arguments, before rounding.
fn math<L: Lower>(l: &mut L, m: MathFn, a: &[L::V]) -> L::V {
    if m == MathFn::Exprel
        && let Some(r) = l.inline_exprel(a[0].clone())
    {
        return r;
    }
    if let Lowering::Call { symbol, arity } = math::lowering(m) {
        return l.call(symbol, &a[..arity]);
    }
    let x = a[0].clone();
    match m {
        MathFn::Sqrt | MathFn::Abs | MathFn::Floor | MathFn::Ceil => l.native(m, x),
        MathFn::Round => l.round_half_away(x),
        MathFn::Min => min(l, x, a[1].clone()),
        MathFn::Max => max(l, x, a[1].clone()),
        MathFn::Clip => {
            let m = max(l, x, a[1].clone());
            min(l, m, a[2].clone())
        }
        MathFn::Sign => {
            let (zero, one, minus_one) = (l.real(0.0), l.real(1.0), l.real(-1.0));
            let neg = l.fcmp(BinaryOp::Lt, x.clone(), zero.clone());
            let pos = l.fcmp(BinaryOp::Gt, x.clone(), zero);
            // 0, -0 and NaN are returned unchanged.
            let r = l.select(Kind::Real, neg, minus_one, x);
            l.select(Kind::Real, pos, one, r)
        }
        MathFn::Heaviside => {
            let (zero, one) = (l.real(0.0), l.real(1.0));
            let pos = l.fcmp(BinaryOp::Gt, x, zero.clone());
            l.select(Kind::Real, pos, one, zero)
        }
        // Calls, handled above.
        _ => x,
    }
}

/// `f64::min`: the smaller operand, ignoring a NaN one. Written as Rust's
/// x86-64 code computes it (`isnan(a) ? b : (b < a ? b : a)`), which also
/// fixes which zero `min(-0, 0)` returns.
fn min<L: Lower>(l: &mut L, a: L::V, b: L::V) -> L::V {
    let less = l.fcmp(BinaryOp::Lt, b.clone(), a.clone());
    let m = l.select(Kind::Real, less, b.clone(), a.clone());
    let a_nan = l.is_nan(a);
    l.select(Kind::Real, a_nan, b, m)
}

/// `f64::max`, as [`min`].
fn max<L: Lower>(l: &mut L, a: L::V, b: L::V) -> L::V {
    let greater = l.fcmp(BinaryOp::Gt, b.clone(), a.clone());
    let m = l.select(Kind::Real, greater, b.clone(), a.clone());
    let a_nan = l.is_nan(a);
    l.select(Kind::Real, a_nan, b, m)
}
