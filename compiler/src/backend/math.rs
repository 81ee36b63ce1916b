//! Math functions in native kernels (Cranelift's and LLVM's): which are
//! native instructions, which are calls, and the symbols the calls resolve
//! to.
//!
//! The calls go to `extern "C"` wrappers of the `f64` methods that
//! [`crate::ir::interp::math`] uses, so the JIT and the interpreter compute
//! every transcendental function with the same library code (in an optimised
//! build each wrapper is a jump to the libm function of the same name).
//! `exprel` is nmlc's own function ([`crate::ir::exprel`]): the scalar
//! kernel calls it, the several-neuron kernels have it inline.

use crate::ir::MathFn;

/// The symbol of [`crate::abi::nmlc_random`].
pub(crate) const RANDOM_SYMBOL: &str = "nmlc_random";

/// How a math function is lowered.
pub(crate) enum Lowering {
    /// A call to an imported function of `arity` `f64` arguments.
    Call {
        /// The symbol (registered by [`symbols`]).
        symbol: &'static str,
        /// Number of arguments.
        arity: usize,
    },
    /// Native instructions (each generator's `math`).
    Inline,
}

/// The lowering of each math function.
pub(crate) fn lowering(m: MathFn) -> Lowering {
    let call = |symbol, arity| Lowering::Call { symbol, arity };
    match m {
        MathFn::Exp => call("exp", 1),
        MathFn::Exprel => call("nmlc_exprel", 1),
        MathFn::Expm1 => call("expm1", 1),
        MathFn::Log => call("log", 1),
        MathFn::Log10 => call("log10", 1),
        MathFn::Log2 => call("log2", 1),
        MathFn::Log1p => call("log1p", 1),
        MathFn::Sin => call("sin", 1),
        MathFn::Cos => call("cos", 1),
        MathFn::Tan => call("tan", 1),
        MathFn::Tanh => call("tanh", 1),
        MathFn::Sinh => call("sinh", 1),
        MathFn::Cosh => call("cosh", 1),
        MathFn::Asin => call("asin", 1),
        MathFn::Acos => call("acos", 1),
        MathFn::Atan => call("atan", 1),
        MathFn::Atan2 => call("atan2", 2),
        MathFn::Pow => call("pow", 2),
        MathFn::Sqrt
        | MathFn::Abs
        | MathFn::Floor
        | MathFn::Ceil
        | MathFn::Round
        | MathFn::Min
        | MathFn::Max
        | MathFn::Clip
        | MathFn::Sign
        | MathFn::Heaviside => Lowering::Inline,
    }
}

/// The symbol `Rem`'s sibling `Pow` (the `^` operator) calls.
pub(crate) const POW: &str = "pow";

extern "C" fn expm1(x: f64) -> f64 {
    x.exp_m1()
}
extern "C" fn log(x: f64) -> f64 {
    x.ln()
}
extern "C" fn log10(x: f64) -> f64 {
    x.log10()
}
extern "C" fn log2(x: f64) -> f64 {
    x.log2()
}
extern "C" fn log1p(x: f64) -> f64 {
    x.ln_1p()
}
extern "C" fn sin(x: f64) -> f64 {
    x.sin()
}
extern "C" fn cos(x: f64) -> f64 {
    x.cos()
}
extern "C" fn tan(x: f64) -> f64 {
    x.tan()
}
extern "C" fn tanh(x: f64) -> f64 {
    x.tanh()
}
extern "C" fn sinh(x: f64) -> f64 {
    x.sinh()
}
extern "C" fn cosh(x: f64) -> f64 {
    x.cosh()
}
extern "C" fn asin(x: f64) -> f64 {
    x.asin()
}
extern "C" fn acos(x: f64) -> f64 {
    x.acos()
}
extern "C" fn atan(x: f64) -> f64 {
    x.atan()
}
extern "C" fn atan2(y: f64, x: f64) -> f64 {
    y.atan2(x)
}
extern "C" fn pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

extern "C" fn exp(x: f64) -> f64 {
    x.exp()
}
extern "C" fn nmlc_exprel(x: f64) -> f64 {
    crate::ir::exprel::exprel(x)
}

/// Every symbol the generated code may import, with its address. Each is
/// listed explicitly: nothing is looked up in the process by name.
pub(crate) fn symbols() -> [(&'static str, *const u8); 18] {
    type Unary = extern "C" fn(f64) -> f64;
    type Binary = extern "C" fn(f64, f64) -> f64;
    let unary = |f: Unary| f as *const u8;
    let binary = |f: Binary| f as *const u8;
    [
        ("exp", unary(exp)),
        ("nmlc_exprel", unary(nmlc_exprel)),
        ("expm1", unary(expm1)),
        ("log", unary(log)),
        ("log10", unary(log10)),
        ("log2", unary(log2)),
        ("log1p", unary(log1p)),
        ("sin", unary(sin)),
        ("cos", unary(cos)),
        ("tan", unary(tan)),
        ("tanh", unary(tanh)),
        ("sinh", unary(sinh)),
        ("cosh", unary(cosh)),
        ("asin", unary(asin)),
        ("acos", unary(acos)),
        ("atan", unary(atan)),
        ("atan2", binary(atan2)),
        ("pow", binary(pow)),
    ]
}
