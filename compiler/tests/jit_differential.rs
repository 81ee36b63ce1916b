//! The Cranelift JIT against the reference interpreter.
//!
//! Every standard-library neuron model runs 10,000 steps of 5 neurons with
//! both backends from the same columns, with perturbed parameters (constant,
//! and per-neuron columns) and a constant drive that makes the neurons
//! spike, in double and single precision. Spike lists must be identical at
//! every step and every column must agree at every 100th step:
//!
//! - `f64`: to 1e-12 relative (absolute 1e-12 near 0), the tolerance asked
//!   of the backend; in practice the JIT is bit-exact, which the test
//!   reports;
//! - `f32`: bit-exact. The JIT reproduces the interpreter's rule (compute in
//!   `f64`, round to `f32` after every operation) instruction by
//!   instruction, so any difference is a bug, not rounding.
//!
//! The JIT runs three times: with its widest kernel (LLVM's 4- or 8-lane
//! kernel with the `llvm` feature on a host with AVX, else the two-neuron
//! SIMD kernel), with the two-neuron kernel, and scalar only (where the
//! model has several-lane kernels, the neurons left over go through the
//! scalar loop). All must agree bit for bit, at every step.
//!
//! Targeted tests check each math function, `Rem`, `Select`, `While`,
//! `RoundToInt`, repeated `Spike` and random draws bit for bit on
//! hand-built kernels, including NaN, infinities and signed zeros.

use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::backend::cranelift::{JitKernel, Vectorise};
use nmlc_compiler::backend::{Backend, StepKernel, compile_step, written_states};
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::lower::{ParamSpec, PopulationSpec};
use nmlc_compiler::ir::{
    BinaryOp, Block, Expr, Handle, MathFn, NeuronIr, Place, Precision, RandomFn, Stmt, Type,
    UnaryOp, Verified, compile_neuron, compile_neuron_framed, verify,
};
use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::model::NeuronModel;

/// Enough neurons for one group of 8 lanes (LLVM's kernel on an AVX-512
/// host), two of 4 (AVX2) or five pairs, each with an odd tail for the
/// scalar kernel.
const NEURONS: usize = 11;
const STEPS: u64 = 10_000;
const DT: f64 = 0.1;

/// SplitMix64: a small fixed-seed generator, so runs are reproducible.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// A default perturbed by up to ±20 % (the sign is kept); a zero
    /// default becomes a small non-negative value (up to 0.2 in internal
    /// units), so that e.g. a source's rate or a constant current is not
    /// always zero.
    fn perturb(&mut self, x: f64) -> f64 {
        if x == 0.0 {
            self.uniform(0.0, 0.2)
        } else {
            x * self.uniform(0.8, 1.2)
        }
    }
}

fn context(step: u64) -> StepContext {
    StepContext {
        t: step as f64 * DT,
        dt: DT,
        step,
        seed: 12345,
        population: 2,
        first_neuron: 0,
        // Scales of decay frames that change from step to step, as a
        // network's do (the runtime's renormalisation is not modelled:
        // only that every kernel reads them as the interpreter does).
        frames: [0, 1, 2, 3].map(|f| 0.98f64.powi((step % 50) as i32 + f)),
    }
}

/// How parameters are given in one run.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Params {
    Constant,
    PerNeuron,
}

/// The constant defaults of a model's parameters, or why there are none.
fn defaults(model: &NeuronModel) -> Result<Vec<f64>, String> {
    let spec = PopulationSpec::defaults(model, "P", DT);
    spec.params
        .iter()
        .zip(&model.params)
        .map(|(p, m)| match p {
            ParamSpec::Constant(v) => Ok(*v),
            _ => Err(format!("parameter `{}` has no constant default", m.name)),
        })
        .collect()
}

/// Columns built by the interpreter (`derive`, `init`) with per-neuron
/// parameters filled in, states nudged per neuron so the neurons differ,
/// and inputs set to `drive` (scaled a little per neuron).
fn build_columns(
    ir: &NeuronIr,
    info: &Verified,
    per_neuron: &[Vec<f64>],
    drive: f64,
) -> Vec<ColumnData> {
    let mut cols: Vec<ColumnData> = ir
        .columns()
        .iter()
        .map(|c| ColumnData::zeros(c.ty, NEURONS))
        .collect();
    for (k, values) in per_neuron.iter().enumerate() {
        if let Some(b) = info.binding(Place::Param(k as u32)) {
            for (i, v) in values.iter().enumerate() {
                cols[b].set(i, *v);
            }
        }
    }
    Interpreter::new(ir, info).build(&mut cols, NEURONS, &context(0));
    for (b, col) in ir.columns().iter().enumerate() {
        for i in 0..NEURONS {
            match col.place {
                Place::State(_) => {
                    let x = cols[b].get(i);
                    cols[b].set(i, x * (1.0 + 0.002 * i as f64));
                }
                Place::Input(_) => cols[b].set(i, drive * (1.0 + 0.05 * i as f64)),
                _ => {}
            }
        }
    }
    cols
}

