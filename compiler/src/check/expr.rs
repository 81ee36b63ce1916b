//! Checking expressions: names, types, units and what each place allows.
//!
//! [`ExprChecker::check`] turns an AST expression into a checked one. Names
//! are resolved through a [`Names`] implementation that knows the variables
//! of the model (or network) at hand; what may appear (noise, random
//! numbers, distributions, `t`, `i`, …) is decided by [`Flags`]. Errors are
//! recorded and the result gets the type [`T::Unknown`], which agrees with
//! everything, so one mistake is reported once.

use super::builtins::{self, Builtin as BuiltinFn};
use super::functions::FunctionTable;
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{self, BinaryOp, Builtin, Expr, ExprKind, Ty, UnaryOp};
use crate::source::Span;
use crate::syntax::ast;
use crate::units::{Dim, lookup_unit};

/// The type of an expression during checking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum T {
    /// A number of this dimension.
    Real(Dim),
    /// A condition.
    Bool,
    /// Not known (after an error, or `pre.X` of an unbound synapse): agrees
    /// with every type.
    Unknown,
}

impl T {
    /// The dimension, if this is a number of known dimension.
    pub fn dim(self) -> Option<Dim> {
        match self {
            T::Real(d) => Some(d),
            _ => None,
        }
    }

    /// The model type (unknown becomes dimensionless).
    pub fn ty(self) -> Ty {
        match self {
            T::Real(d) => Ty::Real(d),
            T::Bool => Ty::Bool,
            T::Unknown => Ty::Real(Dim::ONE),
        }
    }

    fn from_ty(ty: Ty) -> T {
        match ty {
            Ty::Real(d) => T::Real(d),
            Ty::Bool => T::Bool,
        }
    }
}

/// A checked expression with its checking type.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The expression.
    pub expr: Expr,
    /// Its type (may be unknown).
    pub t: T,
}

impl Checked {
    /// A placeholder after an error.
    pub fn error(span: Span) -> Checked {
        Checked {
            expr: Expr {
                kind: ExprKind::Const(0.0),
                ty: Ty::Real(Dim::ONE),
                span,
            },
            t: T::Unknown,
        }
    }

    fn new(kind: ExprKind, t: T, span: Span) -> Checked {
        Checked {
            expr: Expr {
                kind,
                ty: t.ty(),
                span,
            },
            t,
        }
    }
}

/// What a name stands for.
pub enum Resolved {
    /// A value.
    Value(ExprKind, T),
    /// A spike input (usable only in `convolve`), by input index.
    SpikeInput(u32),
    /// A kernel (usable only in `convolve`), by kernel index.
    Kernel(u32),
    /// Something that exists but is not a value (a population, a model).
    NotAValue(&'static str),
}

/// The names visible in one place.
pub trait Names {
    /// What `name` means here, or `None` if nothing by that name is visible
    /// (the checker then tries built-ins and units, and reports it).
    fn resolve(&mut self, cx: &mut ExprChecker, name: &str, span: Span) -> Option<Resolved>;

    /// What `object.field` means; reports and returns `None` if nothing.
    fn member(
        &mut self,
        cx: &mut ExprChecker,
        object: &ast::Ident,
        field: &ast::Ident,
    ) -> Option<Resolved>;

    /// Every visible name, for "did you mean".
    fn visible(&self) -> Vec<String>;

    /// The variable an assignment writes and its type; reports and returns
    /// `None` if the target cannot be assigned here.
    fn assign_target(
        &mut self,
        cx: &mut ExprChecker,
        target: &ast::Target,
    ) -> Option<(model::Var, T)> {
        let _ = (cx, target);
        None
    }

    /// Registers `convolve(kernel, input)` and returns its index and type.
    fn convolution(&mut self, _kernel: u32, _input: u32) -> Option<(u32, T)> {
        None
    }
}

/// What may appear in the expression being checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// The white-noise term `xi`.
    pub noise: bool,
    /// `rand()` and `randn()`.
    pub random: bool,
    /// `uniform(…)` and the other build-time distributions.
    pub distributions: bool,
    /// `convolve(…)`.
    pub convolve: bool,
    /// `t`.
    pub time: bool,
    /// `dt`.
    pub dt: bool,
    /// `i`.
    pub index: bool,
    /// `j`.
    pub target_index: bool,
    /// `N`.
    pub size: bool,
    /// `dist(pre, post)`.
    pub positions: bool,
}

