//! From a checked network to compiled populations: settings, sizes, how each
//! parameter is given, IR and step kernels.

use nmlc_compiler::backend::{Backend, StepKernel, compile_step};
use nmlc_compiler::check::eval_constant;
use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::ir::lower::{ParamSpec, PopulationSpec};
use nmlc_compiler::ir::{NeuronIr, Precision, Verified, compile_neuron_framed};
use nmlc_compiler::model::{Expr, ExprKind, Network, NeuronModel, PopulationKind, Program, Ty};
use nmlc_compiler::units::Dim;

use super::error::RunError;
use super::settings::{SetTarget, Swept, network_parameters, resolve_setting};
use super::values::{has_distribution, has_index, has_time, params_read, substitute_constants};

/// The time step when neither the file nor the command line sets one (ms).
pub const DEFAULT_DT_MS: f64 = 0.1;
/// The duration when neither the file nor the command line sets one (ms).
pub const DEFAULT_DURATION_MS: f64 = 1000.0;
/// The seed when neither the file nor the command line sets one.
pub const DEFAULT_SEED: u64 = 0;

/// What the command line says about a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The network to run; `None` = the only one.
    pub network: Option<String>,
    /// Overrides the file's `dt` (ms).
    pub dt_ms: Option<f64>,
    /// Overrides the file's `duration` (ms).
    pub duration_ms: Option<f64>,
    /// Overrides the file's `seed`.
    pub seed: Option<u64>,
    /// The backend; `None` = the JIT where it compiles, else the interpreter.
    pub backend: Option<Backend>,
    /// Precision of the neurons' reals.
    pub precision: Precision,
    /// Values given with `--set NAME=VALUE`: a network parameter (`g`) or
    /// a population's model parameter (`E.tau_m`); name, value in the
    /// internal scale, and its dimension. A population parameter set here
    /// is a constant, compiled into that population's code.
    pub set: Vec<(String, f64, Dim)>,
    /// Worker threads; `None` = every core.
    pub threads: Option<usize>,
}

/// How one model parameter of a population is given.
#[derive(Clone, Debug)]
pub enum ParamPlan {
    /// The same for all neurons (internal units).
    Constant(f64),
    /// Drawn or computed per neuron when the network is built.
    PerNeuron(Expr),
    /// An expression of `t` (and `i`), inlined into the kernel.
    TimeDependent,
}

/// A population after compilation.
pub struct CompiledPopulation {
    /// Its name.
    pub name: String,
    /// Its number of neurons.
    pub size: u32,
    /// Neurons of a model, or a spike source.
    pub kind: CompiledKind,
}

/// The two kinds of population.
pub enum CompiledKind {
    /// Neurons of a model.
    Neuron {
        /// Index into [`Program::neurons`].
        model: u32,
        /// Each model parameter, in model order.
        params: Vec<ParamPlan>,
        /// Per-neuron parameters in an order in which each comes after the
        /// parameters its value reads.
        per_neuron_order: Vec<u32>,
        /// The population's IR.
        ir: Box<NeuronIr>,
        /// Its verification witness.
        verified: Verified,
        /// The step kernel (absent when only the IR was asked for).
        kernel: Option<Box<dyn StepKernel>>,
    },
    /// `SpikeSource`: `(step, neuron)` of every spike, in step order, then
    /// neuron order. A spike at time `T` is emitted in the step that ends at
    /// the first grid time at or after `T`.
    Source {
        /// The spikes.
        spikes: Vec<(u64, u32)>,
    },
    /// `PoissonGenerator`: each synapse from it carries an independent
    /// Poisson train; the rate of generator `i` is `rate` evaluated with
    /// `i` when the network is built.
    Generator {
        /// The rate (internal units, 1/ms).
        rate: Expr,
    },
}