/// Compiles `model` with perturbed parameters for one run.
fn compile(
    model: &NeuronModel,
    params: Params,
    precision: Precision,
    rng: &mut Rng,
) -> (NeuronIr, Verified, Vec<Vec<f64>>) {
    let base = defaults(model).expect("checked by the caller");
    let mut spec = PopulationSpec::defaults(model, "P", DT);
    spec.precision = precision;
    let mut per_neuron = Vec::new();
    for (k, d) in base.iter().enumerate() {
        match params {
            Params::Constant => spec.params[k] = ParamSpec::Constant(rng.perturb(*d)),
            Params::PerNeuron => {
                spec.params[k] = ParamSpec::PerNeuron;
                per_neuron.push((0..NEURONS).map(|_| rng.perturb(*d)).collect());
            }
        }
    }
    // As a network compiles it: states that only decay go into frames.
    let (ir, info) =
        compile_neuron_framed(model, &spec).unwrap_or_else(|d| panic!("{}: {d:?}", model.name));
    (ir, info, per_neuron)
}

/// The smallest drive (in powers of about 3 of the input's unit, times a
/// factor drawn per run) that makes all neurons of this run spike within
/// 100 ms under the interpreter; 0 for models without inputs.
fn choose_drive(ir: &NeuronIr, info: &Verified, per_neuron: &[Vec<f64>], rng: &mut Rng) -> f64 {
    let Some(input) = ir.inputs.first() else {
        return 0.0;
    };
    let unit = input.unit_factor;
    let factor = rng.uniform(1.0, 1.5);
    if !ir.spiking {
        return 10.0 * unit * factor;
    }
    let interp = Interpreter::new(ir, info);
    for candidate in [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0] {
        let drive = candidate * unit * factor;
        let mut cols = build_columns(ir, info, per_neuron, drive);
        let mut spikes = Vec::new();
        for n in 0..1000 {
            interp.step(&context(n), &mut cols, 0, NEURONS, &mut spikes);
        }
        if (0..NEURONS as u32).all(|i| spikes.contains(&i)) {
            return drive;
        }
    }
    100.0 * unit * factor
}

