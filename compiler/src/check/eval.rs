//! Evaluating expressions that are fixed before a run (sizes, slice bounds,
//! settings) from network parameter values.

use crate::model::{BinaryOp, Expr, ExprKind, MathFn, UnaryOp, Var};

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
            let v = v?;
            match (m, v.as_slice()) {
                (MathFn::Exp, [x]) => x.exp(),
                (MathFn::Log, [x]) => x.ln(),
                (MathFn::Log10, [x]) => x.log10(),
                (MathFn::Log2, [x]) => x.log2(),
                (MathFn::Sqrt, [x]) => x.sqrt(),
                (MathFn::Abs, [x]) => x.abs(),
                (MathFn::Floor, [x]) => x.floor(),
                (MathFn::Ceil, [x]) => x.ceil(),
                (MathFn::Round, [x]) => x.round(),
                (MathFn::Min, [a, b]) => a.min(*b),
                (MathFn::Max, [a, b]) => a.max(*b),
                (MathFn::Pow, [a, b]) => a.powf(*b),
                _ => return None,
            }
        }
        _ => return None,
    })
}
