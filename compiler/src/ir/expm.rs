//! Matrix exponentials for exact integration of linear ODEs.
//!
//! For `x' = A x + r` with `r` constant over a step, the exact update is
//! `x(t+dt) = Φ x(t) + Γ r` with `Φ = expm(A dt)` and `Γ = ∫₀^dt expm(A s) ds`.
//! Both come from one exponential of the augmented matrix
//! `[[A, I], [0, 0]] · dt`, whose top blocks are `[Φ, Γ]` (Van Loan 1978),
//! so singular `A` (a pure integrator) needs no special case.
//!
//! The exponential uses the diagonal Padé approximant of degree 6 with
//! scaling and squaring (Moler & Van Loan 2003, method 3): the matrix is
//! scaled by 2^-s until its ∞-norm is at most 1/2, where the approximant's
//! relative error is below 1e-16, and the result squared s times.

/// `(Φ, Γ)` for the n×n matrix `a` (row-major) and step `dt`.
pub fn propagator(a: &[f64], n: usize, dt: f64) -> (Vec<f64>, Vec<f64>) {
    let m = 2 * n;
    let mut aug = vec![0.0; m * m];
    for i in 0..n {
        for j in 0..n {
            aug[i * m + j] = a[i * n + j] * dt;
        }
        aug[i * m + n + i] = dt;
    }
    let e = expm(&aug, m);
    let mut phi = vec![0.0; n * n];
    let mut gamma = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            phi[i * n + j] = e[i * m + j];
            gamma[i * n + j] = e[i * m + n + j];
        }
    }
    (phi, gamma)
}

/// The matrix exponential of the n×n row-major matrix `a`.
pub fn expm(a: &[f64], n: usize) -> Vec<f64> {
    let norm = (0..n)
        .map(|i| (0..n).map(|j| a[i * n + j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let mut s = 0;
    if norm > 0.5 && norm.is_finite() {
        s = (norm / 0.5).log2().ceil() as i32;
    }
    let scale = 0.5f64.powi(s);
    let x: Vec<f64> = a.iter().map(|v| v * scale).collect();
    const Q: usize = 6;
    let mut c = 1.0;
    let mut num = identity(n);
    let mut den = identity(n);
    let mut power = identity(n);
    for k in 1..=Q {
        c *= (Q - k + 1) as f64 / (k * (2 * Q - k + 1)) as f64;
        power = matmul(&power, &x, n);
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        for i in 0..n * n {
            num[i] += c * power[i];
            den[i] += sign * c * power[i];
        }
    }
    let mut f = solve(&den, &num, n);
    for _ in 0..s {
        f = matmul(&f, &f, n);
    }
    f
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// Solves `d · X = b` by Gaussian elimination with partial pivoting.
/// `d` is the Padé denominator, which is well conditioned for ‖x‖ ≤ 1/2.
fn solve(d: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut a = d.to_vec();
    let mut x = b.to_vec();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))
            .unwrap_or(col);
        if pivot != col {
            for j in 0..n {
                a.swap(col * n + j, pivot * n + j);
                x.swap(col * n + j, pivot * n + j);
            }
        }
        let p = a[col * n + col];
        for row in col + 1..n {
            let f = a[row * n + col] / p;
            if f == 0.0 {
                continue;
            }
            for j in 0..n {
                a[row * n + j] -= f * a[col * n + j];
                x[row * n + j] -= f * x[col * n + j];
            }
        }
    }
    for col in (0..n).rev() {
        let p = a[col * n + col];
        for j in 0..n {
            x[col * n + j] /= p;
        }
        for row in 0..col {
            let f = a[row * n + col];
            for j in 0..n {
                x[row * n + j] -= f * x[col * n + j];
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_decay_matches_exp() {
        for a in [-0.1, -1.0, -50.0, 3.0] {
            let (phi, gamma) = propagator(&[a], 1, 0.1);
            let exact = (a * 0.1f64).exp();
            assert!(
                (phi[0] - exact).abs() <= 1e-14 * exact.abs().max(1.0),
                "{a}"
            );
            let integral = (exact - 1.0) / a;
            assert!((gamma[0] - integral).abs() <= 1e-14 * integral.abs(), "{a}");
        }
    }

    #[test]
    fn singular_matrix_integrates() {
        let (phi, gamma) = propagator(&[0.0], 1, 0.25);
        assert_eq!(phi[0], 1.0);
        assert!((gamma[0] - 0.25).abs() < 1e-16);
    }

    #[test]
    fn coupled_alpha_system() {
        // x' = -x/tau + y, y' = -y/tau: x(t) = t e^{-t/tau} for x0 = 0, y0 = 1.
        let tau = 2.0;
        let a = [-1.0 / tau, 1.0, 0.0, -1.0 / tau];
        let (phi, _) = propagator(&a, 2, 0.3);
        let expected = 0.3 * (-0.3f64 / tau).exp();
        assert!((phi[1] - expected).abs() < 1e-15);
        assert!((phi[0] - (-0.3f64 / tau).exp()).abs() < 1e-15);
        assert_eq!(phi[2], 0.0);
    }
}