/// Whether two values agree to `rel` (absolute `rel` near 0); NaNs agree
/// with NaNs.
fn close(a: f64, b: f64, rel: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// Runs both backends and compares; returns (spikes, largest relative
/// difference seen).
fn differential(
    name: &str,
    ir: &NeuronIr,
    info: &Verified,
    mut cols: Vec<ColumnData>,
) -> (usize, f64, bool) {
    let interp = Interpreter::new(ir, info);
    let jit = JitKernel::compile_with(ir, info, Vectorise::Widest)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let pairs = JitKernel::compile_with(ir, info, Vectorise::Pairs)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let scalar = JitKernel::compile_with(ir, info, Vectorise::Scalar)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    // LLVM's kernel at the lane counts the host does not choose (4 and 2
    // on an AVX-512 host): the same code for other widths of machine.
    #[cfg(feature = "llvm")]
    let others: Vec<JitKernel> = [2, 4, 8]
        .into_iter()
        .filter(|&l| l != jit.lanes())
        .map(|l| {
            JitKernel::compile_with(ir, info, Vectorise::Llvm(l))
                .unwrap_or_else(|e| panic!("{name}, {l} lanes: {e}"))
        })
        .collect();
    #[cfg(not(feature = "llvm"))]
    let others: Vec<JitKernel> = Vec::new();
    let mut others_cols = vec![cols.clone(); others.len()];
    let mut jit_cols = cols.clone();
    let mut pairs_cols = cols.clone();
    let mut scalar_cols = cols.clone();
    let tolerance = match ir.precision {
        Precision::F64 => 1e-12,
        Precision::F32 => 0.0,
    };
    let (mut total, mut worst) = (0, 0.0f64);
    let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..STEPS {
        let ctx = context(n);
        a.clear();
        b.clear();
        c.clear();
        d.clear();
        interp.step(&ctx, &mut cols, 0, NEURONS, &mut a);
        let finite = [
            jit.step(&ctx, &mut jit_cols, 0, NEURONS, &mut b),
            scalar.step(&ctx, &mut scalar_cols, 0, NEURONS, &mut c),
            pairs.step(&ctx, &mut pairs_cols, 0, NEURONS, &mut d),
        ];
        let want = written_finite(ir, info, &cols, 0..NEURONS);
        assert_eq!(finite, [want; 3], "{name}: finiteness reported at step {n}");
        for (k, o) in others.iter().zip(&mut others_cols) {
            let mut e = Vec::new();
            let ok = k.step(&ctx, o, 0, NEURONS, &mut e);
            assert_eq!(
                (ok, &e),
                (want, &c),
                "{name}: {}-lane kernel at step {n}",
                k.lanes()
            );
        }
        assert_eq!(a, b, "{name}: spikes differ at step {n}");
        assert_eq!(
            b,
            c,
            "{name}: spikes of the {}-lane kernel differ at step {n}",
            jit.lanes()
        );
        assert_eq!(
            d, c,
            "{name}: spikes of the two-neuron kernel differ at step {n}"
        );
        total += a.len();
        for (k, col) in ir.columns().iter().enumerate() {
            for i in 0..NEURONS {
                let z = scalar_cols[k].get(i);
                for (other, o) in others.iter().zip(&others_cols) {
                    let y = o[k].get(i);
                    assert!(
                        y.to_bits() == z.to_bits() || (y.is_nan() && z.is_nan()),
                        "{name}: {} of neuron {i} at step {n}: {}-lane kernel {y:e}, scalar {z:e}",
                        col.name,
                        other.lanes()
                    );
                }
                for (lanes, y) in [(jit.lanes(), jit_cols[k].get(i)), (2, pairs_cols[k].get(i))] {
                    assert!(
                        y.to_bits() == z.to_bits() || (y.is_nan() && z.is_nan()),
                        "{name}: {} of neuron {i} at step {n}: {lanes}-lane kernel {y:e}, scalar {z:e}",
                        col.name
                    );
                }
            }
        }
        if n % 100 == 99 {
            for (k, col) in ir.columns().iter().enumerate() {
                for i in 0..NEURONS {
                    let (x, y) = (cols[k].get(i), jit_cols[k].get(i));
                    assert!(
                        close(x, y, tolerance),
                        "{name}: {} of neuron {i} at step {n}: interpreter {x:e}, JIT {y:e}",
                        col.name
                    );
                    if x != y && !(x.is_nan() && y.is_nan()) {
                        worst = worst.max((x - y).abs() / x.abs().max(y.abs()).max(1.0));
                    }
                }
            }
        }
    }
    (total, worst, jit.lanes() > 1)
}

#[test]
fn every_stdlib_neuron_agrees_with_the_interpreter() {
    let c = nmlc_compiler::compile_stdlib();
    assert!(!c.has_errors());
    let mut rng = Rng(0x5EED_2024);
    let (mut runs, mut paired, mut framed) = (0, 0, 0);
    for model in &c.program.neurons {
        if let Err(why) = defaults(model) {
            println!("skipping {}: {why}", model.name);
            continue;
        }
        for (params, precision) in [
            (Params::Constant, Precision::F64),
            (Params::PerNeuron, Precision::F64),
            (Params::Constant, Precision::F32),
        ] {
            let (ir, info, per_neuron) = compile(model, params, precision, &mut rng);
            let drive = choose_drive(&ir, &info, &per_neuron, &mut rng);
            let cols = build_columns(&ir, &info, &per_neuron, drive);
            let name = format!("{} ({params:?} parameters, {precision:?})", model.name);
            let (spikes, worst, pairs) = differential(&name, &ir, &info, cols);
            println!(
                "{name}: solver {:?}, drive {drive:e}, {spikes} spikes, largest difference \
                 {worst:e}, two-neuron kernel {pairs}",
                ir.solver.kind
            );
            runs += 1;
            paired += usize::from(pairs);
            framed += usize::from(!ir.frames.is_empty());
        }
    }
    assert!(runs >= 3 * 10, "only {runs} runs");
    // Models whose synaptic variables only decay (CubaLIF's `g_ex` and
    // `g_in`) have them in decay frames, read through `FrameScale`.
    assert!(framed >= 2, "only {framed} runs with decay frames");
    // Every f64 kernel without an adaptive solver's loop has a two-neuron
    // version (most of the library).
    assert!(
        paired >= 10,
        "only {paired} runs with the two-neuron kernel"
    );
}

// ----- targeted tests on hand-built kernels --------------------------------

/// A model with four states and a refractory counter, whose step kernel the
/// tests replace.
const PROBE: &str = "neuron Probe {
    parameters { t_ref: ms = 1 ms }
    state { x = 0  y = 0  z = 0  r = 0 }
    spike when x > 1e300
    refractory t_ref
}";

