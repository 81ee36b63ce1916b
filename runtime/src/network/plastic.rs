//! Synapses with per-synapse state: short-term plasticity (Tsodyks–Markram)
//! and spike-timing-dependent plasticity.
//!
//! Each synapse keeps its state variables and the step of its last update.
//! When an event reaches it (a presynaptic spike after the delay, or a spike
//! of its target for `on post`), its state is first advanced exactly over
//! the time since the last update: every per-synapse equation has the form
//! `x' = a·x + b` with constant `a`, `b` (the checker makes sure), solved as
//! `x(t+Δ) = x* + (x − x*)·e^{aΔ}` with `x* = −b/a` (or `x + bΔ` when
//! `a = 0`). Then the handler's statements run, reading and writing the
//! synapse, its `post state` (stored with the target population), and the
//! target neuron's state, and reading the presynaptic neuron.
//!
//! Timing follows additive synapses: a presynaptic spike of step `n` is
//! handled at the start of step `n + 1 + D`; `on post` runs right after the
//! target's spike, at `t_{n+1}`. This part runs on one thread.

use std::collections::VecDeque;

use nmlc_compiler::ir::interp::math;
use nmlc_compiler::model::{
    AssignOp, BinaryOp, Builtin, Expr, ExprKind, NeuronVar, Projection, Stmt, SynapseModel,
    UnaryOp, Var,
};

use super::projection::Weights;

/// The per-synapse side of a projection.
pub struct Plastic {
    /// `states[k][s]`: state variable `k` of synapse `s` (CSR order).
    pub states: Vec<Vec<f64>>,
    /// Step of each synapse's last update.
    pub last: Vec<u64>,
    /// `x' = a·x + b` for each state variable: `(a, b)`.
    pub dynamics: Vec<(f64, f64)>,
    /// Per-synapse parameters, then `on pre` values, in model order.
    pub values: Vec<Weights>,
    /// Presynaptic spikes on their way: (arrival step, source neurons).
    pub queue: VecDeque<(u64, Vec<u32>)>,
    /// Synapses by target (selection index), for `on post`.
    pub by_target: Vec<Vec<u32>>,
    /// Source (selection index) of each synapse.
    pub source_of: Vec<u32>,
    /// Target-population state index of each post-state variable.
    pub post_state: Vec<u32>,
}

/// `(a, b)` with `e = a·x + b`, `x` being state variable `own`; `b` of a
/// term that is structurally zero stays exactly 0 (so `-u / tau` with
/// `tau = 0` gives `a = -inf`, `b = 0`, not NaN).
pub fn linear_coefficients(e: &Expr, own: u32, params: &[f64]) -> Option<(f64, f64)> {
    fn go(e: &Expr, own: u32, params: &[f64]) -> Option<(f64, Option<f64>)> {
        Some(match &e.kind {
            ExprKind::Const(c) => (0.0, (*c != 0.0).then_some(*c)),
            ExprKind::Var(Var::State(k)) if *k == own => (1.0, None),
            ExprKind::Var(Var::Param(k)) => {
                let v = *params.get(*k as usize)?;
                (0.0, (v != 0.0).then_some(v))
            }
            ExprKind::Unary(UnaryOp::Neg, x) => {
                let (a, b) = go(x, own, params)?;
                (-a, b.map(|b| -b))
            }
            ExprKind::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), x, y) => {
                let (a1, b1) = go(x, own, params)?;
                let (a2, b2) = go(y, own, params)?;
                let s = if *op == BinaryOp::Add { 1.0 } else { -1.0 };
                let b = match (b1, b2) {
                    (None, None) => None,
                    (Some(p), None) => Some(p),
                    (None, Some(q)) => Some(s * q),
                    (Some(p), Some(q)) => Some(p + s * q),
                };
                (a1 + s * a2, b)
            }
            ExprKind::Binary(BinaryOp::Mul, x, y) => {
                let (a1, b1) = go(x, own, params)?;
                let (a2, b2) = go(y, own, params)?;
                if a1 != 0.0 && a2 != 0.0 {
                    return None;
                }
                // One side is a constant c (its b); the product is c·(a x + b).
                let (a, b, c) = if a1 != 0.0 || (a2 == 0.0 && b2.is_some()) {
                    (a1, b1, b2)
                } else {
                    (a2, b2, b1)
                };
                match c {
                    None => (0.0, None),
                    Some(c) => (a * c, b.map(|b| b * c)),
                }
            }
            ExprKind::Binary(BinaryOp::Div, x, y) => {
                let (a1, b1) = go(x, own, params)?;
                let (a2, b2) = go(y, own, params)?;
                if a2 != 0.0 {
                    return None;
                }
                let c = b2.unwrap_or(0.0);
                (a1 / c, b1.map(|b| b / c))
            }
            _ => return None,
        })
    }
    let (a, b) = go(e, own, params)?;
    Some((a, b.unwrap_or(0.0)))
}

