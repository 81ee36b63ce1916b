//! Convolutions with kernels become linear ODE state (as NESTML does).
//!
//! A kernel given as a function of the time since a spike must be a sum of
//! terms `c · t^n · exp(-λ t)`. The convolution of such a term with a spike
//! train of weights `w_k` equals `c · n! · z_n`, where
//! `z_0' = -λ z_0`, `z_j' = -λ z_j + z_{j-1}` and each spike adds its weight
//! to `z_0`. A kernel given as an ODE `g^(n) = f(g, …, g^(n-1))` is
//! integrated as written, and each spike adds `w · g^(j)(0)` to the j-th
//! derivative. Both forms are linear, so the exact solver applies when the
//! rest of the model allows.

use super::lower::Lowerer;
use super::*;
use crate::diagnostics::{Diagnostic, catalog};
use crate::model::{self, Builtin, ExprKind, KernelForm, Var};

/// One term `coef · t^power · exp(-rate · t)`.
struct Term {
    coef: Handle<Expr>,
    power: u32,
    rate: Handle<Expr>,
}

pub(super) fn lower_convolutions(l: &mut Lowerer) -> Result<(), Diagnostic> {
    let model = l.model;
    for conv in &model.convolutions {
        let kernel = &model.kernels[conv.kernel as usize];
        let input = &model.inputs[conv.input as usize];
        let span = kernel.span;
        let base = format!("{}__{}", kernel.name, input.name);
        let mut targets = Vec::new();
        let value = match &kernel.form {
            KernelForm::Function(f) => {
                let terms = decompose(l, f).ok_or_else(|| {
                    catalog::kernel_form(span, "it is not a sum of `c * t^n * exp(-t / tau)` terms")
                })?;
                let mut value: Option<Handle<Expr>> = None;
                for (m, term) in terms.into_iter().enumerate() {
                    let mut previous: Option<u32> = None;
                    let mut last = 0;
                    for j in 0..=term.power {
                        let s = add_state(l, &format!("{base}__{m}_{j}"), kernel.dim);
                        let z = l.add(Expr::Load(Place::State(s)), span);
                        let decay = l.add(Expr::Binary(BinaryOp::Mul, term.rate, z), span);
                        let mut rhs = l.add(Expr::Unary(UnaryOp::Neg, decay), span);
                        if let Some(p) = previous {
                            let zp = l.add(Expr::Load(Place::State(p)), span);
                            rhs = l.add(Expr::Binary(BinaryOp::Add, rhs, zp), span);
                        } else {
                            let one = l.ir.real_const(1.0, span);
                            targets.push((s, one));
                        }
                        l.ir.odes.push(Ode {
                            state: s,
                            rhs,
                            stochastic: false,
                            noise: None,
                        });
                        previous = Some(s);
                        last = s;
                    }
                    let factorial: f64 = (1..=term.power).map(f64::from).product();
                    let f = l.ir.real_const(factorial, span);
                    let z = l.add(Expr::Load(Place::State(last)), span);
                    let scaled = l.add(Expr::Binary(BinaryOp::Mul, term.coef, f), span);
                    let part = l.add(Expr::Binary(BinaryOp::Mul, scaled, z), span);
                    value = Some(match value {
                        None => part,
                        Some(v) => l.add(Expr::Binary(BinaryOp::Add, v, part), span),
                    });
                }
                value.unwrap_or_else(|| l.ir.real_const(0.0, span))
            }
            KernelForm::Ode { rhs, init } => {
                let order = init.len();
                let states: Vec<u32> = (0..order)
                    .map(|j| add_state(l, &format!("{base}{}", "'".repeat(j)), kernel.dim))
                    .collect();
                // Inside the kernel's ODE, `Var::State(j)` is the j-th derivative.
                let rhs = substitute_derivatives(rhs, &states);
                for j in 0..order {
                    let r = if j + 1 < order {
                        l.add(Expr::Load(Place::State(states[j + 1])), span)
                    } else {
                        l.expr(&rhs)
                    };
                    l.ir.odes.push(Ode {
                        state: states[j],
                        rhs: r,
                        stochastic: false,
                        noise: None,
                    });
                    let factor = l.expr(&init[j]);
                    targets.push((states[j], factor));
                }
                l.add(Expr::Load(Place::State(states[0])), span)
            }
        };
        l.convolutions.push(value);
        match l.ir.spike_inputs.iter_mut().find(|s| s.name == input.name) {
            Some(s) => s.targets.extend(targets),
            None => l.ir.spike_inputs.push(SpikeInput {
                name: input.name.clone(),
                targets,
            }),
        }
    }
    // Spike inputs no convolution uses still exist (spikes to them vanish).
    for input in &model.inputs {
        if matches!(input.kind, model::InputKind::Spikes(_))
            && !l.ir.spike_inputs.iter().any(|s| s.name == input.name)
        {
            l.ir.spike_inputs.push(SpikeInput {
                name: input.name.clone(),
                targets: Vec::new(),
            });
        }
    }
    Ok(())
}