/// A step kernel under construction.
struct Kernel {
    ir: NeuronIr,
    span: nmlc_compiler::source::Span,
}

impl Kernel {
    fn new(precision: Precision) -> Kernel {
        let c = nmlc_compiler::compile_text("probe.nml", PROBE, None, &DiskReader);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let model = &c.program.neurons[0];
        let mut spec = PopulationSpec::defaults(model, "P", DT);
        spec.precision = precision;
        let (mut ir, _) = compile_neuron(model, &spec).expect("compiles");
        let span = ir.exprs.span(
            ir.exprs
                .handles()
                .next()
                .expect("the probe has expressions"),
        );
        ir.step = Block::default();
        Kernel { ir, span }
    }

    fn add(&mut self, e: Expr, ty: Type) -> Handle<Expr> {
        self.ir.add(e, ty, self.span)
    }

    fn real(&self) -> Type {
        self.ir.real()
    }

    fn load(&mut self, place: Place) -> Handle<Expr> {
        let ty = match place {
            Place::Refractory => Type::I32,
            Place::Local(k) => self.ir.local_types[k as usize],
            _ => self.real(),
        };
        self.add(Expr::Load(place), ty)
    }

    fn state(&mut self, k: u32) -> Handle<Expr> {
        self.load(Place::State(k))
    }

    fn lit(&mut self, x: f64) -> Handle<Expr> {
        let ty = self.real();
        self.add(Expr::Real(x), ty)
    }

    fn binary(&mut self, op: BinaryOp, a: Handle<Expr>, b: Handle<Expr>) -> Handle<Expr> {
        let ty = if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
            Type::Bool
        } else {
            self.ir.exprs.ty(a)
        };
        self.add(Expr::Binary(op, a, b), ty)
    }

    fn math(&mut self, m: MathFn, args: Vec<Handle<Expr>>) -> Handle<Expr> {
        let ty = self.real();
        self.add(Expr::Math(m, args), ty)
    }

    fn push(&mut self, s: Stmt) {
        self.ir.step.0.push(s);
    }

    fn verify(&self) -> Verified {
        verify(&self.ir).expect("hand-built kernels are valid IR")
    }
}

/// Columns of the probe for `n` neurons with states from `values` (one
/// vector per state) and the refractory counter from `refractory`.
fn probe_columns(
    k: &Kernel,
    info: &Verified,
    states: &[Vec<f64>],
    refractory: &[i32],
) -> Vec<ColumnData> {
    let n = states[0].len();
    let mut cols: Vec<ColumnData> =
        k.ir.columns()
            .iter()
            .map(|c| ColumnData::zeros(c.ty, n))
            .collect();
    for (s, values) in states.iter().enumerate() {
        let b = info.binding(Place::State(s as u32)).expect("state column");
        for (i, v) in values.iter().enumerate() {
            cols[b].set(i, *v);
        }
    }
    if let Some(b) = info.binding(Place::Refractory) {
        for (i, v) in refractory.iter().enumerate() {
            cols[b].set(i, f64::from(*v));
        }
    }
    cols
}

