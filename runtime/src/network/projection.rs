//! Projections: their synapses and how a spike changes the targets.
//!
//! This version delivers *additive* synapses, the kind the classic network
//! benchmarks use: an `on pre` handler made only of `post.X += value` and
//! `post.X -= value` statements, where `X` is a state variable or a spike
//! input of the target neuron and `value` is fixed per synapse (constants,
//! network parameters, per-synapse values such as `w = normal(…)`). Each
//! such statement is an *effect*: at a spike, every outgoing synapse adds
//! its value into a per-target ring buffer (one per target population and
//! variable, NEST's scheme), which is emptied into the variable at the
//! start of the step the delay points at. Synapse models with per-synapse
//! or post state, `on post` handlers or continuous outputs are refused with
//! a clear error until the runtime supports them.
//!
//! Timing: a spike emitted in step `n` (stamped `t_{n+1}`) with a delay of
//! `D = round(delay / dt)` steps reaches its targets at the start of step
//! `n + 1 + D`, i.e. at `t_{n+1} + delay`.

use nmlc_compiler::abi::rng::{Stream, StreamKind};
use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::model::{
    AssignOp, ConnectionRule, Expr, ExprKind, NeuronVar, Projection, Stmt, Var,
};
use nmlc_compiler::source::Span;

use super::compile::CompiledNetwork;
use super::error::RunError;
use super::values::{ValueScope, evaluate};
use crate::connectivity::{Csr, Rule, RuleOptions, connect};

/// What an effect changes in the target neuron.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EffectTarget {
    /// A state variable (model state index).
    State(u32),
    /// A spike input (index among the model's inputs).
    SpikeInput(u32),
    /// A post-state variable of the projection's synapse (index among its
    /// post states), stored with the target population; resolved to
    /// [`EffectTarget::State`] when the projection is built.
    PostState(u32),
}

/// The per-synapse values of one effect.
#[derive(Clone, Debug)]
pub enum Weights {
    /// The same for every synapse.
    Constant(f64),
    /// One value per synapse, in CSR order, in single precision: with the
    /// 4-byte target index a static synapse takes 8 bytes.
    PerSynapse(Vec<f32>),
}

/// One `post.X += value` of a projection.
#[derive(Clone, Debug)]
pub struct Effect {
    /// What it changes.
    pub target: EffectTarget,
    /// The value each synapse adds.
    pub weights: Weights,
}

/// A projection ready to deliver spikes.
pub struct CompiledProjection {
    /// Its name.
    pub name: String,
    /// Source population index.
    pub source: usize,
    /// First source neuron of the selection.
    pub source_start: u32,
    /// Number of source neurons.
    pub source_len: u32,
    /// Target population index.
    pub target: usize,
    /// First target neuron of the selection.
    pub target_start: u32,
    /// The synapses (indices relative to the selections).
    pub csr: Csr,
    /// What each spike does.
    pub effects: Vec<Effect>,
    /// The delay in steps (see the module docs); the longest one when the
    /// delays vary.
    pub delay_steps: u32,
    /// Per-synapse delays in steps (CSR order), when they vary.
    pub delays: Option<Vec<u16>>,
    /// Continuous outputs `value · pre.X` (rate coupling): each step the
    /// target's input receives the sum over its synapses.
    pub continuous: Vec<ContinuousOutput>,
    /// Per-synapse state and handlers (plasticity), if the synapse has any.
    pub plastic: Option<super::plastic::Plastic>,
}

impl Weights {
    /// Bytes of per-synapse storage.
    pub(super) fn bytes(&self) -> u64 {
        match self {
            Weights::Constant(_) => 0,
            Weights::PerSynapse(w) => 4 * w.len() as u64,
        }
    }
}

impl CompiledProjection {
    /// Bytes of its synapse storage: the CSR rows and targets, per-synapse
    /// values and delays (per-synapse plastic state is counted by
    /// [`super::plastic::Plastic::bytes`]).
    pub fn bytes(&self) -> u64 {
        let csr = 8 * self.csr.row_start.len() as u64 + 4 * self.csr.len() as u64;
        let values: u64 = self.effects.iter().map(|e| e.weights.bytes()).sum::<u64>()
            + self
                .continuous
                .iter()
                .map(|c| c.weights.bytes())
                .sum::<u64>();
        let delays = self.delays.as_ref().map_or(0, |d| 2 * d.len() as u64);
        csr + values + delays
    }
}

