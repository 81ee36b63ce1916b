//! `exprel` emitted inline as two-lane (`f64x2`) code, without calls.
//!
//! It performs, lane by lane, exactly the IEEE operations of its
//! scalar definition in [`crate::ir::exprel`] (same operations, same order, no
//! fused multiply-add), with the scalar code's branches turned into
//! selects over both sides, so every lane is bit-identical to the
//! interpreter's result. Inline, the `exprel`s of a step kernel overlap in
//! the out-of-order core instead of waiting for each other, and the kernel
//! that advances two neurons at once ([`super::pairs`]) gets both lanes
//! for the price of one. (Measured: the scalar kernel is faster calling
//! the Rust function than running this code on one lane, and the
//! two-neuron kernel is faster calling libm's `exp` lane by lane than
//! with an inline polynomial `exp`, so `exp` stays libm's everywhere.)

use crate::ir::exprel as reference;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::FunctionBuilder;

/// Two-lane code for one math function.
pub(super) struct Lanes<'a, 'f> {
    pub b: &'a mut FunctionBuilder<'f>,
}

impl Lanes<'_, '_> {
    fn splat(&mut self, c: f64) -> Value {
        let s = self.b.ins().f64const(c);
        self.b.ins().splat(types::F64X2, s)
    }

    fn ints(&mut self, x: Value) -> Value {
        self.b.ins().bitcast(types::I64X2, MemFlagsData::new(), x)
    }

    fn reals(&mut self, x: Value) -> Value {
        self.b.ins().bitcast(types::F64X2, MemFlagsData::new(), x)
    }

    /// `c ? x : y` lane by lane, `c` a lane mask from `fcmp`.
    fn select(&mut self, c: Value, x: Value, y: Value) -> Value {
        let c = self.reals(c);
        self.b.ins().bitselect(c, x, y)
    }

    fn add(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fadd(x, y)
    }

    fn sub(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fsub(x, y)
    }

    fn mul(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fmul(x, y)
    }

    /// `x·c`, as the scalar code's `x * C`.
    fn mul_c(&mut self, x: Value, c: f64) -> Value {
        let c = self.splat(c);
        self.mul(x, c)
    }

    /// The Taylor polynomial of `exprel` by Estrin's scheme
    /// ([`reference::taylor`]).
    fn taylor(&mut self, r: Value) -> Value {
        let e = reference::E;
        let r2 = self.mul(r, r);
        let r4 = self.mul(r2, r2);
        let r8 = self.mul(r4, r4);
        let p = |j: usize, s: &mut Self| {
            let hi = s.mul_c(r, e[j + 1]);
            let lo = s.splat(e[j]);
            s.add(lo, hi)
        };
        let (p0, p2, p4, p6, p8, p10) = (
            p(0, self),
            p(2, self),
            p(4, self),
            p(6, self),
            p(8, self),
            p(10, self),
        );
        let t = self.mul(p2, r2);
        let q0 = self.add(p0, t);
        let t = self.mul(p6, r2);
        let q1 = self.add(p4, t);
        let t = self.mul(p10, r2);
        let q2 = self.add(p8, t);
        let t = self.mul(q1, r4);
        let s0 = self.add(q0, t);
        let e12 = self.splat(e[12]);
        let t = self.mul(e12, r4);
        let s1 = self.add(q2, t);
        let t = self.mul(s1, r8);
        self.add(s0, t)
    }

    /// `2^e` for integer lanes `e` (as `i64`) whose result is normal.
    fn scale(&mut self, e: Value) -> Value {
        let bias = self.b.ins().iconst(types::I64, 1023);
        let bias = self.b.ins().splat(types::I64X2, bias);
        let biased = self.b.ins().iadd(e, bias);
        let bits = self.b.ins().ishl_imm_u(biased, 52);
        self.reals(bits)
    }

