//! Pieces shared by the neuron and synapse checkers: declared quantities and
//! inline definitions checked on first use.

use super::expr::{Checked, ExprChecker, Flags, Names, Resolved, T};
use super::functions::FunctionTable;
use super::units::{display_unit, resolve_unit};
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{self, Alias, Quantity};
use crate::source::{SourceMap, Span};
use crate::syntax::ast;
use crate::units::Dim;

/// A declared name with its type, as the scope sees it.
#[derive(Clone, Debug)]
pub struct Declared {
    /// The name (`x'` for derivative states).
    pub name: String,
    /// Its type (unknown until its declaration is checked, or after an error).
    pub t: T,
    /// Where it is declared.
    pub span: Span,
}

impl Declared {
    /// The declared names of some declarations, types not yet known.
    pub fn from_decls(decls: &[&ast::Decl]) -> Vec<Declared> {
        decls
            .iter()
            .map(|d| Declared {
                name: decl_name(d),
                t: T::Unknown,
                span: d.name.span,
            })
            .collect()
    }
}

/// `x`, or `x'` for a derivative-state declaration.
pub fn decl_name(d: &ast::Decl) -> String {
    format!("{}{}", d.name.name, "'".repeat(d.order as usize))
}

/// Checks one declaration's unit and value. `value_flags` say what the
/// value may contain; the caller makes earlier declarations visible.
pub fn check_decl(
    functions: &FunctionTable,
    names: &mut dyn Names,
    d: &ast::Decl,
    sources: &SourceMap,
    diags: &mut Diagnostics,
    value_flags: Flags,
    what: &str,
) -> (Quantity, T) {
    let unit = d
        .unit
        .as_ref()
        .and_then(|u| resolve_unit(u, diags).map(|unit| (u, unit)));
    let mut cx = ExprChecker::new(functions, diags, value_flags);
    let value = d.value.as_ref().map(|v| (v, cx.check(names, v)));
    let mut t = match (&unit, &value) {
        (Some((_, unit)), _) => T::Real(unit.dim),
        (None, Some((_, c))) => c.t,
        (None, None) => T::Real(Dim::ONE),
    };
    if let (Some((u, unit)), Some((v, c))) = (&unit, &value) {
        match c.t {
            T::Real(found) if found != unit.dim => {
                cx.diags.push(catalog::unit_expected(
                    v.span,
                    &format!("the value of {what} `{}`", decl_name(d)),
                    unit.dim,
                    found,
                    Some(u.span),
                ));
            }
            T::Bool => cx.diags.push(catalog::not_numeric(v.span)),
            _ => {}
        }
    }
    if t == T::Bool {
        cx.diags.push(catalog::not_numeric(d.span));
        t = T::Unknown;
    }
    let quantity = Quantity {
        name: decl_name(d),
        dim: t.dim().unwrap_or(Dim::ONE),
        unit: unit.map(|(u, unit)| display_unit(u, unit, sources)),
        value: value.map(|(_, c)| c.expr),
        doc: d.doc.clone(),
        span: d.span,
    };
    (quantity, t)
}

enum AliasState {
    Todo,
    InProgress,
    Done(u32, T),
}

/// Inline definitions of a model, checked when first used (so each is
/// checked after the definitions it uses, and cycles are found).
pub struct AliasTable<'a> {
    defs: Vec<(&'a ast::Ident, Option<&'a ast::UnitExpr>, &'a ast::Expr)>,
    state: Vec<AliasState>,
    /// Names of definitions being checked, for the cycle message.
    stack: Vec<String>,
    /// Checked definitions in dependency order.
    pub done: Vec<Alias>,
    /// What a definition may contain.
    pub flags: Flags,
}

impl<'a> AliasTable<'a> {
    /// A table of the inline definitions among `equations`.
    pub fn new(equations: &[&'a ast::Equation], flags: Flags) -> AliasTable<'a> {
        let defs: Vec<_> = equations
            .iter()
            .filter_map(|e| match e {
                ast::Equation::Alias {
                    name, unit, value, ..
                } => Some((name, unit.as_ref(), value)),
                _ => None,
            })
            .collect();
        let state = defs.iter().map(|_| AliasState::Todo).collect();
        AliasTable {
            defs,
            state,
            stack: Vec::new(),
            done: Vec::new(),
            flags,
        }
    }

    /// The index of the definition named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.defs.iter().position(|(n, _, _)| n.name == name)
    }

    /// Names of all definitions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.defs.iter().map(|(n, _, _)| n.name.as_str())
    }

    /// The span of definition `k`'s name.
    pub fn span(&self, k: usize) -> Span {
        self.defs[k].0.span
    }

    /// Number of definitions.
    pub fn len(&self) -> usize {
        self.defs.len()
    }
}

