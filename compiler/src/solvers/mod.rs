//! Integration: the pass that turns ODEs into straight-line updates.
//!
//! Each method lives in its own file and replaces the [`Stmt::Integrate`]
//! placeholder of the step kernel with statements that advance every state
//! with an equation from `t` to `t + dt`. All right-hand sides are evaluated
//! from the state at the start of the step (stage values for Runge–Kutta);
//! continuous inputs are held constant over the step, as NEST does.
//!
//! The method is chosen per model, unless the model or the network names one:
//!
//! 1. white noise → `euler_maruyama`;
//! 2. linear with constant coefficients (coupled systems included) →
//!    `exact` (matrix exponential, as NEST/NESTML);
//! 3. conditionally linear (each equation linear in its own variable, e.g.
//!    Hodgkin–Huxley gates) → `exponential_euler`, as Brian2 does;
//! 4. anything else → `rk45` (adaptive Dormand–Prince per neuron, as NEST
//!    uses GSL's adaptive solvers for AdEx and HH).

mod analysis;
mod euler;
mod euler_maruyama;
mod exact;
mod exponential_euler;
mod rk;
mod rk45;

use crate::diagnostics::Diagnostic;
use crate::ir::*;
use analysis::linear_split;

pub use analysis::{Key, const_eval, depends_on, substitute};

/// Integrates the ODEs of `ir` with the model's (or network's) solver or
/// the automatic choice, and records the choice and its reason.
pub fn integrate(ir: &mut NeuronIr) -> Result<(), Diagnostic> {
    let requested = ir.solver.requested.then_some(ir.solver.kind);
    let (kind, reason) = choose(ir, requested)?;
    ir.solver.kind = kind;
    ir.solver.reason = reason;
    let updates = if ir.odes.is_empty() {
        Vec::new()
    } else {
        match kind {
            SolverKind::Exact => exact::integrate(ir),
            SolverKind::ExponentialEuler => exponential_euler::integrate(ir),
            SolverKind::Euler => euler::integrate(ir),
            SolverKind::Rk2 => rk::integrate(ir, &rk::MIDPOINT),
            SolverKind::Rk4 => rk::integrate(ir, &rk::CLASSIC),
            SolverKind::Rk45 => rk45::integrate(ir),
            SolverKind::EulerMaruyama => euler_maruyama::integrate(ir),
        }
    };
    ir.odes.clear();
    let mut updates = Some(updates);
    replace_placeholder(&mut ir.step, &mut updates);
    Ok(())
}

fn replace_placeholder(block: &mut Block, updates: &mut Option<Vec<Stmt>>) {
    let mut out = Vec::new();
    for s in std::mem::take(&mut block.0) {
        match s {
            Stmt::Integrate => out.extend(updates.take().unwrap_or_default()),
            Stmt::If(c, mut a, mut b) => {
                replace_placeholder(&mut a, updates);
                replace_placeholder(&mut b, updates);
                out.push(Stmt::If(c, a, b));
            }
            other => out.push(other),
        }
    }
    block.0 = out;
}

fn stochastic(ir: &NeuronIr) -> bool {
    ir.odes.iter().any(|o| o.stochastic)
}

/// Whether the system is linear with constant coefficients in its ODE
/// states (inputs and states without equations count as constant forcing).
fn is_linear(ir: &mut NeuronIr) -> Result<(), String> {
    let vars: Vec<Place> = ir.odes.iter().map(|o| Place::State(o.state)).collect();
    let odes = ir.odes.clone();
    for ode in &odes {
        let name = ir.states[ode.state as usize].name.clone();
        if analysis::is_random(ir, ode.rhs) {
            return Err(format!("the equation of `{name}` draws random numbers"));
        }
        if depends_on(ir, ode.rhs, &[], true) {
            return Err(format!("the equation of `{name}` depends on `t`"));
        }
        let Some((coefs, _)) = linear_split(ir, ode.rhs, &vars) else {
            return Err(format!(
                "the equation of `{name}` is not linear in the state"
            ));
        };
        let mut varying = Vec::new();
        for s in 0..ir.states.len() as u32 {
            varying.push(Place::State(s));
        }
        for k in 0..ir.inputs.len() as u32 {
            varying.push(Place::Input(k));
        }
        for c in coefs.into_iter().flatten() {
            if depends_on(ir, c, &varying, true) {
                return Err(format!(
                    "a coefficient in the equation of `{name}` is not constant"
                ));
            }
        }
    }
    Ok(())
}

