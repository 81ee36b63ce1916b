//! The reference interpreter of the IR.
//!
//! Simple and obviously correct rather than fast: it walks the statements of
//! a kernel for one neuron at a time and evaluates expression trees
//! recursively, at each use. It defines what the IR means; the JIT and the
//! other backends are tested against it.
//!
//! Semantics it fixes for every backend:
//! - an expression is evaluated when the statement that uses it runs, so a
//!   `Load` sees every earlier `Store` of the kernel;
//! - reals are computed in double precision and, for `f32` models, rounded to
//!   single precision after every operation (math functions included);
//! - `Rem` is the floored remainder, `Round` rounds half away from zero,
//!   `sign(0) = 0`, `heaviside(x) = 1` for `x > 0` else 0, `exprel(0) = 1`,
//!   `clip(x, lo, hi) = min(max(x, lo), hi)`, `min`/`max` ignore a NaN operand
//!   (IEEE minNum/maxNum, as Rust's `f64::min`);
//! - `RoundToInt` rounds half away from zero and saturates to `i32`.

use super::*;
use crate::abi::{ColumnData, StepContext, random};

/// A runtime value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A real (held as f64; rounded to f32 for single-precision models).
    Real(f64),
    /// An integer.
    Int(i32),
    /// A truth value.
    Bool(bool),
}

impl Value {
    fn real(self) -> f64 {
        match self {
            Value::Real(x) => x,
            Value::Int(i) => f64::from(i),
            Value::Bool(b) => f64::from(u8::from(b)),
        }
    }

    fn bool(self) -> bool {
        match self {
            Value::Bool(b) => b,
            Value::Int(i) => i != 0,
            Value::Real(x) => x != 0.0,
        }
    }
}

/// Runs the kernels of one verified IR over population columns.
pub struct Interpreter<'a> {
    ir: &'a NeuronIr,
    info: &'a Verified,
    single: bool,
}

/// Per-neuron evaluation state.
struct Frame<'c> {
    cols: &'c mut [ColumnData],
    neuron: usize,
    locals: Vec<Value>,
    ctx: StepContext,
    spiked: bool,
}