    /// [`reference::exprel`]'s clamp and reduction: the clamped `xc`, `t =
    /// xc/ln2 + ROUND` (whose bits hold k) and `kf = k` as a float.
    fn reduce(&mut self, x: Value) -> (Value, Value, Value) {
        // Clamp (NaN passes both tests unchanged).
        let hi = self.splat(710.0);
        let over = self.b.ins().fcmp(FloatCC::GreaterThan, x, hi);
        let xc = self.select(over, hi, x);
        let lo = self.splat(-746.0);
        let under = self.b.ins().fcmp(FloatCC::LessThan, xc, lo);
        let xc = self.select(under, lo, xc);
        let t = self.mul_c(xc, reference::INV_LN2);
        let round = self.splat(reference::ROUND);
        let t = self.add(t, round);
        let kf = self.sub(t, round);
        (xc, t, kf)
    }

    /// `r = xc - k·ln2` and the two halves `2^k1`, `2^k2` of `2^k`: the
    /// rounding constant's bits hold k in their low part, so `bits(t) -
    /// bits(ROUND)` is k as an integer.
    fn split(&mut self, xc: Value, t: Value, kf: Value) -> (Value, Value, Value) {
        let round = self.splat(reference::ROUND);
        let t_bits = self.ints(t);
        let round_bits = self.ints(round);
        let k = self.b.ins().isub(t_bits, round_bits);
        let a = self.mul_c(kf, reference::LN2_HI);
        let r = self.sub(xc, a);
        let a = self.mul_c(kf, reference::LN2_LO);
        let r = self.sub(r, a);
        let k1 = self.b.ins().sshr_imm_u(k, 1);
        let k2 = self.b.ins().isub(k, k1);
        let (s1, s2) = (self.scale(k1), self.scale(k2));
        (r, s1, s2)
    }

    /// [`reference::exprel`] on both lanes of `x`.
    ///
    /// Where both lanes have `k = 0` (|x| ≤ ln2/2, the usual argument of an
    /// exponential-Euler step) the polynomial is the result, and a branch
    /// skips the range reduction and the division, whose latency would
    /// otherwise lie on every caller's critical path.
    pub fn exprel(&mut self, x: Value) -> Value {
        let (xc, t, kf) = self.reduce(x);
        let zero = self.splat(0.0);
        let central = self.b.ins().fcmp(FloatCC::Equal, kf, zero);
        let all_central = self.b.ins().vall_true(central);
        let (near, far, merge) = (
            self.b.create_block(),
            self.b.create_block(),
            self.b.create_block(),
        );
        self.b.append_block_param(merge, types::F64X2);
        self.b.ins().brif(all_central, near, &[], far, &[]);

        // k = 0 in both lanes: r = x exactly.
        self.b.switch_to_block(near);
        let p = self.taylor(x);
        self.b.ins().jump(merge, &[p.into()]);

        self.b.switch_to_block(far);
        let (r, s1, s2) = self.split(xc, t, kf);
        let p = self.taylor(r);
        let re = self.mul(r, p);
        // k ≤ 64: (2^k - 1) + 2^k·r·E(r).
        let one = self.splat(1.0);
        let s = self.mul(s1, s2);
        let near_one = self.sub(s, one);
        let tail = self.mul(s1, re);
        let tail = self.mul(tail, s2);
        let small_k = self.add(near_one, tail);
        // k > 64: (1 + r·E(r))·2^k - 1.
        let big = self.add(one, re);
        let big = self.mul(big, s1);
        let big = self.mul(big, s2);
        let big_k = self.sub(big, one);
        let limit = self.splat(64.0);
        let is_small = self.b.ins().fcmp(FloatCC::LessThanOrEqual, kf, limit);
        let em1 = self.select(is_small, small_k, big_k);
        let quotient = self.b.ins().fdiv(em1, x);
        // k = 0: the polynomial itself; x = +inf: +inf.
        let y = self.select(central, p, quotient);
        let inf = self.splat(f64::INFINITY);
        let is_inf = self.b.ins().fcmp(FloatCC::Equal, x, inf);
        let y = self.select(is_inf, x, y);
        self.b.ins().jump(merge, &[y.into()]);

        self.b.switch_to_block(merge);
        self.b.block_params(merge)[0]
    }
}