/// A network ready to be built: settings resolved, populations compiled.
pub struct CompiledNetwork<'p> {
    /// The checked program.
    pub program: &'p Program,
    /// The network.
    pub network: &'p Network,
    /// Network parameter values (internal scale), by index.
    pub network_params: Vec<f64>,
    /// The time step (ms).
    pub dt_ms: f64,
    /// The simulated time (ms).
    pub duration_ms: f64,
    /// The seed of every random stream.
    pub seed: u64,
    /// The backend that runs the kernels.
    pub backend: Backend,
    /// The precision of reals.
    pub precision: Precision,
    /// The populations, in network order.
    pub populations: Vec<CompiledPopulation>,
    /// Worker threads for the simulation (results do not depend on it).
    pub threads: usize,
}

impl CompiledNetwork<'_> {
    /// The number of steps the run takes: `duration / dt`, rounded up
    /// unless it is within 1e-9 of a whole number.
    pub fn steps(&self) -> u64 {
        let ratio = self.duration_ms / self.dt_ms;
        let nearest = ratio.round();
        if (ratio - nearest).abs() <= 1e-9 * ratio.max(1.0) {
            nearest as u64
        } else {
            ratio.ceil() as u64
        }
    }
}

/// Chooses the network to run.
pub fn select_network<'p>(
    program: &'p Program,
    name: Option<&str>,
) -> Result<&'p Network, RunError> {
    let available = || {
        program
            .networks
            .iter()
            .map(|n| n.name.clone())
            .collect::<Vec<_>>()
    };
    match name {
        Some(name) => program.network(name).ok_or_else(|| RunError::NoNetwork {
            requested: Some(name.to_string()),
            available: available(),
        }),
        None => match program.networks.as_slice() {
            [only] => Ok(only),
            _ => Err(RunError::NoNetwork {
                requested: None,
                available: available(),
            }),
        },
    }
}

/// Resolves settings and lowers every population to verified IR, without
/// compiling step kernels (what `nmlc ir` shows).
pub fn compile_ir<'p>(
    program: &'p Program,
    options: &RunOptions,
) -> Result<CompiledNetwork<'p>, RunError> {
    compile_ir_with(program, options, &Swept::default())
}