/// Runs `steps` steps with both backends; asserts bit-identical columns
/// and spikes after each, and returns the JIT's columns.
fn bit_exact(what: &str, k: &Kernel, mut cols: Vec<ColumnData>, steps: u64) -> Vec<ColumnData> {
    let info = k.verify();
    let n = cols[0].len();
    let interp = Interpreter::new(&k.ir, &info);
    let jit = JitKernel::compile(&k.ir, &info).expect("compiles");
    // Every kernel without a loop runs two neurons at a time, so these
    // tests check the two-neuron kernel too (with an odd n, the scalar
    // tail as well).
    assert_eq!(
        jit.lanes() > 1,
        !has_while(&k.ir.step),
        "{what}: kernel for several neurons at a time"
    );
    let mut jit_cols = cols.clone();
    for step in 0..steps {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        interp.step(&context(step), &mut cols, 0, n, &mut a);
        let finite = jit.step(&context(step), &mut jit_cols, 0, n, &mut b);
        assert_eq!(a, b, "{what}: spikes at step {step}");
        assert_eq!(
            finite,
            written_finite(&k.ir, &info, &cols, 0..n),
            "{what}: finiteness reported at step {step}"
        );
        for (c, col) in k.ir.columns().iter().enumerate() {
            for i in 0..n {
                let (x, y) = (cols[c].get(i), jit_cols[c].get(i));
                let same = x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
                assert!(
                    same,
                    "{what}: {} of neuron {i}: interpreter {x:?}, JIT {y:?}",
                    col.name
                );
            }
        }
    }
    jit_cols
}

/// Whether every state the kernel writes is finite for the neurons of
/// `range` in `cols`: what [`StepKernel::step`] reports.
fn written_finite(
    ir: &NeuronIr,
    info: &Verified,
    cols: &[ColumnData],
    range: std::ops::Range<usize>,
) -> bool {
    written_states(ir).iter().all(|&k| {
        let b = info
            .binding(Place::State(k))
            .expect("a written state has a column");
        range.clone().all(|i| cols[b].get(i).is_finite())
    })
}

/// Whether a block has a `While` (at any depth).
fn has_while(block: &Block) -> bool {
    block.0.iter().any(|s| match s {
        Stmt::While { .. } => true,
        Stmt::If(_, a, b) => has_while(a) || has_while(b),
        _ => false,
    })
}

/// Operands that probe the edges: zeros of both signs, halves, values near
/// integers, large, tiny, infinities, NaN.
fn special_values() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        -1.5,
        2.5,
        -2.5,
        0.49999999999999994,
        -0.49999999999999994,
        1.0,
        -1.0,
        0.3,
        -7.25,
        3.0,
        1e-310,
        1e300,
        -1e300,
        4503599627370497.0,
        2147483647.5,
        -2147483649.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ]
}

/// Every (x, y, z) triple of `values` with a few z's, as state columns.
fn triples(values: &[f64]) -> Vec<Vec<f64>> {
    let zs = [-1.0, 0.0, 2.0, f64::NAN];
    let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
    for a in values {
        for b in values {
            for c in zs {
                x.push(*a);
                y.push(*b);
                z.push(c);
            }
        }
    }
    let n = x.len();
    vec![x, y, z, vec![0.0; n]]
}

const ALL_MATH: [MathFn; 28] = [
    MathFn::Exp,
    MathFn::Expm1,
    MathFn::Log,
    MathFn::Log10,
    MathFn::Log2,
    MathFn::Log1p,
    MathFn::Sqrt,
    MathFn::Sin,
    MathFn::Cos,
    MathFn::Tan,
    MathFn::Tanh,
    MathFn::Sinh,
    MathFn::Cosh,
    MathFn::Asin,
    MathFn::Acos,
    MathFn::Atan,
    MathFn::Atan2,
    MathFn::Abs,
    MathFn::Floor,
    MathFn::Ceil,
    MathFn::Round,
    MathFn::Min,
    MathFn::Max,
    MathFn::Clip,
    MathFn::Sign,
    MathFn::Heaviside,
    MathFn::Exprel,
    MathFn::Pow,
];

fn arity(m: MathFn) -> usize {
    match m {
        MathFn::Atan2 | MathFn::Min | MathFn::Max | MathFn::Pow => 2,
        MathFn::Clip => 3,
        _ => 1,
    }
}

#[test]
fn each_math_function_is_bit_exact() {
    for precision in [Precision::F64, Precision::F32] {
        for m in ALL_MATH {
            let mut k = Kernel::new(precision);
            let args: Vec<_> = (0..arity(m) as u32).map(|s| k.state(s)).collect();
            let r = k.math(m, args);
            k.push(Stmt::Store(Place::State(3), r));
            let info = k.verify();
            let cols = probe_columns(&k, &info, &triples(&special_values()), &[]);
            bit_exact(&format!("{m:?} ({precision:?})"), &k, cols, 1);
        }
    }
}