/// `output INPUT = value * pre.X`: a continuous coupling through the synapses.
#[derive(Clone, Debug)]
pub struct ContinuousOutput {
    /// The target neuron's input (index among its model's inputs).
    pub input: u32,
    /// The presynaptic state variable read.
    pub pre_state: u32,
    /// The per-synapse factor.
    pub weights: Weights,
}

fn unsupported(span: Span, feature: &'static str) -> RunError {
    RunError::Unsupported { span, feature }
}

/// The selection `start..end` of a population, evaluated.
fn selection(
    c: &CompiledNetwork,
    sel: &nmlc_compiler::model::Selection,
) -> Result<(u32, u32), RunError> {
    let size = c.populations[sel.population as usize].size;
    let scope = ValueScope {
        network_params: &c.network_params,
        index: 0,
        target_index: None,
        size,
        model_params: &[],
        positions: None,
    };
    let mut draws = Stream::new(c.seed, StreamKind::SynapseValues, 0, 0).draws(0);
    let mut eval = |e: &Option<Expr>, default: u32| -> Result<u32, RunError> {
        match e {
            None => Ok(default),
            Some(e) => evaluate(e, &scope, &mut draws)
                .map(|v| v.max(0.0) as u32)
                .map_err(|err| RunError::from_value(err, "a selection bound")),
        }
    };
    let start = eval(&sel.start, 0)?;
    let end = eval(&sel.end, size)?;
    Ok((start, end.saturating_sub(start)))
}

/// Replaces the synapse's own names in an effect's value by the projection's
/// values (or the model's defaults), so the value is a network expression.
fn bind_value(e: &Expr, p: &Projection) -> Result<Expr, RunError> {
    let s = &p.synapse;
    let lookup = |name: &str| -> Option<Expr> {
        p.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
    };
    let kind = match &e.kind {
        ExprKind::Var(Var::HandlerArg(k)) => {
            let name = &s.handler_args[*k as usize].name;
            return lookup(name)
                .ok_or_else(|| unsupported(e.span, "a synapse value without a value"));
        }
        ExprKind::Var(Var::Param(k)) => {
            let q = &s.params[*k as usize];
            return match lookup(&q.name).or_else(|| q.value.clone()) {
                Some(v) => Ok(v),
                None => Err(unsupported(e.span, "a synapse parameter without a value")),
            };
        }
        ExprKind::Var(
            Var::State(_)
            | Var::PostState(_)
            | Var::Pre(_)
            | Var::Post(_)
            | Var::Alias(_)
            | Var::Local(_),
        ) => {
            return Err(unsupported(
                e.span,
                "synaptic effects that read neuron or synapse state (only fixed per-synapse values are delivered so far)",
            ));
        }
        ExprKind::Builtin(_) | ExprKind::Random(_) => {
            return Err(unsupported(
                e.span,
                "synaptic effects that depend on time or random numbers",
            ));
        }
        ExprKind::Unary(op, x) => ExprKind::Unary(*op, Box::new(bind_value(x, p)?)),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(
            *op,
            Box::new(bind_value(a, p)?),
            Box::new(bind_value(b, p)?),
        ),
        ExprKind::Math(m, xs) => ExprKind::Math(
            *m,
            xs.iter()
                .map(|x| bind_value(x, p))
                .collect::<Result<_, _>>()?,
        ),
        ExprKind::If(c, a, b) => ExprKind::If(
            Box::new(bind_value(c, p)?),
            Box::new(bind_value(a, p)?),
            Box::new(bind_value(b, p)?),
        ),
        other => other.clone(),
    };
    Ok(Expr {
        kind,
        ty: e.ty,
        span: e.span,
    })
}

