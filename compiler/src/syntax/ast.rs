//! The abstract syntax tree of NML.
//!
//! The tree mirrors the source closely: nothing is resolved, no unit is
//! interpreted and no default is filled in. Every node carries the [`Span`] of
//! the text it came from. The checker (`crate::check`) turns a set of parsed
//! files into a checked model; nothing after it sees this tree.

use crate::source::Span;
use serde::Serialize;

/// One parsed `.nml` file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, Serialize)]
pub enum Item {
    /// `import stdlib.neurons.lif` or `import "file.nml"`.
    Import(Import),
    /// `function f(x: mV) -> 1 = …`.
    Function(Function),
    /// `neuron …` or `synapse …`.
    Model(Model),
    /// `network …`.
    Network(Network),
}

/// A name as written, with its span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// `import …`.
#[derive(Clone, Debug, Serialize)]
pub struct Import {
    /// What is imported.
    pub target: ImportTarget,
    /// The whole statement.
    pub span: Span,
}

/// The thing an `import` names.
#[derive(Clone, Debug, Serialize)]
pub enum ImportTarget {
    /// `import "path/to/file.nml"`: a path relative to the importing file.
    Path(String),
    /// `import a.b.c`: a module path; `stdlib.…` resolves to the embedded
    /// standard library, anything else to `a/b/c.nml` beside the importer.
    Module(Vec<Ident>),
}

/// A user function: `function B(V: mV) -> 1 = 1 / (1 + exp(-0.062 * V / mV))`.
#[derive(Clone, Debug, Serialize)]
pub struct Function {
    /// The function's name.
    pub name: Ident,
    /// Parameters with their optional units (none means dimensionless).
    pub params: Vec<Param>,
    /// The declared result unit, if any.
    pub result: Option<UnitExpr>,
    /// Local bindings evaluated before the body, in order.
    pub lets: Vec<Stmt>,
    /// The value of the function.
    pub body: Expr,
    /// The `///` comment in front of it.
    pub doc: Option<String>,
    /// The whole definition.
    pub span: Span,
}

/// A typed parameter of a function or an `on pre(…)` handler.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// Its unit; `None` means dimensionless.
    pub unit: Option<UnitExpr>,
    /// The `///` comment in front of it or behind it on the same line.
    pub doc: Option<String>,
}

/// Whether a model is a neuron or a synapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ModelKind {
    /// `neuron`.
    Neuron,
    /// `synapse`.
    Synapse,
}

impl ModelKind {
    /// The keyword as written.
    pub fn keyword(self) -> &'static str {
        match self {
            ModelKind::Neuron => "neuron",
            ModelKind::Synapse => "synapse",
        }
    }
}

/// A `neuron` or `synapse` definition.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    /// Neuron or synapse.
    pub kind: ModelKind,
    /// The model's name.
    pub name: Ident,
    /// The model it extends, if any.
    pub extends: Option<Ident>,
    /// The blocks and statements of the body, in source order.
    pub items: Vec<ModelItem>,
    /// The `///` comment in front of it.
    pub doc: Option<String>,
    /// The whole definition.
    pub span: Span,
}

/// One block or statement in a model body.
#[derive(Clone, Debug, Serialize)]
pub enum ModelItem {
    /// `parameters { … }`.
    Parameters(Vec<Decl>, Span),
    /// `state { … }`.
    State(Vec<Decl>, Span),
    /// `post state { … }` (synapses only).
    PostState(Vec<Decl>, Span),
    /// `inputs { … }`.
    Inputs(Vec<InputDecl>, Span),
    /// `equations { … }`.
    Equations(Vec<Equation>, Span),
    /// `spike when … { … }`.
    Spike(SpikeRule),
    /// `refractory …`.
    Refractory(Refractory),
    /// `on CONDITION { … }`.
    OnCondition(OnCondition),
    /// `on pre(…) { … }`.
    OnPre(OnPre),
    /// `on post { … }`.
    OnPost(OnPost),
    /// `output I_syn = …`.
    Output(Output),
    /// `solver rk45(rtol = 1e-6)`.
    Solver(SolverChoice),
}