/// Whether each equation is linear in its own variable.
fn is_conditionally_linear(ir: &mut NeuronIr) -> Result<(), String> {
    let odes = ir.odes.clone();
    for ode in &odes {
        let name = ir.states[ode.state as usize].name.clone();
        if linear_split(ir, ode.rhs, &[Place::State(ode.state)]).is_none() {
            return Err(format!(
                "the equation of `{name}` is not linear in `{name}`"
            ));
        }
    }
    Ok(())
}

fn choose(
    ir: &mut NeuronIr,
    requested: Option<SolverKind>,
) -> Result<(SolverKind, String), Diagnostic> {
    let model_span = ir.exprs.handles().next().map(|h| ir.exprs.span(h));
    let fail = |what: String| -> Diagnostic {
        let d = Diagnostic::error("nml::solver_not_applicable", what);
        match model_span {
            Some(s) => d.at(s, "in this model"),
            None => d,
        }
    };
    if ir.odes.is_empty() {
        return Ok((
            requested.unwrap_or(SolverKind::Euler),
            "the model has no differential equations".into(),
        ));
    }
    if let Some(kind) = requested {
        if stochastic(ir) && kind != SolverKind::EulerMaruyama {
            return Err(fail(format!(
                "solver `{}` cannot integrate the white-noise term `xi`; use `euler_maruyama`",
                solver_name(kind)
            ))
            .help("remove the `solver` choice to let nmlc pick `euler_maruyama`"));
        }
        match kind {
            SolverKind::Exact => is_linear(ir).map_err(|why| {
                fail(format!("solver `exact` needs linear equations with constant coefficients, but {why}"))
                    .help("use `exponential_euler`, `rk4` or `rk45`, or let nmlc choose")
            })?,
            SolverKind::ExponentialEuler => is_conditionally_linear(ir).map_err(|why| {
                fail(format!("solver `exponential_euler` needs each equation linear in its own variable, but {why}"))
                    .help("use `rk4` or `rk45`, or let nmlc choose")
            })?,
            _ => {}
        }
        return Ok((kind, "chosen in the model or network".into()));
    }
    if stochastic(ir) {
        return Ok((
            SolverKind::EulerMaruyama,
            "the equations contain white noise (`xi`)".into(),
        ));
    }
    match is_linear(ir) {
        Ok(()) => Ok((
            SolverKind::Exact,
            "the equations are linear with constant coefficients: exact propagator expm(A·dt)"
                .into(),
        )),
        Err(why_not_linear) => match is_conditionally_linear(ir) {
            Ok(()) => Ok((
                SolverKind::ExponentialEuler,
                format!("each equation is linear in its own variable, but {why_not_linear}"),
            )),
            Err(why) => Ok((
                SolverKind::Rk45,
                format!("{why}: adaptive Dormand–Prince with error control per neuron"),
            )),
        },
    }
}

/// The name of a solver as written in NML.
pub fn solver_name(kind: SolverKind) -> &'static str {
    crate::model::SolverKind::ALL
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

/// Stores each value into a fresh local, then all locals into their states:
/// every update reads the state of the start of the step.
fn commit(ir: &mut NeuronIr, new_values: Vec<(u32, Handle<Expr>)>, out: &mut Vec<Stmt>) {
    let real = ir.real();
    let mut locals = Vec::new();
    for (state, value) in new_values {
        let l = ir.new_local(real);
        out.push(Stmt::Store(Place::Local(l), value));
        locals.push((state, l));
    }
    for (state, l) in locals {
        let span = ir
            .exprs
            .span(ir.exprs.handles().last().expect("non-empty arena"));
        let v = ir.add(Expr::Load(Place::Local(l)), real, span);
        out.push(Stmt::Store(Place::State(state), v));
    }
}

#[cfg(test)]
mod tests;
