//! Symbolic analysis the solvers share: substitution of state values, and
//! decomposition of right-hand sides into linear parts.

use crate::ir::*;
use std::collections::HashMap;

/// What a substitution replaces: a place's value or the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// `Load(place)`.
    Place(Place),
    /// `Time`.
    Time,
}

/// Rebuilds `h` with the replacements in `map` (new nodes are appended).
pub fn substitute(
    ir: &mut NeuronIr,
    h: Handle<Expr>,
    map: &HashMap<Key, Handle<Expr>>,
) -> Handle<Expr> {
    let mut memo = HashMap::new();
    subst(ir, h, map, &mut memo)
}

fn subst(
    ir: &mut NeuronIr,
    h: Handle<Expr>,
    map: &HashMap<Key, Handle<Expr>>,
    memo: &mut HashMap<usize, Handle<Expr>>,
) -> Handle<Expr> {
    if let Some(r) = memo.get(&h.index()) {
        return *r;
    }
    let e = ir.exprs.get(h).clone();
    let ty = ir.exprs.ty(h);
    let span = ir.exprs.span(h);
    let out = match e {
        Expr::Load(p) => map.get(&Key::Place(p)).copied().unwrap_or(h),
        Expr::Time => map.get(&Key::Time).copied().unwrap_or(h),
        Expr::Unary(op, x) => {
            let y = subst(ir, x, map, memo);
            if y == x {
                h
            } else {
                ir.add(Expr::Unary(op, y), ty, span)
            }
        }
        Expr::RoundToInt(x) => {
            let y = subst(ir, x, map, memo);
            if y == x {
                h
            } else {
                ir.add(Expr::RoundToInt(y), ty, span)
            }
        }
        Expr::Binary(op, a, b) => {
            let (a2, b2) = (subst(ir, a, map, memo), subst(ir, b, map, memo));
            if a2 == a && b2 == b {
                h
            } else {
                ir.add(Expr::Binary(op, a2, b2), ty, span)
            }
        }
        Expr::Select(c, a, b) => {
            let (c2, a2, b2) = (
                subst(ir, c, map, memo),
                subst(ir, a, map, memo),
                subst(ir, b, map, memo),
            );
            if c2 == c && a2 == a && b2 == b {
                h
            } else {
                ir.add(Expr::Select(c2, a2, b2), ty, span)
            }
        }
        Expr::Math(m, xs) => {
            let ys: Vec<Handle<Expr>> = xs.iter().map(|x| subst(ir, *x, map, memo)).collect();
            if ys == xs {
                h
            } else {
                ir.add(Expr::Math(m, ys), ty, span)
            }
        }
        _ => h,
    };
    memo.insert(h.index(), out);
    out
}

/// Whether `h` reads any of the given places (or the time, if `time`).
pub fn depends_on(ir: &NeuronIr, h: Handle<Expr>, places: &[Place], time: bool) -> bool {
    let mut memo = HashMap::new();
    dep(ir, h, places, time, &mut memo)
}

fn dep(
    ir: &NeuronIr,
    h: Handle<Expr>,
    places: &[Place],
    time: bool,
    memo: &mut HashMap<usize, bool>,
) -> bool {
    if let Some(v) = memo.get(&h.index()) {
        return *v;
    }
    let v = match ir.exprs.get(h) {
        Expr::Load(p) => places.contains(p),
        Expr::Time => time,
        Expr::Unary(_, x) | Expr::RoundToInt(x) => dep(ir, *x, places, time, memo),
        Expr::Binary(_, a, b) => dep(ir, *a, places, time, memo) || dep(ir, *b, places, time, memo),
        Expr::Select(c, a, b) => {
            dep(ir, *c, places, time, memo)
                || dep(ir, *a, places, time, memo)
                || dep(ir, *b, places, time, memo)
        }
        Expr::Math(_, xs) => xs.iter().any(|x| dep(ir, *x, places, time, memo)),
        _ => false,
    };
    memo.insert(h.index(), v);
    v
}

/// Whether `h` draws random numbers.
pub fn is_random(ir: &NeuronIr, h: Handle<Expr>) -> bool {
    match ir.exprs.get(h) {
        Expr::Random(..) => true,
        Expr::Unary(_, x) | Expr::RoundToInt(x) => is_random(ir, *x),
        Expr::Binary(_, a, b) => is_random(ir, *a) || is_random(ir, *b),
        Expr::Select(c, a, b) => is_random(ir, *c) || is_random(ir, *a) || is_random(ir, *b),
        Expr::Math(_, xs) => xs.iter().any(|x| is_random(ir, *x)),
        _ => false,
    }
}

