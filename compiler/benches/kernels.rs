//! Step kernels of the Cranelift JIT against hand-written Rust loops, and
//! the latency from source text to runnable JIT code.
//!
//! - `lif_exact/{jit,hand}`: one step of 10,000 `LIF` neurons (exact
//!   propagator), defaults, `dt = 0.1 ms`, a drive that makes them spike;
//! - `traub_hh/{jit,hand}`: the same for `TraubHH` (exponential Euler);
//! - `compile/traub_hh`: `compile_text` of the TraubHH module, lowering,
//!   integration, optimisation, verification and JIT compilation.
//!
//! Each hand-written loop is the IR of `ir::print::print` written out in
//! Rust with the same operations in the same order and the same constants;
//! before timing, both run 200 steps from the same columns and must end
//! bit-identical, so a change of the IR that the loops miss fails loudly.
//! Divide a time per iteration by 10,000 for ns per neuron-step.

// The loops spell out the IR, which multiplies by -1 where a solver wrote
// the Jacobian.
#![allow(clippy::neg_multiply)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::backend::{Backend, StepKernel, compile_step};
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::lower::PopulationSpec;
use nmlc_compiler::ir::{NeuronIr, Verified, compile_neuron};
use nmlc_compiler::loader::DiskReader;
use std::hint::black_box;

const NEURONS: usize = 10_000;
const DT: f64 = 0.1;

fn context(step: u64) -> StepContext {
    StepContext {
        t: step as f64 * DT,
        dt: DT,
        step,
        seed: 1,
        population: 0,
        first_neuron: 0,
        frames: [1.0; nmlc_compiler::abi::MAX_FRAMES],
    }
}

/// The IR of a standard-library neuron with default parameters.
fn stdlib_ir(name: &str) -> (NeuronIr, Verified) {
    let c = nmlc_compiler::compile_stdlib();
    let model = c
        .program
        .neurons
        .iter()
        .find(|m| m.name == name)
        .expect("the model is in the standard library");
    compile_neuron(model, &PopulationSpec::defaults(model, "P", DT)).expect("compiles")
}

/// Initial columns of `n` neurons with the (only) input set to `drive`
/// plus a spread, so neurons fire at different times.
fn columns(ir: &NeuronIr, info: &Verified, drive: f64) -> Vec<ColumnData> {
    let mut cols: Vec<ColumnData> = ir
        .columns()
        .iter()
        .map(|c| ColumnData::zeros(c.ty, NEURONS))
        .collect();
    Interpreter::new(ir, info).build(&mut cols, NEURONS, &context(0));
    let input = info
        .binding(nmlc_compiler::ir::Place::Input(0))
        .expect("an input column");
    for i in 0..NEURONS {
        cols[input].set(i, drive * (1.0 + 0.5 * i as f64 / NEURONS as f64));
    }
    cols
}

fn f64s(col: &mut ColumnData) -> &mut [f64] {
    match col {
        ColumnData::F64(v) => v,
        _ => panic!("expected an f64 column"),
    }
}

fn i32s(col: &mut ColumnData) -> &mut [i32] {
    match col {
        ColumnData::I32(v) => v,
        _ => panic!("expected an i32 column"),
    }
}

/// `LIF` with defaults: columns V_m, I_syn, refractory_steps.
fn lif_hand(cols: &mut [ColumnData], spikes: &mut Vec<u32>) {
    let [v, input, refractory] = cols else {
        panic!("LIF has three columns")
    };
    let (v, input, refractory) = (f64s(v), f64s(input), i32s(refractory));
    for i in 0..v.len() {
        let l0 = refractory[i] > 0;
        let l1 = v[i];
        let l2 = -7.0 + input[i] / 250.0;
        let l3 = 0.9900498337491681 * v[i] + 0.09950166250831947 * l2;
        v[i] = l3;
        if l0 {
            v[i] = l1;
            refractory[i] -= 1;
        }
        if !l0 && v[i] >= -55.0 {
            spikes.push(i as u32);
            v[i] = -70.0;
            refractory[i] = 20;
        }
    }
}