/// Checks expressions; holds the diagnostics and the `let` locals in scope.
pub struct ExprChecker<'g> {
    /// User functions.
    pub functions: &'g FunctionTable,
    /// Where problems go.
    pub diags: &'g mut Diagnostics,
    /// What is allowed.
    pub flags: Flags,
    /// `let` locals in scope: (name, type, slot), innermost last.
    pub locals: Vec<(String, T, u32)>,
    /// Number of local slots handed out.
    pub local_slots: u32,
    /// Whether the expression used `xi`.
    pub used_noise: bool,
}

impl<'g> ExprChecker<'g> {
    /// A checker with the given permissions.
    pub fn new(
        functions: &'g FunctionTable,
        diags: &'g mut Diagnostics,
        flags: Flags,
    ) -> ExprChecker<'g> {
        ExprChecker {
            functions,
            diags,
            flags,
            locals: Vec::new(),
            local_slots: 0,
            used_noise: false,
        }
    }

    /// Binds a `let` local and returns its slot.
    pub fn bind_local(&mut self, name: &str, t: T) -> u32 {
        let slot = self.local_slots;
        self.local_slots += 1;
        self.locals.push((name.to_string(), t, slot));
        slot
    }

    /// Checks that an expression is a number of dimension `expected`.
    pub fn expect_dim(
        &mut self,
        names: &mut dyn Names,
        e: &ast::Expr,
        expected: Dim,
        what: &str,
        because: Option<Span>,
    ) -> Checked {
        let c = self.check(names, e);
        match c.t {
            T::Real(d) if d != expected => {
                self.diags
                    .push(catalog::unit_expected(e.span, what, expected, d, because));
            }
            T::Bool => self.diags.push(catalog::not_numeric(e.span)),
            _ => {}
        }
        c
    }

    /// Checks that an expression is a condition.
    pub fn expect_bool(&mut self, names: &mut dyn Names, e: &ast::Expr) -> Checked {
        let c = self.check(names, e);
        if let T::Real(d) = c.t {
            self.diags.push(catalog::not_boolean(e.span, d));
        }
        c
    }

    /// Checks that an expression is a number (of any dimension).
    pub fn expect_number(&mut self, names: &mut dyn Names, e: &ast::Expr) -> Checked {
        let c = self.check(names, e);
        if c.t == T::Bool {
            self.diags.push(catalog::not_numeric(e.span));
            return Checked::error(e.span);
        }
        c
    }

    /// Checks an expression.
    pub fn check(&mut self, names: &mut dyn Names, e: &ast::Expr) -> Checked {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Error => Checked::error(span),
            ast::ExprKind::Number { value, unit } => match unit {
                None => Checked::new(ExprKind::Const(*value), T::Real(Dim::ONE), span),
                Some(u) => {
                    let resolved = match &u.kind {
                        ast::UnitExprKind::Name(name) => match lookup_unit(name) {
                            Ok(unit) => Some(unit),
                            Err(err) => {
                                self.diags.push(catalog::unknown_unit(
                                    u.span,
                                    name,
                                    &err.candidates,
                                    true,
                                ));
                                None
                            }
                        },
                        _ => super::units::resolve_unit(u, self.diags),
                    };
                    match resolved {
                        Some(unit) => Checked::new(
                            ExprKind::Const(value * unit.internal_factor()),
                            T::Real(unit.dim),
                            span,
                        ),
                        None => Checked::error(span),
                    }
                }
            },
            ast::ExprKind::Bool(b) => Checked::new(ExprKind::Bool(*b), T::Bool, span),
            ast::ExprKind::Str(_) => {
                self.diags.push(catalog::string_value(span));
                Checked::error(span)
            }
            ast::ExprKind::Name(name) => self.name(names, name, span),
            ast::ExprKind::Derivative { name, order } => {
                let full = format!("{name}{}", "'".repeat(*order as usize));
                match names.resolve(self, &full, span) {
                    Some(Resolved::Value(kind, t)) => Checked::new(kind, t, span),
                    _ => {
                        let visible = names.visible();
                        let candidates =
                            crate::names::did_you_mean(&full, visible.iter().map(String::as_str));
                        self.diags.push(
                            catalog::unknown_name(span, &full, "derivative state", &candidates).help(format!(
                                "`{full}` exists only for a variable with a second-order equation (`{name}'' = …`) or declared in `state`"
                            )),
                        );
                        Checked::error(span)
                    }
                }
            }
            ast::ExprKind::Member { object, field } => match names.member(self, object, field) {
                Some(Resolved::Value(kind, t)) => Checked::new(kind, t, span),
                Some(Resolved::SpikeInput(_)) => {
                    self.diags.push(catalog::spike_input_use(span, &field.name));
                    Checked::error(span)
                }
                Some(Resolved::Kernel(_)) | Some(Resolved::NotAValue(_)) | None => {
                    Checked::error(span)
                }
            },
            ast::ExprKind::Call { func, args } => self.call(names, func, args, span),
            ast::ExprKind::Index { base, .. } | ast::ExprKind::Slice { base, .. } => {
                self.diags.push(catalog::not_a_value(
                    span,
                    &base.name,
                    "a selection of neurons (only allowed after `connect`, `record … of` or as a slice definition)",
                ));
                Checked::error(span)
            }
            ast::ExprKind::List(items) => {
                let mut out = Vec::new();
                let mut dim: Option<(Dim, Span)> = None;
                for item in items {
                    let c = self.expect_number(names, item);
                    if let T::Real(d) = c.t {
                        match dim {
                            None => dim = Some((d, item.span)),
                            Some((d0, s0)) if d0 != d => self.diags.push(catalog::unit_mismatch(
                                item.span,
                                "mix in one list",
                                (s0, d0),
                                (item.span, d),
                            )),
                            _ => {}
                        }
                    }
                    out.push(c.expr);
                }
                let t = dim.map(|(d, _)| T::Real(d)).unwrap_or(T::Unknown);
                Checked::new(ExprKind::List(out), t, span)
            }
            ast::ExprKind::Unary { op, operand } => {
                let c = self.check(names, operand);
                match op {
                    ast::UnaryOp::Plus => {
                        if c.t == T::Bool {
                            self.diags.push(catalog::not_numeric(operand.span));
                        }
                        c
                    }
                    ast::UnaryOp::Neg => {
                        if c.t == T::Bool {
                            self.diags.push(catalog::not_numeric(operand.span));
                        }
                        Checked::new(ExprKind::Unary(UnaryOp::Neg, Box::new(c.expr)), c.t, span)
                    }
                    ast::UnaryOp::Not => {
                        if let T::Real(d) = c.t {
                            self.diags.push(catalog::not_boolean(operand.span, d));
                        }
                        Checked::new(
                            ExprKind::Unary(UnaryOp::Not, Box::new(c.expr)),
                            T::Bool,
                            span,
                        )
                    }
                }
            }
            ast::ExprKind::Binary { op, lhs, rhs } => self.binary(names, *op, lhs, rhs, span),
            ast::ExprKind::If {
                condition,
                then_value,
                else_value,
            } => {
                let c = self.expect_bool(names, condition);
                let a = self.check(names, then_value);
                let b = self.check(names, else_value);
                let t = self.unify(
                    a.t,
                    b.t,
                    "choose between",
                    (then_value.span, else_value.span),
                    span,
                );
                Checked::new(
                    ExprKind::If(Box::new(c.expr), Box::new(a.expr), Box::new(b.expr)),
                    t,
                    span,
                )
            }
        }
    }

    /// The common type of two operands that must agree.
    fn unify(&mut self, a: T, b: T, verb: &str, spans: (Span, Span), at: Span) -> T {
        match (a, b) {
            // After an error the result is unknown too, so the mistake is
            // not reported again further out.
            (T::Unknown, _) | (_, T::Unknown) => T::Unknown,
            (T::Bool, T::Bool) => T::Bool,
            (T::Real(x), T::Real(y)) if x == y => T::Real(x),
            (T::Real(x), T::Real(y)) => {
                self.diags
                    .push(catalog::unit_mismatch(at, verb, (spans.0, x), (spans.1, y)));
                T::Unknown
            }
            (T::Bool, T::Real(_)) => {
                self.diags.push(catalog::not_numeric(spans.0));
                T::Unknown
            }
            (T::Real(_), T::Bool) => {
                self.diags.push(catalog::not_numeric(spans.1));
                T::Unknown
            }
        }
    }

    fn name(&mut self, names: &mut dyn Names, name: &str, span: Span) -> Checked {
        if let Some((_, t, slot)) = self
            .locals
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .cloned()
        {
            return Checked::new(ExprKind::Var(model::Var::Local(slot)), t, span);
        }
        match names.resolve(self, name, span) {
            Some(Resolved::Value(kind, t)) => return Checked::new(kind, t, span),
            Some(Resolved::SpikeInput(_)) => {
                self.diags.push(catalog::spike_input_use(span, name));
                return Checked::error(span);
            }
            Some(Resolved::Kernel(_)) => {
                self.diags.push(catalog::kernel_form(
                    span,
                    "a kernel has a value only inside `convolve(kernel, input)`",
                ));
                return Checked::error(span);
            }
            Some(Resolved::NotAValue(what)) => {
                self.diags.push(catalog::not_a_value(span, name, what));
                return Checked::error(span);
            }
            None => {}
        }
        let builtin =
            |b: Builtin, d: Dim| Some(Checked::new(ExprKind::Builtin(b), T::Real(d), span));
        let found = match name {
            "t" if self.flags.time => builtin(Builtin::Time, Dim::TIME),
            "dt" if self.flags.dt => builtin(Builtin::Dt, Dim::TIME),
            "i" if self.flags.index => builtin(Builtin::Index, Dim::ONE),
            "j" if self.flags.target_index => builtin(Builtin::TargetIndex, Dim::ONE),
            "N" if self.flags.size => builtin(Builtin::Size, Dim::ONE),
            "pi" => Some(Checked::new(
                ExprKind::Const(std::f64::consts::PI),
                T::Real(Dim::ONE),
                span,
            )),
            "e" => Some(Checked::new(
                ExprKind::Const(std::f64::consts::E),
                T::Real(Dim::ONE),
                span,
            )),
            "xi" => {
                if self.flags.noise {
                    self.used_noise = true;
                    let dim = Dim::TIME.pow(-1, 2).expect("half power of time");
                    Some(Checked::new(ExprKind::Noise, T::Real(dim), span))
                } else {
                    self.diags.push(catalog::noise_placement(span));
                    return Checked::error(span);
                }
            }
            "t" | "dt" | "i" | "j" | "N" => {
                let what = match name {
                    "t" => "the time `t`",
                    "dt" => "the time step `dt`",
                    "i" => "the neuron index `i`",
                    "j" => "the target index `j`",
                    _ => "the population size `N`",
                };
                self.diags.push(
                    catalog::unknown_name(span, name, "name", &[])
                        .help(format!("{what} is not available here")),
                );
                return Checked::error(span);
            }
            _ => None,
        };
        if let Some(c) = found {
            return c;
        }
        if let Ok(unit) = lookup_unit(name) {
            return Checked::new(
                ExprKind::Const(unit.internal_factor()),
                T::Real(unit.dim),
                span,
            );
        }
        let visible = names.visible();
        let mut candidates = crate::names::did_you_mean(name, visible.iter().map(String::as_str));
        if candidates.is_empty() {
            // Built-in names are suggested only for a different spelling
            // of the same letters (`PI`, `Dt`).
            candidates = builtins::CONSTANT_NAMES
                .iter()
                .filter(|c| c.eq_ignore_ascii_case(name))
                .map(|c| c.to_string())
                .collect();
        }
        self.diags
            .push(catalog::unknown_name(span, name, "name", &candidates));
        Checked::error(span)
    }

    fn binary(
        &mut self,
        names: &mut dyn Names,
        op: ast::BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
    ) -> Checked {
        let a = self.check(names, lhs);
        let b = self.check(names, rhs);
        let spans = (lhs.span, rhs.span);
        let numeric = |cx: &mut Self, c: &Checked, s: Span| {
            if c.t == T::Bool {
                cx.diags.push(catalog::not_numeric(s));
            }
        };
        let (model_op, t) = match op {
            ast::BinaryOp::Add | ast::BinaryOp::Sub | ast::BinaryOp::Rem => {
                numeric(self, &a, lhs.span);
                numeric(self, &b, rhs.span);
                let verb = match op {
                    ast::BinaryOp::Add => "add",
                    ast::BinaryOp::Sub => "subtract",
                    _ => "take the remainder of",
                };
                let t = if a.t == T::Bool || b.t == T::Bool {
                    T::Unknown
                } else {
                    self.unify(a.t, b.t, verb, spans, span)
                };
                let m = match op {
                    ast::BinaryOp::Add => BinaryOp::Add,
                    ast::BinaryOp::Sub => BinaryOp::Sub,
                    _ => BinaryOp::Rem,
                };
                (m, t)
            }
            ast::BinaryOp::Mul | ast::BinaryOp::Div => {
                numeric(self, &a, lhs.span);
                numeric(self, &b, rhs.span);
                let t = match (a.t, b.t) {
                    (T::Real(x), T::Real(y)) => T::Real(if op == ast::BinaryOp::Mul {
                        x.mul(y)
                    } else {
                        x.div(y)
                    }),
                    _ => T::Unknown,
                };
                let m = if op == ast::BinaryOp::Mul {
                    BinaryOp::Mul
                } else {
                    BinaryOp::Div
                };
                (m, t)
            }
            ast::BinaryOp::Pow => {
                numeric(self, &a, lhs.span);
                numeric(self, &b, rhs.span);
                (BinaryOp::Pow, self.power_type(&a, &b, rhs.span))
            }
            ast::BinaryOp::Lt
            | ast::BinaryOp::Le
            | ast::BinaryOp::Gt
            | ast::BinaryOp::Ge
            | ast::BinaryOp::Eq
            | ast::BinaryOp::Ne => {
                let ordered = !matches!(op, ast::BinaryOp::Eq | ast::BinaryOp::Ne);
                if ordered {
                    numeric(self, &a, lhs.span);
                    numeric(self, &b, rhs.span);
                }
                if !(ordered && (a.t == T::Bool || b.t == T::Bool)) {
                    self.unify(a.t, b.t, "compare", spans, span);
                }
                let m = match op {
                    ast::BinaryOp::Lt => BinaryOp::Lt,
                    ast::BinaryOp::Le => BinaryOp::Le,
                    ast::BinaryOp::Gt => BinaryOp::Gt,
                    ast::BinaryOp::Ge => BinaryOp::Ge,
                    ast::BinaryOp::Eq => BinaryOp::Eq,
                    _ => BinaryOp::Ne,
                };
                (m, T::Bool)
            }
            ast::BinaryOp::And | ast::BinaryOp::Or => {
                for (c, s) in [(&a, lhs.span), (&b, rhs.span)] {
                    if let T::Real(d) = c.t {
                        self.diags.push(catalog::not_boolean(s, d));
                    }
                }
                let m = if op == ast::BinaryOp::And {
                    BinaryOp::And
                } else {
                    BinaryOp::Or
                };
                (m, T::Bool)
            }
        };
        Checked::new(
            ExprKind::Binary(model_op, Box::new(a.expr), Box::new(b.expr)),
            t,
            span,
        )
    }

    /// The type of `base ^ exponent`: a dimensional base needs a constant
    /// exponent that keeps exponents whole or half.
    pub fn power_type(&mut self, base: &Checked, exponent: &Checked, exponent_span: Span) -> T {
        if let T::Real(d) = exponent.t
            && !d.is_dimensionless()
        {
            self.diags.push(catalog::dimensionless_argument(
                exponent_span,
                "^ (the exponent)",
                d,
            ));
            return T::Unknown;
        }
        match base.t {
            T::Real(d) if d.is_dimensionless() => T::Real(d),
            T::Real(d) => {
                let power = const_value(&exponent.expr)
                    .filter(|p| (p * 2.0).fract() == 0.0 && p.abs() <= 64.0)
                    .and_then(|p| d.pow((p * 2.0) as i32, 2));
                match power {
                    Some(dim) => T::Real(dim),
                    None => {
                        self.diags.push(catalog::power_exponent(exponent_span, d));
                        T::Unknown
                    }
                }
            }
            _ => T::Unknown,
        }
    }

    fn call(
        &mut self,
        names: &mut dyn Names,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
    ) -> Checked {
        if func.name == "convolve" {
            return self.convolve(names, args, span);
        }
        if let Some(b) = builtins::lookup(&func.name) {
            return self.builtin(names, b, func, args, span);
        }
        if self.functions.contains(&func.name) {
            return self.user_call(names, func, args, span);
        }
        let mut known: Vec<&str> = builtins::FUNCTION_NAMES.to_vec();
        known.extend(self.functions.names());
        let candidates = crate::names::did_you_mean(&func.name, known);
        let mut d = catalog::unknown_function(func.span, &func.name, &candidates);
        if builtins::RULE_NAMES.contains(&func.name.as_str()) {
            d = d.help(format!(
                "`{}` is a connection rule: write `rule = {}(…)` inside `connect`",
                func.name, func.name
            ));
        }
        self.diags.push(d);
        for a in args {
            self.check(names, &a.value);
        }
        Checked::error(span)
    }

    fn positional<'a>(&mut self, func: &ast::Ident, args: &'a [ast::Arg]) -> Vec<&'a ast::Expr> {
        for a in args {
            if let Some(n) = &a.name {
                self.diags
                    .push(catalog::unknown_argument(n.span, &n.name, &func.name, &[]));
            }
        }
        args.iter().map(|a| &a.value).collect()
    }

    fn builtin(
        &mut self,
        names: &mut dyn Names,
        b: BuiltinFn,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
    ) -> Checked {
        let args = self.positional(func, args);
        let (min, max) = b.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            self.diags
                .push(catalog::arity(span, &func.name, &expected, args.len()));
            for a in &args {
                self.check(names, a);
            }
            return Checked::error(span);
        }
        match b {
            BuiltinFn::Random(r) => {
                if !self.flags.random {
                    self.diags
                        .push(catalog::random_in_network(span, &func.name));
                    return Checked::error(span);
                }
                Checked::new(ExprKind::Random(r), T::Real(Dim::ONE), span)
            }
            BuiltinFn::Distribution(d) => {
                if !self.flags.distributions {
                    self.diags
                        .push(catalog::distribution_in_model(span, &func.name));
                    return Checked::error(span);
                }
                let checked: Vec<Checked> =
                    args.iter().map(|a| self.expect_number(names, a)).collect();
                let mut t = checked[0].t;
                for (c, a) in checked.iter().zip(&args).skip(1) {
                    t = self.unify(
                        t,
                        c.t,
                        "use together in a distribution",
                        (args[0].span, a.span),
                        span,
                    );
                }
                Checked::new(
                    ExprKind::Distribution(d, checked.into_iter().map(|c| c.expr).collect()),
                    t,
                    span,
                )
            }
            BuiltinFn::Distance => {
                if !self.flags.positions {
                    self.diags.push(catalog::unknown_function(func.span, "dist", &[]).help(
                        "`dist(pre, post)` is the distance between neuron positions, available in connection probabilities, weights and delays",
                    ));
                    return Checked::error(span);
                }
                for a in &args {
                    let ok = matches!(&a.kind, ast::ExprKind::Name(n) if n == "pre" || n == "post");
                    if !ok {
                        self.diags
                            .push(catalog::arity(a.span, "dist", "`pre` and `post` as", 0));
                    }
                }
                Checked::new(
                    ExprKind::Math(model::MathFn::Sqrt, vec![distance_squared(span)]),
                    T::Real(Dim::LENGTH),
                    span,
                )
            }
            BuiltinFn::Math(m, rule) => {
                let checked: Vec<Checked> =
                    args.iter().map(|a| self.expect_number(names, a)).collect();
                let t = self.math_type(m, rule, &checked, &args, &func.name, span);
                Checked::new(
                    ExprKind::Math(m, checked.into_iter().map(|c| c.expr).collect()),
                    t,
                    span,
                )
            }
        }
    }

    fn math_type(
        &mut self,
        m: model::MathFn,
        rule: builtins::UnitRule,
        args: &[Checked],
        spans: &[&ast::Expr],
        name: &str,
        span: Span,
    ) -> T {
        use builtins::UnitRule;
        match rule {
            UnitRule::Dimensionless => {
                for (c, a) in args.iter().zip(spans) {
                    if let T::Real(d) = c.t
                        && !d.is_dimensionless()
                    {
                        self.diags
                            .push(catalog::dimensionless_argument(a.span, name, d));
                    }
                }
                T::Real(Dim::ONE)
            }
            UnitRule::AnyToDimensionless => T::Real(Dim::ONE),
            UnitRule::Same => {
                let mut t = args[0].t;
                for (c, a) in args.iter().zip(spans).skip(1) {
                    t = self.unify(
                        t,
                        c.t,
                        &format!("use together in `{name}`"),
                        (spans[0].span, a.span),
                        span,
                    );
                }
                t
            }
            UnitRule::SameToDimensionless => {
                self.unify(
                    args[0].t,
                    args[1].t,
                    &format!("use together in `{name}`"),
                    (spans[0].span, spans[1].span),
                    span,
                );
                T::Real(Dim::ONE)
            }
            UnitRule::Sqrt => match args[0].t {
                T::Real(d) => match d.sqrt() {
                    Some(s) => T::Real(s),
                    None => {
                        self.diags.push(catalog::power_exponent(spans[0].span, d));
                        T::Unknown
                    }
                },
                _ => T::Unknown,
            },
            UnitRule::Power => {
                debug_assert_eq!(m, model::MathFn::Pow);
                self.power_type(&args[0], &args[1], spans[1].span)
            }
        }
    }

    fn convolve(&mut self, names: &mut dyn Names, args: &[ast::Arg], span: Span) -> Checked {
        if !self.flags.convolve {
            self.diags.push(catalog::convolve_placement(span));
            return Checked::error(span);
        }
        if args.len() != 2 || args.iter().any(|a| a.name.is_some()) {
            self.diags.push(catalog::convolve_arguments(
                span,
                "takes exactly two arguments",
            ));
            return Checked::error(span);
        }
        let name_of = |e: &ast::Expr| match &e.kind {
            ast::ExprKind::Name(n) => Some(n.clone()),
            _ => None,
        };
        let kernel = name_of(&args[0].value).and_then(|n| {
            match names.resolve(self, &n, args[0].value.span) {
                Some(Resolved::Kernel(k)) => Some(k),
                _ => None,
            }
        });
        let input = name_of(&args[1].value).and_then(|n| {
            match names.resolve(self, &n, args[1].value.span) {
                Some(Resolved::SpikeInput(k)) => Some(k),
                _ => None,
            }
        });
        let Some(kernel) = kernel else {
            self.diags.push(catalog::convolve_arguments(
                args[0].value.span,
                "needs a kernel defined in `equations` as its first argument",
            ));
            return Checked::error(span);
        };
        let Some(input) = input else {
            self.diags.push(catalog::convolve_arguments(
                args[1].value.span,
                "needs a spike input (`NAME: spikes(UNIT)`) as its second argument",
            ));
            return Checked::error(span);
        };
        match names.convolution(kernel, input) {
            Some((index, t)) => Checked::new(ExprKind::Convolve(index), t, span),
            None => Checked::error(span),
        }
    }

    fn user_call(
        &mut self,
        names: &mut dyn Names,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
    ) -> Checked {
        let positional = self.positional(func, args);
        let checked: Vec<Checked> = positional
            .iter()
            .map(|a| self.expect_number(names, a))
            .collect();
        let Some(sig) = self.functions.signature(&func.name, func.span, self.diags) else {
            return Checked::error(span);
        };
        if sig.params.len() != checked.len() {
            self.diags.push(catalog::arity(
                span,
                &func.name,
                &sig.params.len().to_string(),
                checked.len(),
            ));
            return Checked::error(span);
        }
        for ((c, a), (pname, pdim, pspan)) in checked.iter().zip(&positional).zip(&sig.params) {
            if let T::Real(d) = c.t
                && d != *pdim
            {
                self.diags.push(catalog::unit_expected(
                    a.span,
                    &format!("argument `{pname}` of `{}`", func.name),
                    *pdim,
                    d,
                    Some(*pspan),
                ));
            }
        }
        if sig.uses_random && !self.flags.random {
            self.diags.push(catalog::random_in_network(
                span,
                &format!("{} (through `rand`)", func.name),
            ));
        }
        let body = substitute(
            &sig.body,
            &checked.iter().map(|c| c.expr.clone()).collect::<Vec<_>>(),
            span,
        );
        Checked {
            t: T::from_ty(sig.body.ty),
            expr: body,
        }
    }
}

