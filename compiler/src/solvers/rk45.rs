//! Adaptive Dormand–Prince 5(4) with error control per neuron and step.
//!
//! Each neuron keeps its last step size in an extra state column
//! (`rk45_h`). Within one `dt`, the kernel takes as many sub-steps as the
//! error control needs: a sub-step of size `h` is accepted when
//! `max_i |y5_i − y4_i| / (atol + rtol · max(|x_i|, |y5_i|)) ≤ 1`, and `h`
//! is rescaled by `clip(0.9 · err^(-1/5), 0.2, 5)` either way (Hairer,
//! Nørsett & Wanner, Solving ODEs I, II.4). After each accepted sub-step the
//! spike condition is tested; when it holds the reset runs right there and
//! integration goes on from the reset state (see
//! [`crate::ir::SubstepEvent`]), as NEST's GSL-based AdEx does, so the
//! membrane never runs away. The spike is stamped at the end of the step,
//! like every other solver's.
//!
//! When the error control cannot finish a step (the step size falls below
//! `1e-12·dt`, or `MAX_SUBSTEPS` sub-steps do not reach the end), the
//! integration gives up: the neuron's states become NaN, which the
//! runtime's finiteness check reports with this solver as the likely cause.
//! That happens where the solution blows up in finite time (`x' = x²`,
//! `x' = exp(x)`) or the equations give NaN (0/0, the logarithm of a
//! negative number) near the state reached; without this rule the loop
//! would accept steps of size 0 and the neuron would silently stop moving.

use super::rk::{combine, stages};
use crate::ir::*;

const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [&[f64]; 7] = [
    &[],
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
const B5: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];
const B4: [f64; 7] = [
    5179.0 / 57600.0,
    0.0,
    7571.0 / 16695.0,
    393.0 / 640.0,
    -92097.0 / 339200.0,
    187.0 / 2100.0,
    1.0 / 40.0,
];

/// Most sub-steps per neuron and step: a bound that makes the loop end even
/// if the error control fails (the integration then gives up, see the
/// module documentation).
const MAX_SUBSTEPS: u32 = 100_000;

/// The smallest step size and the remainder of a step treated as done,
/// relative to `dt`.
const TINY: f64 = 1e-12;

