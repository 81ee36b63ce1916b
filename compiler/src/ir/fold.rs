//! Optimisation passes over an integrated IR.
//!
//! - Specialisation: `dt` becomes a literal (it is fixed for a run), so
//!   parameter-only expressions of uniform parameters fold completely.
//! - Constant folding, evaluated exactly as the interpreter would (rounding
//!   to f32 for single-precision models), plus the identities `x·1`, `x+0`,
//!   `x−0`, `x/1` and selects on literal conditions.
//! - Common-subexpression elimination by hash-consing: equal expressions
//!   share one handle. (Sharing is safe because an expression is evaluated
//!   at each use, after every earlier store.)
//! - Hoisting: a subexpression of the step kernel that depends only on
//!   per-neuron parameters (and literals) is computed once per neuron into a
//!   derived column by `derive`, e.g. `exp(-dt / tau_m)` for a `tau_m` that
//!   varies between neurons.
//! - Unreachable expressions are dropped.

use super::interp::math;
use super::*;
use std::collections::HashMap;

/// Runs all passes.
pub fn optimize(ir: &mut NeuronIr) {
    let mut b = Rebuilder {
        old: std::mem::take(&mut ir.exprs),
        new: Arena::default(),
        memo: HashMap::new(),
        interned: HashMap::new(),
        dt: ir.dt,
        single: ir.precision == Precision::F32,
    };
    let derive = b.block(&ir.derive);
    let init = b.block(&ir.init);
    let mut step = b.block(&ir.step);
    let observables: Vec<_> = ir
        .observables
        .iter()
        .map(|(v, h)| (v.clone(), b.expr(*h)))
        .collect();
    for s in ir.spike_inputs.iter_mut() {
        for t in s.targets.iter_mut() {
            t.1 = b.expr(t.1);
        }
    }
    ir.exprs = b.new;
    ir.derive = derive;
    ir.init = init;
    ir.observables = observables;
    hoist(ir, &mut step);
    ir.step = step;
}

struct Rebuilder {
    old: Arena<Expr>,
    new: Arena<Expr>,
    memo: HashMap<usize, Handle<Expr>>,
    interned: HashMap<(String, Type), Handle<Expr>>,
    dt: f64,
    single: bool,
}

impl Rebuilder {
    fn block(&mut self, b: &Block) -> Block {
        b.map_exprs(&mut |h| self.expr(h))
    }

    fn round(&self, x: f64) -> f64 {
        if self.single { x as f32 as f64 } else { x }
    }

    fn intern(&mut self, e: Expr, ty: Type, span: Span) -> Handle<Expr> {
        // The debug form is a faithful key: it includes every operand handle
        // and the bit-exact literal (`{:?}` of f64 round-trips).
        let key = (format!("{e:?}"), ty);
        if let Some(h) = self.interned.get(&key) {
            return *h;
        }
        let h = self.new.push(e, ty, span);
        self.interned.insert(key, h);
        h
    }

    fn literal(&self, h: Handle<Expr>) -> Option<f64> {
        match self.new.get(h) {
            Expr::Real(x) => Some(*x),
            _ => None,
        }
    }

