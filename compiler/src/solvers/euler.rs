//! Forward Euler: `x(t+dt) = x + dt · f(x, t)`. First order; for tests and
//! for models that were tuned with it (Izhikevich's 2003 code).

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
        let inc = ir.add(Expr::Binary(BinaryOp::Mul, dt, ode.rhs), real, span);
        new_values.push((
            ode.state,
            ir.add(Expr::Binary(BinaryOp::Add, x, inc), real, span),
        ));
    }
    let mut out = Vec::new();
    commit(ir, new_values, &mut out);
    out
}
