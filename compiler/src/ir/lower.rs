//! Lowering a checked neuron model, specialised for one population, to IR.
//!
//! Parameters that are equal across the population become literals,
//! parameters that vary become per-neuron columns, and parameters set by an
//! expression of `t` are inlined where they are read. Inline definitions and
//! user functions were already resolved by the checker; convolutions become
//! linear ODE state (see [`super::kernels`]); white noise is split into drift
//! and diffusion. The step kernel is laid out as
//!
//! ```text
//! refractory flag from the counter (or the `refractory when` condition)
//! save clamped state
//! Integrate                     (the solver pass fills this in)
//! restore clamped state while refractory; count refractoriness down
//! if not refractory and threshold: Spike, reset, start refractoriness
//! on-condition handlers
//! ```

use super::*;
use crate::diagnostics::{Diagnostic, catalog};
use crate::model::{self, AssignOp, Builtin, ExprKind, NeuronModel, RefractoryPeriod, Var};
use std::collections::HashMap;

/// How one parameter is given for a population.
#[derive(Clone, Debug)]
pub enum ParamSpec {
    /// The same value for all neurons (internal units).
    Constant(f64),
    /// A value per neuron, supplied by the runtime.
    PerNeuron,
    /// An expression of `t` and `i` (network parameters already substituted).
    TimeDependent(model::Expr),
}

/// What lowering needs to know about the population.
#[derive(Clone, Debug)]
pub struct PopulationSpec {
    /// The population's name.
    pub name: String,
    /// One entry per model parameter.
    pub params: Vec<ParamSpec>,
    /// The time step (ms).
    pub dt: f64,
    /// Precision of reals.
    pub precision: Precision,
    /// A solver chosen by the network, overriding the model's.
    pub solver: Option<model::Solver>,
    /// Synapses whose post state and outputs live with this population.
    pub attachments: Vec<Attachment>,
}

/// The per-target part of a projection's synapse, integrated with the
/// target population (as NESTML moves synaptic dynamics into the neuron):
/// its `post state` variables become extra state of the population (named
/// `<projection>.<variable>`), their equations join the neuron's, and its
/// `output`s are added to the neuron's continuous inputs wherever the
/// neuron reads them. Events (`I += w`) are delivered into those states by
/// the runtime like any other state variable.
#[derive(Clone, Debug)]
pub struct Attachment {
    /// The projection's name (prefix of the new state variables).
    pub projection: String,
    /// The synapse, bound to the population's model.
    pub synapse: model::SynapseModel,
    /// Each synapse parameter's value for this projection (internal units).
    pub params: Vec<f64>,
}

impl PopulationSpec {
    /// A spec using every parameter's default (which must be constant).
    pub fn defaults(model: &NeuronModel, name: &str, dt: f64) -> PopulationSpec {
        let params = model
            .params
            .iter()
            .map(|p| {
                match p
                    .value
                    .as_ref()
                    .and_then(|v| crate::check::eval_constant(v, &[]))
                {
                    Some(v) => ParamSpec::Constant(v),
                    None => ParamSpec::PerNeuron,
                }
            })
            .collect();
        PopulationSpec {
            name: name.to_string(),
            params,
            dt,
            precision: Precision::F64,
            solver: None,
            attachments: Vec::new(),
        }
    }
}

/// Lowers a neuron model for one population. Errors are user errors found
/// only now (e.g. noise entering an equation non-linearly).
pub fn lower_neuron(model: &NeuronModel, spec: &PopulationSpec) -> Result<NeuronIr, Diagnostic> {
    let mut l = Lowerer::new(model, spec);
    l.run()?;
    Ok(l.ir)
}

pub(super) struct Lowerer<'m> {
    pub(super) model: &'m NeuronModel,
    pub(super) spec: &'m PopulationSpec,
    pub(super) ir: NeuronIr,
    /// Lowered inline definitions (evaluated where used).
    aliases: HashMap<u32, Handle<Expr>>,
    /// Handler `let` slot → kernel local.
    locals: HashMap<u32, u32>,
    /// Value of `xi` while lowering: 0 for the drift, 1 for the noise coefficient.
    noise_value: f64,
    /// Convolution index → expression of its value.
    pub(super) convolutions: Vec<Handle<Expr>>,
    /// While lowering an attached synapse: its index and the state index of
    /// its first post-state variable.
    synapse: Option<(usize, u32)>,
    /// Per input, the attached outputs added to it (lowered lazily).
    input_sums: HashMap<u32, Handle<Expr>>,
    /// Whether the attached outputs are being lowered (their reads of the
    /// input are of the raw input).
    raw_inputs: bool,
}