/// A declaration in `parameters`, `state` or `post state`:
/// `tau_m: ms = 20 ms`, `x = 1`, `V_m: mV`, `x': mV/ms = 0 mV/ms`.
#[derive(Clone, Debug, Serialize)]
pub struct Decl {
    /// The declared name.
    pub name: Ident,
    /// How many primes follow the name (`x'` declares the derivative state
    /// of a second-order equation).
    pub order: u8,
    /// The declared unit, if written.
    pub unit: Option<UnitExpr>,
    /// The default or initial value, if written.
    pub value: Option<Expr>,
    /// The `///` comment in front of it or behind it on the same line.
    pub doc: Option<String>,
    /// The whole declaration.
    pub span: Span,
}

/// An entry of `inputs { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct InputDecl {
    /// The input's name.
    pub name: Ident,
    /// Continuous (summed currents or conductances) or a spike port.
    pub kind: InputKind,
    /// The `///` comment in front of it.
    pub doc: Option<String>,
    /// The whole declaration.
    pub span: Span,
}

/// The two kinds of neuron input.
#[derive(Clone, Debug, Serialize)]
pub enum InputKind {
    /// `I_syn: pA`: the sum of all synaptic outputs aimed at it, each step.
    Continuous(UnitExpr),
    /// `exc: spikes(nS)`: weighted spike events, used with `convolve`.
    Spikes(Option<UnitExpr>),
}

/// An entry of `equations { … }`.
#[derive(Clone, Debug, Serialize)]
pub enum Equation {
    /// `x' = …` or `x'' = …`.
    Ode {
        /// The state variable.
        var: Ident,
        /// The order of the derivative (number of primes).
        order: u8,
        /// The right-hand side.
        rhs: Expr,
        /// The whole equation.
        span: Span,
    },
    /// `I_tot: pA = …`: an algebraic (inline) definition.
    Alias {
        /// The name being defined.
        name: Ident,
        /// The declared unit, if written.
        unit: Option<UnitExpr>,
        /// The definition.
        value: Expr,
        /// The whole definition.
        span: Span,
    },
    /// `kernel g = exp(-t / tau)` or `kernel g' = -g / tau { g = 1 }`.
    Kernel {
        /// The kernel's name.
        name: Ident,
        /// 0 for a function of `t`, else the order of its ODE.
        order: u8,
        /// The function of `t` or the highest derivative.
        value: Expr,
        /// Initial values (`g = 1`, `g' = 0`) of the ODE form.
        init: Vec<Decl>,
        /// The whole definition.
        span: Span,
    },
}

/// `spike when CONDITION { reset }`.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeRule {
    /// The threshold condition.
    pub condition: Expr,
    /// Statements run right after the spike.
    pub reset: Vec<Stmt>,
    /// The whole rule.
    pub span: Span,
}

/// `refractory t_ref`, `refractory t_ref clamp(V_m, w)` or
/// `refractory when V_m > 0 mV`.
#[derive(Clone, Debug, Serialize)]
pub struct Refractory {
    /// How long the neuron stays refractory.
    pub period: RefractoryPeriod,
    /// The variables held fixed while refractory; `None` means the default.
    pub clamp: Option<Vec<Ident>>,
    /// The whole statement.
    pub span: Span,
}

/// A refractory period.
#[derive(Clone, Debug, Serialize)]
pub enum RefractoryPeriod {
    /// A duration after each spike.
    Duration(Expr),
    /// Refractory for as long as a condition holds.
    When(Expr),
}

/// `on CONDITION { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct OnCondition {
    /// The condition, tested every step.
    pub condition: Expr,
    /// Statements run on each step it holds.
    pub body: Vec<Stmt>,
    /// The whole handler.
    pub span: Span,
}

/// `on pre(w: pA) { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct OnPre {
    /// Per-synapse values the projection provides (`w = 1 pA`).
    pub params: Vec<Param>,
    /// Statements run when a presynaptic spike arrives.
    pub body: Vec<Stmt>,
    /// The whole handler.
    pub span: Span,
}

/// `on post { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct OnPost {
    /// Statements run when the postsynaptic neuron spikes.
    pub body: Vec<Stmt>,
    /// The whole handler.
    pub span: Span,
}

/// `output I_syn = g * (E - post.V)`.
#[derive(Clone, Debug, Serialize)]
pub struct Output {
    /// The input of the target neuron that receives the value.
    pub target: Ident,
    /// The value, summed over all synapses onto a neuron each step.
    pub value: Expr,
    /// The whole statement.
    pub span: Span,
}

/// `solver NAME(options)`.
#[derive(Clone, Debug, Serialize)]
pub struct SolverChoice {
    /// The solver's name.
    pub name: Ident,
    /// Named options (`rtol = 1e-6`).
    pub options: Vec<Arg>,
    /// The whole statement.
    pub span: Span,
}

