//! Checking kernels (`kernel g = …`), which `convolve` turns into ODE state.
//!
//! A kernel is either a function of `t` (the time since a spike) and
//! parameters, built from sums of `c · t^n · exp(-t / tau)` terms, or a linear
//! ODE in the kernel itself with initial values. Both forms have an exact
//! ODE equivalent, which is what the compiler integrates.

use super::expr::{ExprChecker, Flags, Names, Resolved, T};
use super::functions::FunctionTable;
use super::scope::Declared;
use super::units::resolve_unit;
use crate::diagnostics::{Diagnostics, catalog};
use crate::model::{BinaryOp, Builtin, Expr, ExprKind, Kernel, KernelForm, MathFn, UnaryOp, Var};
use crate::source::Span;
use crate::syntax::ast;
use crate::units::Dim;

/// A checked kernel and whether its dimension is known.
pub struct CheckedKernel {
    /// The kernel's name.
    pub name: String,
    /// The kernel.
    pub kernel: Kernel,
    /// Whether the dimension could be determined.
    pub dim_known: bool,
}

/// Names inside a kernel: the model's parameters and, in the ODE form, the
/// kernel and its derivatives (as `Var::State(k)` for the k-th derivative).
struct KernelNames<'s> {
    params: &'s [Declared],
    derivatives: Vec<(String, T)>,
    /// Names of the model's state and inputs: visible elsewhere, but a
    /// kernel may not depend on them.
    forbidden: &'s [String],
}

impl Names for KernelNames<'_> {
    fn resolve(&mut self, cx: &mut ExprChecker, name: &str, span: Span) -> Option<Resolved> {
        if self.forbidden.iter().any(|f| f == name)
            && !self.derivatives.iter().any(|(n, _)| n == name)
        {
            cx.diags.push(catalog::kernel_form(
                span,
                &format!("it may depend only on `t` and parameters, but `{name}` is a state variable or input of the model"),
            ));
            return Some(Resolved::Value(ExprKind::Const(0.0), T::Unknown));
        }
        if let Some(k) = self.params.iter().position(|p| p.name == name) {
            return Some(Resolved::Value(
                ExprKind::Var(Var::Param(k as u32)),
                self.params[k].t,
            ));
        }
        self.derivatives
            .iter()
            .position(|(n, _)| n == name)
            .map(|k| Resolved::Value(ExprKind::Var(Var::State(k as u32)), self.derivatives[k].1))
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
        let mut v: Vec<String> = self.params.iter().map(|p| p.name.clone()).collect();
        v.extend(self.derivatives.iter().map(|(n, _)| n.clone()));
        v
    }
}

/// Checks a `kernel` equation.
pub fn check_kernel(
    fns: &FunctionTable,
    params: &[Declared],
    forbidden: &[String],
    e: &ast::Equation,
    diags: &mut Diagnostics,
) -> CheckedKernel {
    let ast::Equation::Kernel {
        name,
        order,
        value,
        init,
        span,
    } = e
    else {
        unreachable!("check_kernel is called on kernels only")
    };
    let mut names = KernelNames {
        params,
        derivatives: Vec::new(),
        forbidden,
    };
    if *order == 0 {
        let flags = Flags {
            time: true,
            ..Flags::default()
        };
        let mut cx = ExprChecker::new(fns, diags, flags);
        let c = cx.expect_number(&mut names, value);
        if let Err(reason) = sum_of_exponentials(&c.expr) {
            diags.push(catalog::kernel_form(value.span, reason));
        }
        return CheckedKernel {
            name: name.name.clone(),
            dim_known: c.t != T::Unknown,
            kernel: Kernel {
                name: name.name.clone(),
                dim: c.t.dim().unwrap_or(Dim::ONE),
                form: KernelForm::Function(c.expr),
                span: *span,
            },
        };
    }
    // ODE form: initial values for g, g', …, g^(order-1).
    let mut dim: Option<Dim> = None;
    let mut init_values = Vec::new();
    for k in 0..*order {
        let wanted = format!("{}{}", name.name, "'".repeat(k as usize));
        let Some(d) = init
            .iter()
            .find(|d| d.name.name == name.name && d.order == k)
        else {
            diags.push(catalog::kernel_form(
                *span,
                &format!(
                    "it needs an initial value for `{wanted}` in `{{ … }}` after the equation"
                ),
            ));
            return unknown_kernel(name, *span);
        };
        let mut cx = ExprChecker::new(fns, diags, Flags::default());
        let c = match &d.value {
            Some(v) => cx.expect_number(&mut names, v),
            None => super::expr::Checked::error(d.span),
        };
        let declared = d
            .unit
            .as_ref()
            .and_then(|u| resolve_unit(u, diags))
            .map(|u| u.dim);
        let t = declared.or(c.t.dim());
        if k == 0 {
            dim = t;
        }
        init_values.push(c.expr);
        names
            .derivatives
            .push((wanted, t.map(T::Real).unwrap_or(T::Unknown)));
    }
    for d in init {
        if d.name.name != name.name || d.order >= *order {
            diags.push(catalog::unknown_name(
                d.name.span,
                &d.name.name,
                "kernel derivative",
                &[],
            ));
        }
    }
    let mut cx = ExprChecker::new(fns, diags, Flags::default());
    let c = cx.expect_number(&mut names, value);
    if let (Some(d), T::Real(found)) = (dim, c.t) {
        let expected = d.div(Dim::TIME.pow(*order as i32, 1).expect("integer power"));
        if found != expected {
            let var = format!("{}{}", name.name, "'".repeat(*order as usize - 1));
            let var_dim = d.div(Dim::TIME.pow(*order as i32 - 1, 1).expect("integer power"));
            diags.push(catalog::derivative_unit(
                value.span, &var, var_dim, found, name.span,
            ));
        }
    }
    if !linear_in_derivatives(&c.expr) {
        diags.push(catalog::kernel_form(
            value.span,
            "the equation must be linear in the kernel and its derivatives",
        ));
    }
    CheckedKernel {
        name: name.name.clone(),
        dim_known: dim.is_some(),
        kernel: Kernel {
            name: name.name.clone(),
            dim: dim.unwrap_or(Dim::ONE),
            form: KernelForm::Ode {
                rhs: c.expr,
                init: init_values,
            },
            span: *span,
        },
    }
}