    fn expr(&mut self, h: Handle<Expr>) -> Handle<Expr> {
        if let Some(n) = self.memo.get(&h.index()) {
            return *n;
        }
        let ty = self.old.ty(h);
        let span = self.old.span(h);
        let e = self.old.get(h).clone();
        let out = match e {
            Expr::Dt => self.intern(Expr::Real(self.round(self.dt)), ty, span),
            Expr::Unary(op, x) => {
                let x = self.expr(x);
                match (op, self.new.get(x).clone()) {
                    (UnaryOp::Neg, Expr::Real(v)) => self.intern(Expr::Real(-v), ty, span),
                    (UnaryOp::Not, Expr::Bool(v)) => self.intern(Expr::Bool(!v), ty, span),
                    (UnaryOp::Neg, Expr::Unary(UnaryOp::Neg, inner)) => inner,
                    _ => self.intern(Expr::Unary(op, x), ty, span),
                }
            }
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                self.binary(op, a, b, ty, span)
            }
            Expr::Math(m, xs) => {
                let xs: Vec<Handle<Expr>> = xs.iter().map(|x| self.expr(*x)).collect();
                let literals: Option<Vec<f64>> = xs.iter().map(|x| self.literal(*x)).collect();
                match literals {
                    Some(v) => {
                        let r = self.round(math(m, &v));
                        self.intern(Expr::Real(r), ty, span)
                    }
                    None => self.intern(Expr::Math(m, xs), ty, span),
                }
            }
            Expr::Select(c, a, b) => {
                let (c, a, b) = (self.expr(c), self.expr(a), self.expr(b));
                match self.new.get(c) {
                    Expr::Bool(true) => a,
                    Expr::Bool(false) => b,
                    _ if a == b => a,
                    _ => self.intern(Expr::Select(c, a, b), ty, span),
                }
            }
            Expr::RoundToInt(x) => {
                let x = self.expr(x);
                match self.literal(x) {
                    Some(v) => self.intern(
                        Expr::Int(v.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32),
                        ty,
                        span,
                    ),
                    None => self.intern(Expr::RoundToInt(x), ty, span),
                }
            }
            Expr::Real(v) => self.intern(Expr::Real(self.round(v)), ty, span),
            other => self.intern(other, ty, span),
        };
        self.memo.insert(h.index(), out);
        out
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        a: Handle<Expr>,
        b: Handle<Expr>,
        ty: Type,
        span: Span,
    ) -> Handle<Expr> {
        let (la, lb) = (self.literal(a), self.literal(b));
        if let (Some(x), Some(y)) = (la, lb) {
            let folded = match op {
                BinaryOp::Add => Some(Expr::Real(self.round(x + y))),
                BinaryOp::Sub => Some(Expr::Real(self.round(x - y))),
                BinaryOp::Mul => Some(Expr::Real(self.round(x * y))),
                BinaryOp::Div => Some(Expr::Real(self.round(x / y))),
                BinaryOp::Rem => Some(Expr::Real(self.round(x - y * (x / y).floor()))),
                BinaryOp::Pow => Some(Expr::Real(self.round(x.powf(y)))),
                BinaryOp::Lt => Some(Expr::Bool(x < y)),
                BinaryOp::Le => Some(Expr::Bool(x <= y)),
                BinaryOp::Gt => Some(Expr::Bool(x > y)),
                BinaryOp::Ge => Some(Expr::Bool(x >= y)),
                BinaryOp::Eq => Some(Expr::Bool(x == y)),
                BinaryOp::Ne => Some(Expr::Bool(x != y)),
                BinaryOp::And | BinaryOp::Or => None,
            };
            if let Some(e) = folded {
                return self.intern(e, ty, span);
            }
        }
        match (op, la, lb) {
            (BinaryOp::Pow, _, Some(y)) if y == y.trunc() && y.abs() <= MAX_POWER => {
                return self.integer_power(a, y as i32, ty, span);
            }
            // Dividing by a power of two is multiplying by its reciprocal,
            // exactly: both round the same real number. A multiplication
            // costs a fraction of a division's latency.
            (BinaryOp::Div, _, Some(y)) if exact_reciprocal(y) => {
                let r = self.intern(Expr::Real(1.0 / y), ty, span);
                return self.binary(BinaryOp::Mul, a, r, ty, span);
            }
            (BinaryOp::Mul, Some(1.0), _) => return b,
            (BinaryOp::Mul | BinaryOp::Div, _, Some(1.0)) => return a,
            (BinaryOp::Add, Some(0.0), _) => return b,
            (BinaryOp::Add | BinaryOp::Sub, _, Some(0.0)) => return a,
            _ => {}
        }
        if let (BinaryOp::And | BinaryOp::Or, Expr::Bool(x), Expr::Bool(y)) =
            (op, self.new.get(a), self.new.get(b))
        {
            let v = if op == BinaryOp::And {
                *x && *y
            } else {
                *x || *y
            };
            return self.intern(Expr::Bool(v), ty, span);
        }
        self.intern(Expr::Binary(op, a, b), ty, span)
    }

    /// `x^n` for an integer `n` by binary powering (`x^4 = (x·x)·(x·x)`,
    /// `x^-n = 1 / x^n`, `x^0 = 1`), as C compilers do for `pow(x, n)`
    /// under `-ffast-math`: multiplications instead of a call to `pow`.
    /// Each multiplication rounds, so the result may differ from the
    /// correctly rounded power in the last bits (`x^2` and `x^-1` are
    /// correctly rounded).
    fn integer_power(&mut self, x: Handle<Expr>, n: i32, ty: Type, span: Span) -> Handle<Expr> {
        let mut result: Option<Handle<Expr>> = None;
        let mut square = x;
        let mut k = n.unsigned_abs();
        while k > 0 {
            if k & 1 == 1 {
                result = Some(match result {
                    None => square,
                    Some(r) => self.binary(BinaryOp::Mul, r, square, ty, span),
                });
            }
            k >>= 1;
            if k > 0 {
                square = self.binary(BinaryOp::Mul, square, square, ty, span);
            }
        }
        let one = self.intern(Expr::Real(1.0), ty, span);
        match (result, n < 0) {
            (None, _) => one,
            (Some(r), false) => r,
            (Some(r), true) => self.binary(BinaryOp::Div, one, r, ty, span),
        }
    }
}