/// Coefficients (one per variable, `None` if absent) and the rest.
pub type LinearParts = (Vec<Option<Handle<Expr>>>, Handle<Expr>);

/// Splits `h = Σ coef_k · x_k + rest` over the places `vars`, where no
/// `coef_k` and not `rest` reads any of `vars`. Returns `None` if `h` is not
/// linear in them. Coefficients of absent variables are `None`.
pub fn linear_split(ir: &mut NeuronIr, h: Handle<Expr>, vars: &[Place]) -> Option<LinearParts> {
    if !depends_on(ir, h, vars, false) {
        return Some((vec![None; vars.len()], h));
    }
    let span = ir.exprs.span(h);
    let real = ir.real();
    let e = ir.exprs.get(h).clone();
    match e {
        Expr::Load(p) => {
            let k = vars.iter().position(|v| *v == p)?;
            let mut coefs = vec![None; vars.len()];
            coefs[k] = Some(ir.real_const(1.0, span));
            Some((coefs, ir.real_const(0.0, span)))
        }
        Expr::Unary(UnaryOp::Neg, x) => {
            let (c, r) = linear_split(ir, x, vars)?;
            let c = c
                .into_iter()
                .map(|c| c.map(|c| ir.add(Expr::Unary(UnaryOp::Neg, c), real, span)))
                .collect();
            let r = ir.add(Expr::Unary(UnaryOp::Neg, r), real, span);
            Some((c, r))
        }
        Expr::Binary(op @ (BinaryOp::Add | BinaryOp::Sub), a, b) => {
            let (ca, ra) = linear_split(ir, a, vars)?;
            let (cb, rb) = linear_split(ir, b, vars)?;
            let mut coefs = Vec::new();
            for (x, y) in ca.into_iter().zip(cb) {
                coefs.push(match (x, y) {
                    (None, None) => None,
                    (Some(x), None) => Some(x),
                    (None, Some(y)) => Some(if op == BinaryOp::Add {
                        y
                    } else {
                        ir.add(Expr::Unary(UnaryOp::Neg, y), real, span)
                    }),
                    (Some(x), Some(y)) => Some(ir.add(Expr::Binary(op, x, y), real, span)),
                });
            }
            let r = ir.add(Expr::Binary(op, ra, rb), real, span);
            Some((coefs, r))
        }
        Expr::Binary(BinaryOp::Mul, a, b) => {
            let a_dep = depends_on(ir, a, vars, false);
            let b_dep = depends_on(ir, b, vars, false);
            if a_dep && b_dep {
                return None;
            }
            let (lin, factor) = if a_dep { (a, b) } else { (b, a) };
            let (c, r) = linear_split(ir, lin, vars)?;
            let c = c
                .into_iter()
                .map(|c| c.map(|c| ir.add(Expr::Binary(BinaryOp::Mul, factor, c), real, span)))
                .collect();
            let r = ir.add(Expr::Binary(BinaryOp::Mul, factor, r), real, span);
            Some((c, r))
        }
        Expr::Binary(BinaryOp::Div, a, b) => {
            if depends_on(ir, b, vars, false) {
                return None;
            }
            let (c, r) = linear_split(ir, a, vars)?;
            let c = c
                .into_iter()
                .map(|c| c.map(|c| ir.add(Expr::Binary(BinaryOp::Div, c, b), real, span)))
                .collect();
            let r = ir.add(Expr::Binary(BinaryOp::Div, r, b), real, span);
            Some((c, r))
        }
        _ => None,
    }
}

/// The value of an expression built from literals only.
pub fn const_eval(ir: &NeuronIr, h: Handle<Expr>) -> Option<f64> {
    Some(match ir.exprs.get(h) {
        Expr::Real(x) => *x,
        Expr::Dt => ir.dt,
        Expr::Unary(UnaryOp::Neg, x) => -const_eval(ir, *x)?,
        Expr::Binary(op, a, b) => {
            let (a, b) = (const_eval(ir, *a)?, const_eval(ir, *b)?);
            match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                BinaryOp::Pow => a.powf(b),
                _ => return None,
            }
        }
        Expr::Math(m, xs) => {
            let v: Option<Vec<f64>> = xs.iter().map(|x| const_eval(ir, *x)).collect();
            crate::ir::interp::math(*m, &v?)
        }
        _ => return None,
    })
}