/// [`compile_ir`], keeping what `swept` names out of the compiled code (see
/// [`super::settings`]).
pub(crate) fn compile_ir_with<'p>(
    program: &'p Program,
    options: &RunOptions,
    swept: &Swept,
) -> Result<CompiledNetwork<'p>, RunError> {
    let network = select_network(program, options.network.as_deref())?;
    let mut fixed_params: Vec<Vec<(u32, f64)>> = vec![Vec::new(); network.populations.len()];
    for (name, value, dim) in &options.set {
        if let SetTarget::Population { population, param } =
            resolve_setting(program, network, name, *dim)?
        {
            fixed_params[population].push((param, *value));
        }
    }
    let network_params = network_parameters(network, &options.set)?;
    for (name, e, given) in [
        ("`dt`", &network.dt, options.dt_ms.is_some()),
        (
            "`duration`",
            &network.duration,
            options.duration_ms.is_some(),
        ),
        ("`seed`", &network.seed, options.seed.is_some()),
    ] {
        if let (Some(e), false) = (e, given) {
            swept.fixed_at_compilation(e, || name.to_string())?;
        }
    }
    let setting = |e: &Option<Expr>| e.as_ref().and_then(|e| eval_constant(e, &network_params));
    let dt_ms = options
        .dt_ms
        .or_else(|| setting(&network.dt))
        .unwrap_or(DEFAULT_DT_MS);
    let duration_ms = options
        .duration_ms
        .or_else(|| setting(&network.duration))
        .unwrap_or(DEFAULT_DURATION_MS);
    let seed = match options.seed {
        Some(s) => s,
        None => setting(&network.seed)
            .map(|s| s as u64)
            .unwrap_or(DEFAULT_SEED),
    };
    for (name, value) in [("--dt", dt_ms), ("--duration", duration_ms)] {
        if !(value > 0.0 && value.is_finite()) {
            return Err(RunError::BadSetting {
                setting: name.into(),
                problem: format!("must be a positive time, not {value} ms"),
            });
        }
    }
    let mut populations = Vec::new();
    for (p_index, p) in network.populations.iter().enumerate() {
        swept.fixed_at_compilation(&p.size, || format!("the size of population `{}`", p.name))?;
        let size = eval_constant(&p.size, &network_params)
            .filter(|v| *v >= 1.0 && v.fract() == 0.0 && *v <= f64::from(u32::MAX))
            .ok_or_else(|| {
                RunError::model(
                    Diagnostic::error(
                        "nml::invalid_size",
                        "the population size must be a positive whole number",
                    )
                    .at(p.size.span, "this size"),
                )
            })? as u32;
        let kind = match &p.kind {
            PopulationKind::SpikeSource { times, neurons } => {
                for e in std::iter::once(times).chain(neurons) {
                    swept.fixed_at_compilation(e, || {
                        format!("the spikes of spike source `{}`", p.name)
                    })?;
                }
                CompiledKind::Source {
                    spikes: source_spikes(times, neurons.as_ref(), size, dt_ms, &network_params)?,
                }
            }
            PopulationKind::PoissonGenerator { rate } => {
                CompiledKind::Generator { rate: rate.clone() }
            }
            PopulationKind::Neuron(m) => {
                let model = &program.neurons[*m as usize];
                let overrides = Overrides {
                    set: &fixed_params[p_index],
                    swept: &swept
                        .population
                        .iter()
                        .filter(|(q, _)| *q == p_index)
                        .map(|(_, k)| *k)
                        .collect::<Vec<_>>(),
                    swept_network: swept,
                };
                let (params, per_neuron_order, specs) =
                    plan_params(model, p, size, &network_params, &overrides)?;
                let attachments = attachments(network, p_index, &network_params, swept)?;
                let spec = PopulationSpec {
                    name: p.name.clone(),
                    params: specs,
                    dt: dt_ms,
                    precision: options.precision,
                    solver: network.solver.clone(),
                    attachments,
                };
                let (ir, verified) =
                    compile_neuron_framed(model, &spec).map_err(RunError::model)?;
                CompiledKind::Neuron {
                    model: *m,
                    params,
                    per_neuron_order,
                    ir: Box::new(ir),
                    verified,
                    kernel: None,
                }
            }
        };
        populations.push(CompiledPopulation {
            name: p.name.clone(),
            size,
            kind,
        });
    }
    Ok(CompiledNetwork {
        program,
        network,
        network_params,
        dt_ms,
        duration_ms,
        seed,
        backend: options.backend.unwrap_or(Backend::Interp),
        precision: options.precision,
        populations,
        threads: options
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
    })
}

/// Everything [`compile_ir`] does, then the step kernels with the chosen
/// backend. Projections are built with the network ([`super::projection`]).
pub fn compile<'p>(
    program: &'p Program,
    options: &RunOptions,
) -> Result<CompiledNetwork<'p>, RunError> {
    let mut compiled = compile_ir(program, options)?;
    compile_kernels(&mut compiled, options.backend)?;
    Ok(compiled)
}

