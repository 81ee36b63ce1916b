//! Euler–Maruyama for SDEs `dx = f dt + g dW`:
//! `x(t+dt) = x + f·dt + g·sqrt(dt)·N(0, 1)`, with an independent standard
//! normal draw per equation, neuron and step (Itô interpretation, as Brian2's
//! `euler` for equations with `xi`).

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
        let (drift, diffusion) = ode.noise.unwrap_or((ode.rhs, ir.real_const(0.0, span)));
        let det = ir.add(Expr::Binary(BinaryOp::Mul, dt, drift), real, span);
        let mut value = ir.add(Expr::Binary(BinaryOp::Add, x, det), real, span);
        if ode.noise.is_some() {
            let draw = ir.draws;
            ir.draws += 1;
            let normal = ir.add(Expr::Random(RandomFn::Normal, draw), real, span);
            let sqrt_dt = ir.add(Expr::Math(MathFn::Sqrt, vec![dt]), real, span);
            let scaled = ir.add(Expr::Binary(BinaryOp::Mul, diffusion, sqrt_dt), real, span);
            let noise = ir.add(Expr::Binary(BinaryOp::Mul, scaled, normal), real, span);
            value = ir.add(Expr::Binary(BinaryOp::Add, value, noise), real, span);
        }
        new_values.push((ode.state, value));
    }
    let mut out = Vec::new();
    commit(ir, new_values, &mut out);
    out
}
