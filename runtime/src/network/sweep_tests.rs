//! A sweep compiles once: the same kernels serve every point, swept values
//! change behaviour through the network's data, and each point gives the
//! spikes a separate compilation with the values as constants gives.

use nmlc_compiler::backend::StepKernel;
use nmlc_compiler::ir::Place;
use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::model::Program;
use nmlc_compiler::units::Dim;

use super::*;
use crate::network::{Simulation, compile};

/// Three LIF neurons driven by a network parameter `I`, two by a fixed
/// current; `N` sets a population size.
const DRIVE: &str = "
import stdlib.neurons.lif

network Drive {
    parameters {
        I: pA = 400 pA
        N = 3
    }
    dt = 0.1 ms
    duration = 200 ms

    P = LIF(N) {
        I_e = I
        E_L = -65 mV
        V_reset = -65 mV
        V_m = -65 mV
    }
    Q = LIF(2) { I_e = 500 pA }

    record spikes of P
    record spikes of Q
}
";

fn program() -> Program {
    let c = nmlc_compiler::compile_text("drive.nml", DRIVE, None, &DiskReader);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    c.program
}

fn axis(name: &str, dim: Dim, values: &[f64]) -> SweepAxis {
    SweepAxis {
        name: name.into(),
        values: values
            .iter()
            .map(|&value| SweepValue {
                value,
                dim,
                label: format!("{value}"),
            })
            .collect(),
    }
}

fn options() -> RunOptions {
    RunOptions {
        threads: Some(1),
        ..RunOptions::default()
    }
}

/// The address of every step kernel, population by population.
fn kernels(c: &CompiledNetwork) -> Vec<*const u8> {
    c.populations
        .iter()
        .filter_map(|p| match &p.kind {
            CompiledKind::Neuron { kernel, .. } => kernel
                .as_deref()
                .map(|k| k as *const dyn StepKernel as *const u8),
            CompiledKind::Source { .. } | CompiledKind::Generator { .. } => None,
        })
        .collect()
}

#[test]
fn one_compilation_serves_every_point_and_the_values_take_effect() {
    let program = program();
    let axes = vec![
        axis("P.V_th", Dim::VOLTAGE, &[-55.0, -60.0]),
        axis("I", Dim::CURRENT, &[400.0, 600.0]),
    ];
    let mut sweep = Sweep::compile(&program, &options(), axes).unwrap();
    assert_eq!(sweep.len(), 4);
    assert_eq!(sweep.folder_name(1), "P.V_th=-55,I=600");
    // The swept threshold is a column of P, not a constant in its code.
    let CompiledKind::Neuron { ir, verified, .. } = &sweep.compiled().populations[0].kind else {
        panic!("P is a neuron population");
    };
    assert!(verified.binding(Place::Param(3)).is_some(), "{ir:?}");
    let before = kernels(sweep.compiled());
    assert_eq!(before.len(), 2);
    let root = tempfile::tempdir().unwrap();
    let mut rates = Vec::new();
    for point in 0..sweep.len() {
        let dir = OutputDir::create(root.path().join(sweep.folder_name(point)), false).unwrap();
        let r = sweep.run_point(
            point,
            &dir,
            OutputFormat::Csv,
            0.0,
            &Default::default(),
            &mut |_| true,
        );
        assert!(r.error.is_none(), "{:?}", r.error);
        assert_eq!(
            kernels(sweep.compiled()),
            before,
            "no kernel was compiled again"
        );
        let s = r.summary.unwrap();
        rates.push((s.populations["P"].rate_hz, s.populations["Q"].rate_hz));
    }
    // A lower threshold and a larger current each make P fire faster; Q
    // is not touched by either.
    let [(a, qa), (b, qb), (c, qc), (d, qd)] = rates[..] else {
        panic!("{rates:?}")
    };
    assert!(b > a && c > a && d > b && d > c, "{rates:?}");
    assert!(qa == qb && qb == qc && qc == qd && qa > 0.0, "{rates:?}");
    let table = sweep.table(&[]);
    assert_eq!(
        table, "P.V_th,I,rate_P_hz,rate_Q_hz,run,status,error\n",
        "values in the declared units, then rates"
    );
}

#[test]
fn every_point_matches_a_compilation_with_its_values_as_constants() {
    let program = program();
    let axes = vec![
        axis("P.tau_m", Dim::TIME, &[10.0, 15.0]),
        axis("I", Dim::CURRENT, &[450.0, 700.0]),
    ];
    let mut sweep = Sweep::compile(&program, &options(), axes).unwrap();
    for point in 0..sweep.len() {
        let swept = sweep.set_point(point).unwrap();
        let mut sim = Simulation::build(swept).unwrap();
        sim.run().unwrap();
        let swept_spikes = sim.recorders.spikes.clone();
        let indices = sweep.indices(point);
        let mut fixed = options();
        fixed.set = vec![
            ("P.tau_m".into(), [10.0, 15.0][indices[0]], Dim::TIME),
            ("I".into(), [450.0, 700.0][indices[1]], Dim::CURRENT),
        ];
        let constant = compile(&program, &fixed).unwrap();
        let mut sim = Simulation::build(&constant).unwrap();
        sim.run().unwrap();
        assert!(!swept_spikes[0].is_empty());
        assert_eq!(swept_spikes, sim.recorders.spikes, "point {point}");
    }
}

#[test]
fn what_is_fixed_at_compilation_cannot_be_swept() {
    let program = program();
    let Err(e) = Sweep::compile(&program, &options(), vec![axis("N", Dim::ONE, &[2.0, 3.0])])
    else {
        panic!("a swept population size is refused");
    };
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("the size of population `P`"), "{e}");
    // One value is a constant, like `nmlc run --set`.
    assert!(Sweep::compile(&program, &options(), vec![axis("N", Dim::ONE, &[2.0])]).is_ok());
}

#[test]
fn a_parameter_given_twice_or_a_value_listed_twice_is_a_usage_error() {
    let program = program();
    for axes in [
        vec![
            axis("I", Dim::CURRENT, &[1.0]),
            axis("I", Dim::CURRENT, &[2.0]),
        ],
        vec![axis("I", Dim::CURRENT, &[1.0, 1.0])],
    ] {
        let Err(e) = Sweep::compile(&program, &options(), axes) else {
            panic!("refused");
        };
        assert_eq!(e.exit_code(), 2, "{e}");
    }
}
