//! Network values: expressions fixed when the network is built.
//!
//! A population's overrides (`tau_m = 15 ms`, `E_L = normal(-70 mV, 2 mV)`,
//! `V_th = -55 mV + 0.01 mV * i`) and a model's parameter defaults that
//! depend on other parameters are evaluated here, once per neuron, in the
//! internal scale. They may use network parameters (already numbers),
//! the neuron index `i`, the population size `N`, the model's other
//! parameters (defaults only) and the distributions:
//!
//! | distribution | value | words of the stream |
//! |---|---|---|
//! | `uniform(low, high)` | `low + (high - low) · u`, `u` in [0, 1) | 2 |
//! | `normal(mean, sd)` | `mean + sd · z`, `z` by Box–Muller | 4 |
//! | `lognormal(mean, sd)` | `exp(μ + σ z)` with `σ² = ln(1 + sd²/mean²)`, `μ = ln mean − σ²/2`, so that the value has this mean and standard deviation; a negative mean mirrors the distribution (`−lognormal(−mean, sd)`) | 4 |
//! | `exponential(mean)` | `−mean · ln(1 − u)` | 2 |
//!
//! Draws are taken from the [`Draws`] cursor handed in, in the order the
//! distributions appear in the expression (left to right, arguments first).
//! Values are not clipped: `normal(10 ms, 5 ms)` can give a negative time
//! constant, so use `lognormal` for quantities that must stay positive.

use nmlc_compiler::abi::rng::Draws;
use nmlc_compiler::model::{
    BinaryOp, Builtin, Distribution, Expr, ExprKind, NeuronVar, UnaryOp, Var,
};
use nmlc_compiler::source::Span;

/// What a network value may refer to while it is evaluated for one neuron.
pub struct ValueScope<'a> {
    /// Network parameter values (internal scale), by index.
    pub network_params: &'a [f64],
    /// The neuron index `i` (in a projection: the presynaptic neuron).
    pub index: u32,
    /// The postsynaptic neuron index `j`, in projections.
    pub target_index: Option<u32>,
    /// The population size `N`.
    pub size: u32,
    /// The model's parameters for this neuron, for defaults that depend on
    /// other parameters (`None` where a parameter has no per-neuron value).
    pub model_params: &'a [Option<f64>],
    /// In a projection, the positions (x, y, z) of the presynaptic and the
    /// postsynaptic neuron, for `pre.x`, `post.y`, `dist(pre, post)`.
    pub positions: Option<([f64; 3], [f64; 3])>,
}

/// Why a network value could not be evaluated.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueError {
    /// It depends on something that is not fixed before the run (time,
    /// state, a parameter that changes with time).
    NotFixed {
        /// The part that is not fixed.
        span: Span,
    },
    /// A distribution with invalid arguments.
    BadDistribution {
        /// The distribution.
        span: Span,
        /// Its name.
        name: &'static str,
        /// What is wrong, in words (`the standard deviation is negative`).
        problem: &'static str,
    },
}

/// The value of `e` for one neuron, drawing from `draws` where `e` holds
/// distributions.
pub fn evaluate(e: &Expr, scope: &ValueScope, draws: &mut Draws) -> Result<f64, ValueError> {
    let not_fixed = || ValueError::NotFixed { span: e.span };
    Ok(match &e.kind {
        ExprKind::Const(v) => *v,
        ExprKind::Bool(b) => f64::from(u8::from(*b)),
        ExprKind::Var(Var::NetworkParam(k)) => *scope
            .network_params
            .get(*k as usize)
            .ok_or_else(not_fixed)?,
        ExprKind::Var(Var::Param(k)) => scope
            .model_params
            .get(*k as usize)
            .copied()
            .flatten()
            .ok_or_else(not_fixed)?,
        ExprKind::Var(Var::Pre(NeuronVar::Position(k))) => {
            scope.positions.ok_or_else(not_fixed)?.0[usize::from(*k)]
        }
        ExprKind::Var(Var::Post(NeuronVar::Position(k))) => {
            scope.positions.ok_or_else(not_fixed)?.1[usize::from(*k)]
        }
        ExprKind::Builtin(Builtin::Index) => f64::from(scope.index),
        ExprKind::Builtin(Builtin::TargetIndex) => {
            f64::from(scope.target_index.ok_or_else(not_fixed)?)
        }
        ExprKind::Builtin(Builtin::Size) => f64::from(scope.size),
        ExprKind::Unary(UnaryOp::Neg, x) => -evaluate(x, scope, draws)?,
        ExprKind::Unary(UnaryOp::Not, x) => f64::from(u8::from(evaluate(x, scope, draws)? == 0.0)),
        ExprKind::Binary(op, a, b) => {
            let a = evaluate(a, scope, draws)?;
            let b = evaluate(b, scope, draws)?;
            binary(*op, a, b)
        }
        ExprKind::Math(m, xs) => {
            let mut args = Vec::with_capacity(xs.len());
            for x in xs {
                args.push(evaluate(x, scope, draws)?);
            }
            nmlc_compiler::ir::interp::math(*m, &args)
        }
        ExprKind::If(c, a, b) => {
            // Both branches are evaluated so that the draws taken do not
            // depend on the condition.
            let c = evaluate(c, scope, draws)?;
            let a = evaluate(a, scope, draws)?;
            let b = evaluate(b, scope, draws)?;
            if c != 0.0 { a } else { b }
        }
        ExprKind::Distribution(d, args) => {
            let mut v = Vec::with_capacity(args.len());
            for x in args {
                v.push(evaluate(x, scope, draws)?);
            }
            draw(*d, &v, e.span, draws)?
        }
        _ => return Err(not_fixed()),
    })
}