/// A statement in a handler or reset block.
#[derive(Clone, Debug, Serialize)]
pub enum Stmt {
    /// `x = e`, `post.ge += w`, …
    Assign {
        /// What is assigned.
        target: Target,
        /// `=`, `+=`, `-=`, `*=` or `/=`.
        op: AssignOp,
        /// The value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `let x: mV = e`.
    Let {
        /// The local's name.
        name: Ident,
        /// Its declared unit, if written.
        unit: Option<UnitExpr>,
        /// Its value.
        value: Expr,
        /// The whole statement.
        span: Span,
    },
    /// `if c { … } else { … }`.
    If {
        /// The condition.
        condition: Expr,
        /// Statements run when it holds.
        then_body: Vec<Stmt>,
        /// Statements run otherwise.
        else_body: Vec<Stmt>,
        /// The whole statement.
        span: Span,
    },
}

/// The left-hand side of an assignment: `x` or `post.x`.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    /// `pre` or `post`, if written.
    pub object: Option<Ident>,
    /// The variable.
    pub field: Ident,
    /// The whole target.
    pub span: Span,
}

/// An assignment operator.
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

impl AssignOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Set => "=",
            AssignOp::Add => "+=",
            AssignOp::Sub => "-=",
            AssignOp::Mul => "*=",
            AssignOp::Div => "/=",
        }
    }
}

/// An expression.
#[derive(Clone, Debug, Serialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The forms of expression.
#[derive(Clone, Debug, Serialize)]
pub enum ExprKind {
    /// A number with an optional unit: `20 ms`, `0.5`.
    Number {
        /// The number as written.
        value: f64,
        /// The unit written right after it.
        unit: Option<UnitExpr>,
    },
    /// `true` or `false`.
    Bool(bool),
    /// A quoted string: only file names (`from_file("conn.csv")`).
    Str(String),
    /// A name: a variable, a built-in (`t`, `dt`, `i`) or a unit (`mV`).
    Name(String),
    /// `x'`: the derivative state of a higher-order equation.
    Derivative {
        /// The variable.
        name: String,
        /// The number of primes.
        order: u8,
    },
    /// `pre.V`, `post.ge`.
    Member {
        /// `pre`, `post` or a population.
        object: Ident,
        /// The field.
        field: Ident,
    },
    /// `f(a, b, name = c)`.
    Call {
        /// The function.
        func: Ident,
        /// Arguments in order.
        args: Vec<Arg>,
    },
    /// `P[3]`.
    Index {
        /// The indexed name.
        base: Ident,
        /// The index.
        index: Box<Expr>,
    },
    /// `P[0:3200]`.
    Slice {
        /// The sliced name.
        base: Ident,
        /// First index (inclusive); `None` is the start.
        start: Option<Box<Expr>>,
        /// Last index (exclusive); `None` is the end.
        end: Option<Box<Expr>>,
    },
    /// `[1 ms, 2 ms]`.
    List(Vec<Expr>),
    /// `-x`, `not c`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Expr>,
    },
    /// `a + b` and the other infix operators.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `if c then a else b`.
    If {
        /// The condition.
        condition: Box<Expr>,
        /// Value when it holds.
        then_value: Box<Expr>,
        /// Value otherwise.
        else_value: Box<Expr>,
    },
    /// Stands for an expression the parser refused (too deeply nested); a
    /// diagnostic has been emitted for it.
    Error,
}

/// A call argument, positional or named.
#[derive(Clone, Debug, Serialize)]
pub struct Arg {
    /// The name for `name = value`.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `not c`, `!c`
    Not,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    /// `or`, `||`
    Or,
    /// `and`, `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `^`, `**`
    Pow,
}

impl BinaryOp {
    /// The operator as written (canonical form).
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
            BinaryOp::Pow => "^",
        }
    }

    /// Binding power: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem => 5,
            BinaryOp::Pow => 7,
        }
    }

    /// Whether `a op b op c` groups as `a op (b op c)`.
    pub fn right_associative(self) -> bool {
        self == BinaryOp::Pow
    }
}

/// Precedence of the prefix operators: tighter than `*`, looser than `^`,
/// so `-x^2` is `-(x^2)` and `-a * b` is `(-a) * b`.
pub const PREFIX_PRECEDENCE: u8 = 6;

