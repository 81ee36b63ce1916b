//! The backend-neutral intermediate representation of neuron kernels.
//!
//! One [`NeuronIr`] describes one population: the storage it needs
//! (structure-of-arrays columns, see [`NeuronIr::columns`]) and three kernels
//! over it, each a [`Block`] of statements executed once per neuron:
//!
//! - `derive`: computes per-neuron derived constants (hoisted parameter-only
//!   expressions, exact propagators) from parameters; run once when the
//!   network is built, on the host, by the interpreter;
//! - `init`: computes initial state from parameters; run once at build;
//! - `step`: advances one neuron by one time step `dt` from `t`: integrates
//!   the ODEs, handles refractoriness, tests the threshold, resets, runs `on`
//!   handlers. This is the kernel every backend compiles.
//!
//! Expressions live in one [`Arena`] per model and are referred to by typed
//! [`Handle`]s; a handle's type is in a side table. No backend type (no
//! Cranelift type, no WGSL type) appears here; math functions are operations
//! ([`MathFn`]) that each backend lowers as it likes.
//!
//! Until the solver pass has run, `step` contains one [`Stmt::Integrate`]
//! placeholder and `odes` lists the equations; after it, `odes` is empty and
//! the placeholder is replaced by straight-line updates. [`verify`] checks
//! this and the other invariants and returns the witness that backends take.
#![deny(missing_docs)]

pub mod expm;
pub mod exprel;
mod fold;
pub mod frames;
pub use fold::optimize;
pub use frames::{Frame, frame_decays};
pub mod interp;
mod kernels;
pub mod lower;
pub mod print;

pub use crate::model::{MathFn, RandomFn, SolverKind};
use crate::source::Span;
use serde::Serialize;
use std::marker::PhantomData;

/// Floating-point precision of a model's real numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 64-bit IEEE 754.
    #[default]
    F64,
    /// 32-bit IEEE 754.
    F32,
}

/// The type of an IR value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    /// 64-bit float.
    F64,
    /// 32-bit float.
    F32,
    /// 32-bit signed integer (refractory counters).
    I32,
    /// Truth value.
    Bool,
}

/// A typed index into an [`Arena`].
#[derive(Serialize)]
#[serde(transparent)]
pub struct Handle<T> {
    index: u32,
    #[serde(skip)]
    _marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// The position in the arena.
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}
impl<T> Eq for Handle<T> {}
impl<T> std::hash::Hash for Handle<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.index.hash(state)
    }
}
impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "%{}", self.index)
    }
}

/// Items with handles, and their spans and types in parallel tables.
#[derive(Clone, Debug, Serialize)]
pub struct Arena<T> {
    items: Vec<T>,
    /// Invariant: `types[i]` is the type of `items[i]`.
    types: Vec<Type>,
    /// Invariant: `spans[i]` is where `items[i]` came from.
    #[serde(skip)]
    spans: Vec<Span>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            types: Vec::new(),
            spans: Vec::new(),
        }
    }
}

impl<T> Arena<T> {
    /// Adds an item.
    pub fn push(&mut self, item: T, ty: Type, span: Span) -> Handle<T> {
        self.items.push(item);
        self.types.push(ty);
        self.spans.push(span);
        Handle {
            index: self.items.len() as u32 - 1,
            _marker: PhantomData,
        }
    }

    /// The item behind a handle.
    pub fn get(&self, h: Handle<T>) -> &T {
        &self.items[h.index()]
    }

    /// The type of an item.
    pub fn ty(&self, h: Handle<T>) -> Type {
        self.types[h.index()]
    }

