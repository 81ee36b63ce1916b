//! Checking statements of resets and event handlers.

use super::expr::{Checked, ExprChecker, Names, T};
use super::units::resolve_unit;
use crate::diagnostics::catalog;
use crate::model::{AssignOp, Stmt};
use crate::syntax::ast;

/// Checks a block; `let` locals live until the end of the block.
pub fn check_block(cx: &mut ExprChecker, names: &mut dyn Names, stmts: &[ast::Stmt]) -> Vec<Stmt> {
    let scope_start = cx.locals.len();
    let out = stmts
        .iter()
        .filter_map(|s| check_stmt(cx, names, s))
        .collect();
    cx.locals.truncate(scope_start);
    out
}

fn check_stmt(cx: &mut ExprChecker, names: &mut dyn Names, stmt: &ast::Stmt) -> Option<Stmt> {
    match stmt {
        ast::Stmt::Let {
            name,
            unit,
            value,
            span,
        } => {
            if cx.locals.iter().any(|(n, _, _)| *n == name.name) {
                cx.diags.push(
                    catalog::duplicate_definition(name.span, *span, &name.name, "local")
                        .help("choose another name for the second `let`"),
                );
            }
            let c = cx.check(names, value);
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
            let local = cx.bind_local(&name.name, c.t);
            Some(Stmt::Let {
                local,
                value: c.expr,
                span: *span,
            })
        }
        ast::Stmt::If {
            condition,
            then_body,
            else_body,
            span,
        } => {
            let c = cx.expect_bool(names, condition);
            let then_body = check_block(cx, names, then_body);
            let else_body = check_block(cx, names, else_body);
            Some(Stmt::If {
                condition: c.expr,
                then_body,
                else_body,
                span: *span,
            })
        }
        ast::Stmt::Assign {
            target,
            op,
            value,
            span,
        } => {
            if target.object.is_none() && cx.locals.iter().any(|(n, _, _)| *n == target.field.name)
            {
                cx.diags.push(catalog::assign_to_read_only(
                    target.span,
                    &target.field.name,
                    "the `let` local",
                ));
                cx.check(names, value);
                return None;
            }
            let resolved = names.assign_target(cx, target);
            let c = cx.check(names, value);
            let (var, t) = resolved?;
            check_assignment(cx, *op, t, &c, value.span, target);
            Some(Stmt::Assign {
                target: var,
                op: match op {
                    ast::AssignOp::Set => AssignOp::Set,
                    ast::AssignOp::Add => AssignOp::Add,
                    ast::AssignOp::Sub => AssignOp::Sub,
                    ast::AssignOp::Mul => AssignOp::Mul,
                    ast::AssignOp::Div => AssignOp::Div,
                },
                value: c.expr,
                span: *span,
            })
        }
    }
}

/// `x = v`, `x += v`, `x -= v` need v in x's unit; `x *= v`, `x /= v` need a
/// dimensionless v.
fn check_assignment(
    cx: &mut ExprChecker,
    op: ast::AssignOp,
    target: T,
    value: &Checked,
    span: crate::source::Span,
    t: &ast::Target,
) {
    let name = match &t.object {
        Some(o) => format!("`{}.{}`", o.name, t.field.name),
        None => format!("`{}`", t.field.name),
    };
    match (op, target, value.t) {
        (_, T::Unknown, _) | (_, _, T::Unknown) => {}
        (ast::AssignOp::Mul | ast::AssignOp::Div, T::Real(_), T::Real(v))
            if !v.is_dimensionless() =>
        {
            cx.diags.push(catalog::unit_expected(
                span,
                &format!("the factor in `{}`", op.symbol()),
                crate::units::Dim::ONE,
                v,
                None,
            ));
        }
        (_, T::Real(d), T::Real(v)) if d != v => {
            cx.diags.push(catalog::unit_expected(
                span,
                &format!("the value assigned to {name}"),
                d,
                v,
                None,
            ));
        }
        (_, T::Real(_), T::Bool) => cx.diags.push(catalog::not_numeric(span)),
        (_, T::Bool, T::Real(d)) => cx.diags.push(catalog::not_boolean(span, d)),
        _ => {}
    }
}
