//! The checked model: what the checker hands to every later phase.
//!
//! Names are resolved to indices, every quantity carries its [`Dim`], every
//! constant is already in the internal scale (see [`crate::units`]), user
//! functions are inlined, second-order equations are split into first-order
//! ones and inheritance (`extends`) is flattened. Nothing after the checker
//! looks at source text again; spans remain only for diagnostics.

use crate::source::Span;
use crate::units::Dim;
use serde::Serialize;

/// Every model and network of a compilation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Program {
    /// Neuron models, including those only imported.
    pub neurons: Vec<NeuronModel>,
    /// Synapse models checked on their own (for documentation and reuse);
    /// projections carry their own instance bound to concrete neurons.
    pub synapses: Vec<SynapseModel>,
    /// Networks.
    pub networks: Vec<Network>,
}

impl Program {
    /// The neuron model with the given name.
    pub fn neuron(&self, name: &str) -> Option<&NeuronModel> {
        self.neurons.iter().find(|n| n.name == name)
    }

    /// The network with the given name.
    pub fn network(&self, name: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.name == name)
    }
}

/// The type of a checked expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Ty {
    /// A real number with a physical dimension.
    Real(Dim),
    /// True or false.
    Bool,
}

/// A checked expression.
#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    /// What it computes.
    pub kind: ExprKind,
    /// Its type.
    pub ty: Ty,
    /// Where it came from.
    pub span: Span,
}

/// The forms of checked expression.
#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    /// A constant in the internal scale.
    Const(f64),
    /// A boolean constant.
    Bool(bool),
    /// A variable of the model the expression belongs to.
    Var(Var),
    /// A built-in quantity.
    Builtin(Builtin),
    /// A prefix operation.
    Unary(UnaryOp, Box<Expr>),
    /// An infix operation.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// A mathematical function.
    Math(MathFn, Vec<Expr>),
    /// `if c then a else b`.
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// A random number drawn anew every evaluation.
    Random(RandomFn),
    /// The white-noise term `xi` of an SDE (one independent process per ODE).
    Noise,
    /// `convolve(kernel, input)`, by index into the neuron's convolutions.
    Convolve(u32),
    /// A value drawn once per element when a network is built.
    Distribution(Distribution, Vec<Expr>),
    /// A list of values (spike times).
    List(Vec<Expr>),
}

/// A reference to a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Var {
    /// A parameter of the model.
    Param(u32),
    /// A state variable (per neuron, or per synapse in a synapse).
    State(u32),
    /// A per-target state of a synapse (`post state`).
    PostState(u32),
    /// An input of a neuron.
    Input(u32),
    /// An inline definition, by index.
    Alias(u32),
    /// A value of an `on pre(…)` handler.
    HandlerArg(u32),
    /// A `let` local of a handler, by index in the handler.
    Local(u32),
    /// A variable of the presynaptic neuron model.
    Pre(NeuronVar),
    /// A variable of the postsynaptic neuron model.
    Post(NeuronVar),
    /// A network parameter.
    NetworkParam(u32),
}

/// A variable of a neuron model seen from a synapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NeuronVar {
    /// A parameter.
    Param(u32),
    /// A state variable.
    State(u32),
    /// An input.
    Input(u32),
    /// An inline definition.
    Alias(u32),
    /// A coordinate of the neuron's position (0 = x, 1 = y, 2 = z).
    Position(u8),
}

