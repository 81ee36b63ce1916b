//! Every standard-library neuron model compiles to verified IR, and the IR
//! of each is pinned by a snapshot (text form), so a change in lowering, a
//! solver or a pass shows up as a reviewable diff.

use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::lower::PopulationSpec;
use nmlc_compiler::ir::{compile_neuron, print};

#[test]
fn every_stdlib_neuron_compiles_and_runs() {
    let c = nmlc_compiler::compile_stdlib();
    assert!(!c.has_errors());
    for model in &c.program.neurons {
        let spec = PopulationSpec::defaults(model, "P", 0.1);
        let (ir, info) =
            compile_neuron(model, &spec).unwrap_or_else(|d| panic!("{}: {d:?}", model.name));
        let mut cols: Vec<ColumnData> = ir
            .columns()
            .iter()
            .map(|c| ColumnData::zeros(c.ty, 3))
            .collect();
        let interp = Interpreter::new(&ir, &info);
        let mut ctx = StepContext {
            t: 0.0,
            dt: 0.1,
            step: 0,
            seed: 3,
            population: 0,
            first_neuron: 0,
            frames: [1.0; nmlc_compiler::abi::MAX_FRAMES],
        };
        interp.build(&mut cols, 3, &ctx);
        let mut spikes = Vec::new();
        for n in 0..2000 {
            ctx.step = n;
            ctx.t = n as f64 * 0.1;
            interp.step(&ctx, &mut cols, 0, 3, &mut spikes);
        }
        for (col, data) in ir.columns().iter().zip(&cols) {
            for i in 0..3 {
                assert!(
                    data.get(i).is_finite(),
                    "{}: {} of neuron {i} is {}",
                    model.name,
                    col.name,
                    data.get(i)
                );
            }
        }
        println!(
            "{}: solver {:?} ({}), {} spikes",
            model.name,
            ir.solver.kind,
            ir.solver.reason,
            spikes.len()
        );
    }
}

#[test]
fn ir_of_every_stdlib_neuron() {
    let c = nmlc_compiler::compile_stdlib();
    for model in &c.program.neurons {
        let spec = PopulationSpec::defaults(model, "P", 0.1);
        let (ir, _) = compile_neuron(model, &spec).expect("compiles");
        insta::assert_snapshot!(format!("ir_{}", model.name), print::print(&ir));
    }
}