#[test]
fn floored_remainder_and_arithmetic_are_bit_exact() {
    for precision in [Precision::F64, Precision::F32] {
        for op in [
            BinaryOp::Rem,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Pow,
            BinaryOp::Lt,
            BinaryOp::Ne,
        ] {
            let mut k = Kernel::new(precision);
            let (x, y) = (k.state(0), k.state(1));
            let r = k.binary(op, x, y);
            k.push(Stmt::Store(Place::State(3), r));
            let info = k.verify();
            let values = [
                -7.5,
                -3.0,
                -2.0,
                -0.0,
                0.0,
                2.0,
                3.0,
                7.5,
                1e-3,
                1e17,
                f64::INFINITY,
                f64::NAN,
            ];
            let cols = probe_columns(&k, &info, &triples(&values), &[]);
            let out = bit_exact(&format!("{op:?} ({precision:?})"), &k, cols, 1);
            if op == BinaryOp::Rem && precision == Precision::F64 {
                // The sign of the divisor: -7.5 mod 2 = 0.5, 7.5 mod -2 = -0.5.
                let states = triples(&values);
                let find = |a: f64, b: f64| {
                    (0..states[0].len()).find(|&i| states[0][i] == a && states[1][i] == b)
                };
                let r = |i: usize| out[3].get(i);
                assert_eq!(r(find(-7.5, 2.0).expect("pair")), 0.5);
                assert_eq!(r(find(7.5, -2.0).expect("pair")), -0.5);
                assert_eq!(r(find(-3.0, -2.0).expect("pair")), -1.0);
            }
        }
    }
}

#[test]
fn select_int_bool_and_round_to_int_follow_the_interpreter() {
    for precision in [Precision::F64, Precision::F32] {
        let mut k = Kernel::new(precision);
        let (x, y) = (k.state(0), k.state(1));
        let c = k.binary(BinaryOp::Gt, x, y);
        let two = k.lit(2.0);
        let doubled = k.binary(BinaryOp::Mul, x, two);
        let one = k.lit(1.0);
        let less = k.binary(BinaryOp::Sub, y, one);
        let s = k.add(Expr::Select(c, doubled, less), k.real());
        // r = select(x > y, 2x, y - 1) + round_to_int(x) * 3 (integer
        // arithmetic, converted when added to a real).
        let xi = k.add(Expr::RoundToInt(x), Type::I32);
        let three = k.add(Expr::Int(3), Type::I32);
        let tripled = k.add(Expr::Binary(BinaryOp::Mul, xi, three), Type::I32);
        let sum = k.binary(BinaryOp::Add, s, tripled);
        k.push(Stmt::Store(Place::State(3), sum));
        // z = select(!(x >= 0) || (index == 2), -x, refractory - 1 as a real)
        let zero = k.lit(0.0);
        let nonneg = k.binary(BinaryOp::Ge, x, zero);
        let not = k.add(Expr::Unary(UnaryOp::Not, nonneg), Type::Bool);
        let index = k.add(Expr::Index, k.real());
        let two_again = k.lit(2.0);
        let is_two = k.binary(BinaryOp::Eq, index, two_again);
        let either = k.binary(BinaryOp::Or, not, is_two);
        let neg = k.add(Expr::Unary(UnaryOp::Neg, x), k.real());
        let refractory = k.load(Place::Refractory);
        let one_i = k.add(Expr::Int(1), Type::I32);
        let counted = k.add(Expr::Binary(BinaryOp::Sub, refractory, one_i), Type::I32);
        let z = k.add(Expr::Select(either, neg, counted), k.real());
        k.push(Stmt::Store(Place::State(2), z));
        // The refractory counter from a real: saturating, NaN gives 0.
        k.push(Stmt::Store(Place::Refractory, y));
        let info = k.verify();
        let states = triples(&special_values());
        let n = states[0].len();
        let refractory: Vec<i32> = (0..n as i32).map(|i| i % 5 - 2).collect();
        let cols = probe_columns(&k, &info, &states, &refractory);
        bit_exact(&format!("select ({precision:?})"), &k, cols, 1);
    }
}