/// The effects of a projection's synapse, or why it cannot be delivered yet.
fn effects_of(p: &Projection) -> Result<Vec<(EffectTarget, f64, Expr)>, RunError> {
    let s = &p.synapse;
    if super::plastic::is_plastic(p) {
        // Handled synapse by synapse (see `plastic`), not as effects.
        return Ok(Vec::new());
    }
    // Post state and outputs are integrated with the target population (see
    // `ir::lower::Attachment`), but only outputs that read the target side.
    for o in &s.outputs {
        if reads_pre(&o.value) && (pre_linear(&o.value).is_none() || !s.post_states.is_empty()) {
            return Err(unsupported(
                o.span,
                "outputs that read the presynaptic neuron other than `value * pre.X`",
            ));
        }
    }
    let Some(h) = &s.on_pre else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for stmt in &h.body {
        match stmt {
            Stmt::Assign {
                target: target @ (Var::Post(_) | Var::PostState(_)),
                op: op @ (AssignOp::Add | AssignOp::Sub),
                value,
                span,
            } => {
                let target = match target {
                    Var::Post(NeuronVar::State(k)) => EffectTarget::State(*k),
                    Var::Post(NeuronVar::Input(k)) => EffectTarget::SpikeInput(*k),
                    Var::PostState(k) => EffectTarget::PostState(*k),
                    _ => return Err(unsupported(*span, "this kind of synaptic effect")),
                };
                let sign = if *op == AssignOp::Add { 1.0 } else { -1.0 };
                out.push((target, sign, bind_value(value, p)?));
            }
            Stmt::Assign { span, .. } | Stmt::Let { span, .. } | Stmt::If { span, .. } => {
                return Err(unsupported(
                    *span,
                    "`on pre` statements other than `post.X += value` (only additive synapses are delivered so far)",
                ));
            }
        }
    }
    Ok(out)
}