    /// Where an item came from.
    pub fn span(&self, h: Handle<T>) -> Span {
        self.spans[h.index()]
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Every handle in insertion order.
    pub fn handles(&self) -> impl Iterator<Item = Handle<T>> + use<T> {
        (0..self.items.len() as u32).map(|index| Handle {
            index,
            _marker: PhantomData,
        })
    }
}

/// A storage location read or written by a kernel, for the current neuron.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Place {
    /// A state variable (per neuron column).
    State(u32),
    /// A parameter that varies between neurons (per neuron column).
    Param(u32),
    /// A derived constant (per neuron column, computed by `derive`).
    Derived(u32),
    /// A continuous input (per neuron column, written by the runtime).
    Input(u32),
    /// A kernel-local value.
    Local(u32),
    /// Steps of refractoriness left (per neuron `i32` column).
    Refractory,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Expr {
    /// A real literal (of the model's precision).
    Real(f64),
    /// An integer literal.
    Int(i32),
    /// A truth value.
    Bool(bool),
    /// The value at a place.
    Load(Place),
    /// Time at the start of the step.
    Time,
    /// The time step.
    Dt,
    /// The neuron's index in its population.
    Index,
    /// A prefix operation.
    Unary(UnaryOp, Handle<Expr>),
    /// An infix operation; both operands have the same type.
    Binary(BinaryOp, Handle<Expr>, Handle<Expr>),
    /// A math function of reals.
    Math(MathFn, Vec<Handle<Expr>>),
    /// `if c then a else b`, both branches evaluated.
    Select(Handle<Expr>, Handle<Expr>, Handle<Expr>),
    /// A random number; the `u32` numbers the draws of one step and neuron
    /// in program order, so every backend draws the same numbers.
    Random(RandomFn, u32),
    /// A real rounded to the nearest integer.
    RoundToInt(Handle<Expr>),
    /// The scale of decay frame `f` at this step ([`Frame::scale`], from
    /// [`crate::abi::StepContext::frames`]): a framed state's value is its
    /// column times this.
    FrameScale(u32),
}

/// Prefix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum UnaryOp {
    /// Negation.
    Neg,
    /// Logical not.
    Not,
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[allow(missing_docs)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    /// Floored remainder (sign of the divisor).
    Rem,
    /// Real power.
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinaryOp {
    /// Whether the result is a truth value.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Eq | BinaryOp::Ne
        )
    }
}

/// A statement.
#[derive(Clone, Debug, Serialize)]
pub enum Stmt {
    /// Writes a value to a place.
    Store(Place, Handle<Expr>),
    /// Runs one block or the other.
    If(Handle<Expr>, Block, Block),
    /// Runs the body while the condition holds, at most `max_iterations`
    /// times (adaptive solvers).
    While {
        /// Tested before each iteration.
        condition: Handle<Expr>,
        /// The loop body.
        body: Block,
        /// A bound that makes every loop terminate.
        max_iterations: u32,
    },
    /// Records a spike of this neuron at the end of this step.
    Spike,
    /// Placeholder for the ODE updates, replaced by the solver pass.
    Integrate,
    /// Computes the exact propagator of `x' = A x + r` over one `dt` (in
    /// `derive` only): `phi = expm(A dt)` and `integral = ∫₀^dt expm(A s) ds`,
    /// both n×n row-major into derived places.
    Propagator {
        /// Size of the system.
        n: u32,
        /// The n×n entries of `A`, row-major (parameter-only expressions).
        a: Vec<Handle<Expr>>,
        /// Where the n×n entries of `expm(A dt)` go.
        phi: Vec<Place>,
        /// Where the n×n entries of the integral go.
        integral: Vec<Place>,
    },
}

/// A sequence of statements.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Block(pub Vec<Stmt>);

impl Block {
    /// The block with every expression handle `h` of its statements
    /// (nested ones too) replaced by `f(h)`, for passes that rebuild
    /// expressions.
    pub(crate) fn map_exprs(&self, f: &mut dyn FnMut(Handle<Expr>) -> Handle<Expr>) -> Block {
        Block(
            self.0
                .iter()
                .map(|s| match s {
                    Stmt::Store(p, h) => Stmt::Store(*p, f(*h)),
                    Stmt::If(c, a, b) => Stmt::If(f(*c), a.map_exprs(f), b.map_exprs(f)),
                    Stmt::While {
                        condition,
                        body,
                        max_iterations,
                    } => Stmt::While {
                        condition: f(*condition),
                        body: body.map_exprs(f),
                        max_iterations: *max_iterations,
                    },
                    Stmt::Propagator {
                        n,
                        a,
                        phi,
                        integral,
                    } => Stmt::Propagator {
                        n: *n,
                        a: a.iter().map(|h| f(*h)).collect(),
                        phi: phi.clone(),
                        integral: integral.clone(),
                    },
                    Stmt::Spike => Stmt::Spike,
                    Stmt::Integrate => Stmt::Integrate,
                })
                .collect(),
        )
    }
}