/// Built-in quantities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Builtin {
    /// Simulation time `t` (in kernels: time since the spike).
    Time,
    /// The time step `dt`.
    Dt,
    /// Index `i` of the neuron (in a projection: of the presynaptic neuron).
    Index,
    /// Index `j` of the postsynaptic neuron in a projection.
    TargetIndex,
    /// Size `N` of the population.
    Size,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// Negation.
    Neg,
    /// Logical not.
    Not,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%` (floored remainder, sign of the divisor)
    Rem,
    /// `^` with any real exponent
    Pow,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `and`
    And,
    /// `or`
    Or,
}

/// Mathematical functions (lowered by each backend to libm or its own code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub enum MathFn {
    Exp,
    Expm1,
    Log,
    Log10,
    Log2,
    Log1p,
    Sqrt,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sinh,
    Cosh,
    Asin,
    Acos,
    Atan,
    Atan2,
    Abs,
    Floor,
    Ceil,
    Round,
    Min,
    Max,
    Clip,
    Sign,
    Heaviside,
    /// `(exp(x) - 1) / x`, 1 at x = 0.
    Exprel,
    /// `x^y` (as `^`).
    Pow,
}

/// Random numbers inside models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RandomFn {
    /// Uniform on [0, 1).
    Uniform,
    /// Standard normal.
    Normal,
}

/// Distributions for values drawn when a network is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Distribution {
    /// `uniform(low, high)`.
    Uniform,
    /// `normal(mean, sd)`.
    Normal,
    /// `lognormal(mean, sd)`: mean and standard deviation of the value itself.
    LogNormal,
    /// `exponential(mean)`.
    Exponential,
}

/// A statement of a reset block or event handler.
#[derive(Clone, Debug, Serialize)]
pub enum Stmt {
    /// `target op= value`.
    Assign {
        /// The variable assigned.
        target: Var,
        /// `=` or a compound operator.
        op: AssignOp,
        /// The value.
        value: Expr,
        /// Where.
        span: Span,
    },
    /// `let` binding to a local slot.
    Let {
        /// The local's slot.
        local: u32,
        /// Its value.
        value: Expr,
        /// Where.
        span: Span,
    },
    /// `if … { … } else { … }`.
    If {
        /// The condition.
        condition: Expr,
        /// Run when it holds.
        then_body: Vec<Stmt>,
        /// Run otherwise.
        else_body: Vec<Stmt>,
        /// Where.
        span: Span,
    },
}

/// Assignment operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AssignOp {
    /// `=`
    Set,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
}

/// A declared quantity (parameter, state, post state).
#[derive(Clone, Debug, Serialize)]
pub struct Quantity {
    /// Its name (`x'` for the derivative state of a second-order equation).
    pub name: String,
    /// Its dimension.
    pub dim: Dim,
    /// The unit it was declared in, for output (`mV`); `None` if written
    /// without one.
    pub unit: Option<DisplayUnit>,
    /// Default (parameters) or initial value (state).
    pub value: Option<Expr>,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// A unit to show values in: its text and the internal value of one of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DisplayUnit {
    /// As written (`mV`, `nS/ms`).
    pub text: String,
    /// Internal value of one of this unit (`V` → 1000).
    pub internal_factor: f64,
}

/// An input of a neuron.
#[derive(Clone, Debug, Serialize)]
pub struct Input {
    /// Its name.
    pub name: String,
    /// Continuous or spike input.
    pub kind: InputKind,
    /// The declared unit.
    pub unit: Option<DisplayUnit>,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// The kinds of neuron input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum InputKind {
    /// The per-step sum of synaptic outputs, of this dimension.
    Continuous(Dim),
    /// Weighted spike events; the weight has this dimension.
    Spikes(Dim),
}

/// An inline definition.
#[derive(Clone, Debug, Serialize)]
pub struct Alias {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Expr,
    /// Where it is defined.
    pub span: Span,
}

/// A first-order ODE `state' = rhs`.
#[derive(Clone, Debug, Serialize)]
pub struct Ode {
    /// The state variable (index into `states`).
    pub state: u32,
    /// The right-hand side, in state/time.
    pub rhs: Expr,
    /// Whether the right-hand side contains the white-noise term.
    pub stochastic: bool,
    /// Where the equation is written.
    pub span: Span,
}

/// A kernel of a neuron.
#[derive(Clone, Debug, Serialize)]
pub struct Kernel {
    /// Its name.
    pub name: String,
    /// Its dimension.
    pub dim: Dim,
    /// Function of the time since the spike, or ODE form.
    pub form: KernelForm,
    /// Where it is defined.
    pub span: Span,
}

/// The two ways to give a kernel.
#[derive(Clone, Debug, Serialize)]
pub enum KernelForm {
    /// `g(t)`; [`Builtin::Time`] stands for the time since the spike.
    Function(Expr),
    /// `g^(n) = rhs` with initial values `g(0), g'(0), …, g^(n-1)(0)`;
    /// [`Var::State`] `k` in `rhs` stands for the k-th derivative of `g`.
    Ode {
        /// The highest derivative as a function of the lower ones.
        rhs: Expr,
        /// Initial values, lowest derivative first.
        init: Vec<Expr>,
    },
}

/// A use of `convolve(kernel, input)`.
#[derive(Clone, Debug, Serialize)]
pub struct Convolution {
    /// Index into `kernels`.
    pub kernel: u32,
    /// Index into `inputs` (a spike input).
    pub input: u32,
}

/// `spike when … { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeRule {
    /// The threshold condition.
    pub condition: Expr,
    /// The reset.
    pub reset: Vec<Stmt>,
    /// Number of `let` locals the reset uses.
    pub locals: u32,
    /// Where.
    pub span: Span,
}

/// The refractory mechanism.
#[derive(Clone, Debug, Serialize)]
pub struct Refractory {
    /// How long.
    pub period: RefractoryPeriod,
    /// State variables held fixed while refractory.
    pub clamp: Vec<u32>,
    /// Where.
    pub span: Span,
}