/// A unit as written: `mV`, `nS/ms`, `mV^2`, `1`.
#[derive(Clone, Debug, Serialize)]
pub struct UnitExpr {
    /// The structure.
    pub kind: UnitExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The forms of a unit expression.
#[derive(Clone, Debug, Serialize)]
pub enum UnitExprKind {
    /// `1`: dimensionless.
    One,
    /// A unit name, possibly prefixed: `mV`, `nS`, `Hz`.
    Name(String),
    /// `a * b`.
    Mul(Box<UnitExpr>, Box<UnitExpr>),
    /// `a / b`.
    Div(Box<UnitExpr>, Box<UnitExpr>),
    /// `a ^ (p/q)`.
    Pow(Box<UnitExpr>, i32, i32),
}

/// A `network` definition.
#[derive(Clone, Debug, Serialize)]
pub struct Network {
    /// The network's name.
    pub name: Ident,
    /// Its body in source order.
    pub items: Vec<NetworkItem>,
    /// The `///` comment in front of it.
    pub doc: Option<String>,
    /// The whole definition.
    pub span: Span,
}

/// One statement of a network body.
#[derive(Clone, Debug, Serialize)]
#[allow(clippy::large_enum_variant)]
pub enum NetworkItem {
    /// `parameters { g = 5 … }`: values settable with `--set`.
    Parameters(Vec<Decl>, Span),
    /// `NAME = EXPR { overrides }`: a run setting (`dt`, `duration`, `seed`,
    /// `solver`), a population (`P = LIF(100)`) or a slice (`E = P[0:80]`).
    Assign {
        /// The left-hand side.
        name: Ident,
        /// The right-hand side.
        value: Expr,
        /// `{ V_m = …, tau_m = … }` after a population.
        overrides: Option<Vec<Override>>,
        /// The whole statement.
        span: Span,
    },
    /// `connect A -> B { … }`.
    Connect(Connect),
    /// `record … of P …`.
    Record(Record),
}

/// `name = value` inside a population or projection block.
#[derive(Clone, Debug, Serialize)]
pub struct Override {
    /// The name being set.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// The whole entry.
    pub span: Span,
}

/// `connect A -> B as NAME { … }`.
#[derive(Clone, Debug, Serialize)]
pub struct Connect {
    /// The presynaptic population or slice.
    pub source: PopulationRef,
    /// The postsynaptic population or slice.
    pub target: PopulationRef,
    /// The projection's name, if given.
    pub name: Option<Ident>,
    /// `synapse = Model { … }`, if given.
    pub synapse: Option<SynapseUse>,
    /// `rule = …`, `delay = …`, and synapse values (`w = …`), in order.
    pub settings: Vec<Override>,
    /// An inline `on pre { … }` handler.
    pub on_pre: Option<OnPre>,
    /// An inline `on post { … }` handler.
    pub on_post: Option<OnPost>,
    /// The whole statement.
    pub span: Span,
}

/// `synapse = Model { overrides }` inside `connect`.
#[derive(Clone, Debug, Serialize)]
pub struct SynapseUse {
    /// The synapse model.
    pub model: Ident,
    /// Parameter overrides.
    pub overrides: Vec<Override>,
    /// The whole entry.
    pub span: Span,
}

/// `P`, `P[3]` or `P[0:80]` where a population is expected.
#[derive(Clone, Debug, Serialize)]
pub struct PopulationRef {
    /// The population (or slice alias).
    pub name: Ident,
    /// The selection, if any.
    pub selection: Option<Selection>,
    /// The whole reference.
    pub span: Span,
}

/// A selection of neurons.
#[derive(Clone, Debug, Serialize)]
pub enum Selection {
    /// One neuron.
    Index(Expr),
    /// `start:end`, end exclusive.
    Range(Option<Expr>, Option<Expr>),
}

/// `record WHAT of P every INTERVAL`.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// What is recorded.
    pub what: RecordWhat,
    /// From which neurons.
    pub of: PopulationRef,
    /// The sampling interval (state) or bin width (rate).
    pub every: Option<Expr>,
    /// The whole statement.
    pub span: Span,
}

/// What a `record` statement records.
#[derive(Clone, Debug, Serialize)]
pub enum RecordWhat {
    /// Spike times.
    Spikes,
    /// The population rate.
    Rate,
    /// State variables (or inputs, or aliases).
    Variables(Vec<Ident>),
}