impl<'m> Lowerer<'m> {
    fn new(model: &'m NeuronModel, spec: &'m PopulationSpec) -> Lowerer<'m> {
        let var =
            |name: &str, dim: crate::units::Dim, unit: &Option<model::DisplayUnit>| Variable {
                name: name.to_string(),
                unit: unit.as_ref().map(|u| u.text.clone()).unwrap_or_else(|| {
                    if dim.is_dimensionless() {
                        "1".into()
                    } else {
                        dim.internal_unit_name()
                    }
                }),
                unit_factor: unit.as_ref().map(|u| u.internal_factor).unwrap_or(1.0),
            };
        let solver_src = spec.solver.as_ref().or(model.solver.as_ref());
        let ir = NeuronIr {
            model: model.name.clone(),
            population: spec.name.clone(),
            precision: spec.precision,
            dt: spec.dt,
            states: model
                .states
                .iter()
                .map(|s| var(&s.name, s.dim, &s.unit))
                .collect(),
            params: model
                .params
                .iter()
                .zip(&spec.params)
                .map(|(p, s)| Param {
                    var: var(&p.name, p.dim, &p.unit),
                    storage: match s {
                        ParamSpec::Constant(v) => ParamStorage::Constant(*v),
                        ParamSpec::PerNeuron => ParamStorage::PerNeuron,
                        ParamSpec::TimeDependent(_) => ParamStorage::TimeDependent,
                    },
                })
                .collect(),
            derived: Vec::new(),
            inputs: model
                .inputs
                .iter()
                .map(|i| var(&i.name, crate::units::Dim::ONE, &i.unit))
                .collect(),
            spike_inputs: Vec::new(),
            observables: Vec::new(),
            refractory: model.refractory.is_some(),
            spiking: model.spike.is_some(),
            locals: 0,
            local_types: Vec::new(),
            draws: 0,
            solver: SolverChoice {
                kind: solver_src.map(|s| s.kind).unwrap_or(SolverKind::Euler),
                reason: String::new(),
                rtol: solver_src.and_then(|s| s.rtol).unwrap_or(1e-6),
                atol: solver_src.and_then(|s| s.atol).unwrap_or(1e-9),
                requested: solver_src.is_some(),
            },
            exprs: Arena::default(),
            derive: Block::default(),
            init: Block::default(),
            step: Block::default(),
            odes: Vec::new(),
            substep_event: None,
            frames: Vec::new(),
        };
        Lowerer {
            model,
            spec,
            ir,
            aliases: HashMap::new(),
            locals: HashMap::new(),
            noise_value: 0.0,
            convolutions: Vec::new(),
            synapse: None,
            input_sums: HashMap::new(),
            raw_inputs: false,
        }
    }

    fn run(&mut self) -> Result<(), Diagnostic> {
        let model = self.model;
        let span = model.span;
        super::kernels::lower_convolutions(self)?;
        self.attach_synapses()?;

        // Initial state.
        let mut init = Vec::new();
        for (k, s) in model.states.iter().enumerate() {
            let value = match &s.value {
                Some(v) => self.expr(v),
                None => self.ir.real_const(0.0, s.span),
            };
            init.push(Stmt::Store(Place::State(k as u32), value));
        }
        self.ir.init.0.splice(0..0, init);

        // ODEs.
        for ode in &model.odes {
            let (rhs, noise) = if ode.stochastic {
                self.noise_value = 0.0;
                let drift = self.expr(&ode.rhs);
                self.noise_value = 1.0;
                let with_unit_noise = self.expr(&ode.rhs);
                self.noise_value = 2.0;
                let with_double_noise = self.expr(&ode.rhs);
                self.noise_value = 0.0;
                if !noise_is_linear(&ode.rhs) {
                    return Err(catalog::noise_nonlinear(ode.span));
                }
                let diffusion = self.add(
                    Expr::Binary(BinaryOp::Sub, with_unit_noise, drift),
                    ode.span,
                );
                let _ = with_double_noise;
                (drift, Some((drift, diffusion)))
            } else {
                (self.expr(&ode.rhs), None)
            };
            self.ir.odes.push(Ode {
                state: ode.state,
                rhs,
                stochastic: ode.stochastic,
                noise,
            });
        }

        // Observables: inline definitions, recordable.
        for (k, a) in model.aliases.iter().enumerate() {
            let h = self.alias(k as u32);
            let dim = match a.value.ty {
                model::Ty::Real(d) => d,
                model::Ty::Bool => crate::units::Dim::ONE,
            };
            self.ir.observables.push((
                Variable {
                    name: a.name.clone(),
                    unit: if dim.is_dimensionless() {
                        "1".into()
                    } else {
                        dim.internal_unit_name()
                    },
                    unit_factor: 1.0,
                },
                h,
            ));
        }

        // The step kernel.
        let mut step = Vec::new();
        let refractory_flag = self.refractory_prologue(&mut step, span);
        let clamp: Vec<u32> = model
            .refractory
            .as_ref()
            .map(|r| r.clamp.clone())
            .unwrap_or_default();
        let mut saved = Vec::new();
        if refractory_flag.is_some() {
            for &k in &clamp {
                let local = self.ir.new_local(self.ir.real());
                let load = self.add(Expr::Load(Place::State(k)), span);
                step.push(Stmt::Store(Place::Local(local), load));
                saved.push((k, local));
            }
        }
        step.push(Stmt::Integrate);
        if let Some(flag) = refractory_flag {
            let mut restore = Vec::new();
            for (k, local) in &saved {
                let v = self.add(Expr::Load(Place::Local(*local)), span);
                restore.push(Stmt::Store(Place::State(*k), v));
            }
            if let Some(RefractoryPeriod::Duration(_)) =
                model.refractory.as_ref().map(|r| &r.period)
            {
                let counter = self.ir.add(Expr::Load(Place::Refractory), Type::I32, span);
                let one = self.ir.add(Expr::Int(1), Type::I32, span);
                let dec = self
                    .ir
                    .add(Expr::Binary(BinaryOp::Sub, counter, one), Type::I32, span);
                restore.push(Stmt::Store(Place::Refractory, dec));
            }
            if !restore.is_empty() {
                step.push(Stmt::If(flag, Block(restore), Block::default()));
            }
        }
        if let Some(rule) = &model.spike {
            let condition = self.expr(&rule.condition);
            let allowed = match refractory_flag {
                Some(flag) => {
                    let not = self
                        .ir
                        .add(Expr::Unary(UnaryOp::Not, flag), Type::Bool, span);
                    self.ir.add(
                        Expr::Binary(BinaryOp::And, not, condition),
                        Type::Bool,
                        span,
                    )
                }
                None => condition,
            };
            // The reset: the model's statements, then refractoriness starts.
            let mut reset = self.stmts(&rule.reset, rule.span);
            if let Some(r) = &model.refractory {
                let steps = match &r.period {
                    RefractoryPeriod::Duration(d) => {
                        let d = self.expr(d);
                        let dt = self.add(Expr::Dt, span);
                        let ratio = self.add(Expr::Binary(BinaryOp::Div, d, dt), span);
                        self.ir.add(Expr::RoundToInt(ratio), Type::I32, span)
                    }
                    RefractoryPeriod::When(_) => self.ir.add(Expr::Int(1), Type::I32, span),
                };
                reset.push(Stmt::Store(Place::Refractory, steps));
            }
            // An adaptive solver may find the crossing inside the step and
            // reset there (see `SubstepEvent`); `spiked` remembers it.
            let spiked = self.ir.new_local(Type::Bool);
            let no = self.ir.add(Expr::Bool(false), Type::Bool, span);
            let yes = self.ir.add(Expr::Bool(true), Type::Bool, span);
            step.insert(0, Stmt::Store(Place::Local(spiked), no));
            let mut in_step = reset.clone();
            in_step.push(Stmt::Store(Place::Local(spiked), yes));
            self.ir.substep_event = Some(SubstepEvent {
                condition: allowed,
                body: Block(in_step),
            });
            let spiked_v = self
                .ir
                .add(Expr::Load(Place::Local(spiked)), Type::Bool, span);
            let fire = self.ir.add(
                Expr::Binary(BinaryOp::Or, allowed, spiked_v),
                Type::Bool,
                span,
            );
            let not_yet = self
                .ir
                .add(Expr::Unary(UnaryOp::Not, spiked_v), Type::Bool, span);
            let body = vec![
                Stmt::Spike,
                Stmt::If(not_yet, Block(reset), Block::default()),
            ];
            step.push(Stmt::If(fire, Block(body), Block::default()));
        }
        for event in &model.events {
            let condition = self.expr(&event.condition);
            let body = self.stmts(&event.body, event.span);
            step.push(Stmt::If(condition, Block(body), Block::default()));
        }
        self.ir.step = Block(step);
        Ok(())
    }

    /// Emits the refractory bookkeeping at the start of a step and returns
    /// the "is refractory" flag.
    fn refractory_prologue(&mut self, step: &mut Vec<Stmt>, span: Span) -> Option<Handle<Expr>> {
        let r = self.model.refractory.as_ref()?;
        let counter = self.ir.add(Expr::Load(Place::Refractory), Type::I32, span);
        let zero = self.ir.add(Expr::Int(0), Type::I32, span);
        if let RefractoryPeriod::When(cond) = &r.period {
            // Refractory from a spike until the condition stops holding.
            let holds = self.expr(cond);
            let released = self
                .ir
                .add(Expr::Unary(UnaryOp::Not, holds), Type::Bool, span);
            step.push(Stmt::If(
                released,
                Block(vec![Stmt::Store(Place::Refractory, zero)]),
                Block::default(),
            ));
        }
        let flag = self
            .ir
            .add(Expr::Binary(BinaryOp::Gt, counter, zero), Type::Bool, span);
        let local = self.ir.new_local(Type::Bool);
        step.push(Stmt::Store(Place::Local(local), flag));
        Some(
            self.ir
                .add(Expr::Load(Place::Local(local)), Type::Bool, span),
        )
    }

    pub(super) fn add(&mut self, e: Expr, span: Span) -> Handle<Expr> {
        let ty = self.ir.real();
        self.ir.add(e, ty, span)
    }

    fn alias(&mut self, k: u32) -> Handle<Expr> {
        if let Some(h) = self.aliases.get(&k) {
            return *h;
        }
        let a = &self.model.aliases[k as usize];
        let h = self.expr(&a.value);
        // Aliases containing noise are re-lowered per noise value, so only
        // noise-free ones are memoised.
        if !has_noise(&a.value) {
            self.aliases.insert(k, h);
        }
        h
    }

    fn stmts(&mut self, stmts: &[model::Stmt], span: Span) -> Vec<Stmt> {
        stmts.iter().map(|s| self.stmt(s, span)).collect()
    }

    fn stmt(&mut self, s: &model::Stmt, span: Span) -> Stmt {
        match s {
            model::Stmt::Let { local, value, .. } => {
                let v = self.expr(value);
                let ty = self.ir.exprs.ty(v);
                let k = self.ir.new_local(ty);
                self.locals.insert(*local, k);
                Stmt::Store(Place::Local(k), v)
            }
            model::Stmt::If {
                condition,
                then_body,
                else_body,
                ..
            } => {
                let c = self.expr(condition);
                Stmt::If(
                    c,
                    Block(self.stmts(then_body, span)),
                    Block(self.stmts(else_body, span)),
                )
            }
            model::Stmt::Assign {
                target,
                op,
                value,
                span,
            } => {
                let place = match target {
                    Var::State(k) => Place::State(*k),
                    Var::Local(k) => Place::Local(self.locals[k]),
                    other => {
                        unreachable!("checker allows assignments to state only, not {other:?}")
                    }
                };
                let v = self.expr(value);
                let current = self.add(Expr::Load(place), *span);
                let combined = match op {
                    AssignOp::Set => v,
                    AssignOp::Add => self.add(Expr::Binary(BinaryOp::Add, current, v), *span),
                    AssignOp::Sub => self.add(Expr::Binary(BinaryOp::Sub, current, v), *span),
                    AssignOp::Mul => self.add(Expr::Binary(BinaryOp::Mul, current, v), *span),
                    AssignOp::Div => self.add(Expr::Binary(BinaryOp::Div, current, v), *span),
                };
                Stmt::Store(place, combined)
            }
        }
    }

    /// Adds each attached synapse's post state and equations, and collects
    /// its outputs per input.
    fn attach_synapses(&mut self) -> Result<(), Diagnostic> {
        let spec = self.spec;
        for (a_index, a) in spec.attachments.iter().enumerate() {
            let syn = &a.synapse;
            // Per-synapse state is the runtime's (see `plastic`); only the
            // post state and outputs live here.
            let base = self.ir.states.len() as u32;
            for q in &syn.post_states {
                self.ir.states.push(Variable {
                    name: format!("{}.{}", a.projection, q.name),
                    unit: q.unit.as_ref().map(|u| u.text.clone()).unwrap_or_else(|| {
                        if q.dim.is_dimensionless() {
                            "1".into()
                        } else {
                            q.dim.internal_unit_name()
                        }
                    }),
                    unit_factor: q.unit.as_ref().map(|u| u.internal_factor).unwrap_or(1.0),
                });
            }
            self.synapse = Some((a_index, base));
            for (k, q) in syn.post_states.iter().enumerate() {
                let value = match &q.value {
                    Some(v) => self.expr(v),
                    None => self.ir.real_const(0.0, q.span),
                };
                self.ir
                    .init
                    .0
                    .push(Stmt::Store(Place::State(base + k as u32), value));
            }
            for ode in &syn.odes {
                // Synapse ODEs index per-synapse state first, then post
                // state; per-synapse state is advanced by the runtime.
                let Some(k) = (ode.state as usize).checked_sub(syn.states.len()) else {
                    continue;
                };
                let rhs = self.expr(&ode.rhs);
                self.ir.odes.push(Ode {
                    state: base + k as u32,
                    rhs,
                    stochastic: false,
                    noise: None,
                });
            }
            self.raw_inputs = true;
            for o in &syn.outputs {
                let Some(input) = o.input else { continue };
                let v = self.expr(&o.value);
                let sum = match self.input_sums.get(&input) {
                    Some(prev) => self.add(Expr::Binary(BinaryOp::Add, *prev, v), o.span),
                    None => v,
                };
                self.input_sums.insert(input, sum);
            }
            self.raw_inputs = false;
            self.synapse = None;
        }
        Ok(())
    }

    /// The value of input `k` as the neuron sees it: what the runtime wrote
    /// plus the outputs of attached synapses.
    fn input(&mut self, k: u32, span: Span) -> Handle<Expr> {
        let raw = self.add(Expr::Load(Place::Input(k)), span);
        match self.input_sums.get(&k) {
            Some(sum) => self.add(Expr::Binary(BinaryOp::Add, raw, *sum), span),
            None => raw,
        }
    }

    /// A variable read inside an attached synapse.
    fn synapse_var(&mut self, v: Var, span: Span) -> Handle<Expr> {
        let (a_index, base) = self.synapse.expect("only called inside a synapse");
        let a = &self.spec.attachments[a_index];
        match v {
            Var::PostState(k) => self.add(Expr::Load(Place::State(base + k)), span),
            Var::Param(k) => self.ir.real_const(a.params[k as usize], span),
            Var::Alias(k) => {
                let value = a.synapse.aliases[k as usize].value.clone();
                self.expr(&value)
            }
            Var::Post(model::NeuronVar::State(k)) => self.add(Expr::Load(Place::State(k)), span),
            Var::Post(model::NeuronVar::Input(k)) => self.add(Expr::Load(Place::Input(k)), span),
            Var::Post(model::NeuronVar::Param(k)) => {
                let saved = self.synapse.take();
                let e = model::Expr {
                    kind: ExprKind::Var(Var::Param(k)),
                    ty: model::Ty::Real(crate::units::Dim::ONE),
                    span,
                };
                let h = self.expr(&e);
                self.synapse = saved;
                h
            }
            Var::Post(model::NeuronVar::Alias(k)) => {
                let saved = self.synapse.take();
                let h = self.alias(k);
                self.synapse = saved;
                h
            }
            // The checker and the runtime keep per-synapse values, the
            // presynaptic side and positions out of attached synapses.
            _ => self.ir.real_const(0.0, span),
        }
    }

    /// Lowers a checked expression of the model.
    pub(super) fn expr(&mut self, e: &model::Expr) -> Handle<Expr> {
        let span = e.span;
        let real = self.ir.real();
        let (ir_expr, ty) = match &e.kind {
            ExprKind::Const(v) => (Expr::Real(*v), real),
            ExprKind::Bool(b) => (Expr::Bool(*b), Type::Bool),
            ExprKind::Var(v) if self.synapse.is_some() => return self.synapse_var(*v, span),
            ExprKind::Var(Var::Input(k)) if !self.raw_inputs => return self.input(*k, span),
            ExprKind::Var(v) => match v {
                Var::Param(k) => match &self.spec.params[*k as usize] {
                    ParamSpec::Constant(c) => (Expr::Real(*c), real),
                    ParamSpec::PerNeuron => (Expr::Load(Place::Param(*k)), real),
                    ParamSpec::TimeDependent(x) => return self.expr(&x.clone()),
                },
                Var::State(k) => (Expr::Load(Place::State(*k)), real),
                Var::Input(k) => (Expr::Load(Place::Input(*k)), real),
                Var::Alias(k) => return self.alias(*k),
                Var::Local(k) => {
                    let local = self.locals[k];
                    (
                        Expr::Load(Place::Local(local)),
                        self.ir.local_types[local as usize],
                    )
                }
                // Network values reach the lowerer only through parameters
                // given as expressions of `t`, with network parameters
                // already replaced by their values; anything else is a bug
                // in the caller, reported as a zero rather than a crash.
                _ => (Expr::Real(0.0), real),
            },
            ExprKind::Builtin(b) => match b {
                Builtin::Time => (Expr::Time, real),
                Builtin::Dt => (Expr::Dt, real),
                Builtin::Index => (Expr::Index, real),
                // `j` and `N` are network values (see above).
                _ => (Expr::Real(0.0), real),
            },
            ExprKind::Unary(op, x) => {
                let x = self.expr(x);
                let ty = self.ir.exprs.ty(x);
                let op = match op {
                    model::UnaryOp::Neg => UnaryOp::Neg,
                    model::UnaryOp::Not => UnaryOp::Not,
                };
                (Expr::Unary(op, x), ty)
            }
            ExprKind::Binary(op, a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                let op = binary(*op);
                let ty = if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
                    Type::Bool
                } else {
                    real
                };
                (Expr::Binary(op, a, b), ty)
            }
            ExprKind::Math(m, xs) => {
                let xs = xs.iter().map(|x| self.expr(x)).collect();
                (Expr::Math(*m, xs), real)
            }
            ExprKind::If(c, a, b) => {
                let (c, a, b) = (self.expr(c), self.expr(a), self.expr(b));
                let ty = self.ir.exprs.ty(a);
                (Expr::Select(c, a, b), ty)
            }
            ExprKind::Random(r) => {
                let draw = self.ir.draws;
                self.ir.draws += 1;
                (Expr::Random(*r, draw), real)
            }
            ExprKind::Noise => (Expr::Real(self.noise_value), real),
            ExprKind::Convolve(k) => return self.convolutions[*k as usize],
            ExprKind::Distribution(..) | ExprKind::List(_) => {
                unreachable!("distributions and lists are network values")
            }
        };
        self.ir.add(ir_expr, ty, span)
    }
}