/// How long a neuron stays refractory.
#[derive(Clone, Debug, Serialize)]
pub enum RefractoryPeriod {
    /// A fixed duration after each spike.
    Duration(Expr),
    /// While the condition holds.
    When(Expr),
}

/// `on condition { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Tested every step.
    pub condition: Expr,
    /// Run on every step the condition holds.
    pub body: Vec<Stmt>,
    /// Number of `let` locals the body uses.
    pub locals: u32,
    /// Where.
    pub span: Span,
}

/// The integration methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SolverKind {
    /// Matrix exponential of a linear system.
    Exact,
    /// Exponential Euler for conditionally linear equations.
    ExponentialEuler,
    /// Forward Euler.
    Euler,
    /// Midpoint Runge-Kutta.
    Rk2,
    /// Classic Runge-Kutta.
    Rk4,
    /// Adaptive Dormand-Prince.
    Rk45,
    /// Euler-Maruyama for SDEs.
    EulerMaruyama,
}

impl SolverKind {
    /// All solvers with their names.
    pub const ALL: [(&'static str, SolverKind); 7] = [
        ("exact", SolverKind::Exact),
        ("exponential_euler", SolverKind::ExponentialEuler),
        ("euler", SolverKind::Euler),
        ("rk2", SolverKind::Rk2),
        ("rk4", SolverKind::Rk4),
        ("rk45", SolverKind::Rk45),
        ("euler_maruyama", SolverKind::EulerMaruyama),
    ];

    /// The name written in NML (`exact`, `rk45`).
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(name, _)| *name)
    }
}

/// A solver and its options.
#[derive(Clone, Debug, Serialize)]
pub struct Solver {
    /// Which method.
    pub kind: SolverKind,
    /// Relative tolerance (rk45).
    pub rtol: Option<f64>,
    /// Absolute tolerance (rk45), in internal units of each state.
    pub atol: Option<f64>,
    /// Where it was chosen.
    pub span: Span,
}

/// A checked neuron model.
#[derive(Clone, Debug, Serialize)]
pub struct NeuronModel {
    /// Its name.
    pub name: String,
    /// The model it extends, if any.
    pub extends: Option<String>,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// Parameters.
    pub params: Vec<Quantity>,
    /// State variables (including derivative states `x'`).
    pub states: Vec<Quantity>,
    /// Inputs.
    pub inputs: Vec<Input>,
    /// Inline definitions, each after those it uses.
    pub aliases: Vec<Alias>,
    /// First-order ODEs, at most one per state.
    pub odes: Vec<Ode>,
    /// Kernels.
    pub kernels: Vec<Kernel>,
    /// Uses of `convolve`.
    pub convolutions: Vec<Convolution>,
    /// The spike rule, if the model spikes.
    pub spike: Option<SpikeRule>,
    /// Refractoriness, if any.
    pub refractory: Option<Refractory>,
    /// `on` handlers.
    pub events: Vec<Event>,
    /// An explicit solver choice.
    pub solver: Option<Solver>,
    /// Where it is defined.
    pub span: Span,
}

/// An event handler of a synapse.
#[derive(Clone, Debug, Serialize)]
pub struct Handler {
    /// The statements.
    pub body: Vec<Stmt>,
    /// Number of `let` locals.
    pub locals: u32,
    /// Where.
    pub span: Span,
}

/// A continuous output of a synapse.
#[derive(Clone, Debug, Serialize)]
pub struct SynapseOutput {
    /// The name of the target neuron's input.
    pub input_name: String,
    /// The input's index in the bound postsynaptic model (`None` while unbound).
    pub input: Option<u32>,
    /// The value.
    pub value: Expr,
    /// Where.
    pub span: Span,
}

/// A checked synapse model.
#[derive(Clone, Debug, Serialize)]
pub struct SynapseModel {
    /// Its name.
    pub name: String,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// Parameters (per synapse, settable by projections).
    pub params: Vec<Quantity>,
    /// Values of `on pre(…)`, settable by projections.
    pub handler_args: Vec<Quantity>,
    /// Per-synapse state.
    pub states: Vec<Quantity>,
    /// Per-target summed state.
    pub post_states: Vec<Quantity>,
    /// Inline definitions.
    pub aliases: Vec<Alias>,
    /// ODEs; `state` indexes `states`, or `post_states` offset by
    /// `states.len()`.
    pub odes: Vec<Ode>,
    /// `on pre`.
    pub on_pre: Option<Handler>,
    /// `on post`.
    pub on_post: Option<Handler>,
    /// Continuous outputs.
    pub outputs: Vec<SynapseOutput>,
    /// An explicit solver choice.
    pub solver: Option<Solver>,
    /// Whether `pre.`/`post.` references were resolved against concrete
    /// neuron models.
    pub bound: bool,
    /// Where it is defined.
    pub span: Span,
}