impl<'a> Interpreter<'a> {
    /// An interpreter for `ir`.
    pub fn new(ir: &'a NeuronIr, info: &'a Verified) -> Interpreter<'a> {
        Interpreter {
            ir,
            info,
            single: ir.precision == Precision::F32,
        }
    }

    /// Runs `derive` then `init` for neurons `0..n` (at build time).
    pub fn build(&self, cols: &mut [ColumnData], n: usize, ctx: &StepContext) {
        for i in 0..n {
            self.run_block(&self.ir.derive, cols, i, ctx);
        }
        for i in 0..n {
            self.run_block(&self.ir.init, cols, i, ctx);
        }
    }

    /// Runs `derive` only (after parameters change).
    pub fn derive(&self, cols: &mut [ColumnData], n: usize, ctx: &StepContext) {
        for i in 0..n {
            self.run_block(&self.ir.derive, cols, i, ctx);
        }
    }

    /// Runs `init` only.
    pub fn init(&self, cols: &mut [ColumnData], n: usize, ctx: &StepContext) {
        for i in 0..n {
            self.run_block(&self.ir.init, cols, i, ctx);
        }
    }

    /// Runs one step for neurons `start..end`, appending spiking neurons.
    pub fn step(
        &self,
        ctx: &StepContext,
        cols: &mut [ColumnData],
        start: usize,
        end: usize,
        spikes: &mut Vec<u32>,
    ) {
        for i in start..end {
            if self.run_block(&self.ir.step, cols, i, ctx) {
                spikes.push(i as u32);
            }
        }
    }

    /// The value of an observable (inline definition) for neuron `i`.
    pub fn observe(
        &self,
        h: Handle<Expr>,
        cols: &mut [ColumnData],
        i: usize,
        ctx: &StepContext,
    ) -> f64 {
        let mut frame = Frame {
            cols,
            neuron: i,
            locals: vec![Value::Real(0.0); self.ir.locals as usize],
            ctx: *ctx,
            spiked: false,
        };
        self.eval(h, &mut frame).real()
    }

    /// Evaluates a parameter-only expression for neuron `i` (spike-input
    /// factors).
    pub fn eval_for(
        &self,
        h: Handle<Expr>,
        cols: &mut [ColumnData],
        i: usize,
        ctx: &StepContext,
    ) -> f64 {
        self.observe(h, cols, i, ctx)
    }

    fn run_block(
        &self,
        block: &Block,
        cols: &mut [ColumnData],
        neuron: usize,
        ctx: &StepContext,
    ) -> bool {
        let mut frame = Frame {
            cols,
            neuron,
            locals: vec![Value::Real(0.0); self.ir.locals as usize],
            ctx: *ctx,
            spiked: false,
        };
        self.exec(block, &mut frame);
        frame.spiked
    }

    fn exec(&self, block: &Block, f: &mut Frame) {
        for s in &block.0 {
            match s {
                Stmt::Store(place, h) => {
                    let v = self.eval(*h, f);
                    self.store(*place, v, f);
                }
                Stmt::If(c, a, b) => {
                    if self.eval(*c, f).bool() {
                        self.exec(a, f);
                    } else {
                        self.exec(b, f);
                    }
                }
                Stmt::While {
                    condition,
                    body,
                    max_iterations,
                } => {
                    let mut n = 0;
                    while n < *max_iterations && self.eval(*condition, f).bool() {
                        self.exec(body, f);
                        n += 1;
                    }
                }
                Stmt::Spike => f.spiked = true,
                Stmt::Integrate => unreachable!("verified IR has no placeholder"),
                Stmt::Propagator {
                    n,
                    a,
                    phi,
                    integral,
                } => {
                    let n = *n as usize;
                    let matrix: Vec<f64> = a.iter().map(|h| self.eval(*h, f).real()).collect();
                    let (p, g) = expm::propagator(&matrix, n, f.ctx.dt);
                    for (place, v) in phi.iter().zip(p) {
                        self.store(*place, Value::Real(self.round(v)), f);
                    }
                    for (place, v) in integral.iter().zip(g) {
                        self.store(*place, Value::Real(self.round(v)), f);
                    }
                }
            }
        }
    }

    fn column(&self, place: Place) -> usize {
        self.info
            .binding(place)
            .unwrap_or_else(|| panic!("verified IR: {place:?} has a column"))
    }

    fn store(&self, place: Place, v: Value, f: &mut Frame) {
        match place {
            Place::Local(k) => f.locals[k as usize] = v,
            other => {
                let c = self.column(other);
                f.cols[c].set(f.neuron, v.real());
            }
        }
    }

    fn load(&self, place: Place, f: &Frame) -> Value {
        match place {
            Place::Local(k) => f.locals[k as usize],
            Place::Refractory => Value::Int(f.cols[self.column(place)].get(f.neuron) as i32),
            other => Value::Real(f.cols[self.column(other)].get(f.neuron)),
        }
    }

    fn round(&self, x: f64) -> f64 {
        if self.single { x as f32 as f64 } else { x }
    }

    fn eval(&self, h: Handle<Expr>, f: &mut Frame) -> Value {
        let ty = self.ir.exprs.ty(h);
        match self.ir.exprs.get(h) {
            Expr::Real(x) => Value::Real(self.round(*x)),
            Expr::Int(i) => Value::Int(*i),
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Load(p) => self.load(*p, f),
            Expr::Time => Value::Real(self.round(f.ctx.t)),
            Expr::Dt => Value::Real(self.round(f.ctx.dt)),
            Expr::Index => Value::Real((f.neuron + f.ctx.first_neuron as usize) as f64),
            Expr::FrameScale(k) => Value::Real(f.ctx.frames[*k as usize]),
            Expr::Unary(op, x) => {
                let x = self.eval(*x, f);
                match op {
                    UnaryOp::Neg => match x {
                        Value::Int(i) => Value::Int(i.wrapping_neg()),
                        other => Value::Real(-other.real()),
                    },
                    UnaryOp::Not => Value::Bool(!x.bool()),
                }
            }
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.eval(*a, f), self.eval(*b, f));
                self.binary(*op, a, b, ty)
            }
            Expr::Math(m, xs) => {
                let args: Vec<f64> = xs.iter().map(|x| self.eval(*x, f).real()).collect();
                Value::Real(self.round(math(*m, &args)))
            }
            Expr::Select(c, a, b) => {
                if self.eval(*c, f).bool() {
                    self.eval(*a, f)
                } else {
                    self.eval(*b, f)
                }
            }
            Expr::Random(kind, draw) => {
                let x = random(
                    f.ctx.seed,
                    f.ctx.population,
                    f.neuron as u32 + f.ctx.first_neuron,
                    f.ctx.step,
                    *draw,
                    *kind,
                );
                Value::Real(self.round(x))
            }
            Expr::RoundToInt(x) => {
                let x = self.eval(*x, f).real().round();
                Value::Int(x.clamp(i32::MIN as f64, i32::MAX as f64) as i32)
            }
        }
    }

    fn binary(&self, op: BinaryOp, a: Value, b: Value, ty: Type) -> Value {
        if let (Value::Int(x), Value::Int(y)) = (a, b) {
            return match op {
                BinaryOp::Add => Value::Int(x.wrapping_add(y)),
                BinaryOp::Sub => Value::Int(x.wrapping_sub(y)),
                BinaryOp::Mul => Value::Int(x.wrapping_mul(y)),
                BinaryOp::Lt => Value::Bool(x < y),
                BinaryOp::Le => Value::Bool(x <= y),
                BinaryOp::Gt => Value::Bool(x > y),
                BinaryOp::Ge => Value::Bool(x >= y),
                BinaryOp::Eq => Value::Bool(x == y),
                BinaryOp::Ne => Value::Bool(x != y),
                _ => Value::Real(self.real_binary(op, f64::from(x), f64::from(y))),
            };
        }
        match op {
            BinaryOp::And => Value::Bool(a.bool() && b.bool()),
            BinaryOp::Or => Value::Bool(a.bool() || b.bool()),
            BinaryOp::Eq if ty == Type::Bool && matches!(a, Value::Bool(_)) => {
                Value::Bool(a.bool() == b.bool())
            }
            BinaryOp::Ne if ty == Type::Bool && matches!(a, Value::Bool(_)) => {
                Value::Bool(a.bool() != b.bool())
            }
            BinaryOp::Lt => Value::Bool(a.real() < b.real()),
            BinaryOp::Le => Value::Bool(a.real() <= b.real()),
            BinaryOp::Gt => Value::Bool(a.real() > b.real()),
            BinaryOp::Ge => Value::Bool(a.real() >= b.real()),
            BinaryOp::Eq => Value::Bool(a.real() == b.real()),
            BinaryOp::Ne => Value::Bool(a.real() != b.real()),
            _ => Value::Real(self.real_binary(op, a.real(), b.real())),
        }
    }

    fn real_binary(&self, op: BinaryOp, a: f64, b: f64) -> f64 {
        let r = match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Rem => a - b * (a / b).floor(),
            BinaryOp::Pow => a.powf(b),
            _ => unreachable!("comparisons handled by the caller"),
        };
        self.round(r)
    }
}