/// How a parameter is stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ParamStorage {
    /// The same for the whole population: specialised into a constant.
    Constant(f64),
    /// One value per neuron (a column).
    PerNeuron,
    /// An expression of `t` (and `i`), inlined where the parameter is read.
    TimeDependent,
}

/// A named column or constant.
#[derive(Clone, Debug, Serialize)]
pub struct Variable {
    /// The name as in the model.
    pub name: String,
    /// The unit values are shown in, and the internal value of one of it.
    pub unit: String,
    /// Internal value of one display unit.
    pub unit_factor: f64,
}

/// A parameter of the population.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    /// Name, unit.
    pub var: Variable,
    /// How it is stored.
    pub storage: ParamStorage,
}

/// How a spike arriving at a spike input changes state: `state += weight ×
/// factor` for each entry.
#[derive(Clone, Debug, Serialize)]
pub struct SpikeInput {
    /// The input's name.
    pub name: String,
    /// (state, factor as a derived or constant expression in `derive`).
    pub targets: Vec<(u32, Handle<Expr>)>,
}

/// An ODE before integration.
#[derive(Clone, Debug, Serialize)]
pub struct Ode {
    /// The state variable.
    pub state: u32,
    /// The derivative (in internal units).
    pub rhs: Handle<Expr>,
    /// Whether `rhs` contains white noise.
    pub stochastic: bool,
    /// For SDEs: the deterministic part and the noise coefficient, with
    /// `rhs = drift + diffusion · xi`.
    pub noise: Option<(Handle<Expr>, Handle<Expr>)>,
}

/// The kernels and storage of one population.
#[derive(Clone, Debug, Serialize)]
pub struct NeuronIr {
    /// The model's name.
    pub model: String,
    /// The population's name.
    pub population: String,
    /// Precision of reals.
    pub precision: Precision,
    /// The time step, internal units (ms).
    pub dt: f64,
    /// State variables.
    pub states: Vec<Variable>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Derived constants (per-neuron columns).
    pub derived: Vec<Variable>,
    /// Continuous inputs (per-neuron columns).
    pub inputs: Vec<Variable>,
    /// Spike inputs and what a spike does.
    pub spike_inputs: Vec<SpikeInput>,
    /// Inline definitions that can be recorded: (name, unit, expression of
    /// state and parameters, evaluated on demand by recorders).
    pub observables: Vec<(Variable, Handle<Expr>)>,
    /// States stored in a decay frame ([`frames`]): their columns hold the
    /// value divided by the frame's scale, so the step kernel need not
    /// write them.
    pub frames: Vec<Frame>,
    /// Whether the model has a refractory counter column.
    pub refractory: bool,
    /// Whether the model can spike.
    pub spiking: bool,
    /// Number of kernel locals.
    pub locals: u32,
    /// The type of each local.
    pub local_types: Vec<Type>,
    /// Number of random draws per neuron and step.
    pub draws: u32,
    /// The integration method and why it was chosen.
    pub solver: SolverChoice,
    /// Expressions of all kernels.
    pub exprs: Arena<Expr>,
    /// Derived constants from parameters (run at build, on the host).
    pub derive: Block,
    /// Initial state from parameters (run at build, on the host).
    pub init: Block,
    /// One time step.
    pub step: Block,
    /// Equations not yet integrated (empty after the solver pass).
    pub odes: Vec<Ode>,
    /// The threshold test and reset, for solvers that take sub-steps.
    pub substep_event: Option<SubstepEvent>,
}

/// What an adaptive solver does when the threshold is crossed inside a
/// step, as NEST's GSL-based models do: after an accepted sub-step where
/// `condition` holds it runs `body` (the reset, the start of
/// refractoriness, and marking the step as spiked) and goes on integrating
/// the rest of the step from the reset state, unless the neuron is now
/// refractory. The spike itself is emitted at the end of the step.
#[derive(Clone, Debug, Serialize)]
pub struct SubstepEvent {
    /// Threshold crossed and not refractory.
    pub condition: Handle<Expr>,
    /// Reset, refractoriness, and the `spiked` flag.
    pub body: Block,
}

