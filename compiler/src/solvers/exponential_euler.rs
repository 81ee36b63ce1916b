//! Exponential Euler for conditionally linear equations (Brian2's
//! `exponential_euler`): each `x' = a·x + b`, with `a` and `b` free of `x`
//! but possibly depending on other state (Hodgkin–Huxley gates depend on V),
//! is advanced exactly with `a` and `b` frozen at the start of the step:
//! `x(t+dt) = x + dt · (a·x + b) · exprel(a·dt)`, where
//! `exprel(z) = (e^z − 1)/z`, which stays accurate as `a → 0`.

use super::analysis::linear_split;
use super::commit;
use crate::ir::*;

pub(super) fn integrate(ir: &mut NeuronIr) -> Vec<Stmt> {
    let real = ir.real();
    let odes = ir.odes.clone();
    let mut new_values = Vec::new();
    for ode in &odes {
        let span = ir.exprs.span(ode.rhs);
        let x = ir.add(Expr::Load(Place::State(ode.state)), real, span);
        let dt = ir.add(Expr::Dt, real, span);
        let step = ir.add(Expr::Binary(BinaryOp::Mul, dt, ode.rhs), real, span);
        let value = match linear_split(ir, ode.rhs, &[Place::State(ode.state)]) {
            Some((coefs, _)) if coefs[0].is_some() => {
                let a = coefs[0].expect("checked");
                let a_dt = ir.add(Expr::Binary(BinaryOp::Mul, a, dt), real, span);
                let factor = ir.add(Expr::Math(MathFn::Exprel, vec![a_dt]), real, span);
                let inc = ir.add(Expr::Binary(BinaryOp::Mul, step, factor), real, span);
                ir.add(Expr::Binary(BinaryOp::Add, x, inc), real, span)
            }
            // No dependence on x: exact for a b frozen over the step.
            _ => ir.add(Expr::Binary(BinaryOp::Add, x, step), real, span),
        };
        new_values.push((ode.state, value));
    }
    let mut out = Vec::new();
    commit(ir, new_values, &mut out);
    out
}
