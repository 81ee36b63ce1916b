//! The instructions of [`crate::backend::exprs::Lower`]'s primitives that
//! the scalar and the two-neuron kernels emit alike: Cranelift's integer,
//! float and comparison instructions take one value or a vector of lanes
//! the same way.

use crate::ir::{BinaryOp, MathFn, RandomFn};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;

/// The primitives of [`crate::backend::exprs::Lower`] whose instructions
/// are the same for one value and for two lanes, for the `impl Lower` of a
/// generator with fields `b: FunctionBuilder`, `cache: ExprCache<Val>`
/// and `single: bool`.
macro_rules! same_for_lanes {
    () => {
        fn cache(&mut self) -> &mut ExprCache<Val> {
            &mut self.cache
        }

        fn single(&self) -> bool {
            self.single
        }

        fn int_cmp(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
            ops::int_cmp(&mut self.b, op, x, y)
        }

        fn and(&mut self, x: Value, y: Value) -> Value {
            self.b.ins().band(x, y)
        }

        fn or(&mut self, x: Value, y: Value) -> Value {
            self.b.ins().bor(x, y)
        }

        fn truth_eq(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
            ops::truth_eq(&mut self.b, op, x, y)
        }

        fn fneg(&mut self, x: Value) -> Value {
            self.b.ins().fneg(x)
        }

        fn fcmp(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
            ops::fcmp(&mut self.b, op, x, y)
        }

        fn is_nan(&mut self, x: Value) -> Value {
            ops::is_nan(&mut self.b, x)
        }

        fn native(&mut self, m: MathFn, x: Value) -> Value {
            ops::native(&mut self.b, m, x)
        }
    };
}
pub(super) use same_for_lanes;

/// `Add`, `Sub` or `Mul` of integers (wrapping at the values' width).
pub(super) fn int_arith(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    match op {
        BinaryOp::Add => b.ins().iadd(x, y),
        BinaryOp::Sub => b.ins().isub(x, y),
        _ => b.ins().imul(x, y),
    }
}

/// A comparison of integers, signed.
pub(super) fn int_cmp(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    let cc = int_cc(op).expect("a comparison");
    b.ins().icmp(cc, x, y)
}

/// `Eq` or `Ne` of truth values.
pub(super) fn truth_eq(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    let cc = if op == BinaryOp::Eq {
        IntCC::Equal
    } else {
        IntCC::NotEqual
    };
    b.ins().icmp(cc, x, y)
}

/// `Add`, `Sub`, `Mul` or `Div` of reals.
pub(super) fn farith(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    match op {
        BinaryOp::Add => b.ins().fadd(x, y),
        BinaryOp::Sub => b.ins().fsub(x, y),
        BinaryOp::Mul => b.ins().fmul(x, y),
        _ => b.ins().fdiv(x, y),
    }
}

/// A comparison of reals as Rust's operators make it.
pub(super) fn fcmp(b: &mut FunctionBuilder, op: BinaryOp, x: Value, y: Value) -> Value {
    let cc = float_cc(op).expect("a comparison");
    b.ins().fcmp(cc, x, y)
}

/// Whether `x` is NaN.
pub(super) fn is_nan(b: &mut FunctionBuilder, x: Value) -> Value {
    b.ins().fcmp(FloatCC::Unordered, x, x)
}

/// `Sqrt`, `Abs`, `Floor` or `Ceil`.
pub(super) fn native(b: &mut FunctionBuilder, m: MathFn, x: Value) -> Value {
    match m {
        MathFn::Sqrt => b.ins().sqrt(x),
        MathFn::Abs => b.ins().fabs(x),
        MathFn::Floor => b.ins().floor(x),
        _ => b.ins().ceil(x),
    }
}

/// The parameters of `abi::nmlc_random` (`math::RANDOM_SYMBOL`): seed,
/// population, neuron, step, draw, whether normal.
pub(super) const RANDOM_PARAMS: [types::Type; 6] = [
    types::I64,
    types::I32,
    types::I32,
    types::I64,
    types::I32,
    types::I32,
];

/// The last two arguments of a random draw: its number and whether it is
/// normal.
pub(super) fn draw_args(b: &mut FunctionBuilder, kind: RandomFn, draw: u32) -> (Value, Value) {
    let draw = b.ins().iconst(types::I32, i64::from(draw));
    let normal = b
        .ins()
        .iconst(types::I32, i64::from(kind == RandomFn::Normal));
    (draw, normal)
}

/// The integer comparison of a comparison operator.
pub(super) fn int_cc(op: BinaryOp) -> Option<IntCC> {
    match op {
        BinaryOp::Lt => Some(IntCC::SignedLessThan),
        BinaryOp::Le => Some(IntCC::SignedLessThanOrEqual),
        BinaryOp::Gt => Some(IntCC::SignedGreaterThan),
        BinaryOp::Ge => Some(IntCC::SignedGreaterThanOrEqual),
        BinaryOp::Eq => Some(IntCC::Equal),
        BinaryOp::Ne => Some(IntCC::NotEqual),
        _ => None,
    }
}

/// The float comparison of a comparison operator: ordered, except `!=`,
/// which is true for NaN (Rust's `==` and `!=`).
pub(super) fn float_cc(op: BinaryOp) -> Option<FloatCC> {
    match op {
        BinaryOp::Lt => Some(FloatCC::LessThan),
        BinaryOp::Le => Some(FloatCC::LessThanOrEqual),
        BinaryOp::Gt => Some(FloatCC::GreaterThan),
        BinaryOp::Ge => Some(FloatCC::GreaterThanOrEqual),
        BinaryOp::Eq => Some(FloatCC::Equal),
        BinaryOp::Ne => Some(FloatCC::NotEqual),
        _ => None,
    }
}