#[test]
fn while_loops_stop_at_their_bound_and_see_their_stores() {
    for precision in [Precision::F64, Precision::F32] {
        let mut k = Kernel::new(precision);
        let real = k.real();
        let counter = k.ir.new_local(real);
        // l = 0; while l < x (at most 7 times) { l = l + 1.5; r = r + l * y; spike }
        let zero = k.lit(0.0);
        k.push(Stmt::Store(Place::Local(counter), zero));
        let l = k.load(Place::Local(counter));
        let x = k.state(0);
        let condition = k.binary(BinaryOp::Lt, l, x);
        let step = k.lit(1.5);
        let next = k.binary(BinaryOp::Add, l, step);
        let r = k.state(3);
        let y = k.state(1);
        let ly = k.binary(BinaryOp::Mul, l, y);
        let acc = k.binary(BinaryOp::Add, r, ly);
        let body = Block(vec![
            Stmt::Store(Place::Local(counter), next),
            Stmt::Store(Place::State(3), acc),
            Stmt::Spike,
        ]);
        k.push(Stmt::While {
            condition,
            body,
            max_iterations: 7,
        });
        // After the loop, `l` must be the loop's last value.
        k.push(Stmt::Store(Place::State(2), l));
        let info = k.verify();
        let xs = vec![-1.0, 0.0, 1.0, 4.0, 9.0, 100.0, f64::NAN, f64::INFINITY];
        let n = xs.len();
        let states = vec![xs, vec![0.25; n], vec![0.0; n], vec![1.0; n]];
        let cols = probe_columns(&k, &info, &states, &[]);
        let out = bit_exact(&format!("while ({precision:?})"), &k, cols, 3);
        // x = 100: the bound stops the loop after 7 iterations.
        assert_eq!(out[2].get(5), 10.5);
    }
}

#[test]
fn random_draws_are_deterministic_and_match_the_interpreter() {
    let mut k = Kernel::new(Precision::F64);
    let u = k.add(Expr::Random(RandomFn::Uniform, 0), Type::F64);
    let g = k.add(Expr::Random(RandomFn::Normal, 1), Type::F64);
    k.push(Stmt::Store(Place::State(0), u));
    k.push(Stmt::Store(Place::State(1), g));
    let info = k.verify();
    let n = 16;
    let cols = probe_columns(&k, &info, &vec![vec![0.0; n]; 4], &[]);
    let first = bit_exact("random", &k, cols.clone(), 5);
    let second = bit_exact("random", &k, cols, 5);
    assert_eq!(first, second);
    // Neurons draw different numbers.
    assert_ne!(first[0].get(0), first[0].get(1));
    assert!((0..n).all(|i| (0.0..1.0).contains(&first[0].get(i))));
}