pub(super) fn integrate(ir: &mut NeuronIr) -> Vec<Stmt> {
    let real = ir.real();
    let span = ir.exprs.span(ir.odes[0].rhs);
    let (rtol, atol) = (ir.solver.rtol, ir.solver.atol);
    // The per-neuron step size, remembered between steps.
    ir.states.push(Variable {
        name: "rk45_h".into(),
        unit: "ms".into(),
        unit_factor: 1.0,
    });
    let h_state = ir.states.len() as u32 - 1;
    let dt = ir.add(Expr::Dt, real, span);
    ir.init.0.push(Stmt::Store(Place::State(h_state), dt));

    let mut out = Vec::new();
    let rem = ir.new_local(real);
    let h = ir.new_local(real);
    let t_cur = ir.new_local(real);
    let load = |ir: &mut NeuronIr, l: u32| ir.add(Expr::Load(Place::Local(l)), real, span);
    out.push(Stmt::Store(Place::Local(rem), dt));
    let saved_h = ir.add(Expr::Load(Place::State(h_state)), real, span);
    // A step size left tiny by a short last sub-step is not a hint: start
    // again from dt, as at the first step.
    let tiny = ir.real_const(TINY * ir.dt, span);
    let positive = ir.add(Expr::Binary(BinaryOp::Gt, saved_h, tiny), Type::Bool, span);
    let capped = ir.add(Expr::Math(MathFn::Min, vec![saved_h, dt]), real, span);
    let start_h = ir.add(Expr::Select(positive, capped, dt), real, span);
    out.push(Stmt::Store(Place::Local(h), start_h));
    let t0 = ir.add(Expr::Time, real, span);
    out.push(Stmt::Store(Place::Local(t_cur), t0));

    let mut body = Vec::new();
    let rem_v = load(ir, rem);
    let h_v = load(ir, h);
    let h_min = ir.add(Expr::Math(MathFn::Min, vec![h_v, rem_v]), real, span);
    body.push(Stmt::Store(Place::Local(h), h_min));
    let h_v = load(ir, h);
    let t_v = load(ir, t_cur);
    let k = stages(ir, &A, &C, h_v, t_v, &mut body);

    let odes = ir.odes.clone();
    let mut y5 = Vec::new();
    let mut err: Option<Handle<Expr>> = None;
    let diff: Vec<f64> = B5.iter().zip(B4.iter()).map(|(a, b)| a - b).collect();
    for (i, ode) in odes.iter().enumerate() {
        let y = combine(ir, ode.state, i, &k, &B5, h_v);
        let l = ir.new_local(real);
        body.push(Stmt::Store(Place::Local(l), y));
        let y = load(ir, l);
        y5.push((ode.state, l));
        // Error estimate h Σ (b5 − b4) k, scaled.
        let mut e: Option<Handle<Expr>> = None;
        for (s, &w) in diff.iter().enumerate() {
            if w == 0.0 {
                continue;
            }
            let ks = load(ir, k[s][i]);
            let wc = ir.real_const(w, span);
            let term = ir.add(Expr::Binary(BinaryOp::Mul, wc, ks), real, span);
            e = Some(match e {
                None => term,
                Some(acc) => ir.add(Expr::Binary(BinaryOp::Add, acc, term), real, span),
            });
        }
        let e = e.expect("Dormand–Prince has an error estimate");
        let e = ir.add(Expr::Binary(BinaryOp::Mul, h_v, e), real, span);
        let e = ir.add(Expr::Math(MathFn::Abs, vec![e]), real, span);
        let x = ir.add(Expr::Load(Place::State(ode.state)), real, span);
        let ax = ir.add(Expr::Math(MathFn::Abs, vec![x]), real, span);
        let ay = ir.add(Expr::Math(MathFn::Abs, vec![y]), real, span);
        let m = ir.add(Expr::Math(MathFn::Max, vec![ax, ay]), real, span);
        let rt = ir.real_const(rtol, span);
        let at = ir.real_const(atol, span);
        let rel = ir.add(Expr::Binary(BinaryOp::Mul, rt, m), real, span);
        let scale = ir.add(Expr::Binary(BinaryOp::Add, at, rel), real, span);
        let ratio = ir.add(Expr::Binary(BinaryOp::Div, e, scale), real, span);
        err = Some(match err {
            None => ratio,
            Some(acc) => ir.add(Expr::Math(MathFn::Max, vec![acc, ratio]), real, span),
        });
    }
    let err_l = ir.new_local(real);
    let err_expr = err.expect("at least one equation");
    body.push(Stmt::Store(Place::Local(err_l), err_expr));
    let err_v = load(ir, err_l);

    // Accept: states take the fifth-order values; time and remainder advance.
    let one = ir.real_const(1.0, span);
    let accept = ir.add(Expr::Binary(BinaryOp::Le, err_v, one), Type::Bool, span);
    let mut accepted = Vec::new();
    for (state, l) in &y5 {
        let v = load(ir, *l);
        accepted.push(Stmt::Store(Place::State(*state), v));
    }
    let t_next = ir.add(Expr::Binary(BinaryOp::Add, t_v, h_v), real, span);
    accepted.push(Stmt::Store(Place::Local(t_cur), t_next));
    let rem_next = ir.add(Expr::Binary(BinaryOp::Sub, rem_v, h_v), real, span);
    accepted.push(Stmt::Store(Place::Local(rem), rem_next));
    // A threshold crossing inside the step resets there (AdEx's exponential
    // would otherwise run away over the rest of the step); a neuron that is
    // refractory after the reset stops integrating for this step.
    if let Some(event) = ir.substep_event.clone() {
        let mut body = event.body.0;
        if ir.refractory {
            let counter = ir.add(Expr::Load(Place::Refractory), Type::I32, span);
            let none = ir.add(Expr::Int(0), Type::I32, span);
            let refractory = ir.add(Expr::Binary(BinaryOp::Gt, counter, none), Type::Bool, span);
            let zero = ir.real_const(0.0, span);
            body.push(Stmt::If(
                refractory,
                Block(vec![Stmt::Store(Place::Local(rem), zero)]),
                Block::default(),
            ));
        }
        accepted.push(Stmt::If(event.condition, Block(body), Block::default()));
    }
    body.push(Stmt::If(accept, Block(accepted), Block::default()));

    // New step size.
    let exponent = ir.real_const(-0.2, span);
    let safety = ir.real_const(0.9, span);
    let pw = ir.add(Expr::Binary(BinaryOp::Pow, err_v, exponent), real, span);
    let proposed = ir.add(Expr::Binary(BinaryOp::Mul, safety, pw), real, span);
    let lo = ir.real_const(0.2, span);
    let hi = ir.real_const(5.0, span);
    // err = 0 gives +inf, clipped to the largest growth; NaN gives the smallest.
    let factor = ir.add(Expr::Math(MathFn::Clip, vec![proposed, lo, hi]), real, span);
    let is_nan = ir.add(Expr::Binary(BinaryOp::Ne, err_v, err_v), Type::Bool, span);
    let factor = ir.add(Expr::Select(is_nan, lo, factor), real, span);
    let new_h = ir.add(Expr::Binary(BinaryOp::Mul, h_v, factor), real, span);
    body.push(Stmt::Store(Place::Local(h), new_h));

    // Loop while more than a rounding error of the step remains and the
    // step size has not collapsed.
    let rem_v = load(ir, rem);
    let h_v = load(ir, h);
    let tiny = ir.real_const(TINY * ir.dt, span);
    let more = ir.add(Expr::Binary(BinaryOp::Gt, rem_v, tiny), Type::Bool, span);
    let alive = ir.add(Expr::Binary(BinaryOp::Gt, h_v, tiny), Type::Bool, span);
    let go_on = ir.add(Expr::Binary(BinaryOp::And, more, alive), Type::Bool, span);
    out.push(Stmt::While {
        condition: go_on,
        body: Block(body),
        max_iterations: MAX_SUBSTEPS,
    });
    out.push(Stmt::Store(Place::State(h_state), h_v));
    // Gave up before the end of the step: the states become NaN.
    let unfinished = ir.add(Expr::Binary(BinaryOp::Gt, rem_v, tiny), Type::Bool, span);
    let nan = ir.real_const(f64::NAN, span);
    let give_up = odes
        .iter()
        .map(|ode| Stmt::Store(Place::State(ode.state), nan))
        .collect();
    out.push(Stmt::If(unfinished, Block(give_up), Block::default()));
    out
}