fn unknown_kernel(name: &ast::Ident, span: Span) -> CheckedKernel {
    CheckedKernel {
        name: name.name.clone(),
        dim_known: false,
        kernel: Kernel {
            name: name.name.clone(),
            dim: Dim::ONE,
            form: KernelForm::Function(Expr {
                kind: ExprKind::Const(0.0),
                ty: crate::model::Ty::Real(Dim::ONE),
                span,
            }),
            span,
        },
    }
}

fn has_time(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => true,
        ExprKind::Unary(_, x) => has_time(x),
        ExprKind::Binary(_, a, b) => has_time(a) || has_time(b),
        ExprKind::If(c, a, b) => has_time(c) || has_time(a) || has_time(b),
        ExprKind::Math(_, xs) => xs.iter().any(has_time),
        _ => false,
    }
}

/// Accepts sums of products of constants, powers of `t` and `exp(a·t + b)`.
fn sum_of_exponentials(e: &Expr) -> Result<(), &'static str> {
    match &e.kind {
        ExprKind::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) => {
            sum_of_exponentials(a)?;
            sum_of_exponentials(b)
        }
        ExprKind::Unary(UnaryOp::Neg, x) => sum_of_exponentials(x),
        _ => product_term(e),
    }
}

fn product_term(e: &Expr) -> Result<(), &'static str> {
    if !has_time(e) {
        return Ok(());
    }
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => Ok(()),
        ExprKind::Binary(BinaryOp::Mul, a, b) => {
            product_term(a)?;
            product_term(b)
        }
        ExprKind::Binary(BinaryOp::Div, a, b) => {
            if has_time(b) {
                Err("`t` may not appear in a denominator")
            } else {
                product_term(a)
            }
        }
        ExprKind::Binary(BinaryOp::Pow, a, b) => {
            let whole = super::expr::const_value(b).is_some_and(|p| p >= 0.0 && p.fract() == 0.0);
            if matches!(a.kind, ExprKind::Builtin(Builtin::Time)) && whole {
                Ok(())
            } else {
                Err("powers of `t` must have whole, non-negative constant exponents")
            }
        }
        ExprKind::Unary(UnaryOp::Neg, x) => product_term(x),
        ExprKind::Math(MathFn::Exp, xs) if linear_in_time(&xs[0]) => Ok(()),
        ExprKind::Math(MathFn::Exp, _) => Err("the argument of `exp` must be linear in `t`"),
        ExprKind::Binary(BinaryOp::Add | BinaryOp::Sub, ..) => sum_of_exponentials(e),
        _ => Err("it must be a sum of terms `c * t^n * exp(-t / tau)`"),
    }
}

fn linear_in_time(e: &Expr) -> bool {
    if !has_time(e) {
        return true;
    }
    match &e.kind {
        ExprKind::Builtin(Builtin::Time) => true,
        ExprKind::Unary(UnaryOp::Neg, x) => linear_in_time(x),
        ExprKind::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) => {
            linear_in_time(a) && linear_in_time(b)
        }
        ExprKind::Binary(BinaryOp::Mul, a, b) => {
            (linear_in_time(a) && !has_time(b)) || (!has_time(a) && linear_in_time(b))
        }
        ExprKind::Binary(BinaryOp::Div, a, b) => linear_in_time(a) && !has_time(b),
        _ => false,
    }
}

fn has_state(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Var(Var::State(_)) => true,
        ExprKind::Unary(_, x) => has_state(x),
        ExprKind::Binary(_, a, b) => has_state(a) || has_state(b),
        ExprKind::If(c, a, b) => has_state(c) || has_state(a) || has_state(b),
        ExprKind::Math(_, xs) => xs.iter().any(has_state),
        _ => false,
    }
}

fn linear_in_derivatives(e: &Expr) -> bool {
    if !has_state(e) {
        return true;
    }
    match &e.kind {
        ExprKind::Var(Var::State(_)) => true,
        ExprKind::Unary(UnaryOp::Neg, x) => linear_in_derivatives(x),
        ExprKind::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) => {
            linear_in_derivatives(a) && linear_in_derivatives(b)
        }
        ExprKind::Binary(BinaryOp::Mul, a, b) => {
            (linear_in_derivatives(a) && !has_state(b))
                || (!has_state(a) && linear_in_derivatives(b))
        }
        ExprKind::Binary(BinaryOp::Div, a, b) => linear_in_derivatives(a) && !has_state(b),
        _ => false,
    }
}