/// Whether `e` draws random numbers.
pub fn has_distribution(e: &Expr) -> bool {
    any(e, &|k| matches!(k, ExprKind::Distribution(..)))
}

/// Whether `e` reads the simulation time `t`.
pub fn has_time(e: &Expr) -> bool {
    any(e, &|k| matches!(k, ExprKind::Builtin(Builtin::Time)))
}

/// Whether `e` reads the neuron index `i`.
pub fn has_index(e: &Expr) -> bool {
    any(e, &|k| matches!(k, ExprKind::Builtin(Builtin::Index)))
}

/// The model parameters `e` reads.
pub fn params_read(e: &Expr) -> Vec<u32> {
    vars_read(e, |v| match v {
        Var::Param(p) => Some(*p),
        _ => None,
    })
}

/// The network parameters `e` reads.
pub fn network_params_read(e: &Expr) -> Vec<u32> {
    vars_read(e, |v| match v {
        Var::NetworkParam(p) => Some(*p),
        _ => None,
    })
}

/// The indices `pick` finds in the variables `e` reads.
fn vars_read(e: &Expr, pick: impl Fn(&Var) -> Option<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    walk(e, &mut |k| {
        if let ExprKind::Var(v) = k {
            out.extend(pick(v));
        }
    });
    out
}

/// `e` with network parameters and `N` replaced by their values, for
/// expressions of `t` that the compiler inlines.
pub fn substitute_constants(e: &Expr, network_params: &[f64], size: u32) -> Expr {
    let kind = match &e.kind {
        ExprKind::Var(Var::NetworkParam(k)) => match network_params.get(*k as usize) {
            Some(v) => ExprKind::Const(*v),
            None => e.kind.clone(),
        },
        ExprKind::Builtin(Builtin::Size) => ExprKind::Const(f64::from(size)),
        ExprKind::Unary(op, x) => {
            ExprKind::Unary(*op, Box::new(substitute_constants(x, network_params, size)))
        }
        ExprKind::Binary(op, a, b) => ExprKind::Binary(
            *op,
            Box::new(substitute_constants(a, network_params, size)),
            Box::new(substitute_constants(b, network_params, size)),
        ),
        ExprKind::Math(m, xs) => ExprKind::Math(
            *m,
            xs.iter()
                .map(|x| substitute_constants(x, network_params, size))
                .collect(),
        ),
        ExprKind::If(c, a, b) => ExprKind::If(
            Box::new(substitute_constants(c, network_params, size)),
            Box::new(substitute_constants(a, network_params, size)),
            Box::new(substitute_constants(b, network_params, size)),
        ),
        other => other.clone(),
    };
    Expr {
        kind,
        ty: e.ty,
        span: e.span,
    }
}

fn any(e: &Expr, f: &dyn Fn(&ExprKind) -> bool) -> bool {
    let mut found = false;
    walk(e, &mut |k| found |= f(k));
    found
}

fn walk(e: &Expr, f: &mut dyn FnMut(&ExprKind)) {
    f(&e.kind);
    match &e.kind {
        ExprKind::Unary(_, x) => walk(x, f),
        ExprKind::Binary(_, a, b) => {
            walk(a, f);
            walk(b, f);
        }
        ExprKind::If(c, a, b) => {
            walk(c, f);
            walk(a, f);
            walk(b, f);
        }
        ExprKind::Math(_, xs) | ExprKind::Distribution(_, xs) | ExprKind::List(xs) => {
            for x in xs {
                walk(x, f);
            }
        }
        _ => {}
    }
}

fn binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    let truth = |x: bool| f64::from(u8::from(x));
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Rem => a - b * (a / b).floor(),
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Lt => truth(a < b),
        BinaryOp::Le => truth(a <= b),
        BinaryOp::Gt => truth(a > b),
        BinaryOp::Ge => truth(a >= b),
        BinaryOp::Eq => truth(a == b),
        BinaryOp::Ne => truth(a != b),
        BinaryOp::And => truth(a != 0.0 && b != 0.0),
        BinaryOp::Or => truth(a != 0.0 || b != 0.0),
    }
}

