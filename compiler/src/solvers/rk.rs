//! Explicit Runge–Kutta methods from their Butcher tableaux: the midpoint
//! method (`rk2`) and the classic fourth-order method (`rk4`). Stage values
//! and slopes live in kernel locals; time-dependent terms see the stage time.

use super::analysis::{Key, substitute};
use super::commit;
use crate::ir::*;
use std::collections::HashMap;

/// A Butcher tableau.
pub(super) struct Tableau {
    /// Stage coefficients, row s has s entries.
    pub a: &'static [&'static [f64]],
    /// Weights.
    pub b: &'static [f64],
    /// Nodes.
    pub c: &'static [f64],
}

/// The explicit midpoint method.
pub(super) const MIDPOINT: Tableau = Tableau {
    a: &[&[], &[0.5]],
    b: &[0.0, 1.0],
    c: &[0.0, 0.5],
};

/// The classic Runge–Kutta method.
pub(super) const CLASSIC: Tableau = Tableau {
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    c: &[0.0, 0.5, 0.5, 1.0],
};

/// Emits the stages of an explicit tableau; returns the slopes' locals per
/// stage (`k[s][i]` for equation i) and appends the statements to `out`.
/// `h` is the step (an expression), `t0` the time at the start.
pub(super) fn stages(
    ir: &mut NeuronIr,
    tableau_a: &[&[f64]],
    c: &[f64],
    h: Handle<Expr>,
    t0: Handle<Expr>,
    out: &mut Vec<Stmt>,
) -> Vec<Vec<u32>> {
    let real = ir.real();
    let odes = ir.odes.clone();
    let span = ir.exprs.span(h);
    let mut k: Vec<Vec<u32>> = Vec::new();
    for (s, row) in tableau_a.iter().enumerate() {
        let mut map = HashMap::new();
        if s > 0 {
            // Stage values x + h Σ a_sj k_j.
            for (i, ode) in odes.iter().enumerate() {
                let x = ir.add(Expr::Load(Place::State(ode.state)), real, span);
                let mut sum: Option<Handle<Expr>> = None;
                for (j, &a) in row.iter().enumerate() {
                    if a == 0.0 {
                        continue;
                    }
                    let kj = ir.add(Expr::Load(Place::Local(k[j][i])), real, span);
                    let aj = ir.real_const(a, span);
                    let term = ir.add(Expr::Binary(BinaryOp::Mul, aj, kj), real, span);
                    sum = Some(match sum {
                        None => term,
                        Some(acc) => ir.add(Expr::Binary(BinaryOp::Add, acc, term), real, span),
                    });
                }
                let value = match sum {
                    None => x,
                    Some(sum) => {
                        let scaled = ir.add(Expr::Binary(BinaryOp::Mul, h, sum), real, span);
                        ir.add(Expr::Binary(BinaryOp::Add, x, scaled), real, span)
                    }
                };
                let l = ir.new_local(real);
                out.push(Stmt::Store(Place::Local(l), value));
                let load = ir.add(Expr::Load(Place::Local(l)), real, span);
                map.insert(Key::Place(Place::State(ode.state)), load);
            }
        }
        let ts = if c[s] == 0.0 {
            t0
        } else {
            let cs = ir.real_const(c[s], span);
            let off = ir.add(Expr::Binary(BinaryOp::Mul, cs, h), real, span);
            ir.add(Expr::Binary(BinaryOp::Add, t0, off), real, span)
        };
        map.insert(Key::Time, ts);
        let mut slopes = Vec::new();
        for ode in &odes {
            let rhs = substitute(ir, ode.rhs, &map);
            let l = ir.new_local(real);
            out.push(Stmt::Store(Place::Local(l), rhs));
            slopes.push(l);
        }
        k.push(slopes);
    }
    k
}

/// `x + h Σ b_s k_s` for equation `i`.
pub(super) fn combine(
    ir: &mut NeuronIr,
    state: u32,
    i: usize,
    k: &[Vec<u32>],
    b: &[f64],
    h: Handle<Expr>,
) -> Handle<Expr> {
    let real = ir.real();
    let span = ir.exprs.span(h);
    let x = ir.add(Expr::Load(Place::State(state)), real, span);
    let mut sum: Option<Handle<Expr>> = None;
    for (s, &bs) in b.iter().enumerate() {
        if bs == 0.0 {
            continue;
        }
        let ks = ir.add(Expr::Load(Place::Local(k[s][i])), real, span);
        let w = ir.real_const(bs, span);
        let term = ir.add(Expr::Binary(BinaryOp::Mul, w, ks), real, span);
        sum = Some(match sum {
            None => term,
            Some(acc) => ir.add(Expr::Binary(BinaryOp::Add, acc, term), real, span),
        });
    }
    match sum {
        None => x,
        Some(sum) => {
            let scaled = ir.add(Expr::Binary(BinaryOp::Mul, h, sum), real, span);
            ir.add(Expr::Binary(BinaryOp::Add, x, scaled), real, span)
        }
    }
}

pub(super) fn integrate(ir: &mut NeuronIr, tableau: &Tableau) -> Vec<Stmt> {
    let real = ir.real();
    let span = ir.exprs.span(ir.odes[0].rhs);
    let h = ir.add(Expr::Dt, real, span);
    let t0 = ir.add(Expr::Time, real, span);
    let mut out = Vec::new();
    let k = stages(ir, tableau.a, tableau.c, h, t0, &mut out);
    let odes = ir.odes.clone();
    let new_values = odes
        .iter()
        .enumerate()
        .map(|(i, ode)| (ode.state, combine(ir, ode.state, i, &k, tableau.b, h)))
        .collect();
    commit(ir, new_values, &mut out);
    out
}