/// Builds the synapses and per-synapse values of projection `index`.
pub fn build_projection(c: &CompiledNetwork, index: usize) -> Result<CompiledProjection, RunError> {
    let p = &c.network.projections[index];
    let (source_start, source_len) = selection(c, &p.source)?;
    let (target_start, target_len) = selection(c, &p.target)?;
    let effects = effects_of(p)?;
    let constant = |e: &Expr, what: &str| -> Result<f64, RunError> {
        let scope = ValueScope {
            network_params: &c.network_params,
            index: 0,
            target_index: None,
            size: 0,
            model_params: &[],
            positions: None,
        };
        let mut draws = Stream::new(c.seed, StreamKind::Connectivity, index as u32, 0).draws(0);
        evaluate(e, &scope, &mut draws).map_err(|err| RunError::from_value(err, what))
    };
    // Autapses are possible where the selections overlap in one population.
    let autapse_offset = (p.source.population == p.target.population)
        .then(|| i64::from(source_start) - i64::from(target_start));
    let opts = RuleOptions {
        autapses: p.autapses,
        multapses: p.multapses,
        autapse_offset,
    };
    let count = |e: &Expr| -> Result<u64, RunError> {
        Ok(constant(e, "a synapse count")?.max(0.0).round() as u64)
    };
    // `probability(expr of i, j)`: evaluated for every pair (no draws:
    // the checker allows no distributions there); an error counts as 0.
    let no_expr = Expr {
        kind: ExprKind::Const(0.0),
        ty: nmlc_compiler::model::Ty::Real(nmlc_compiler::units::Dim::ONE),
        span: p.span,
    };
    let probability_expr = match &p.rule {
        ConnectionRule::Probability(e) => e,
        _ => &no_expr,
    };
    let network_params = &c.network_params;
    let ends = match reads_positions(probability_expr) {
        true => Some(endpoint_positions(c, index, probability_expr.span)?),
        false => None,
    };
    let probability = move |i: u32, j: u32| -> f64 {
        let scope = ValueScope {
            network_params,
            index: i,
            target_index: Some(j),
            size: source_len,
            model_params: &[],
            positions: ends
                .as_ref()
                .map(|(pre, post)| (pre[i as usize], post[j as usize])),
        };
        let mut draws = Stream::new(0, StreamKind::Connectivity, 0, 0).draws(0);
        evaluate(probability_expr, &scope, &mut draws).unwrap_or(0.0)
    };
    let file_pairs: Vec<(u32, u32)>;
    let rule = match &p.rule {
        ConnectionRule::AllToAll => Rule::AllToAll,
        ConnectionRule::OneToOne => Rule::OneToOne,
        ConnectionRule::FixedProbability(e) => {
            Rule::FixedProbability(constant(e, "a connection probability")?)
        }
        ConnectionRule::FixedIndegree(e) => Rule::FixedIndegree(count(e)?),
        ConnectionRule::FixedOutdegree(e) => Rule::FixedOutdegree(count(e)?),
        ConnectionRule::FixedTotal(e) => Rule::FixedTotal(count(e)?),
        ConnectionRule::Probability(_) => Rule::Probability(&probability),
        ConnectionRule::FromFile(path) => {
            file_pairs = read_pairs(path, p.span)?;
            Rule::Pairs(&file_pairs)
        }
    };
    let csr = connect(rule, source_len, target_len, opts, c.seed, index as u32).map_err(|e| {
        RunError::model(
            Diagnostic::error("nml::connectivity", format!("projection `{}`: {e}", p.name))
                .at(p.span, "these synapses cannot be made"),
        )
    })?;
    // Delays: one for the projection, or one per synapse (distributions,
    // expressions of i and j), in steps, clipped at zero (a delay cannot
    // be negative) and limited to 65535 steps.
    let (delay_steps, delays) = match &p.delay {
        None => (0, None),
        Some(e) => match per_synapse_values(c, index, &csr, source_len, e, 1.0, 5000)? {
            Weights::Constant(d) => ((d / c.dt_ms).round().clamp(0.0, 65535.0) as u32, None),
            Weights::PerSynapse(ds) => {
                let steps: Vec<u16> = ds
                    .iter()
                    .map(|d| (f64::from(*d) / c.dt_ms).round().clamp(0.0, 65535.0) as u16)
                    .collect();
                (
                    steps.iter().copied().max().map_or(0, u32::from),
                    Some(steps),
                )
            }
        },
    };
    if delays.is_some() && super::plastic::is_plastic(p) {
        return Err(unsupported(
            p.span,
            "per-synapse delays in synapses with per-synapse state",
        ));
    }
    // Per-synapse values: each synapse draws from its own stream position
    // (projection, source neuron), in row order, so values do not depend on
    // threads.
    let mut compiled_effects = Vec::new();
    let target_ir = match &c.populations[p.target.population as usize].kind {
        super::compile::CompiledKind::Neuron { ir, .. } => Some(ir),
        super::compile::CompiledKind::Source { .. }
        | super::compile::CompiledKind::Generator { .. } => None,
    };
    for (e_index, (target, sign, value)) in effects.into_iter().enumerate() {
        let target = match target {
            EffectTarget::PostState(k) => {
                let name = format!("{}.{}", p.name, p.synapse.post_states[k as usize].name);
                let index = target_ir
                    .and_then(|ir| ir.states.iter().position(|s| s.name == name))
                    .ok_or_else(|| unsupported(p.span, "this projection's post state"))?;
                EffectTarget::State(index as u32)
            }
            other => other,
        };
        let weights = per_synapse_values(c, index, &csr, source_len, &value, sign, e_index as u64)?;
        compiled_effects.push(Effect { target, weights });
    }
    let mut continuous = Vec::new();
    for (o_index, o) in p.synapse.outputs.iter().enumerate() {
        let (Some(input), Some((value, pre_state))) = (o.input, pre_linear(&o.value)) else {
            continue;
        };
        let value = bind_value(value, p)?;
        let weights = per_synapse_values(
            c,
            index,
            &csr,
            source_len,
            &value,
            1.0,
            1000 + o_index as u64,
        )?;
        continuous.push(ContinuousOutput {
            input,
            pre_state,
            weights,
        });
    }
    let plastic = if super::plastic::is_plastic(p) {
        Some(build_plastic(
            c,
            index,
            &csr,
            source_len,
            target_len,
            target_ir.map(|b| &**b),
        )?)
    } else {
        None
    };
    Ok(CompiledProjection {
        delays,
        plastic,
        continuous,
        name: p.name.clone(),
        source: p.source.population as usize,
        source_start,
        source_len,
        target: p.target.population as usize,
        target_start,
        csr,
        effects: compiled_effects,
        delay_steps,
    })
}

