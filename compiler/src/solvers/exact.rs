//! Exact integration of linear systems with constant coefficients.
//!
//! With `x' = A x + r`, where `A` holds parameter-only coefficients and the
//! forcing `r` (inputs, states without equations, constants) is held
//! constant over the step, `x(t+dt) = Φ x(t) + Γ r` with `Φ = expm(A dt)`
//! and `Γ = ∫₀^dt expm(A s) ds` (see [`crate::ir::expm`]). When `A` is the
//! same for every neuron the propagator is computed here, once, and enters
//! the code as literals; when it varies (a per-neuron parameter), the
//! `derive` kernel computes it per neuron when the network is built.

use super::analysis::{const_eval, linear_split};
use super::commit;
use crate::ir::*;

pub(super) fn integrate(ir: &mut NeuronIr) -> Vec<Stmt> {
    let real = ir.real();
    let odes = ir.odes.clone();
    let n = odes.len();
    let span = ir.exprs.span(odes[0].rhs);
    let vars: Vec<Place> = odes.iter().map(|o| Place::State(o.state)).collect();
    let mut a = Vec::with_capacity(n * n);
    let mut forcing = Vec::with_capacity(n);
    for ode in &odes {
        let (coefs, rest) =
            linear_split(ir, ode.rhs, &vars).expect("the solver choice checked linearity");
        for c in coefs {
            a.push(c.unwrap_or_else(|| ir.real_const(0.0, span)));
        }
        forcing.push(rest);
    }
    let constant: Option<Vec<f64>> = a.iter().map(|h| const_eval(ir, *h)).collect();
    let (phi, gamma): (Vec<Handle<Expr>>, Vec<Handle<Expr>>) = match constant {
        Some(values) => {
            let (p, g) = expm::propagator(&values, n, ir.dt);
            (
                p.into_iter().map(|v| ir.real_const(v, span)).collect(),
                g.into_iter().map(|v| ir.real_const(v, span)).collect(),
            )
        }
        None => {
            let mut phi_places = Vec::new();
            let mut gamma_places = Vec::new();
            let mut phi = Vec::new();
            let mut gamma = Vec::new();
            for (places, handles, what) in [
                (&mut phi_places, &mut phi, "phi"),
                (&mut gamma_places, &mut gamma, "gamma"),
            ] {
                for i in 0..n {
                    for j in 0..n {
                        let k = ir.derived.len() as u32;
                        ir.derived.push(Variable {
                            name: format!("{what}_{i}_{j}"),
                            unit: String::new(),
                            unit_factor: 1.0,
                        });
                        places.push(Place::Derived(k));
                        handles.push(ir.add(Expr::Load(Place::Derived(k)), real, span));
                    }
                }
            }
            ir.derive.0.push(Stmt::Propagator {
                n: n as u32,
                a,
                phi: phi_places,
                integral: gamma_places,
            });
            (phi, gamma)
        }
    };
    let mut out = Vec::new();
    // The forcing terms, evaluated once from the start-of-step values.
    let mut r_loads = Vec::new();
    for r in forcing {
        let zero = const_eval(ir, r) == Some(0.0);
        if zero {
            r_loads.push(None);
            continue;
        }
        let l = ir.new_local(real);
        out.push(Stmt::Store(Place::Local(l), r));
        r_loads.push(Some(ir.add(Expr::Load(Place::Local(l)), real, span)));
    }
    let mut new_values = Vec::new();
    for (i, ode) in odes.iter().enumerate() {
        let mut sum: Option<Handle<Expr>> = None;
        let mut add = |ir: &mut NeuronIr, term: Handle<Expr>| {
            sum = Some(match sum {
                None => term,
                Some(acc) => ir.add(Expr::Binary(BinaryOp::Add, acc, term), real, span),
            });
        };
        for (j, var) in vars.iter().enumerate() {
            let p = phi[i * n + j];
            if const_eval(ir, p) == Some(0.0) {
                continue;
            }
            let x = ir.add(Expr::Load(*var), real, span);
            let term = ir.add(Expr::Binary(BinaryOp::Mul, p, x), real, span);
            add(ir, term);
        }
        for (j, r) in r_loads.iter().enumerate() {
            let Some(r) = r else { continue };
            let g = gamma[i * n + j];
            if const_eval(ir, g) == Some(0.0) {
                continue;
            }
            let term = ir.add(Expr::Binary(BinaryOp::Mul, g, *r), real, span);
            add(ir, term);
        }
        let value = sum.unwrap_or_else(|| ir.real_const(0.0, span));
        new_values.push((ode.state, value));
    }
    commit(ir, new_values, &mut out);
    out
}
