//! A population split into chunks (one per thread) gives the same numbers
//! as one piece: `Index` and the random streams use the population index
//! `first_neuron + k`, on every backend.

use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::backend::{Backend, compile_step};
use nmlc_compiler::ir::compile_neuron;
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::lower::PopulationSpec;

fn context(step: u64, first_neuron: u32) -> StepContext {
    StepContext {
        t: step as f64 * 0.1,
        dt: 0.1,
        step,
        seed: 99,
        population: 1,
        first_neuron,
        frames: [1.0; nmlc_compiler::abi::MAX_FRAMES],
    }
}

/// Runs `steps` steps of `n` neurons split at `split`, returning the
/// columns of the whole population and all spikes.
fn run(
    model: &str,
    backend: Backend,
    n: usize,
    split: usize,
    steps: u64,
) -> (Vec<Vec<f64>>, Vec<(u64, u32)>) {
    let c = nmlc_compiler::compile_stdlib();
    let model = c
        .program
        .neurons
        .iter()
        .find(|m| m.name == model)
        .expect("model");
    let mut spec = PopulationSpec::defaults(model, "P", 0.1);
    if let Some(k) = model.params.iter().position(|p| p.name == "rate") {
        spec.params[k] = nmlc_compiler::ir::lower::ParamSpec::Constant(0.2); // 200 Hz
    }
    let (ir, info) = compile_neuron(model, &spec).expect("compiles");
    let kernel = compile_step(&ir, &info, backend).expect("kernel");
    let interp = Interpreter::new(&ir, &info);
    let pieces = [(0, split), (split, n)];
    let mut chunks: Vec<Vec<ColumnData>> = pieces
        .iter()
        .map(|(a, b)| {
            ir.columns()
                .iter()
                .map(|col| ColumnData::zeros(col.ty, b - a))
                .collect()
        })
        .collect();
    for ((a, b), cols) in pieces.iter().zip(chunks.iter_mut()) {
        interp.build(cols, b - a, &context(0, *a as u32));
    }
    let mut spikes = Vec::new();
    for step in 0..steps {
        for ((a, b), cols) in pieces.iter().zip(chunks.iter_mut()) {
            let mut s = Vec::new();
            kernel.step(&context(step, *a as u32), cols, 0, b - a, &mut s);
            spikes.extend(s.into_iter().map(|i| (step, i + *a as u32)));
        }
    }
    spikes.sort();
    let columns = (0..ir.columns().len())
        .map(|k| {
            pieces
                .iter()
                .zip(&chunks)
                .flat_map(|((a, b), cols)| (0..b - a).map(move |i| cols[k].get(i)))
                .collect()
        })
        .collect();
    (columns, spikes)
}

#[test]
fn chunks_do_not_change_random_models() {
    for model in ["PoissonSource", "LIFNoise"] {
        for backend in [Backend::Interp, Backend::Jit] {
            let whole = run(model, backend, 10, 10, 300);
            let split = run(model, backend, 10, 4, 300);
            assert_eq!(whole.1, split.1, "{model} {backend:?}: spikes differ");
            for (a, b) in whole.0.iter().zip(&split.0) {
                for (x, y) in a.iter().zip(b) {
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "{model} {backend:?}: state differs"
                    );
                }
            }
            assert!(
                !whole.1.is_empty() || model == "LIFNoise",
                "{model}: no spikes at all"
            );
        }
    }
}

#[test]
fn jit_and_interpreter_agree_on_chunks() {
    for model in ["PoissonSource", "LIFNoise"] {
        let a = run(model, Backend::Interp, 10, 4, 300);
        let b = run(model, Backend::Jit, 10, 4, 300);
        assert_eq!(a.1, b.1, "{model}: spikes differ");
    }
}