fn add_state(l: &mut Lowerer, name: &str, dim: crate::units::Dim) -> u32 {
    l.ir.states.push(Variable {
        name: name.to_string(),
        unit: if dim.is_dimensionless() {
            "1".into()
        } else {
            dim.internal_unit_name()
        },
        unit_factor: 1.0,
    });
    let k = l.ir.states.len() as u32 - 1;
    let zero = l.ir.real_const(0.0, l.model.span);
    l.ir.init.0.push(Stmt::Store(Place::State(k), zero));
    k
}

/// Maps `Var::State(j)` (j-th kernel derivative) to the model state index.
fn substitute_derivatives(e: &model::Expr, states: &[u32]) -> model::Expr {
    let mut out = e.clone();
    fn walk(e: &mut model::Expr, states: &[u32]) {
        match &mut e.kind {
            ExprKind::Var(Var::State(j)) => *j = states[*j as usize],
            ExprKind::Unary(_, x) => walk(x, states),
            ExprKind::Binary(_, a, b) => {
                walk(a, states);
                walk(b, states);
            }
            ExprKind::If(c, a, b) => {
                walk(c, states);
                walk(a, states);
                walk(b, states);
            }
            ExprKind::Math(_, xs) => xs.iter_mut().for_each(|x| walk(x, states)),
            _ => {}
        }
    }
    walk(&mut out, states);
    out
}

fn has_time(e: &model::Expr) -> bool {
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => true,
        ExprKind::Unary(_, x) => has_time(x),
        ExprKind::Binary(_, a, b) => has_time(a) || has_time(b),
        ExprKind::If(c, a, b) => has_time(c) || has_time(a) || has_time(b),
        ExprKind::Math(_, xs) => xs.iter().any(has_time),
        _ => false,
    }
}

