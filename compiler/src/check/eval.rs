//! Evaluating expressions that are fixed before a run (sizes, slice bounds,
//! settings) from network parameter values.

use crate::model::{BinaryOp, Expr, ExprKind, UnaryOp, Var};

/// The value of an expression made of constants, network parameters
/// (`params[k]`) and arithmetic; `None` if it depends on anything else.
pub fn eval_constant(e: &Expr, params: &[f64]) -> Option<f64> {
    Some(match &e.kind {
        ExprKind::Const(v) => *v,
        ExprKind::Var(Var::NetworkParam(k)) => *params.get(*k as usize)?,
        ExprKind::Unary(UnaryOp::Neg, x) => -eval_constant(x, params)?,
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (eval_constant(a, params)?, eval_constant(b, params)?);
            match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Rem => a - b * (a / b).floor(),
                BinaryOp::Pow => a.powf(b),
                _ => return None,
            }
        }
        ExprKind::Math(m, xs) => {
            let v: Option<Vec<f64>> = xs.iter().map(|x| eval_constant(x, params)).collect();
            crate::ir::interp::math(*m, &v?)
        }
        ExprKind::If(c, a, b) => {
            if eval_condition(c, params)? {
                eval_constant(a, params)?
            } else {
                eval_constant(b, params)?
            }
        }
        _ => return None,
    })
}

/// The value of a constant condition (comparisons of constants, `and`,
/// `or`, `not`).
pub fn eval_condition(e: &Expr, params: &[f64]) -> Option<bool> {
    Some(match &e.kind {
        ExprKind::Bool(b) => *b,
        ExprKind::Unary(UnaryOp::Not, x) => !eval_condition(x, params)?,
        ExprKind::Binary(op, a, b) => match op {
            BinaryOp::And => eval_condition(a, params)? && eval_condition(b, params)?,
            BinaryOp::Or => eval_condition(a, params)? || eval_condition(b, params)?,
            _ => {
                let (a, b) = (eval_constant(a, params)?, eval_constant(b, params)?);
                match op {
                    BinaryOp::Lt => a < b,
                    BinaryOp::Le => a <= b,
                    BinaryOp::Gt => a > b,
                    BinaryOp::Ge => a >= b,
                    BinaryOp::Eq => a == b,
                    BinaryOp::Ne => a != b,
                    _ => return None,
                }
            }
        },
        _ => return None,
    })
}