/// `a >= b`, false when either is NaN.
fn at_least(a: f64, b: f64) -> bool {
    a >= b
}

fn draw(d: Distribution, args: &[f64], span: Span, draws: &mut Draws) -> Result<f64, ValueError> {
    let bad = |name, problem| ValueError::BadDistribution {
        span,
        name,
        problem,
    };
    match (d, args) {
        (Distribution::Uniform, [low, high]) => {
            if !at_least(*high, *low) {
                return Err(bad("uniform", "the upper bound is below the lower bound"));
            }
            Ok(low + (high - low) * draws.uniform_f64())
        }
        (Distribution::Normal, [mean, sd]) => {
            if !at_least(*sd, 0.0) {
                return Err(bad("normal", "the standard deviation is negative"));
            }
            Ok(draws.normal(*mean, *sd))
        }
        (Distribution::LogNormal, [mean, sd]) => {
            if !at_least(*sd, 0.0) {
                return Err(bad("lognormal", "the standard deviation is negative"));
            }
            if *mean == 0.0 || !mean.is_finite() {
                return Err(bad("lognormal", "the mean must be a non-zero number"));
            }
            let m = mean.abs();
            let sigma2 = (1.0 + (sd / m).powi(2)).ln();
            let mu = m.ln() - sigma2 / 2.0;
            let z = draws.standard_normal();
            Ok(mean.signum() * (mu + sigma2.sqrt() * z).exp())
        }
        (Distribution::Exponential, [mean]) => {
            if !at_least(*mean, f64::MIN_POSITIVE) {
                return Err(bad("exponential", "the mean must be positive"));
            }
            Ok(draws.exponential(*mean))
        }
        _ => Err(ValueError::NotFixed { span }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nmlc_compiler::abi::rng::{Stream, StreamKind};
    use nmlc_compiler::model::Ty;
    use nmlc_compiler::units::Dim;

    fn c(v: f64) -> Expr {
        Expr {
            kind: ExprKind::Const(v),
            ty: Ty::Real(Dim::ONE),
            span: Span::new(nmlc_compiler::source::FileId(0), 0, 0),
        }
    }

    fn dist(d: Distribution, args: Vec<Expr>) -> Expr {
        Expr {
            kind: ExprKind::Distribution(d, args),
            ty: Ty::Real(Dim::ONE),
            span: Span::new(nmlc_compiler::source::FileId(0), 0, 0),
        }
    }

    fn sample(e: &Expr, n: u32) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let scope = ValueScope {
                    network_params: &[],
                    index: i,
                    target_index: None,
                    size: n,
                    model_params: &[],
                    positions: None,
                };
                let mut draws = Stream::new(1, StreamKind::Initialisation, 0, i).draws(0);
                evaluate(e, &scope, &mut draws).unwrap()
            })
            .collect()
    }

    fn mean_sd(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var.sqrt())
    }

    #[test]
    fn lognormal_has_the_mean_and_sd_of_the_value_itself() {
        // 20000 samples: the standard error of the mean is 2/sqrt(20000) ≈ 0.014.
        let v = sample(&dist(Distribution::LogNormal, vec![c(10.0), c(2.0)]), 20000);
        let (mean, sd) = mean_sd(&v);
        assert!((mean - 10.0).abs() < 0.06, "{mean}");
        assert!((sd - 2.0).abs() < 0.1, "{sd}");
        assert!(v.iter().all(|x| *x > 0.0));
    }

    #[test]
    fn uniform_stays_in_its_interval_and_normal_is_centred() {
        let u = sample(&dist(Distribution::Uniform, vec![c(-60.0), c(-50.0)]), 5000);
        assert!(u.iter().all(|x| (-60.0..-50.0).contains(x)));
        let n = sample(&dist(Distribution::Normal, vec![c(5.0), c(1.0)]), 20000);
        let (mean, sd) = mean_sd(&n);
        assert!(
            (mean - 5.0).abs() < 0.03 && (sd - 1.0).abs() < 0.03,
            "{mean} {sd}"
        );
        let e = sample(&dist(Distribution::Exponential, vec![c(3.0)]), 20000);
        assert!((mean_sd(&e).0 - 3.0).abs() < 0.1);
    }

    #[test]
    fn bad_arguments_are_reported() {
        let scope = ValueScope {
            network_params: &[],
            index: 0,
            target_index: None,
            size: 1,
            model_params: &[],
            positions: None,
        };
        let mut draws = Stream::new(1, StreamKind::Initialisation, 0, 0).draws(0);
        let e = dist(Distribution::Normal, vec![c(1.0), c(-1.0)]);
        assert!(matches!(
            evaluate(&e, &scope, &mut draws),
            Err(ValueError::BadDistribution { .. })
        ));
    }
}
