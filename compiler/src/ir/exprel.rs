//! `exprel(x) = (exp(x) - 1) / x`, the function of exponential-Euler
//! updates and of Hodgkin–Huxley rate functions, as nmlc's own code:
//! arithmetic that the JIT's two-neuron kernel emits inline, where libm's
//! `expm1` and a division would cost about 12 ns a call on x86-64 glibc
//! (half of a COBAHH step).
//!
//! One range reduction and one polynomial serve both sides of the
//! removable singularity. With `x = k·ln2 + r`, `|r| ≤ ln2/2`, and
//! `E(r) = Σ_{j=0}^{12} r^j/(j+1)!` (the Taylor polynomial of exprel,
//! truncated where the next term is below 2^-55 of the result), evaluated
//! by Estrin's scheme (short dependency chains, no division):
//!
//! - `k = 0` (|x| ≤ ln2/2): `r = x` exactly and `exprel(x) = E(x)`: no
//!   cancellation and no singularity at 0;
//! - `k ≠ 0`: `exp(x) - 1 = (2^k - 1) + 2^k·r·E(r)`, with `2^k` applied
//!   in two exact halves (so subnormal results round once), and
//!   `exprel(x) = (exp(x) - 1)/x`.
//!
//! Rounding to the nearest integer uses the `1.5·2^52` addition trick,
//! which needs no SSE4.1 `roundsd` (a libm call in a baseline x86-64
//! build). Measured against glibc's `expm1(x)/x`: within 4 ulp over
//! [-750, 750] (see the tests). Every backend computes this function
//! with exactly these operations (the JIT's inline two-lane code repeats
//! them, `backend::cranelift::vmath`), so results do not depend on the
//! backend.

pub(crate) const INV_LN2: f64 = std::f64::consts::LOG2_E;
/// ln2 split so that `k·LN2_HI` is exact for |k| < 2^20 (fdlibm's
/// `ln2HI` and `ln2LO`, 6.93147180369123816490e-01 and
/// 1.90821492927058770002e-10).
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
pub(crate) const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// Adding and subtracting it rounds to the nearest integer (ties to even)
/// any |v| < 2^51.
pub(crate) const ROUND: f64 = 6_755_399_441_055_744.0;
/// `1/(j+1)!` for j = 0..=12.
pub(crate) const E: [f64; 13] = [
    1.0,
    0.5,
    0.166_666_666_666_666_66,
    0.041_666_666_666_666_664,
    0.008_333_333_333_333_333,
    0.001_388_888_888_888_889,
    0.000_198_412_698_412_698_4,
    2.480_158_730_158_73e-5,
    2.755_731_922_398_589_3e-6,
    2.755_731_922_398_589e-7,
    2.505_210_838_544_172e-8,
    2.087_675_698_786_81e-9,
    1.605_904_383_682_161_3e-10,
];

/// `E(r)` by Estrin's scheme.
pub(crate) fn taylor(r: f64) -> f64 {
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let p = |j: usize| E[j] + E[j + 1] * r;
    let q0 = p(0) + p(2) * r2;
    let q1 = p(4) + p(6) * r2;
    let q2 = p(8) + p(10) * r2;
    let s0 = q0 + q1 * r4;
    let s1 = q2 + E[12] * r4;
    s0 + s1 * r8
}

/// `x` clamped to [-746, 710] (beyond, `exp` is 0 or inf anyway; NaN
/// passes) and `k = round(x/ln2)` of the clamped value, as a float.
fn reduce(x: f64) -> (f64, f64) {
    let xc = if x > 710.0 { 710.0 } else { x };
    let xc = if xc < -746.0 { -746.0 } else { xc };
    (xc, (xc * INV_LN2 + ROUND) - ROUND)
}

/// `2^k1` and `2^k2` with `k1 + k2 = k`, each a normal number for the
/// `k` of a clamped argument.
fn halves(kf: f64) -> (f64, f64) {
    let k = kf as i32;
    let k1 = k >> 1;
    let k2 = k - k1;
    let scale = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    (scale(k1), scale(k2))
}

/// `(exp(x) - 1)/x`, 1 at 0; `+inf` at `+inf`, 0 at `-inf`, NaN at NaN.
pub fn exprel(x: f64) -> f64 {
    // Beyond the clamp, exp(x) overflows to inf or underflows to 0
    // anyway; clamping keeps k small.
    let (xc, kf) = reduce(x);
    if kf == 0.0 {
        return taylor(x);
    }
    if x == f64::INFINITY {
        return x;
    }
    let r = (xc - kf * LN2_HI) - kf * LN2_LO;
    // exp(x) - 1 = 2^k·(1 + r·E(r)) - 1 = (2^k - 1) + 2^k·r·E(r): 2^k - 1
    // is exact for the k where it matters, so only r·E(r) carries error.
    // 2^k is applied as two factors 2^k1·2^k2, each a normal number.
    let (s1, s2) = halves(kf);
    let re = r * taylor(r);
    let em1 = if kf <= 64.0 {
        (s1 * s2 - 1.0) + s1 * re * s2
    } else {
        // 2^k alone may overflow while exp(x) does not; nothing cancels.
        (1.0 + re) * s1 * s2 - 1.0
    };
    em1 / x
}

#[cfg(test)]
mod tests {
    use super::exprel;

    /// Distance in units of the last place of `want`.
    fn ulps(got: f64, want: f64) -> f64 {
        if got == want {
            return 0.0;
        }
        let a = want.abs().max(f64::MIN_POSITIVE);
        let ulp = f64::from_bits(a.to_bits() + 1) - a;
        ((got - want) / ulp).abs()
    }

    fn reference(x: f64) -> f64 {
        if x == 0.0 { 1.0 } else { x.exp_m1() / x }
    }

    #[test]
    fn within_four_ulp_of_libm_everywhere() {
        // glibc's expm1 is within 1 ulp, and the division adds ½: the
        // reference itself is within 1.5 ulp of the exact value.
        let mut s: u64 = 0x2545_F491_4F6C_DD1D;
        let mut worst = (0.0, 0.0);
        for i in 0..2_000_000u64 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 4 {
                0 => -750.0 + 1500.0 * u,
                1 => -3.0 + 6.0 * u,
                2 => -0.4 + 0.8 * u,
                _ => (u - 0.5) * 1e-6,
            };
            let e = ulps(exprel(x), reference(x));
            if e > worst.0 {
                worst = (e, x);
            }
        }
        eprintln!("worst: {} ulp at x = {}", worst.0, worst.1);
        assert!(worst.0 <= 4.0, "{} ulp at x = {}", worst.0, worst.1);
    }

    #[test]
    fn special_values() {
        assert_eq!(exprel(0.0), 1.0);
        assert_eq!(exprel(-0.0), 1.0);
        assert_eq!(exprel(5e-324), 1.0);
        assert_eq!(exprel(f64::INFINITY), f64::INFINITY);
        assert_eq!(exprel(f64::NEG_INFINITY), 0.0);
        assert!(exprel(f64::NAN).is_nan());
        assert_eq!(exprel(710.0), f64::INFINITY);
        assert_eq!(exprel(-800.0), 1.0 / 800.0);
        // Across the branch point ln2/2 the two formulas agree.
        let b = std::f64::consts::LN_2 / 2.0;
        for x in [b - 1e-12, b + 1e-12, -b - 1e-12, -b + 1e-12] {
            assert!(ulps(exprel(x), reference(x)) <= 4.0, "{x}");
        }
    }
}