/// `TraubHH` with defaults: columns V_m, m, h, n, g_ex, g_in, I_syn,
/// refractory_steps. Shared subexpressions are computed once, as the JIT
/// does for shared IR handles.
fn traub_hand(cols: &mut [ColumnData], spikes: &mut Vec<u32>) {
    let [v_m, m, h, n, g_ex, g_in, input, refractory] = cols else {
        panic!("TraubHH has eight columns")
    };
    let (v_m, m, h, n) = (f64s(v_m), f64s(m), f64s(h), f64s(n));
    let (g_ex, g_in, input, refractory) = (f64s(g_ex), f64s(g_in), f64s(input), i32s(refractory));
    let exprel = |x: f64| if x == 0.0 { 1.0 } else { x.exp_m1() / x };
    for i in 0..v_m.len() {
        let (v, mi, hi, ni, ge, gi) = (v_m[i], m[i], h[i], n[i], g_ex[i], g_in[i]);
        let l0 = refractory[i] > 0;
        let g_na = (20000.0 * mi.powf(3.0)) * hi;
        let g_k = 6000.0 * ni.powf(4.0);
        let current = (((10.0 * (-60.0 - v) + (ge * (0.0 - v) + gi * (-80.0 - v)))
            + g_na * (50.0 - v))
            + g_k * (-90.0 - v))
            + input[i];
        let slope =
            ((((-10.0 + (ge * -1.0 + gi * -1.0)) + g_na * -1.0) + g_k * -1.0) / 200.0) * 0.1;
        let l1 = v + (0.1 * (current / 200.0)) * exprel(slope);

        let alpha_m = 1.28 / exprel(((13.0 - v) + -63.0) / 4.0);
        let beta_m = 1.4 / exprel(((v - -63.0) - 40.0) / 5.0);
        let l2 = mi
            + (0.1 * (alpha_m * (1.0 - mi) - beta_m * mi))
                * exprel((alpha_m * -1.0 - beta_m) * 0.1);

        let alpha_h = 0.128 * (((17.0 - v) + -63.0) / 18.0).exp();
        let beta_h = 4.0 / (1.0 + (((40.0 - v) + -63.0) / 5.0).exp());
        let l3 = hi
            + (0.1 * (alpha_h * (1.0 - hi) - beta_h * hi))
                * exprel((alpha_h * -1.0 - beta_h) * 0.1);

        let alpha_n = 0.16 / exprel(((15.0 - v) + -63.0) / 5.0);
        let beta_n = 0.5 * (((10.0 - v) + -63.0) / 40.0).exp();
        let l4 = ni
            + (0.1 * (alpha_n * (1.0 - ni) - beta_n * ni))
                * exprel((alpha_n * -1.0 - beta_n) * 0.1);

        let l5 = ge + (0.1 * (-ge / 5.0)) * 0.9900663346622349;
        let l6 = gi + (0.1 * (-gi / 10.0)) * 0.9950166250831947;
        v_m[i] = l1;
        m[i] = l2;
        h[i] = l3;
        n[i] = l4;
        g_ex[i] = l5;
        g_in[i] = l6;
        if l0 {
            refractory[i] -= 1;
        }
        if !l0 && v_m[i] > -20.0 {
            spikes.push(i as u32);
            refractory[i] = 30;
        }
    }
}

/// Runs the JIT and the hand-written loop 200 steps from the same columns
/// and asserts they agree bit for bit.
fn check_equivalent(
    name: &str,
    jit: &dyn StepKernel,
    hand: fn(&mut [ColumnData], &mut Vec<u32>),
    cols: &[ColumnData],
) {
    let (mut a, mut b) = (cols.to_vec(), cols.to_vec());
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for step in 0..200 {
        jit.step(&context(step), &mut a, 0, NEURONS, &mut sa);
        hand(&mut b, &mut sb);
    }
    assert!(
        a == b && sa == sb,
        "{name}: the hand-written loop no longer matches the IR"
    );
    assert!(
        !sa.is_empty(),
        "{name}: the drive should make neurons spike"
    );
}

fn bench_kernel(
    c: &mut Criterion,
    name: &str,
    model: &str,
    drive: f64,
    hand: fn(&mut [ColumnData], &mut Vec<u32>),
) {
    let (ir, info) = stdlib_ir(model);
    let jit = compile_step(&ir, &info, Backend::Jit).expect("the JIT compiles");
    let cols = columns(&ir, &info, drive);
    check_equivalent(name, jit.as_ref(), hand, &cols);

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(NEURONS as u64));
    let (mut state, mut spikes, mut step) = (cols.clone(), Vec::with_capacity(NEURONS), 0u64);
    group.bench_function("jit", |bencher| {
        bencher.iter(|| {
            spikes.clear();
            jit.step(
                &context(step),
                black_box(&mut state),
                0,
                NEURONS,
                &mut spikes,
            );
            step += 1;
        })
    });
    let mut state = cols.clone();
    group.bench_function("hand", |bencher| {
        bencher.iter(|| {
            spikes.clear();
            hand(black_box(&mut state), &mut spikes);
        })
    });
    group.finish();
}

fn kernels(c: &mut Criterion) {
    bench_kernel(c, "lif_exact", "LIF", 400.0, lif_hand);
    bench_kernel(c, "traub_hh", "TraubHH", 300.0, traub_hand);
}

fn compile_latency(c: &mut Criterion) {
    let source = nmlc_compiler::stdlib::lookup("stdlib.neurons.traub_hh")
        .expect("TraubHH is in the standard library");
    c.bench_function("compile/traub_hh", |bencher| {
        bencher.iter_batched(
            || (),
            |()| {
                let compiled =
                    nmlc_compiler::compile_text("traub_hh.nml", source, None, &DiskReader);
                let model = compiled
                    .program
                    .neurons
                    .iter()
                    .find(|m| m.name == "TraubHH")
                    .expect("the module defines TraubHH");
                let (ir, info) = compile_neuron(model, &PopulationSpec::defaults(model, "P", DT))
                    .expect("compiles");
                compile_step(&ir, &info, Backend::Jit).expect("the JIT compiles")
            },
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(benches, kernels, compile_latency);
criterion_main!(benches);