/// The solver of a model and the reason it was chosen.
#[derive(Clone, Debug, Serialize)]
pub struct SolverChoice {
    /// The method.
    pub kind: SolverKind,
    /// One sentence: why.
    pub reason: String,
    /// Relative tolerance (rk45).
    pub rtol: f64,
    /// Absolute tolerance (rk45).
    pub atol: f64,
    /// Whether the model or network asked for this method.
    pub requested: bool,
}

impl NeuronIr {
    /// The real type of this model.
    pub fn real(&self) -> Type {
        match self.precision {
            Precision::F64 => Type::F64,
            Precision::F32 => Type::F32,
        }
    }

    /// Adds an expression.
    pub fn add(&mut self, e: Expr, ty: Type, span: Span) -> Handle<Expr> {
        self.exprs.push(e, ty, span)
    }

    /// Adds a real literal.
    pub fn real_const(&mut self, v: f64, span: Span) -> Handle<Expr> {
        let ty = self.real();
        self.add(Expr::Real(v), ty, span)
    }

    /// A new local of the given type.
    pub fn new_local(&mut self, ty: Type) -> u32 {
        self.local_types.push(ty);
        self.locals += 1;
        self.locals - 1
    }

    /// The storage columns the runtime must allocate, in binding order:
    /// every backend passes buffers in exactly this order.
    pub fn columns(&self) -> Vec<Column> {
        let real = self.real();
        let mut cols = Vec::new();
        for (k, s) in self.states.iter().enumerate() {
            cols.push(Column {
                place: Place::State(k as u32),
                name: s.name.clone(),
                ty: real,
            });
        }
        for (k, p) in self.params.iter().enumerate() {
            if p.storage == ParamStorage::PerNeuron {
                cols.push(Column {
                    place: Place::Param(k as u32),
                    name: p.var.name.clone(),
                    ty: real,
                });
            }
        }
        for (k, d) in self.derived.iter().enumerate() {
            cols.push(Column {
                place: Place::Derived(k as u32),
                name: d.name.clone(),
                ty: real,
            });
        }
        for (k, i) in self.inputs.iter().enumerate() {
            cols.push(Column {
                place: Place::Input(k as u32),
                name: i.name.clone(),
                ty: real,
            });
        }
        if self.refractory {
            cols.push(Column {
                place: Place::Refractory,
                name: "refractory_steps".into(),
                ty: Type::I32,
            });
        }
        cols
    }
}

/// A storage column of a population.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Column {
    /// What it holds.
    pub place: Place,
    /// Its name.
    pub name: String,
    /// Element type.
    pub ty: Type,
}

/// Proof that a [`NeuronIr`] passed [`verify`]: backends take one.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The binding index of each place (position in [`NeuronIr::columns`]).
    pub bindings: Vec<(Place, usize)>,
}

impl Verified {
    /// The binding index of a place.
    pub fn binding(&self, place: Place) -> Option<usize> {
        self.bindings
            .iter()
            .find(|(p, _)| *p == place)
            .map(|(_, b)| *b)
    }
}

/// An internal inconsistency of the IR (a compiler bug, not a user error).
#[derive(Clone, Debug, PartialEq)]
pub struct IrError(pub String);

impl std::fmt::Display for IrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid IR: {}", self.0)
    }
}