/// The terms of a kernel function, or `None` if it has another shape.
fn decompose(l: &mut Lowerer, e: &model::Expr) -> Option<Vec<Term>> {
    let span = e.span;
    if !has_time(e) {
        let coef = l.expr(e);
        let rate = l.ir.real_const(0.0, span);
        return Some(vec![Term {
            coef,
            power: 0,
            rate,
        }]);
    }
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => {
            let coef = l.ir.real_const(1.0, span);
            let rate = l.ir.real_const(0.0, span);
            Some(vec![Term {
                coef,
                power: 1,
                rate,
            }])
        }
        ExprKind::Binary(model::BinaryOp::Add, a, b) => {
            let mut ts = decompose(l, a)?;
            ts.extend(decompose(l, b)?);
            Some(ts)
        }
        ExprKind::Binary(model::BinaryOp::Sub, a, b) => {
            let mut ts = decompose(l, a)?;
            for mut t in decompose(l, b)? {
                t.coef = l.add(Expr::Unary(UnaryOp::Neg, t.coef), span);
                ts.push(t);
            }
            Some(ts)
        }
        ExprKind::Unary(model::UnaryOp::Neg, x) => {
            let mut ts = decompose(l, x)?;
            for t in ts.iter_mut() {
                t.coef = l.add(Expr::Unary(UnaryOp::Neg, t.coef), span);
            }
            Some(ts)
        }
        ExprKind::Binary(model::BinaryOp::Mul, a, b) => {
            let (ta, tb) = (decompose(l, a)?, decompose(l, b)?);
            let mut out = Vec::new();
            for x in &ta {
                for y in &tb {
                    let coef = l.add(Expr::Binary(BinaryOp::Mul, x.coef, y.coef), span);
                    let rate = l.add(Expr::Binary(BinaryOp::Add, x.rate, y.rate), span);
                    out.push(Term {
                        coef,
                        power: x.power + y.power,
                        rate,
                    });
                }
            }
            Some(out)
        }
        ExprKind::Binary(model::BinaryOp::Div, a, b) if !has_time(b) => {
            let mut ts = decompose(l, a)?;
            let d = l.expr(b);
            for t in ts.iter_mut() {
                t.coef = l.add(Expr::Binary(BinaryOp::Div, t.coef, d), span);
            }
            Some(ts)
        }
        ExprKind::Binary(model::BinaryOp::Pow, a, b)
            if matches!(a.kind, ExprKind::Builtin(Builtin::Time)) =>
        {
            let p = crate::check::const_value(b)?;
            if p < 0.0 || p.fract() != 0.0 || p > 16.0 {
                return None;
            }
            let coef = l.ir.real_const(1.0, span);
            let rate = l.ir.real_const(0.0, span);
            Some(vec![Term {
                coef,
                power: p as u32,
                rate,
            }])
        }
        ExprKind::Math(model::MathFn::Exp, xs) => {
            let (slope, offset) = linear(l, &xs[0])?;
            let coef = l.add(Expr::Math(model::MathFn::Exp, vec![offset]), span);
            let rate = l.add(Expr::Unary(UnaryOp::Neg, slope), span);
            Some(vec![Term {
                coef,
                power: 0,
                rate,
            }])
        }
        _ => None,
    }
}

/// `(s, o)` with `e = s · t + o`, or `None` if `e` is not linear in `t`.
fn linear(l: &mut Lowerer, e: &model::Expr) -> Option<(Handle<Expr>, Handle<Expr>)> {
    let span = e.span;
    if !has_time(e) {
        let zero = l.ir.real_const(0.0, span);
        return Some((zero, l.expr(e)));
    }
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => {
            Some((l.ir.real_const(1.0, span), l.ir.real_const(0.0, span)))
        }
        ExprKind::Unary(model::UnaryOp::Neg, x) => {
            let (s, o) = linear(l, x)?;
            Some((
                l.add(Expr::Unary(UnaryOp::Neg, s), span),
                l.add(Expr::Unary(UnaryOp::Neg, o), span),
            ))
        }
        ExprKind::Binary(op @ (model::BinaryOp::Add | model::BinaryOp::Sub), a, b) => {
            let (sa, oa) = linear(l, a)?;
            let (sb, ob) = linear(l, b)?;
            let op = if *op == model::BinaryOp::Add {
                BinaryOp::Add
            } else {
                BinaryOp::Sub
            };
            Some((
                l.add(Expr::Binary(op, sa, sb), span),
                l.add(Expr::Binary(op, oa, ob), span),
            ))
        }
        ExprKind::Binary(model::BinaryOp::Mul, a, b) if !has_time(a) || !has_time(b) => {
            let (free, lin) = if has_time(a) { (b, a) } else { (a, b) };
            let c = l.expr(free);
            let (s, o) = linear(l, lin)?;
            Some((
                l.add(Expr::Binary(BinaryOp::Mul, c, s), span),
                l.add(Expr::Binary(BinaryOp::Mul, c, o), span),
            ))
        }
        ExprKind::Binary(model::BinaryOp::Div, a, b) if !has_time(b) => {
            let c = l.expr(b);
            let (s, o) = linear(l, a)?;
            Some((
                l.add(Expr::Binary(BinaryOp::Div, s, c), span),
                l.add(Expr::Binary(BinaryOp::Div, o, c), span),
            ))
        }
        _ => None,
    }
}