/// Advances `x` by `steps` of `dt` under `x' = a·x + b`.
pub fn advance(x: f64, (a, b): (f64, f64), steps: u64, dt: f64) -> f64 {
    if steps == 0 {
        return x;
    }
    let delta = steps as f64 * dt;
    if a == 0.0 {
        return x + b * delta;
    }
    let fixed = if b == 0.0 { 0.0 } else { -b / a };
    fixed + (x - fixed) * (a * delta).exp()
}

/// Reads and writes the handlers need from the neurons: implemented by the
/// simulation over its chunked storage.
pub trait Neurons {
    /// A variable of neuron `i` of population `p`.
    fn read(&mut self, p: usize, var: NeuronVar, i: usize) -> f64;
    /// Sets state variable `k` of neuron `i` of population `p`.
    fn write_state(&mut self, p: usize, k: u32, i: usize, v: f64);
}

/// Everything one handler run sees.
pub struct Event<'a> {
    /// The synapse model.
    pub synapse: &'a SynapseModel,
    /// The synapse.
    pub s: usize,
    /// Source and target populations.
    pub pre_pop: usize,
    /// Target population.
    pub post_pop: usize,
    /// Source neuron (population index).
    pub pre: usize,
    /// Target neuron (population index).
    pub post: usize,
    /// Time of the event (ms).
    pub t: f64,
    /// Time step (ms).
    pub dt: f64,
}

impl Plastic {
    /// Bytes of its per-synapse storage (state, last update, values, the
    /// by-target index and the source of each synapse).
    pub fn bytes(&self) -> u64 {
        let n = self.last.len() as u64;
        let states = 8 * n * self.states.len() as u64;
        let values: u64 = self.values.iter().map(Weights::bytes).sum();
        let by_target = self
            .by_target
            .iter()
            .map(|t| 4 * t.len() as u64 + 24)
            .sum::<u64>();
        states + 8 * n + values + by_target + 4 * self.source_of.len() as u64
    }

    /// Brings synapse `s` to step `now`.
    pub fn advance_to(&mut self, s: usize, now: u64, dt: f64) {
        let steps = now.saturating_sub(self.last[s]);
        if steps > 0 {
            for (k, dynamics) in self.dynamics.iter().enumerate() {
                if dynamics.0 != 0.0 || dynamics.1 != 0.0 {
                    self.states[k][s] = advance(self.states[k][s], *dynamics, steps, dt);
                }
            }
            self.last[s] = now;
        }
    }

    fn value(&self, k: usize, s: usize) -> f64 {
        match &self.values[k] {
            Weights::Constant(v) => *v,
            Weights::PerSynapse(v) => f64::from(v[s]),
        }
    }

    /// Runs handler statements for one synapse.
    pub fn run(&mut self, body: &[Stmt], ev: &Event, neurons: &mut dyn Neurons) {
        let mut locals = Vec::new();
        self.exec(body, ev, neurons, &mut locals);
    }

    fn exec(
        &mut self,
        body: &[Stmt],
        ev: &Event,
        neurons: &mut dyn Neurons,
        locals: &mut Vec<f64>,
    ) {
        for stmt in body {
            match stmt {
                Stmt::Let { local, value, .. } => {
                    let v = self.eval(value, ev, neurons, locals);
                    if locals.len() <= *local as usize {
                        locals.resize(*local as usize + 1, 0.0);
                    }
                    locals[*local as usize] = v;
                }
                Stmt::If {
                    condition,
                    then_body,
                    else_body,
                    ..
                } => {
                    if self.eval(condition, ev, neurons, locals) != 0.0 {
                        self.exec(then_body, ev, neurons, locals);
                    } else {
                        self.exec(else_body, ev, neurons, locals);
                    }
                }
                Stmt::Assign {
                    target, op, value, ..
                } => {
                    let v = self.eval(value, ev, neurons, locals);
                    let current = self.eval_var(*target, ev, neurons, locals);
                    let new = match op {
                        AssignOp::Set => v,
                        AssignOp::Add => current + v,
                        AssignOp::Sub => current - v,
                        AssignOp::Mul => current * v,
                        AssignOp::Div => current / v,
                    };
                    match *target {
                        Var::State(k) => self.states[k as usize][ev.s] = new,
                        Var::PostState(k) => neurons.write_state(
                            ev.post_pop,
                            self.post_state[k as usize],
                            ev.post,
                            new,
                        ),
                        Var::Post(NeuronVar::State(k)) => {
                            neurons.write_state(ev.post_pop, k, ev.post, new)
                        }
                        Var::Pre(NeuronVar::State(k)) => {
                            neurons.write_state(ev.pre_pop, k, ev.pre, new)
                        }
                        Var::Local(k) => {
                            if locals.len() <= k as usize {
                                locals.resize(k as usize + 1, 0.0);
                            }
                            locals[k as usize] = new;
                        }
                        // The projection was refused at build for anything else.
                        _ => {}
                    }
                }
            }
        }
    }