/// Whether `y` is a power of two (either sign) whose reciprocal is a
/// normal number too: then `x / y` and `x * (1 / y)` are the same
/// operation (the exact quotient, rounded once), for every `x`.
fn exact_reciprocal(y: f64) -> bool {
    const MANTISSA: u64 = (1 << 52) - 1;
    y != 1.0 && y.is_normal() && (1.0 / y).is_normal() && y.to_bits() & MANTISSA == 0
}

/// The largest integer exponent `x ^ n` is computed for by multiplication
/// (see `Rebuilder::integer_power`): the |n| - 1 products keep the result
/// within (|n| - 1)/2 ulp of the exact power, 3.5 ulp at most.
const MAX_POWER: f64 = 8.0;

/// Moves per-neuron-parameter-only subexpressions of the step kernel into
/// derived columns.
fn hoist(ir: &mut NeuronIr, step: &mut Block) {
    let n = ir.exprs.len();
    // invariant: depends on nothing that changes during a run;
    // per_neuron: reads a per-neuron parameter or derived column.
    let mut invariant = vec![false; n];
    let mut per_neuron = vec![false; n];
    for h in ir.exprs.handles() {
        let i = h.index();
        let (inv, pn) = match ir.exprs.get(h) {
            Expr::Real(_) | Expr::Int(_) | Expr::Bool(_) | Expr::Dt => (true, false),
            Expr::Index => (true, true),
            Expr::Load(Place::Param(_) | Place::Derived(_)) => (true, true),
            Expr::Load(_) | Expr::Time | Expr::Random(..) | Expr::FrameScale(_) => (false, false),
            Expr::Unary(_, x) | Expr::RoundToInt(x) => {
                (invariant[x.index()], per_neuron[x.index()])
            }
            Expr::Binary(_, a, b) => (
                invariant[a.index()] && invariant[b.index()],
                per_neuron[a.index()] || per_neuron[b.index()],
            ),
            Expr::Select(c, a, b) => (
                invariant[c.index()] && invariant[a.index()] && invariant[b.index()],
                per_neuron[c.index()] || per_neuron[a.index()] || per_neuron[b.index()],
            ),
            Expr::Math(_, xs) => (
                xs.iter().all(|x| invariant[x.index()]),
                xs.iter().any(|x| per_neuron[x.index()]),
            ),
        };
        invariant[i] = inv;
        per_neuron[i] = pn;
    }
    let mut hoisted: HashMap<usize, Handle<Expr>> = HashMap::new();
    let mut rewritten: HashMap<usize, Handle<Expr>> = HashMap::new();
    fn visit(
        ir: &mut NeuronIr,
        h: Handle<Expr>,
        invariant: &[bool],
        per_neuron: &[bool],
        hoisted: &mut HashMap<usize, Handle<Expr>>,
        rewritten: &mut HashMap<usize, Handle<Expr>>,
    ) -> Handle<Expr> {
        let i = h.index();
        if i < invariant.len() {
            if let Some(r) = rewritten.get(&i) {
                return *r;
            }
            let leaf = matches!(
                ir.exprs.get(h),
                Expr::Load(_) | Expr::Real(_) | Expr::Int(_) | Expr::Bool(_) | Expr::Index
            );
            if invariant[i] && per_neuron[i] && !leaf && ir.exprs.ty(h) == ir.real() {
                let load = *hoisted.entry(i).or_insert_with(|| {
                    let k = ir.derived.len() as u32;
                    ir.derived.push(Variable {
                        name: format!("hoisted_{k}"),
                        unit: String::new(),
                        unit_factor: 1.0,
                    });
                    ir.derive.0.push(Stmt::Store(Place::Derived(k), h));
                    let ty = ir.real();
                    let span = ir.exprs.span(h);
                    ir.exprs.push(Expr::Load(Place::Derived(k)), ty, span)
                });
                rewritten.insert(i, load);
                return load;
            }
        }
        let ty = ir.exprs.ty(h);
        let span = ir.exprs.span(h);
        let mut sub = |x: Handle<Expr>, ir: &mut NeuronIr| {
            visit(ir, x, invariant, per_neuron, hoisted, rewritten)
        };
        let e = ir.exprs.get(h).clone();
        let new = match e {
            Expr::Unary(op, x) => {
                let x2 = sub(x, ir);
                (x2 != x).then_some(Expr::Unary(op, x2))
            }
            Expr::RoundToInt(x) => {
                let x2 = sub(x, ir);
                (x2 != x).then_some(Expr::RoundToInt(x2))
            }
            Expr::Binary(op, a, b) => {
                let (a2, b2) = (sub(a, ir), sub(b, ir));
                (a2 != a || b2 != b).then_some(Expr::Binary(op, a2, b2))
            }
            Expr::Select(c, a, b) => {
                let (c2, a2, b2) = (sub(c, ir), sub(a, ir), sub(b, ir));
                (c2 != c || a2 != a || b2 != b).then_some(Expr::Select(c2, a2, b2))
            }
            Expr::Math(m, xs) => {
                let ys: Vec<Handle<Expr>> = xs.iter().map(|x| sub(*x, ir)).collect();
                (ys != xs).then_some(Expr::Math(m, ys))
            }
            _ => None,
        };
        let out = match new {
            Some(e) => ir.exprs.push(e, ty, span),
            None => h,
        };
        if i < invariant.len() {
            rewritten.insert(i, out);
        }
        out
    }
    fn walk(
        ir: &mut NeuronIr,
        b: &mut Block,
        invariant: &[bool],
        per_neuron: &[bool],
        hoisted: &mut HashMap<usize, Handle<Expr>>,
        rewritten: &mut HashMap<usize, Handle<Expr>>,
    ) {
        for s in b.0.iter_mut() {
            match s {
                Stmt::Store(_, h) => *h = visit(ir, *h, invariant, per_neuron, hoisted, rewritten),
                Stmt::If(c, x, y) => {
                    *c = visit(ir, *c, invariant, per_neuron, hoisted, rewritten);
                    walk(ir, x, invariant, per_neuron, hoisted, rewritten);
                    walk(ir, y, invariant, per_neuron, hoisted, rewritten);
                }
                Stmt::While {
                    condition, body, ..
                } => {
                    *condition = visit(ir, *condition, invariant, per_neuron, hoisted, rewritten);
                    walk(ir, body, invariant, per_neuron, hoisted, rewritten);
                }
                _ => {}
            }
        }
    }
    walk(
        ir,
        step,
        &invariant,
        &per_neuron,
        &mut hoisted,
        &mut rewritten,
    );
}
