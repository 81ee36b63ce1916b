//! `examples/lif_analytic.nml` against its closed-form solution.
//!
//! One LIF neuron (tau_m 10 ms, C_m 250 pF, E_L -65 mV, V_th -50 mV,
//! V_reset -65 mV, t_ref 2 ms, I_e 500 pA) integrated with the exact
//! solver at dt = 0.1 ms for 1 s:
//!
//! - below threshold, V(t) = V_inf + (V_0 − V_inf)·e^{−t/τ} with
//!   V_inf = E_L + R·I; the exact propagator reproduces it to rounding, so
//!   the trace must match to 1e-9 relative (the propagator entries are
//!   exact to ~1e-16; 10^4 steps accumulate at most ~1e-12);
//! - the interspike interval is t_ref + τ·ln(R·I / (R·I − (V_th − E_L)));
//!   spikes are detected on the time grid, so each interval is that value
//!   rounded up to the grid: within one dt.

use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::check::eval_constant;
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::lower::{ParamSpec, PopulationSpec};
use nmlc_compiler::ir::{Place, compile_neuron};
use nmlc_compiler::model::{PopulationKind, SolverKind};

struct Run {
    trace: Vec<f64>,
    spikes: Vec<f64>,
}

fn simulate() -> Run {
    let path = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/lif_analytic.nml"
    ));
    let c = nmlc_compiler::compile_paths(&[path], &nmlc_compiler::loader::DiskReader);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let net = &c.program.networks[0];
    let pop = &net.populations[0];
    let PopulationKind::Neuron(m) = pop.kind else {
        panic!("a neuron population")
    };
    let model = &c.program.neurons[m as usize];
    let mut spec = PopulationSpec::defaults(model, "P", 0.1);
    for (k, value) in &pop.params {
        spec.params[*k as usize] =
            ParamSpec::Constant(eval_constant(value, &[]).expect("constant"));
    }
    let (ir, info) = compile_neuron(model, &spec).expect("compiles");
    assert_eq!(ir.solver.kind, SolverKind::Exact, "{}", ir.solver.reason);
    let mut cols: Vec<ColumnData> = ir
        .columns()
        .iter()
        .map(|col| ColumnData::zeros(col.ty, 1))
        .collect();
    let interp = Interpreter::new(&ir, &info);
    let mut ctx = StepContext {
        t: 0.0,
        dt: 0.1,
        step: 0,
        seed: 0,
        population: 0,
        first_neuron: 0,
        frames: [1.0; nmlc_compiler::abi::MAX_FRAMES],
    };
    interp.build(&mut cols, 1, &ctx);
    let v = info.binding(Place::State(0)).expect("V_m column");
    let mut trace = vec![cols[v].get(0)];
    let mut spikes = Vec::new();
    for n in 0..10_000u64 {
        ctx.step = n;
        ctx.t = n as f64 * 0.1;
        let mut s = Vec::new();
        interp.step(&ctx, &mut cols, 0, 1, &mut s);
        if !s.is_empty() {
            spikes.push((n + 1) as f64 * 0.1);
        }
        trace.push(cols[v].get(0));
    }
    Run { trace, spikes }
}

const TAU: f64 = 10.0;
const RI: f64 = 500.0 * 10.0 / 250.0;
const E_L: f64 = -65.0;

#[test]
fn interspike_interval_matches_the_closed_form_within_one_dt() {
    let run = simulate();
    let isi = 2.0 + TAU * (RI / (RI - 15.0)).ln();
    assert_eq!(
        run.spikes.len(),
        63,
        "{:?}",
        &run.spikes[..5.min(run.spikes.len())]
    );
    assert!(
        (run.spikes[0] - (isi - 2.0)).abs() <= 0.1 + 1e-9,
        "first spike {}",
        run.spikes[0]
    );
    for w in run.spikes.windows(2) {
        let observed = w[1] - w[0];
        assert!(
            (observed - isi).abs() <= 0.1 + 1e-9,
            "interval {observed} vs {isi}"
        );
    }
}

#[test]
fn subthreshold_trace_matches_the_closed_form() {
    let run = simulate();
    let first_spike_step = (run.spikes[0] / 0.1).round() as usize;
    for (n, v) in run.trace.iter().enumerate().take(first_spike_step) {
        let t = n as f64 * 0.1;
        let exact = E_L + RI * (1.0 - (-t / TAU).exp());
        assert!(
            ((v - exact) / exact).abs() < 1e-9,
            "t = {t}: {v} vs {exact}"
        );
    }
    // After each reset the trajectory starts again from V_reset once the
    // refractory period is over.
    let second = (run.spikes[1] / 0.1).round() as usize;
    let restart = first_spike_step + 20;
    for (k, v) in run.trace[restart..second].iter().enumerate() {
        let t = k as f64 * 0.1;
        let exact = E_L + RI * (1.0 - (-t / TAU).exp());
        assert!(
            ((v - exact) / exact).abs() < 1e-9,
            "after reset, t = {t}: {v} vs {exact}"
        );
    }
    // While refractory the membrane is clamped at V_reset.
    for v in &run.trace[first_spike_step..restart] {
        assert_eq!(*v, E_L);
    }
}