/// Compiles the step kernel of every population of `compiled` with
/// `requested` (`None`: the JIT where it compiles, else the interpreter).
pub(crate) fn compile_kernels(
    compiled: &mut CompiledNetwork<'_>,
    requested: Option<Backend>,
) -> Result<(), RunError> {
    // Without a choice, the JIT runs where it compiles every population;
    // each kernel is compiled once, and the interpreter takes over for all
    // populations if any JIT compilation fails.
    let preferred = requested.unwrap_or(Backend::Jit);
    let mut kernels = Vec::new();
    let mut failure = None;
    for p in &compiled.populations {
        if let CompiledKind::Neuron { ir, verified, .. } = &p.kind {
            match compile_step(ir, verified, preferred) {
                Ok(k) => kernels.push(Some(k)),
                Err(e) => {
                    failure = Some((p.name.clone(), e));
                    break;
                }
            }
        } else {
            kernels.push(None);
        }
    }
    let backend = match failure {
        None => preferred,
        Some((population, e)) => {
            if requested.is_some() {
                return Err(RunError::Backend {
                    backend: preferred.name(),
                    population,
                    message: e.to_string(),
                });
            }
            kernels.clear();
            for p in &compiled.populations {
                kernels.push(match &p.kind {
                    CompiledKind::Neuron { ir, verified, .. } => {
                        Some(compile_step(ir, verified, Backend::Interp).map_err(|e| {
                            RunError::Backend {
                                backend: Backend::Interp.name(),
                                population: p.name.clone(),
                                message: e.to_string(),
                            }
                        })?)
                    }
                    CompiledKind::Source { .. } | CompiledKind::Generator { .. } => None,
                });
            }
            Backend::Interp
        }
    };
    compiled.backend = backend;
    for (p, k) in compiled.populations.iter_mut().zip(kernels) {
        if let CompiledKind::Neuron { kernel, .. } = &mut p.kind {
            *kernel = k;
        }
    }
    Ok(())
}

/// What the command line gives the parameters of one population.
struct Overrides<'a> {
    /// `--set POP.PARAM=VALUE`: (parameter, value), the last given first
    /// wins; each replaces the file's override or the model's default.
    set: &'a [(u32, f64)],
    /// The parameters among `set` that a sweep changes between runs.
    swept: &'a [u32],
    /// The network parameters that a sweep changes.
    swept_network: &'a Swept,
}