/// The squared distance between the pre- and postsynaptic neuron positions.
fn distance_squared(span: Span) -> Expr {
    let coord = |which: fn(model::NeuronVar) -> model::Var, k: u8| Expr {
        kind: ExprKind::Var(which(model::NeuronVar::Position(k))),
        ty: Ty::Real(Dim::LENGTH),
        span,
    };
    let area = Ty::Real(Dim::LENGTH.mul(Dim::LENGTH));
    let mut sum: Option<Expr> = None;
    for k in 0..3 {
        let diff = Expr {
            kind: ExprKind::Binary(
                BinaryOp::Sub,
                Box::new(coord(model::Var::Post, k)),
                Box::new(coord(model::Var::Pre, k)),
            ),
            ty: Ty::Real(Dim::LENGTH),
            span,
        };
        let sq = Expr {
            kind: ExprKind::Binary(BinaryOp::Mul, Box::new(diff.clone()), Box::new(diff)),
            ty: area,
            span,
        };
        sum = Some(match sum {
            None => sq,
            Some(s) => Expr {
                kind: ExprKind::Binary(BinaryOp::Add, Box::new(s), Box::new(sq)),
                ty: area,
                span,
            },
        });
    }
    sum.expect("three coordinates")
}

/// The value of an expression built only from constants, if it is one.
pub fn const_value(e: &Expr) -> Option<f64> {
    match &e.kind {
        ExprKind::Const(v) => Some(*v),
        ExprKind::Unary(UnaryOp::Neg, x) => const_value(x).map(|v| -v),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (const_value(a)?, const_value(b)?);
            match op {
                BinaryOp::Add => Some(a + b),
                BinaryOp::Sub => Some(a - b),
                BinaryOp::Mul => Some(a * b),
                BinaryOp::Div => Some(a / b),
                BinaryOp::Pow => Some(a.powf(b)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Replaces `Local(k)` by `args[k]` (inlining a function body).
pub fn substitute(body: &Expr, args: &[Expr], call_span: Span) -> Expr {
    let kind = match &body.kind {
        ExprKind::Var(model::Var::Local(k)) => {
            if let Some(a) = args.get(*k as usize) {
                return a.clone();
            }
            body.kind.clone()
        }
        ExprKind::Unary(op, x) => ExprKind::Unary(*op, Box::new(substitute(x, args, call_span))),
        ExprKind::Binary(op, a, b) => ExprKind::Binary(
            *op,
            Box::new(substitute(a, args, call_span)),
            Box::new(substitute(b, args, call_span)),
        ),
        ExprKind::Math(m, xs) => ExprKind::Math(
            *m,
            xs.iter().map(|x| substitute(x, args, call_span)).collect(),
        ),
        ExprKind::If(c, a, b) => ExprKind::If(
            Box::new(substitute(c, args, call_span)),
            Box::new(substitute(a, args, call_span)),
            Box::new(substitute(b, args, call_span)),
        ),
        ExprKind::Distribution(d, xs) => ExprKind::Distribution(
            *d,
            xs.iter().map(|x| substitute(x, args, call_span)).collect(),
        ),
        ExprKind::List(xs) => {
            ExprKind::List(xs.iter().map(|x| substitute(x, args, call_span)).collect())
        }
        other => other.clone(),
    };
    Expr {
        kind,
        ty: body.ty,
        span: call_span,
    }
}

/// A place where no model names are visible (function bodies, solver
/// options): only locals, built-in constants and units.
pub struct NoNames;

impl Names for NoNames {
    fn resolve(&mut self, _: &mut ExprChecker, _: &str, _: Span) -> Option<Resolved> {
        None
    }

    fn member(
        &mut self,
        cx: &mut ExprChecker,
        object: &ast::Ident,
        _: &ast::Ident,
    ) -> Option<Resolved> {
        cx.diags
            .push(catalog::pre_post_outside_synapse(object.span, &object.name));
        None
    }

    fn visible(&self) -> Vec<String> {
        Vec::new()
    }
}