/// Whether an expression reads the presynaptic neuron.
pub(crate) fn reads_pre(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Var(Var::Pre(_)) => true,
        ExprKind::Unary(_, x) => reads_pre(x),
        ExprKind::Binary(_, a, b) => reads_pre(a) || reads_pre(b),
        ExprKind::If(c, a, b) => reads_pre(c) || reads_pre(a) || reads_pre(b),
        ExprKind::Math(_, xs) => xs.iter().any(reads_pre),
        _ => false,
    }
}

/// `(value, k)` for an output `value * pre.X_k` (either order), where the
/// value does not read the neurons.
fn pre_linear(e: &Expr) -> Option<(&Expr, u32)> {
    let ExprKind::Binary(nmlc_compiler::model::BinaryOp::Mul, a, b) = &e.kind else {
        return None;
    };
    let pre = |x: &Expr| match x.kind {
        ExprKind::Var(Var::Pre(NeuronVar::State(k))) => Some(k),
        _ => None,
    };
    match (pre(a), pre(b)) {
        (Some(k), None) if !reads_pre(b) => Some((b, k)),
        (None, Some(k)) if !reads_pre(a) => Some((a, k)),
        _ => None,
    }
}

/// The value of each synapse (`sign · value`): one number when it is the
/// same for all, else one per synapse in CSR order, drawn from the stream
/// `(seed, SynapseValues, projection, source neuron)` at slot `slot`.
fn per_synapse_values(
    c: &CompiledNetwork,
    projection: usize,
    csr: &Csr,
    source_len: u32,
    value: &Expr,
    sign: f64,
    slot: u64,
) -> Result<Weights, RunError> {
    let fixed_scope = ValueScope {
        network_params: &c.network_params,
        index: 0,
        target_index: None,
        size: 0,
        model_params: &[],
        positions: None,
    };
    let mut fixed_draws =
        Stream::new(c.seed, StreamKind::SynapseValues, projection as u32, 0).draws(u64::MAX);
    let fixed = evaluate(value, &fixed_scope, &mut fixed_draws);
    let per_synapse =
        super::values::has_distribution(value) || super::values::has_index(value) || fixed.is_err();
    if !per_synapse {
        return Ok(Weights::Constant(
            sign * fixed.map_err(|err| RunError::from_value(err, "a synaptic value"))?,
        ));
    }
    let ends = match reads_positions(value) {
        true => Some(endpoint_positions(c, projection, value.span)?),
        false => None,
    };
    let mut w = Vec::with_capacity(csr.len());
    for i in 0..source_len {
        let stream = Stream::new(c.seed, StreamKind::SynapseValues, projection as u32, i);
        let mut draws = stream.draws(slot);
        for &j in csr.row(i) {
            let scope = ValueScope {
                network_params: &c.network_params,
                index: i,
                target_index: Some(j),
                size: source_len,
                model_params: &[],
                positions: ends
                    .as_ref()
                    .map(|(pre, post)| (pre[i as usize], post[j as usize])),
            };
            let v = evaluate(value, &scope, &mut draws)
                .map_err(|err| RunError::from_value(err, "a synaptic value"))?;
            w.push((sign * v) as f32);
        }
    }
    Ok(Weights::PerSynapse(w))
}