/// A network.
#[derive(Clone, Debug, Serialize)]
pub struct Network {
    /// Its name.
    pub name: String,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// Parameters settable with `--set`.
    pub params: Vec<Quantity>,
    /// Time step, if set (internal time units).
    pub dt: Option<Expr>,
    /// Duration, if set.
    pub duration: Option<Expr>,
    /// Random seed, if set.
    pub seed: Option<Expr>,
    /// Global solver override.
    pub solver: Option<Solver>,
    /// Populations.
    pub populations: Vec<Population>,
    /// Projections.
    pub projections: Vec<Projection>,
    /// Recorders.
    pub records: Vec<Recorder>,
    /// Where it is defined.
    pub span: Span,
}

/// What a population is made of.
#[derive(Clone, Debug, Serialize)]
pub enum PopulationKind {
    /// Neurons of a model, by index into [`Program::neurons`].
    Neuron(u32),
    /// Built-in spike source emitting given (neuron, time) events.
    SpikeSource {
        /// Spike times.
        times: Expr,
        /// Which neuron fires each spike (all 0 if absent).
        neurons: Option<Expr>,
    },
    /// Built-in Poisson generator (NEST's `poisson_generator`, Brian2's
    /// `PoissonInput`): every synapse from it carries its own independent
    /// Poisson spike train, several spikes per step when `rate · dt` is
    /// large.
    PoissonGenerator {
        /// The rate of each train; an expression of network parameters and
        /// the generator index `i`.
        rate: Expr,
    },
}

/// A population.
#[derive(Clone, Debug, Serialize)]
pub struct Population {
    /// Its name.
    pub name: String,
    /// What it is made of.
    pub kind: PopulationKind,
    /// Number of neurons (an expression of network parameters).
    pub size: Expr,
    /// Parameter overrides: (parameter index, value).
    pub params: Vec<(u32, Expr)>,
    /// Initial-value overrides: (state index, value).
    pub init: Vec<(u32, Expr)>,
    /// Position expressions (x, y, z) of `i`, if given.
    pub position: Vec<Expr>,
    /// Where it is created.
    pub span: Span,
}

/// A selection of a population.
#[derive(Clone, Debug, Serialize)]
pub struct Selection {
    /// Index into [`Network::populations`].
    pub population: u32,
    /// First neuron (expression of network parameters); `None` = 0.
    pub start: Option<Expr>,
    /// One past the last neuron; `None` = the size.
    pub end: Option<Expr>,
    /// Where.
    pub span: Span,
}

/// A connection rule.
#[derive(Clone, Debug, Serialize)]
pub enum ConnectionRule {
    /// Every pair.
    AllToAll,
    /// i → i.
    OneToOne,
    /// Each pair independently with probability p.
    FixedProbability(Expr),
    /// Each target gets exactly K sources.
    FixedIndegree(Expr),
    /// Each source gets exactly K targets.
    FixedOutdegree(Expr),
    /// Exactly N synapses in total.
    FixedTotal(Expr),
    /// Each pair with the probability given by an expression of i, j and positions.
    Probability(Expr),
    /// Pairs (and optionally weights and delays) read from a CSV file.
    FromFile(String),
}

/// A projection.
#[derive(Clone, Debug, Serialize)]
pub struct Projection {
    /// Its name.
    pub name: String,
    /// Presynaptic neurons.
    pub source: Selection,
    /// Postsynaptic neurons.
    pub target: Selection,
    /// How pairs are chosen.
    pub rule: ConnectionRule,
    /// Whether i → i pairs are allowed when source and target overlap.
    pub autapses: bool,
    /// Whether a pair may be connected more than once.
    pub multapses: bool,
    /// The synapse, bound to the source and target neuron models.
    pub synapse: SynapseModel,
    /// Per-synapse values: (parameter or handler-argument name, value).
    pub values: Vec<(String, Expr)>,
    /// Delay (constant, distribution or expression of i, j); `None` = dt.
    pub delay: Option<Expr>,
    /// Where.
    pub span: Span,
}

/// What a recorder records.
#[derive(Clone, Debug, Serialize)]
pub enum RecordKind {
    /// Spike times.
    Spikes,
    /// Population rate.
    Rate,
    /// Variables: (name, state/alias/input reference).
    Variables(Vec<(String, Var)>),
}

/// A recorder.
#[derive(Clone, Debug, Serialize)]
pub struct Recorder {
    /// What.
    pub kind: RecordKind,
    /// From which neurons.
    pub of: Selection,
    /// Sampling interval or bin width; `None` = every step.
    pub every: Option<Expr>,
    /// Where.
    pub span: Span,
}