/// The math functions, as every backend must compute them (in f64).
pub fn math(m: MathFn, a: &[f64]) -> f64 {
    match m {
        MathFn::Exp => a[0].exp(),
        MathFn::Expm1 => a[0].exp_m1(),
        MathFn::Log => a[0].ln(),
        MathFn::Log10 => a[0].log10(),
        MathFn::Log2 => a[0].log2(),
        MathFn::Log1p => a[0].ln_1p(),
        MathFn::Sqrt => a[0].sqrt(),
        MathFn::Sin => a[0].sin(),
        MathFn::Cos => a[0].cos(),
        MathFn::Tan => a[0].tan(),
        MathFn::Tanh => a[0].tanh(),
        MathFn::Sinh => a[0].sinh(),
        MathFn::Cosh => a[0].cosh(),
        MathFn::Asin => a[0].asin(),
        MathFn::Acos => a[0].acos(),
        MathFn::Atan => a[0].atan(),
        MathFn::Atan2 => a[0].atan2(a[1]),
        MathFn::Abs => a[0].abs(),
        MathFn::Floor => a[0].floor(),
        MathFn::Ceil => a[0].ceil(),
        MathFn::Round => a[0].round(),
        MathFn::Min => a[0].min(a[1]),
        MathFn::Max => a[0].max(a[1]),
        MathFn::Clip => a[0].max(a[1]).min(a[2]),
        MathFn::Sign => {
            if a[0] > 0.0 {
                1.0
            } else if a[0] < 0.0 {
                -1.0
            } else {
                a[0]
            }
        }
        MathFn::Heaviside => {
            if a[0] > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        MathFn::Exprel => super::exprel::exprel(a[0]),
        MathFn::Pow => a[0].powf(a[1]),
    }
}