fn binary(op: model::BinaryOp) -> BinaryOp {
    match op {
        model::BinaryOp::Add => BinaryOp::Add,
        model::BinaryOp::Sub => BinaryOp::Sub,
        model::BinaryOp::Mul => BinaryOp::Mul,
        model::BinaryOp::Div => BinaryOp::Div,
        model::BinaryOp::Rem => BinaryOp::Rem,
        model::BinaryOp::Pow => BinaryOp::Pow,
        model::BinaryOp::Lt => BinaryOp::Lt,
        model::BinaryOp::Le => BinaryOp::Le,
        model::BinaryOp::Gt => BinaryOp::Gt,
        model::BinaryOp::Ge => BinaryOp::Ge,
        model::BinaryOp::Eq => BinaryOp::Eq,
        model::BinaryOp::Ne => BinaryOp::Ne,
        model::BinaryOp::And => BinaryOp::And,
        model::BinaryOp::Or => BinaryOp::Or,
    }
}

fn has_noise(e: &model::Expr) -> bool {
    match &e.kind {
        ExprKind::Noise => true,
        ExprKind::Unary(_, x) => has_noise(x),
        ExprKind::Binary(_, a, b) => has_noise(a) || has_noise(b),
        ExprKind::If(c, a, b) => has_noise(c) || has_noise(a) || has_noise(b),
        ExprKind::Math(_, xs) => xs.iter().any(has_noise),
        _ => false,
    }
}

/// Whether `xi` enters linearly: only through sums and products with
/// noise-free factors (as Brian2 requires for SDEs).
fn noise_is_linear(e: &model::Expr) -> bool {
    if !has_noise(e) {
        return true;
    }
    match &e.kind {
        ExprKind::Noise => true,
        ExprKind::Unary(model::UnaryOp::Neg, x) => noise_is_linear(x),
        ExprKind::Binary(model::BinaryOp::Add | model::BinaryOp::Sub, a, b) => {
            noise_is_linear(a) && noise_is_linear(b)
        }
        ExprKind::Binary(model::BinaryOp::Mul, a, b) => {
            (noise_is_linear(a) && !has_noise(b)) || (!has_noise(a) && noise_is_linear(b))
        }
        ExprKind::Binary(model::BinaryOp::Div, a, b) => noise_is_linear(a) && !has_noise(b),
        _ => false,
    }
}