    fn eval_var(&self, v: Var, ev: &Event, neurons: &mut dyn Neurons, locals: &[f64]) -> f64 {
        let n_params = ev.synapse.params.len();
        match v {
            Var::State(k) => self.states[k as usize][ev.s],
            Var::Param(k) => self.value(k as usize, ev.s),
            Var::HandlerArg(k) => self.value(n_params + k as usize, ev.s),
            Var::PostState(k) => neurons.read(
                ev.post_pop,
                NeuronVar::State(self.post_state[k as usize]),
                ev.post,
            ),
            Var::Post(nv) => neurons.read(ev.post_pop, nv, ev.post),
            Var::Pre(nv) => neurons.read(ev.pre_pop, nv, ev.pre),
            Var::Local(k) => locals.get(k as usize).copied().unwrap_or(0.0),
            Var::Alias(k) => {
                let value = ev.synapse.aliases[k as usize].value.clone();
                self.eval(&value, ev, neurons, locals)
            }
            _ => 0.0,
        }
    }

    fn eval(&self, e: &Expr, ev: &Event, neurons: &mut dyn Neurons, locals: &[f64]) -> f64 {
        let b = |x: bool| f64::from(u8::from(x));
        match &e.kind {
            ExprKind::Const(c) => *c,
            ExprKind::Bool(x) => b(*x),
            ExprKind::Var(v) => self.eval_var(*v, ev, neurons, locals),
            ExprKind::Builtin(Builtin::Time) => ev.t,
            ExprKind::Builtin(Builtin::Dt) => ev.dt,
            ExprKind::Unary(UnaryOp::Neg, x) => -self.eval(x, ev, neurons, locals),
            ExprKind::Unary(UnaryOp::Not, x) => b(self.eval(x, ev, neurons, locals) == 0.0),
            ExprKind::Binary(op, x, y) => {
                let (x, y) = (
                    self.eval(x, ev, neurons, locals),
                    self.eval(y, ev, neurons, locals),
                );
                match op {
                    BinaryOp::Add => x + y,
                    BinaryOp::Sub => x - y,
                    BinaryOp::Mul => x * y,
                    BinaryOp::Div => x / y,
                    BinaryOp::Rem => x - y * (x / y).floor(),
                    BinaryOp::Pow => x.powf(y),
                    BinaryOp::Lt => b(x < y),
                    BinaryOp::Le => b(x <= y),
                    BinaryOp::Gt => b(x > y),
                    BinaryOp::Ge => b(x >= y),
                    BinaryOp::Eq => b(x == y),
                    BinaryOp::Ne => b(x != y),
                    BinaryOp::And => b(x != 0.0 && y != 0.0),
                    BinaryOp::Or => b(x != 0.0 || y != 0.0),
                }
            }
            ExprKind::Math(m, xs) => {
                let args: Vec<f64> = xs
                    .iter()
                    .map(|x| self.eval(x, ev, neurons, locals))
                    .collect();
                math(*m, &args)
            }
            ExprKind::If(c, x, y) => {
                if self.eval(c, ev, neurons, locals) != 0.0 {
                    self.eval(x, ev, neurons, locals)
                } else {
                    self.eval(y, ev, neurons, locals)
                }
            }
            _ => 0.0,
        }
    }
}

/// Whether a projection needs per-synapse handling.
pub fn is_plastic(p: &Projection) -> bool {
    !p.synapse.states.is_empty() || p.synapse.on_post.is_some()
}