/// The per-synapse state, values and indices of a plastic projection.
fn build_plastic(
    c: &CompiledNetwork,
    index: usize,
    csr: &Csr,
    source_len: u32,
    target_len: u32,
    target_ir: Option<&nmlc_compiler::ir::NeuronIr>,
) -> Result<super::plastic::Plastic, RunError> {
    let p = &c.network.projections[index];
    let syn = &p.synapse;
    let mut values = Vec::new();
    for (k, q) in syn.params.iter().enumerate() {
        let e = Expr {
            kind: ExprKind::Var(Var::Param(k as u32)),
            ty: q
                .value
                .as_ref()
                .map(|v| v.ty)
                .unwrap_or(nmlc_compiler::model::Ty::Real(q.dim)),
            span: q.span,
        };
        let value = bind_value(&e, p)?;
        values.push(per_synapse_values(
            c,
            index,
            csr,
            source_len,
            &value,
            1.0,
            2000 + k as u64,
        )?);
    }
    for (k, q) in syn.handler_args.iter().enumerate() {
        let value = p
            .values
            .iter()
            .find(|(n, _)| *n == q.name)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| unsupported(q.span, "a synapse value without a value"))?;
        values.push(per_synapse_values(
            c,
            index,
            csr,
            source_len,
            &value,
            1.0,
            3000 + k as u64,
        )?);
    }
    let constants: Vec<f64> = values
        .iter()
        .take(syn.params.len())
        .map(|w| match w {
            Weights::Constant(v) => *v,
            Weights::PerSynapse(_) => f64::NAN,
        })
        .collect();
    let mut states = Vec::new();
    let mut dynamics = Vec::new();
    for (k, q) in syn.states.iter().enumerate() {
        let init = match p.values.iter().find(|(n, _)| *n == q.name) {
            Some((_, e)) => e.clone(),
            None => match &q.value {
                Some(v) => bind_value(v, p)?,
                None => Expr {
                    kind: ExprKind::Const(0.0),
                    ty: nmlc_compiler::model::Ty::Real(q.dim),
                    span: q.span,
                },
            },
        };
        let w = per_synapse_values(c, index, csr, source_len, &init, 1.0, 4000 + k as u64)?;
        states.push(match w {
            Weights::Constant(v) => vec![v; csr.len()],
            Weights::PerSynapse(v) => v.into_iter().map(f64::from).collect(),
        });
        let ode = syn.odes.iter().find(|o| o.state == k as u32);
        dynamics.push(match ode {
            None => (0.0, 0.0),
            Some(o) => super::plastic::linear_coefficients(&o.rhs, k as u32, &constants)
                .filter(|(a, b)| !a.is_nan() && !b.is_nan())
                .ok_or_else(|| {
                    unsupported(
                        o.span,
                        "per-synapse equations whose coefficients vary between synapses",
                    )
                })?,
        });
    }
    let mut by_target = vec![Vec::new(); target_len as usize];
    let mut source_of = Vec::with_capacity(csr.len());
    for i in 0..source_len {
        let start = csr.row_start[i as usize] as usize;
        for (k, &j) in csr.row(i).iter().enumerate() {
            by_target[j as usize].push((start + k) as u32);
            source_of.push(i);
        }
    }
    let mut post_state = Vec::new();
    for q in &syn.post_states {
        let name = format!("{}.{}", p.name, q.name);
        let k = target_ir
            .and_then(|ir| ir.states.iter().position(|s| s.name == name))
            .ok_or_else(|| unsupported(p.span, "this projection's post state"))?;
        post_state.push(k as u32);
    }
    Ok(super::plastic::Plastic {
        states,
        last: vec![0; csr.len()],
        dynamics,
        values,
        queue: std::collections::VecDeque::new(),
        by_target,
        source_of,
        post_state,
    })
}

/// Slot of coordinate `k` of a neuron's position in the neuron's
/// `Initialisation` stream: `POSITION_SLOT + k` (states use
/// `STATE_SLOT + k`, parameters `k`).
pub const POSITION_SLOT: u64 = 2 << 32;