/// Access to a scope's alias table, so that [`resolve_alias`] can check a
/// definition with the scope itself as its names.
pub trait HasAliases<'a>: Names {
    /// The table.
    fn aliases(&mut self) -> &mut AliasTable<'a>;
}

/// The value of inline definition `k`, checking it first if needed.
pub fn resolve_alias<'a, S: HasAliases<'a>>(
    scope: &mut S,
    cx: &mut ExprChecker,
    k: usize,
    use_span: Span,
) -> Resolved {
    match scope.aliases().state[k] {
        AliasState::Done(index, t) => {
            Resolved::Value(model::ExprKind::Var(model::Var::Alias(index)), t)
        }
        AliasState::InProgress => {
            let table = scope.aliases();
            let name = table.defs[k].0.name.clone();
            let start = table.stack.iter().position(|n| *n == name).unwrap_or(0);
            let mut chain = table.stack[start..].to_vec();
            chain.push(name);
            cx.diags.push(catalog::cyclic_definition(use_span, &chain));
            Resolved::Value(model::ExprKind::Const(0.0), T::Unknown)
        }
        AliasState::Todo => {
            let (name, unit, value) = scope.aliases().defs[k];
            let flags = scope.aliases().flags;
            scope.aliases().state[k] = AliasState::InProgress;
            scope.aliases().stack.push(name.name.clone());
            let mut inner = ExprChecker::new(cx.functions, cx.diags, flags);
            let c: Checked = inner.check(scope, value);
            let mut t = c.t;
            if let Some(u) = unit
                && let Some(declared) = resolve_unit(u, inner.diags)
            {
                if let T::Real(found) = c.t
                    && found != declared.dim
                {
                    inner.diags.push(catalog::unit_expected(
                        value.span,
                        &format!("`{}`", name.name),
                        declared.dim,
                        found,
                        Some(u.span),
                    ));
                }
                t = T::Real(declared.dim);
            }
            let table = scope.aliases();
            table.stack.pop();
            let index = table.done.len() as u32;
            table.done.push(Alias {
                name: name.name.clone(),
                value: c.expr,
                span: name.span.to(value.span),
            });
            table.state[k] = AliasState::Done(index, t);
            Resolved::Value(model::ExprKind::Var(model::Var::Alias(index)), t)
        }
    }
}

/// Checks every inline definition, used or not.
pub fn check_all_aliases<'a, S: HasAliases<'a>>(
    scope: &mut S,
    functions: &FunctionTable,
    diags: &mut Diagnostics,
) {
    let n = scope.aliases().len();
    for k in 0..n {
        let span = scope.aliases().span(k);
        let mut cx = ExprChecker::new(functions, diags, Flags::default());
        resolve_alias(scope, &mut cx, k, span);
    }
}

/// Solver choice from a model's `solver …` statement or a network setting.
pub fn check_solver(
    s: &ast::SolverChoice,
    functions: &FunctionTable,
    diags: &mut Diagnostics,
) -> Option<model::Solver> {
    let kind = model::SolverKind::ALL
        .iter()
        .find(|(n, _)| *n == s.name.name)
        .map(|(_, k)| *k);
    let Some(kind) = kind else {
        let candidates = crate::names::did_you_mean(
            &s.name.name,
            model::SolverKind::ALL.iter().map(|(n, _)| *n),
        );
        diags.push(catalog::unknown_solver(
            s.name.span,
            &s.name.name,
            &candidates,
        ));
        return None;
    };
    let mut solver = model::Solver {
        kind,
        rtol: None,
        atol: None,
        span: s.span,
    };
    for opt in &s.options {
        let Some(name) = &opt.name else { continue };
        let mut cx = ExprChecker::new(functions, diags, Flags::default());
        let mut none = super::expr::NoNames;
        let c = cx.expect_dim(
            &mut none,
            &opt.value,
            Dim::ONE,
            &format!("solver option `{}`", name.name),
            None,
        );
        let value = super::expr::const_value(&c.expr);
        match (name.name.as_str(), value) {
            ("rtol", Some(v)) if v > 0.0 => solver.rtol = Some(v),
            ("atol", Some(v)) if v > 0.0 => solver.atol = Some(v),
            ("rtol" | "atol", _) => diags.push(catalog::invalid_value(
                opt.value.span,
                &format!("`{}`", name.name),
                "not a positive constant",
                "a positive number",
            )),
            _ => diags.push(catalog::unknown_argument(
                name.span,
                &name.name,
                &s.name.name,
                &["rtol", "atol"],
            )),
        }
    }
    if kind != model::SolverKind::Rk45 && !s.options.is_empty() {
        diags.push(
            catalog::unknown_argument(s.span, "rtol/atol", &s.name.name, &[])
                .help("only `rk45` takes tolerances"),
        );
    }
    Some(solver)
}
