//! Convergence and accuracy of the solvers on equations with known solutions.

use crate::abi::{ColumnData, StepContext};
use crate::ir::interp::Interpreter;
use crate::ir::lower::PopulationSpec;
use crate::ir::{Place, compile_neuron};
use crate::loader::DiskReader;
use crate::model::SolverKind;

/// Simulates one neuron of `source`'s first model for `duration` ms with
/// the given solver and returns the final value of state 0.
fn final_value(source: &str, solver: Option<SolverKind>, dt: f64, duration: f64) -> f64 {
    let c = crate::compile_text("test.nml", source, None, &DiskReader);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let model = &c.program.neurons[0];
    let mut spec = PopulationSpec::defaults(model, "P", dt);
    spec.solver = solver.map(|kind| crate::model::Solver {
        kind,
        rtol: Some(1e-10),
        atol: Some(1e-12),
        span: model.span,
    });
    let (ir, info) = compile_neuron(model, &spec).expect("compiles");
    let mut cols: Vec<ColumnData> = ir
        .columns()
        .iter()
        .map(|col| ColumnData::zeros(col.ty, 1))
        .collect();
    let interp = Interpreter::new(&ir, &info);
    let mut ctx = StepContext {
        t: 0.0,
        dt,
        step: 0,
        seed: 1,
        population: 0,
        first_neuron: 0,
        frames: [1.0; crate::abi::MAX_FRAMES],
    };
    interp.build(&mut cols, 1, &ctx);
    let steps = (duration / dt).round() as u64;
    let mut spikes = Vec::new();
    for n in 0..steps {
        ctx.step = n;
        ctx.t = n as f64 * dt;
        interp.step(&ctx, &mut cols, 0, 1, &mut spikes);
    }
    let col = info.binding(Place::State(0)).expect("state column");
    cols[col].get(0)
}

const LOGISTIC: &str = "neuron Logistic {
    parameters { tau: ms = 2 ms }
    state { x = 0.01 }
    equations { x' = x * (1 - x) / tau }
}";

fn logistic_exact(t: f64) -> f64 {
    let x0: f64 = 0.01;
    1.0 / (1.0 + (1.0 / x0 - 1.0) * (-t / 2.0f64).exp())
}

#[test]
fn euler_converges_at_first_order() {
    let e1 =
        (final_value(LOGISTIC, Some(SolverKind::Euler), 0.1, 10.0) - logistic_exact(10.0)).abs();
    let e2 =
        (final_value(LOGISTIC, Some(SolverKind::Euler), 0.05, 10.0) - logistic_exact(10.0)).abs();
    let order = (e1 / e2).log2();
    // First order: halving dt halves the error (to within 10 %).
    assert!((order - 1.0).abs() < 0.1, "observed order {order}");
}

#[test]
fn rk2_converges_at_second_order() {
    let e1 = (final_value(LOGISTIC, Some(SolverKind::Rk2), 0.2, 10.0) - logistic_exact(10.0)).abs();
    let e2 = (final_value(LOGISTIC, Some(SolverKind::Rk2), 0.1, 10.0) - logistic_exact(10.0)).abs();
    let order = (e1 / e2).log2();
    assert!((order - 2.0).abs() < 0.2, "observed order {order}");
}

#[test]
fn rk4_converges_at_fourth_order() {
    let e1 = (final_value(LOGISTIC, Some(SolverKind::Rk4), 0.4, 10.0) - logistic_exact(10.0)).abs();
    let e2 = (final_value(LOGISTIC, Some(SolverKind::Rk4), 0.2, 10.0) - logistic_exact(10.0)).abs();
    let order = (e1 / e2).log2();
    // Fourth order: halving dt divides the error by 16 (order within 0.3;
    // at these step sizes the error is far above rounding).
    assert!(
        (order - 4.0).abs() < 0.3,
        "observed order {order}, errors {e1} {e2}"
    );
}

#[test]
fn rk45_meets_its_tolerance() {
    // rtol 1e-10, atol 1e-12: the global error over 10 ms stays within a
    // small multiple of the tolerance times the number of steps.
    let v = final_value(LOGISTIC, Some(SolverKind::Rk45), 0.5, 10.0);
    let err = (v - logistic_exact(10.0)).abs();
    assert!(err < 1e-8, "error {err}");
}

const RUNAWAY: &str = "neuron Runaway {
    parameters { tau: ms = 1 ms }
    state { x = 1 }
    equations { x' = x * x / tau }
}";

#[test]
fn rk45_follows_a_finite_time_blow_up_and_then_gives_up() {
    // x = 1/(1 - t/tau): 10 at 0.9 ms, infinite at 1 ms.
    let v = final_value(RUNAWAY, Some(SolverKind::Rk45), 0.1, 0.9);
    assert!((v - 10.0).abs() < 1e-7, "x(0.9 ms) = {v}");
    // Beyond the singularity the step cannot be finished: NaN, not a
    // state frozen by steps of size zero.
    let v = final_value(RUNAWAY, Some(SolverKind::Rk45), 0.1, 1.2);
    assert!(v.is_nan(), "x(1.2 ms) = {v}");
}

#[test]
fn logistic_is_nonlinear_so_rk45_is_chosen() {
    let c = crate::compile_text("t.nml", LOGISTIC, None, &DiskReader);
    let model = &c.program.neurons[0];
    let (ir, _) =
        compile_neuron(model, &PopulationSpec::defaults(model, "P", 0.1)).expect("compiles");
    assert_eq!(ir.solver.kind, SolverKind::Rk45, "{}", ir.solver.reason);
}

const ALPHA: &str = "neuron Alpha {
    parameters { tau: ms = 3 ms }
    state { x = 0  y: 1/ms = 1 / ms }
    equations {
        x' = -x / tau + y
        y' = -y / tau
    }
}";

#[test]
fn exact_solver_integrates_coupled_linear_systems_exactly() {
    // x(t) = t e^{-t/tau} for x0 = 0, y0 = 1/ms.
    let v = final_value(ALPHA, None, 0.1, 7.0);
    let exact = 7.0 * (-7.0f64 / 3.0).exp();
    assert!(((v - exact) / exact).abs() < 1e-12, "{v} vs {exact}");
    let c = crate::compile_text("t.nml", ALPHA, None, &DiskReader);
    let model = &c.program.neurons[0];
    let (ir, _) =
        compile_neuron(model, &PopulationSpec::defaults(model, "P", 0.1)).expect("compiles");
    assert_eq!(ir.solver.kind, SolverKind::Exact);
}

#[test]
fn exponential_euler_is_exact_for_frozen_coefficients() {
    let src = "neuron Gate {
        parameters { tau: ms = 4 ms }
        state { m = 0  v = 1 }
        equations {
            m' = (v - m) / tau
        }
    }";
    let v = final_value(src, Some(SolverKind::ExponentialEuler), 0.5, 8.0);
    let exact = 1.0 - (-2.0f64).exp();
    assert!((v - exact).abs() < 1e-14, "{v} vs {exact}");
}