/// The position (x, y, z; missing coordinates 0) of neuron `i` of
/// population `pop`, evaluated from its `position` list; `None` when the
/// population has none.
pub(super) fn neuron_position(
    c: &CompiledNetwork,
    pop: usize,
    i: u32,
) -> Result<Option<[f64; 3]>, RunError> {
    let coordinates = &c.network.populations[pop].position;
    if coordinates.is_empty() {
        return Ok(None);
    }
    let stream = Stream::new(c.seed, StreamKind::Initialisation, pop as u32, i);
    let scope = ValueScope {
        network_params: &c.network_params,
        index: i,
        target_index: None,
        size: c.populations[pop].size,
        model_params: &[],
        positions: None,
    };
    let mut xyz = [0.0; 3];
    for (k, e) in coordinates.iter().enumerate().take(3) {
        let mut draws = stream.draws(POSITION_SLOT + k as u64);
        xyz[k] = evaluate(e, &scope, &mut draws)
            .map_err(|err| RunError::from_value(err, "a neuron position"))?;
    }
    Ok(Some(xyz))
}

/// The positions (x, y, z) of a selection's neurons, in selection order.
type Positions = Vec<[f64; 3]>;

/// The positions of the source and the target selection of projection
/// `index`, in selection order; a population without positions is an
/// error (`nml::no_position`) pointing at `span`, the expression that
/// reads them.
fn endpoint_positions(
    c: &CompiledNetwork,
    index: usize,
    span: Span,
) -> Result<(Positions, Positions), RunError> {
    let p = &c.network.projections[index];
    let side = |sel: &nmlc_compiler::model::Selection| -> Result<Positions, RunError> {
        let (start, len) = selection(c, sel)?;
        let pop = sel.population as usize;
        let mut out = Vec::with_capacity(len as usize);
        for i in start..start + len {
            match neuron_position(c, pop, i)? {
                Some(xyz) => out.push(xyz),
                None => return Err(no_position(c, pop, &p.name, span)),
            }
        }
        Ok(out)
    };
    Ok((side(&p.source)?, side(&p.target)?))
}

/// `nml::no_position`: projection `projection` reads the positions of the
/// neurons of `pop`, which has none.
pub(super) fn no_position(
    c: &CompiledNetwork,
    pop: usize,
    projection: &str,
    span: Span,
) -> RunError {
    let name = &c.network.populations[pop].name;
    RunError::model(
        Diagnostic::error(
            "nml::no_position",
            format!(
                "projection `{projection}` reads neuron positions, but population `{name}` has none"
            ),
        )
        .at(span, "reads `pre.x`, `post.y`, … or `dist(pre, post)`")
        .help(format!(
            "place the neurons of `{name}` in its block, e.g. `position = [20 um * (i % 10), 20 um * floor(i / 10)]`"
        )),
    )
}

/// Whether an expression reads neuron positions.
pub(super) fn reads_positions(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Var(Var::Pre(NeuronVar::Position(_)) | Var::Post(NeuronVar::Position(_))) => true,
        ExprKind::Unary(_, x) => reads_positions(x),
        ExprKind::Binary(_, a, b) => reads_positions(a) || reads_positions(b),
        ExprKind::If(c, a, b) => reads_positions(c) || reads_positions(a) || reads_positions(b),
        ExprKind::Math(_, xs) => xs.iter().any(reads_positions),
        _ => false,
    }
}

/// The `(i, j)` pairs of a connection file: one pair per line, `i,j` (more
/// columns are ignored), comma- or whitespace-separated; blank lines, lines
/// starting with `#` and a header line whose first field is not a number are
/// skipped.
fn read_pairs(path: &str, span: Span) -> Result<Vec<(u32, u32)>, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        RunError::model(
            Diagnostic::error(
                "nml::io",
                format!("cannot read the connection file `{path}`: {e}"),
            )
            .at(span, "connections read from here"),
        )
    })?;
    let mut pairs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        let parse = |k: usize| fields.get(k).and_then(|f| f.parse::<u32>().ok());
        match (parse(0), parse(1)) {
            (Some(i), Some(j)) => pairs.push((i, j)),
            _ if n == 0 => continue,
            _ => {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::connection_file",
                        format!(
                            "line {} of `{path}` is not a pair of neuron indices: `{line}`",
                            n + 1
                        ),
                    )
                    .at(span, "connections read from here"),
                ));
            }
        }
    }
    Ok(pairs)
}