/// Decides how each parameter of a population is given, and the order in
/// which per-neuron values are computed.
///
/// A value from the command line is a constant, or a per-neuron column if
/// a sweep changes it. An override that is a constant expression is a
/// constant (unless it reads a swept network parameter: then it is computed
/// per neuron); one that reads `t` is inlined into the kernel; any other
/// (distributions, `i`, `N`) is computed per neuron. A model default that
/// is constant, or depends only on constant parameters, is a constant; one
/// that reads a time-dependent parameter is time-dependent; otherwise it is
/// computed per neuron.
#[allow(clippy::type_complexity)]
fn plan_params(
    model: &NeuronModel,
    population: &nmlc_compiler::model::Population,
    size: u32,
    network_params: &[f64],
    overrides: &Overrides,
) -> Result<(Vec<ParamPlan>, Vec<u32>, Vec<ParamSpec>), RunError> {
    let n = model.params.len();
    let mut plans: Vec<Option<ParamPlan>> = vec![None; n];
    let mut specs: Vec<Option<ParamSpec>> = vec![None; n];
    let mut order = Vec::new();
    for &(k, v) in overrides.set.iter().rev() {
        let k = k as usize;
        if plans[k].is_some() {
            continue;
        }
        let (plan, spec) = if overrides.swept.contains(&(k as u32)) {
            order.push(k as u32);
            let value = Expr {
                kind: ExprKind::Const(v),
                ty: Ty::Real(model.params[k].dim),
                span: population.span,
            };
            (ParamPlan::PerNeuron(value), ParamSpec::PerNeuron)
        } else {
            (ParamPlan::Constant(v), ParamSpec::Constant(v))
        };
        plans[k] = Some(plan);
        specs[k] = Some(spec);
    }
    for (k, value) in &population.params {
        let k = *k as usize;
        if plans[k].is_some() {
            continue;
        }
        let swept = overrides.swept_network.reads(value).is_some();
        let (plan, spec) = if let Some(v) = eval_constant(value, network_params).filter(|_| !swept)
        {
            (ParamPlan::Constant(v), ParamSpec::Constant(v))
        } else if has_time(value) {
            if has_distribution(value) {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::invalid_value",
                        format!("parameter `{}` mixes a distribution with the time `t`", model.params[k].name),
                    )
                    .at(value.span, "a value of `t` is computed in every step; a distribution is drawn once")
                    .help("draw the random part into a parameter of the model and use it in the expression of `t`"),
                ));
            }
            overrides.swept_network.fixed_at_compilation(value, || {
                format!(
                    "parameter `{}` of population `{}` (an expression of `t`, compiled into its code)",
                    model.params[k].name, population.name
                )
            })?;
            let e = substitute_constants(value, network_params, size);
            (ParamPlan::TimeDependent, ParamSpec::TimeDependent(e))
        } else {
            order.push(k as u32);
            (ParamPlan::PerNeuron(value.clone()), ParamSpec::PerNeuron)
        };
        plans[k] = Some(plan);
        specs[k] = Some(spec);
    }
    // Defaults, each after the parameters it reads.
    let mut progress = true;
    while progress {
        progress = false;
        for k in 0..n {
            if plans[k].is_some() {
                continue;
            }
            let Some(default) = model.params[k].value.as_ref() else {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::missing_value",
                        format!(
                            "population `{}` must set parameter `{}`",
                            population.name, model.params[k].name
                        ),
                    )
                    .at(population.span, "this population"),
                ));
            };
            let reads = params_read(default);
            if reads.iter().any(|r| plans[*r as usize].is_none()) {
                continue;
            }
            let constants: Vec<Option<f64>> = plans
                .iter()
                .map(|p| match p {
                    Some(ParamPlan::Constant(v)) => Some(*v),
                    _ => None,
                })
                .collect();
            let time = reads
                .iter()
                .any(|r| matches!(plans[*r as usize], Some(ParamPlan::TimeDependent)));
            let all_constant = reads.iter().all(|r| constants[*r as usize].is_some());
            let (plan, spec) = if time {
                (
                    ParamPlan::TimeDependent,
                    ParamSpec::TimeDependent(default.clone()),
                )
            } else if all_constant && !has_distribution(default) {
                let scope = super::values::ValueScope {
                    network_params,
                    index: 0,
                    target_index: None,
                    size,
                    model_params: &constants,
                    positions: None,
                };
                let mut no_draws = nmlc_compiler::abi::rng::Stream::new(
                    0,
                    nmlc_compiler::abi::rng::StreamKind::Initialisation,
                    0,
                    0,
                )
                .draws(0);
                match super::values::evaluate(default, &scope, &mut no_draws) {
                    Ok(v) if !has_index(default) => {
                        (ParamPlan::Constant(v), ParamSpec::Constant(v))
                    }
                    _ => {
                        order.push(k as u32);
                        (ParamPlan::PerNeuron(default.clone()), ParamSpec::PerNeuron)
                    }
                }
            } else {
                order.push(k as u32);
                (ParamPlan::PerNeuron(default.clone()), ParamSpec::PerNeuron)
            };
            plans[k] = Some(plan);
            specs[k] = Some(spec);
            progress = true;
        }
    }
    if let Some(k) = plans.iter().position(Option::is_none) {
        return Err(RunError::model(
            Diagnostic::error(
                "nml::cyclic_definition",
                format!(
                    "the default of parameter `{}` depends on itself",
                    model.params[k].name
                ),
            )
            .at(model.params[k].span, "declared here"),
        ));
    }
    Ok((
        plans.into_iter().flatten().collect(),
        order,
        specs.into_iter().flatten().collect(),
    ))
}

