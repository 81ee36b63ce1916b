//! The built-in functions and how each treats units.

use crate::model::{Distribution, MathFn, RandomFn};

/// How a built-in function's result unit follows from its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitRule {
    /// Arguments must be dimensionless; so is the result (`exp`, `sin`).
    Dimensionless,
    /// Any argument; dimensionless result (`sign`, `heaviside`).
    AnyToDimensionless,
    /// All arguments share one dimension, which the result has (`abs`, `min`).
    Same,
    /// Both arguments share a dimension; dimensionless result (`atan2`).
    SameToDimensionless,
    /// Half the exponents (`sqrt`).
    Sqrt,
    /// As the `^` operator (`pow`).
    Power,
}

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// A mathematical function.
    Math(MathFn, UnitRule),
    /// `rand()` or `randn()`.
    Random(RandomFn),
    /// A build-time distribution.
    Distribution(Distribution),
    /// `dist(pre, post)`.
    Distance,
}

impl Builtin {
    /// The smallest and largest number of arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Builtin::Random(_) => (0, 0),
            Builtin::Distance => (2, 2),
            Builtin::Distribution(Distribution::Exponential) => (1, 1),
            Builtin::Distribution(_) => (2, 2),
            Builtin::Math(m, _) => match m {
                MathFn::Min | MathFn::Max | MathFn::Atan2 | MathFn::Pow => (2, 2),
                MathFn::Clip => (3, 3),
                _ => (1, 1),
            },
        }
    }
}

const TABLE: &[(&str, Builtin)] = &[
    ("exp", Builtin::Math(MathFn::Exp, UnitRule::Dimensionless)),
    (
        "expm1",
        Builtin::Math(MathFn::Expm1, UnitRule::Dimensionless),
    ),
    ("log", Builtin::Math(MathFn::Log, UnitRule::Dimensionless)),
    ("ln", Builtin::Math(MathFn::Log, UnitRule::Dimensionless)),
    (
        "log10",
        Builtin::Math(MathFn::Log10, UnitRule::Dimensionless),
    ),
    ("log2", Builtin::Math(MathFn::Log2, UnitRule::Dimensionless)),
    (
        "log1p",
        Builtin::Math(MathFn::Log1p, UnitRule::Dimensionless),
    ),
    ("sqrt", Builtin::Math(MathFn::Sqrt, UnitRule::Sqrt)),
    ("sin", Builtin::Math(MathFn::Sin, UnitRule::Dimensionless)),
    ("cos", Builtin::Math(MathFn::Cos, UnitRule::Dimensionless)),
    ("tan", Builtin::Math(MathFn::Tan, UnitRule::Dimensionless)),
    ("tanh", Builtin::Math(MathFn::Tanh, UnitRule::Dimensionless)),
    ("sinh", Builtin::Math(MathFn::Sinh, UnitRule::Dimensionless)),
    ("cosh", Builtin::Math(MathFn::Cosh, UnitRule::Dimensionless)),
    ("asin", Builtin::Math(MathFn::Asin, UnitRule::Dimensionless)),
    ("acos", Builtin::Math(MathFn::Acos, UnitRule::Dimensionless)),
    ("atan", Builtin::Math(MathFn::Atan, UnitRule::Dimensionless)),
    (
        "atan2",
        Builtin::Math(MathFn::Atan2, UnitRule::SameToDimensionless),
    ),
    ("abs", Builtin::Math(MathFn::Abs, UnitRule::Same)),
    (
        "floor",
        Builtin::Math(MathFn::Floor, UnitRule::Dimensionless),
    ),
    ("ceil", Builtin::Math(MathFn::Ceil, UnitRule::Dimensionless)),
    (
        "round",
        Builtin::Math(MathFn::Round, UnitRule::Dimensionless),
    ),
    ("min", Builtin::Math(MathFn::Min, UnitRule::Same)),
    ("max", Builtin::Math(MathFn::Max, UnitRule::Same)),
    ("clip", Builtin::Math(MathFn::Clip, UnitRule::Same)),
    (
        "sign",
        Builtin::Math(MathFn::Sign, UnitRule::AnyToDimensionless),
    ),
    (
        "heaviside",
        Builtin::Math(MathFn::Heaviside, UnitRule::AnyToDimensionless),
    ),
    (
        "exprel",
        Builtin::Math(MathFn::Exprel, UnitRule::Dimensionless),
    ),
    ("pow", Builtin::Math(MathFn::Pow, UnitRule::Power)),
    ("rand", Builtin::Random(RandomFn::Uniform)),
    ("randn", Builtin::Random(RandomFn::Normal)),
    ("uniform", Builtin::Distribution(Distribution::Uniform)),
    ("normal", Builtin::Distribution(Distribution::Normal)),
    ("lognormal", Builtin::Distribution(Distribution::LogNormal)),
    (
        "exponential",
        Builtin::Distribution(Distribution::Exponential),
    ),
    ("dist", Builtin::Distance),
];

/// The built-in function with this name.
pub fn lookup(name: &str) -> Option<Builtin> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// Names of all built-in functions (and `convolve`).
pub const FUNCTION_NAMES: &[&str] = &[
    "exp",
    "expm1",
    "log",
    "ln",
    "log10",
    "log2",
    "log1p",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sinh",
    "cosh",
    "asin",
    "acos",
    "atan",
    "atan2",
    "abs",
    "floor",
    "ceil",
    "round",
    "min",
    "max",
    "clip",
    "sign",
    "heaviside",
    "exprel",
    "pow",
    "rand",
    "randn",
    "uniform",
    "normal",
    "lognormal",
    "exponential",
    "dist",
    "convolve",
];

/// Built-in names that are values.
pub const CONSTANT_NAMES: &[&str] = &["t", "dt", "i", "j", "N", "pi", "e", "xi"];

/// Names of the connection rules (for a helpful message when one is called
/// outside `rule = …`).
pub const RULE_NAMES: &[&str] = &[
    "all_to_all",
    "one_to_one",
    "fixed_probability",
    "fixed_indegree",
    "fixed_outdegree",
    "fixed_total",
    "probability",
    "from_file",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_is_listed_by_name() {
        for (name, _) in TABLE {
            assert!(FUNCTION_NAMES.contains(name), "{name}");
        }
    }
}