#[test]
fn partial_ranges_touch_only_their_neurons() {
    let mut k = Kernel::new(Precision::F64);
    let x = k.state(0);
    let one = k.lit(1.0);
    let next = k.binary(BinaryOp::Add, x, one);
    k.push(Stmt::Store(Place::State(0), next));
    k.push(Stmt::Spike);
    let info = k.verify();
    let mut cols = probe_columns(&k, &info, &vec![vec![0.0; 10]; 4], &[]);
    let jit = compile_step(&k.ir, &info, Backend::Jit).expect("compiles");
    let mut spikes = vec![99];
    jit.step(&context(0), &mut cols, 3, 7, &mut spikes);
    assert_eq!(spikes, vec![99, 3, 4, 5, 6]);
    let xs: Vec<f64> = (0..10).map(|i| cols[0].get(i)).collect();
    assert_eq!(xs, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    jit.step(&context(1), &mut cols, 5, 5, &mut spikes);
    assert_eq!(spikes.len(), 5);
}

#[test]
fn branches_with_calls_and_cheap_branches_both_follow_the_interpreter() {
    // if x > 0 { y = exp(x); z = z + 1 } else { y = -x; spike }
    // if y < 2 { r = y * 3 } else { r = log(y) }
    let mut k = Kernel::new(Precision::F64);
    let x = k.state(0);
    let zero = k.lit(0.0);
    let positive = k.binary(BinaryOp::Gt, x, zero);
    let e = k.math(MathFn::Exp, vec![x]);
    let z = k.state(2);
    let one = k.lit(1.0);
    let z1 = k.binary(BinaryOp::Add, z, one);
    let neg = k.add(Expr::Unary(UnaryOp::Neg, x), Type::F64);
    k.push(Stmt::If(
        positive,
        Block(vec![
            Stmt::Store(Place::State(1), e),
            Stmt::Store(Place::State(2), z1),
        ]),
        Block(vec![Stmt::Store(Place::State(1), neg), Stmt::Spike]),
    ));
    let y = k.state(1);
    let two = k.lit(2.0);
    let small = k.binary(BinaryOp::Lt, y, two);
    let three = k.lit(3.0);
    let tripled = k.binary(BinaryOp::Mul, y, three);
    let log = k.math(MathFn::Log, vec![y]);
    k.push(Stmt::If(
        small,
        Block(vec![Stmt::Store(Place::State(3), tripled)]),
        Block(vec![Stmt::Store(Place::State(3), log)]),
    ));
    let info = k.verify();
    let xs = special_values();
    let n = xs.len();
    let cols = probe_columns(
        &k,
        &info,
        &[xs, vec![0.0; n], vec![0.5; n], vec![0.0; n]],
        &[],
    );
    bit_exact("branches", &k, cols, 2);
}

/// The number of `op` operations in the kernel's expressions.
fn count_binary(k: &Kernel, op: BinaryOp) -> usize {
    k.ir.exprs
        .handles()
        .filter(|h| matches!(k.ir.exprs.get(*h), Expr::Binary(o, ..) if *o == op))
        .count()
}

#[test]
fn division_by_a_power_of_two_becomes_an_exact_multiplication() {
    // `x / c` for c = ±2^k (with a normal reciprocal) is rewritten into
    // `x * (1/c)`: the same exact quotient, rounded once, so the result is
    // the division's bit for bit, subnormals, zeros and infinities included.
    let mut values = special_values();
    values.extend([5e-324, -2.2250738585072014e-308, 1.7976931348623157e308]);
    values.extend((0..100).map(|i| (f64::from(i) * 0.731).sin() * 10f64.powi(i % 9 - 4)));
    for (c, rewritten) in [
        (2.0, true),
        (4.0, true),
        (0.5, true),
        (-8.0, true),
        (1024.0, true),
        (2f64.powi(-1022), true),
        (2f64.powi(1023), false),
        (3.0, false),
        (1.0, false),
    ] {
        let mut k = Kernel::new(Precision::F64);
        let (x, d) = (k.state(0), k.lit(c));
        let r = k.binary(BinaryOp::Div, x, d);
        k.push(Stmt::Store(Place::State(3), r));
        nmlc_compiler::ir::optimize(&mut k.ir);
        let divisions = count_binary(&k, BinaryOp::Div);
        assert_eq!(divisions == 0, rewritten || c == 1.0, "x / {c}");
        let info = k.verify();
        let cols = probe_columns(&k, &info, std::slice::from_ref(&values), &[]);
        let out = bit_exact(&format!("x / {c}"), &k, cols, 1);
        for (i, &x) in values.iter().enumerate() {
            let (got, want) = (out[3].get(i), x / c);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "{x:e} / {c}: {got:e}, division gives {want:e}"
            );
        }
    }
}

#[test]
fn integer_powers_become_multiplications_close_to_pow() {
    // `x ^ n` with an integer literal n is rewritten by the optimiser into
    // binary powering; both backends run the rewritten IR. Relative errors
    // add up over the |n| - 1 multiplications (a squaring doubles the error
    // of its operand), each rounding by at most ½ ulp, so the result is
    // within (|n| - 1)/2 ulp of the exact power (+ ½ for the division of a
    // negative n), and libm's `pow` within 1 ulp of it.
    let values: Vec<f64> = (0..200).map(|i| 0.01 + 0.037 * f64::from(i)).collect();
    for n in [-8.0, -4.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 8.0] {
        let mut k = Kernel::new(Precision::F64);
        let (x, p) = (k.state(0), k.lit(n));
        let r = k.binary(BinaryOp::Pow, x, p);
        k.push(Stmt::Store(Place::State(3), r));
        nmlc_compiler::ir::optimize(&mut k.ir);
        assert_eq!(
            count_binary(&k, BinaryOp::Pow),
            0,
            "x ^ {n} still calls pow"
        );
        let info = k.verify();
        let cols = probe_columns(&k, &info, std::slice::from_ref(&values), &[]);
        let out = bit_exact(&format!("x ^ {n}"), &k, cols, 1);
        for (i, &x) in values.iter().enumerate() {
            let (got, want) = (out[3].get(i), x.powf(n));
            let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
            let tolerance = (n.abs() - 1.0).max(0.0) / 2.0 + 1.5;
            assert!(
                (got - want).abs() <= tolerance * ulp,
                "{x} ^ {n}: {got:e}, pow gives {want:e}"
            );
        }
    }
}