/// The `(step, neuron)` spikes of a `SpikeSource`.
fn source_spikes(
    times: &Expr,
    neurons: Option<&Expr>,
    size: u32,
    dt_ms: f64,
    network_params: &[f64],
) -> Result<Vec<(u64, u32)>, RunError> {
    let list = |e: &Expr| -> Result<Vec<(f64, nmlc_compiler::source::Span)>, RunError> {
        let ExprKind::List(items) = &e.kind else {
            return Err(RunError::model(
                Diagnostic::error("nml::invalid_value", "expected a list").at(e.span, "not a list"),
            ));
        };
        items
            .iter()
            .map(|x| {
                eval_constant(x, network_params)
                    .map(|v| (v, x.span))
                    .ok_or_else(|| {
                        RunError::model(
                            Diagnostic::error(
                                "nml::not_constant",
                                "spike-source values must be constants",
                            )
                            .at(x.span, "not a constant"),
                        )
                    })
            })
            .collect()
    };
    let times = list(times)?;
    let neurons = match neurons {
        Some(e) => {
            let v = list(e)?;
            if v.len() != times.len() {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::invalid_value",
                        format!(
                            "`neurons` has {} entries but `times` has {}",
                            v.len(),
                            times.len()
                        ),
                    )
                    .at(e.span, "one neuron index per spike time"),
                ));
            }
            v
        }
        None => vec![
            (
                0.0,
                times
                    .first()
                    .map(|t| t.1)
                    .unwrap_or(nmlc_compiler::source::Span::new(
                        nmlc_compiler::source::FileId(0),
                        0,
                        0,
                    ))
            );
            times.len()
        ],
    };
    let mut spikes = Vec::with_capacity(times.len());
    for ((t, t_span), (j, j_span)) in times.into_iter().zip(neurons) {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(RunError::model(
                Diagnostic::error(
                    "nml::invalid_value",
                    format!("a spike time must not be negative, not {t} ms"),
                )
                .at(t_span, "negative"),
            ));
        }
        if !(j >= 0.0 && j.fract() == 0.0 && j < f64::from(size)) {
            return Err(RunError::model(
                Diagnostic::error(
                    "nml::out_of_range",
                    format!(
                        "neuron index {j} is outside the spike source (0 to {})",
                        size - 1
                    ),
                )
                .at(j_span, "no such neuron"),
            ));
        }
        // The step whose end is the first grid time at or after `t` (within
        // rounding), so a time on the grid keeps its value; 0 ms goes to
        // the first step.
        let end = (t / dt_ms - 1e-9).ceil().max(1.0);
        spikes.push((end as u64 - 1, j as u32));
    }
    spikes.sort_unstable();
    Ok(spikes)
}

/// The synapses with post state or outputs of the projections into
/// population `p`, to be integrated with it (see
/// [`nmlc_compiler::ir::lower::Attachment`]). Their parameters must be the
/// same for every synapse of the projection.
fn attachments(
    network: &Network,
    p: usize,
    network_params: &[f64],
    swept: &Swept,
) -> Result<Vec<nmlc_compiler::ir::lower::Attachment>, RunError> {
    let mut out = Vec::new();
    for proj in network
        .projections
        .iter()
        .filter(|x| x.target.population as usize == p)
    {
        let syn = &proj.synapse;
        // Outputs that read the presynaptic side are summed over synapses by
        // the runtime (see `projection::ContinuousOutput`), not attached.
        let target_side_outputs = syn
            .outputs
            .iter()
            .any(|o| !super::projection::reads_pre(&o.value));
        if syn.post_states.is_empty() && !target_side_outputs {
            continue;
        }
        let mut params = Vec::with_capacity(syn.params.len());
        for q in &syn.params {
            let value = proj
                .values
                .iter()
                .find(|(n, _)| *n == q.name)
                .map(|(_, e)| e)
                .or(q.value.as_ref());
            if let Some(e) = value {
                swept.fixed_at_compilation(e, || {
                    format!(
                        "parameter `{}` of projection `{}` (integrated with its target)",
                        q.name, proj.name
                    )
                })?;
            }
            let v = value.and_then(|e| eval_constant(e, network_params)).ok_or(RunError::Unsupported {
                span: q.span,
                feature: "synapse parameters that vary between synapses of a projection with post state",
            })?;
            params.push(v);
        }
        out.push(nmlc_compiler::ir::lower::Attachment {
            projection: proj.name.clone(),
            synapse: syn.clone(),
            params,
        });
    }
    Ok(out)
}
