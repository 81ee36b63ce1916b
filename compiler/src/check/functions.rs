//! User functions: checked once, on first use, and inlined at each call.

use super::expr::{ExprChecker, Flags, NoNames, T};
use super::units::resolve_unit;
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{Expr, ExprKind};
use crate::source::Span;
use crate::syntax::ast;
use crate::units::Dim;
use std::cell::RefCell;
use std::collections::HashMap;

/// A checked function: parameter dimensions and the body, in which
/// `Var::Local(k)` is the k-th parameter.
#[derive(Clone, Debug)]
pub struct Signature {
    /// (name, dimension, declaration span) per parameter.
    pub params: Vec<(String, Dim, Span)>,
    /// The body with `let`s already inlined.
    pub body: Expr,
    /// Whether the body draws random numbers.
    pub uses_random: bool,
}

enum State {
    InProgress,
    Done(Option<Signature>),
}

/// All user functions of a compilation.
pub struct FunctionTable {
    defs: HashMap<String, ast::Function>,
    state: RefCell<HashMap<String, State>>,
    /// Names of functions being checked, innermost last, for recursion.
    stack: RefCell<Vec<String>>,
}

impl FunctionTable {
    /// A table of the given definitions (names are unique by now).
    pub fn new(defs: Vec<ast::Function>) -> FunctionTable {
        FunctionTable {
            defs: defs.into_iter().map(|f| (f.name.name.clone(), f)).collect(),
            state: RefCell::new(HashMap::new()),
            stack: RefCell::new(Vec::new()),
        }
    }

    /// Whether a function of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Names of all functions.
    pub fn names(&self) -> Vec<&str> {
        self.defs.keys().map(String::as_str).collect()
    }

    /// Checks every function, so that unused ones are checked too.
    pub fn check_all(&self, diags: &mut Diagnostics) {
        let mut names: Vec<(Span, String)> = self
            .defs
            .values()
            .map(|f| (f.span, f.name.name.clone()))
            .collect();
        names.sort_by_key(|(s, _)| (s.file, s.start));
        for (span, name) in names {
            self.signature(&name, span, diags);
        }
    }

    /// The checked signature of `name`; `None` after an error.
    pub fn signature(&self, name: &str, call: Span, diags: &mut Diagnostics) -> Option<Signature> {
        match self.state.borrow().get(name) {
            Some(State::Done(sig)) => return sig.clone(),
            Some(State::InProgress) => {
                let mut chain = self.stack.borrow().clone();
                let start = chain.iter().position(|n| n == name).unwrap_or(0);
                chain.drain(..start);
                chain.push(name.to_string());
                diags.push(catalog::recursive_function(call, &chain));
                return None;
            }
            None => {}
        }
        let def = self.defs.get(name)?;
        self.state
            .borrow_mut()
            .insert(name.to_string(), State::InProgress);
        self.stack.borrow_mut().push(name.to_string());
        let sig = self.check_function(def, diags);
        self.stack.borrow_mut().pop();
        self.state
            .borrow_mut()
            .insert(name.to_string(), State::Done(sig.clone()));
        sig
    }

    fn check_function(&self, def: &ast::Function, diags: &mut Diagnostics) -> Option<Signature> {
        let mut params = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for p in &def.params {
            if let Some(first) = seen.insert(&p.name.name, p.name.span) {
                diags.push(catalog::duplicate_definition(
                    p.name.span,
                    first,
                    &p.name.name,
                    "parameter",
                ));
            }
            let dim = match &p.unit {
                Some(u) => resolve_unit(u, diags).map(|u| u.dim).unwrap_or(Dim::ONE),
                None => Dim::ONE,
            };
            params.push((p.name.name.clone(), dim, p.name.span));
        }
        let flags = Flags {
            random: true,
            ..Flags::default()
        };
        let mut cx = ExprChecker::new(self, diags, flags);
        for (name, dim, _) in &params {
            cx.bind_local(name, T::Real(*dim));
        }
        let mut names = NoNames;
        let mut let_values: Vec<Expr> = Vec::new();
        for stmt in &def.lets {
            if let ast::Stmt::Let {
                name, unit, value, ..
            } = stmt
            {
                let c = cx.check(&mut names, value);
                if let (Some(u), T::Real(d)) = (unit, c.t)
                    && let Some(unit) = resolve_unit(u, cx.diags)
                    && unit.dim != d
                {
                    cx.diags.push(catalog::unit_expected(
                        value.span,
                        &format!("`{}`", name.name),
                        unit.dim,
                        d,
                        Some(u.span),
                    ));
                }
                cx.bind_local(&name.name, c.t);
                let_values.push(c.expr);
            }
        }
        let body = cx.check(&mut names, &def.body);
        if let (Some(u), T::Real(d)) = (&def.result, body.t)
            && let Some(unit) = resolve_unit(u, cx.diags)
            && unit.dim != d
        {
            cx.diags.push(catalog::unit_expected(
                def.body.span,
                &format!("the result of `{}`", def.name.name),
                unit.dim,
                d,
                Some(u.span),
            ));
        }
        if body.t == super::expr::T::Unknown {
            return None;
        }
        // Inline the lets: locals after the parameters refer to them.
        let n = params.len();
        let mut inlined: Vec<Expr> = (0..n)
            .map(|k| Expr {
                kind: ExprKind::Var(crate::model::Var::Local(k as u32)),
                ty: crate::model::Ty::Real(params[k].1),
                span: def.span,
            })
            .collect();
        for v in let_values {
            let value = super::expr::substitute(&v, &inlined, v.span);
            inlined.push(value);
        }
        let body_expr = super::expr::substitute(&body.expr, &inlined, def.body.span);
        let uses_random = uses_random(&body_expr);
        Some(Signature {
            params,
            body: body_expr,
            uses_random,
        })
    }
}

fn uses_random(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Random(_) => true,
        ExprKind::Unary(_, x) => uses_random(x),
        ExprKind::Binary(_, a, b) => uses_random(a) || uses_random(b),
        ExprKind::If(c, a, b) => uses_random(c) || uses_random(a) || uses_random(b),
        ExprKind::Math(_, xs) | ExprKind::Distribution(_, xs) | ExprKind::List(xs) => {
            xs.iter().any(uses_random)
        }
        _ => false,
    }
}