/// Checks the invariants backends rely on: integrated (no ODEs, no
/// placeholder), every handle in range and defined before use, places
/// within their tables, propagators only in `derive`.
pub fn verify(ir: &NeuronIr) -> Result<Verified, IrError> {
    if !ir.odes.is_empty() {
        return Err(IrError("equations have not been integrated".into()));
    }
    let n = ir.exprs.len();
    let check_place = |p: &Place| -> Result<(), IrError> {
        let ok = match *p {
            Place::State(k) => (k as usize) < ir.states.len(),
            Place::Param(k) => ir
                .params
                .get(k as usize)
                .is_some_and(|x| x.storage == ParamStorage::PerNeuron),
            Place::Derived(k) => (k as usize) < ir.derived.len(),
            Place::Input(k) => (k as usize) < ir.inputs.len(),
            Place::Local(k) => k < ir.locals,
            Place::Refractory => ir.refractory,
        };
        if ok {
            Ok(())
        } else {
            Err(IrError(format!("place {p:?} out of range")))
        }
    };
    for h in ir.exprs.handles() {
        let operands: Vec<Handle<Expr>> = match ir.exprs.get(h) {
            Expr::Unary(_, a) | Expr::RoundToInt(a) => vec![*a],
            Expr::Binary(_, a, b) => vec![*a, *b],
            Expr::Select(a, b, c) => vec![*a, *b, *c],
            Expr::Math(_, xs) => xs.clone(),
            Expr::Load(p) => {
                check_place(p)?;
                vec![]
            }
            Expr::FrameScale(f) => {
                if *f as usize >= ir.frames.len() {
                    return Err(IrError(format!("frame {f} out of range")));
                }
                vec![]
            }
            _ => vec![],
        };
        for o in operands {
            if o.index() >= h.index() || o.index() >= n {
                return Err(IrError(format!("{h:?} uses {o:?} before it is defined")));
            }
        }
    }
    fn walk(
        b: &Block,
        in_derive: bool,
        f: &dyn Fn(&Place) -> Result<(), IrError>,
    ) -> Result<(), IrError> {
        for s in &b.0 {
            match s {
                Stmt::Store(p, _) => f(p)?,
                Stmt::If(_, a, b2) => {
                    walk(a, in_derive, f)?;
                    walk(b2, in_derive, f)?;
                }
                Stmt::While { body, .. } => walk(body, in_derive, f)?,
                Stmt::Integrate => {
                    return Err(IrError("integration placeholder left in a kernel".into()));
                }
                Stmt::Propagator { phi, integral, .. } => {
                    if !in_derive {
                        return Err(IrError("propagator outside `derive`".into()));
                    }
                    for p in phi.iter().chain(integral) {
                        f(p)?;
                    }
                }
                Stmt::Spike => {}
            }
        }
        Ok(())
    }
    if ir.frames.len() > crate::abi::MAX_FRAMES {
        return Err(IrError(format!("{} decay frames", ir.frames.len())));
    }
    for f in &ir.frames {
        let place = Place::State(f.state);
        check_place(&place)?;
        if frames::stores_anywhere(&ir.step, place) {
            return Err(IrError(format!(
                "framed state {place:?} stored by the step kernel"
            )));
        }
    }
    walk(&ir.derive, true, &check_place)?;
    walk(&ir.init, false, &check_place)?;
    walk(&ir.step, false, &check_place)?;
    let bindings = ir
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| (c.place, i))
        .collect();
    Ok(Verified { bindings })
}

/// Lowers, integrates, optimises and verifies a neuron model for one
/// population: the whole middle of the compiler.
pub fn compile_neuron(
    model: &crate::model::NeuronModel,
    spec: &lower::PopulationSpec,
) -> Result<(NeuronIr, Verified), crate::diagnostics::Diagnostic> {
    compile_neuron_with(model, spec, false)
}

/// [`compile_neuron`], then the states that only decay go into decay
/// frames ([`frame_decays`]): the IR a network runs.
pub fn compile_neuron_framed(
    model: &crate::model::NeuronModel,
    spec: &lower::PopulationSpec,
) -> Result<(NeuronIr, Verified), crate::diagnostics::Diagnostic> {
    compile_neuron_with(model, spec, true)
}

fn compile_neuron_with(
    model: &crate::model::NeuronModel,
    spec: &lower::PopulationSpec,
    frames: bool,
) -> Result<(NeuronIr, Verified), crate::diagnostics::Diagnostic> {
    let mut ir = lower::lower_neuron(model, spec)?;
    crate::solvers::integrate(&mut ir)?;
    optimize(&mut ir);
    if frames {
        frame_decays(&mut ir);
    }
    let verified = verify(&ir).map_err(|e| {
        crate::diagnostics::Diagnostic::error(
            "nml::internal",
            format!("{e} (this is a bug in nmlc)"),
        )
        .at(model.span, "while compiling this model")
    })?;
    Ok((ir, verified))
}
