//! Non-uniform variates built from a [`Draws`] cursor.
//!
//! Each method states how many 32-bit words it consumes, because a backend that
//! wants the same numbers must consume the same words in the same order. None of
//! them keeps state between calls: Box-Muller returns both of its normals instead of
//! caching the second, so the `i`-th call always sees the same words.

use super::Draws;

/// Below this mean, Poisson variates come from inverting the CDF; at and above it,
/// from Hörmann's PTRS, which needs a mean of at least 10.
const POISSON_INVERSION_LIMIT: f64 = 10.0;

/// Inversion stops after this many terms: for means below 10 the CDF is then 1 to
/// the last bit, so the cap only guards against a loop that rounding could make
/// endless.
const POISSON_INVERSION_MAX_TERMS: u64 = 1000;

impl Draws {
    /// Two independent standard normal variates by the Box-Muller transform;
    /// consumes four words (two uniforms).
    ///
    /// With `u1` in (0, 1] and `u2` in [0, 1): `r = sqrt(-2 ln u1)`,
    /// `(r cos 2πu2, r sin 2πu2)`. Box and Muller (1958), Ann. Math. Statist. 29(2),
    /// DOI 10.1214/aoms/1177706645.
    pub fn standard_normal_pair(&mut self) -> [f64; 2] {
        // 1 - u keeps the logarithm's argument away from zero.
        let u1 = 1.0 - self.uniform_f64();
        let u2 = self.uniform_f64();
        let radius = (-2.0 * u1.ln()).sqrt();
        let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
        [radius * cos, radius * sin]
    }

    /// One standard normal variate: the first of [`Draws::standard_normal_pair`]; the
    /// second is discarded, so this too consumes four words.
    pub fn standard_normal(&mut self) -> f64 {
        self.standard_normal_pair()[0]
    }

    /// A normal variate with `mean` and standard deviation `sd`; consumes four words.
    pub fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        mean + sd * self.standard_normal()
    }

    /// An exponential variate with mean 1, `-ln(1 - u)`; consumes two words.
    pub fn standard_exponential(&mut self) -> f64 {
        -(1.0 - self.uniform_f64()).ln()
    }

    /// An exponential variate with the given `mean` (1 / rate); consumes two words.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        mean * self.standard_exponential()
    }

    /// A Poisson variate with the given `mean`; 0 for a mean that is not positive
    /// (NaN included).
    ///
    /// Below a mean of 10: inversion of the CDF with one uniform (two words),
    /// summing the probabilities upwards from `exp(-mean)`. From 10 on: PTRS, the
    /// transformed rejection method with squeeze of Hörmann (1993), "The transformed
    /// rejection method for generating Poisson random variables", Insurance:
    /// Mathematics and Economics 12(1), DOI 10.1016/0167-6687(93)90997-4. Each try
    /// consumes four words (two uniforms) and about 1.1 tries are needed on average
    /// whatever the mean, so the cost does not grow with the mean.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean.is_nan() || mean <= 0.0 {
            0
        } else if mean < POISSON_INVERSION_LIMIT {
            self.poisson_by_inversion(mean)
        } else {
            self.poisson_by_ptrs(mean)
        }
    }

    fn poisson_by_inversion(&mut self, mean: f64) -> u64 {
        let u = self.uniform_f64();
        let mut count = 0;
        let mut probability = (-mean).exp();
        let mut cdf = probability;
        while cdf <= u && count < POISSON_INVERSION_MAX_TERMS {
            count += 1;
            probability *= mean / count as f64;
            cdf += probability;
        }
        count
    }

    fn poisson_by_ptrs(&mut self, mean: f64) -> u64 {
        // Constants of the hat function, from Hörmann's paper (table 1).
        let log_mean = mean.ln();
        let b = 0.931 + 2.53 * mean.sqrt();
        let a = -0.059 + 0.02483 * b;
        let inverse_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform_f64() - 0.5;
            let v = self.uniform_f64();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
            // The squeeze: most tries are accepted here without a logarithm.
            if us >= 0.07 && v <= v_r {
                return k as u64;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            let log_hat = v.ln() + inverse_alpha.ln() - (a / (us * us) + b).ln();
            if log_hat <= -mean + k * log_mean - log_factorial(k as u64) {
                return k as u64;
            }
        }
    }

    /// The number of failures before the next success in Bernoulli trials of
    /// probability `p`, `floor(ln(1 - u) / ln(1 - p))`; consumes two words.
    ///
    /// Jumping from success to success this way is how fixed-probability
    /// connectivity visits only the synapses that exist instead of every pair.
    /// `p >= 1` gives 0; `p <= 0` (or NaN) gives `u64::MAX`, "never".
    pub fn geometric_failures(&mut self, p: f64) -> u64 {
        if p >= 1.0 {
            return 0;
        }
        if p.is_nan() || p <= 0.0 {
            return u64::MAX;
        }
        let u = self.uniform_f64();
        // ln_1p keeps ln(1 - p) accurate for the small p of sparse connectivity.
        // The float-to-int cast saturates, which is the right answer for huge gaps.
        ((-u).ln_1p() / (-p).ln_1p()).floor() as u64
    }

    /// A binomial variate: successes in `n` Bernoulli trials of probability `p`
    /// (clamped to [0, 1]; NaN counts as 0).
    ///
    /// Counts the geometric gaps between successes ([`Draws::geometric_failures`])
    /// with `min(p, 1 - p)` and reflects for `p > 1/2`, so it consumes two words per
    /// success of the rarer outcome plus two: about `2 (n min(p, 1-p) + 1)` words.
    /// That is exact, and its cost is what drawing the synapses themselves costs.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if p.is_nan() || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if p > 0.5 {
            return n - self.binomial_by_gaps(n, 1.0 - p);
        }
        self.binomial_by_gaps(n, p)
    }

    fn binomial_by_gaps(&mut self, n: u64, p: f64) -> u64 {
        let mut successes = 0;
        // `trials` counts the trials used up to and including the latest success.
        let mut trials: u64 = 0;
        loop {
            let gap = self.geometric_failures(p);
            trials = trials.saturating_add(gap).saturating_add(1);
            if trials > n {
                return successes;
            }
            successes += 1;
        }
    }
}

/// `ln(k!)`: exact summation up to 10!, Stirling's series for `ln Γ(k + 1)`
/// beyond, where its error is below 1e-12.
pub fn log_factorial(k: u64) -> f64 {
    if k < 10 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64 + 1.0;
    let x2 = x * x;
    // ln Γ(x) = (x - 1/2) ln x - x + ln(2π)/2 + 1/(12x) - 1/(360x³) + 1/(1260x⁵) - 1/(1680x⁷)
    let series = (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x;
    (x - 0.5) * x.ln() - x + 0.5 * std::f64::consts::TAU.ln() + series
}

#[cfg(test)]
mod tests {
    use super::super::tests::mean_and_variance;
    use super::*;
    use crate::abi::rng::{Stream, StreamKind};

    fn draws(neuron: u32) -> Draws {
        Stream::new(1234, StreamKind::Noise, 7, neuron).draws(0)
    }

    /// Over 1e6 normals the standard error of the mean is 1e-3 and of the variance
    /// sqrt(2 / n) ≈ 1.42e-3; we allow 5 of each.
    #[test]
    fn normal_mean_and_variance_are_within_five_sigma() {
        let mut draws = draws(0);
        let samples: Vec<f64> = (0..500_000)
            .flat_map(|_| draws.standard_normal_pair())
            .collect();
        let (mean, variance) = mean_and_variance(&samples);
        assert!(mean.abs() < 5.0 * 1.0e-3, "mean {mean}");
        assert!(
            (variance - 1.0).abs() < 5.0 * 1.42e-3,
            "variance {variance}"
        );
    }

    /// Exponential(1): the mean's standard error is 1e-3 over 1e6 draws, the
    /// variance's sqrt((μ4 - σ⁴) / n) = sqrt(8 / n) ≈ 2.83e-3; 5 of each.
    #[test]
    fn exponential_mean_and_variance_are_within_five_sigma() {
        let mut draws = draws(1);
        let samples: Vec<f64> = (0..1_000_000)
            .map(|_| draws.standard_exponential())
            .collect();
        let (mean, variance) = mean_and_variance(&samples);
        assert!((mean - 1.0).abs() < 5.0 * 1.0e-3, "mean {mean}");
        assert!(
            (variance - 1.0).abs() < 5.0 * 2.83e-3,
            "variance {variance}"
        );
    }

    /// Poisson(λ) over n draws: the mean's standard error is sqrt(λ / n), the
    /// variance's sqrt((λ + 2λ²) / n) (from μ4 = λ + 3λ²); 5 of each. The means
    /// cover both methods and the switch between them.
    #[test]
    fn poisson_mean_and_variance_are_within_five_sigma() {
        let n = 200_000;
        for (neuron, mean) in [
            (0, 0.05),
            (1, 3.0),
            (2, 9.9),
            (3, 10.0),
            (4, 57.0),
            (5, 1.0e4),
        ] {
            let mut draws = draws(neuron);
            let samples: Vec<f64> = (0..n).map(|_| draws.poisson(mean) as f64).collect();
            let (sample_mean, variance) = mean_and_variance(&samples);
            let n = n as f64;
            let mean_tolerance = 5.0 * (mean / n).sqrt();
            let variance_tolerance = 5.0 * ((mean + 2.0 * mean * mean) / n).sqrt();
            assert!(
                (sample_mean - mean).abs() < mean_tolerance,
                "λ {mean}: mean {sample_mean}"
            );
            assert!(
                (variance - mean).abs() < variance_tolerance,
                "λ {mean}: var {variance}"
            );
        }
    }

    /// The frequency of each count near the mode must match the Poisson pmf within
    /// 5 binomial standard errors, sqrt(p (1 - p) / n): a check of PTRS's shape, not
    /// only of its first two moments.
    #[test]
    fn ptrs_frequencies_match_the_poisson_pmf() {
        let (mean, n) = (30.0_f64, 400_000);
        let mut draws = draws(6);
        let mut counts = [0u32; 80];
        for _ in 0..n {
            let k = draws.poisson(mean) as usize;
            if let Some(count) = counts.get_mut(k) {
                *count += 1;
            }
        }
        for k in 15..46u64 {
            let pmf = (-mean + k as f64 * mean.ln() - log_factorial(k)).exp();
            let frequency = f64::from(counts[k as usize]) / f64::from(n);
            let tolerance = 5.0 * (pmf * (1.0 - pmf) / f64::from(n)).sqrt();
            assert!(
                (frequency - pmf).abs() < tolerance,
                "k {k}: {frequency} vs {pmf}"
            );
        }
    }

    #[test]
    fn degenerate_parameters_give_the_obvious_answers() {
        let mut draws = draws(7);
        assert_eq!(draws.poisson(0.0), 0);
        assert_eq!(draws.poisson(-1.0), 0);
        assert_eq!(draws.poisson(f64::NAN), 0);
        assert_eq!(draws.binomial(100, 0.0), 0);
        assert_eq!(draws.binomial(100, f64::NAN), 0);
        assert_eq!(draws.binomial(100, 1.0), 100);
        assert_eq!(draws.binomial(0, 0.5), 0);
        assert_eq!(draws.geometric_failures(1.0), 0);
        assert_eq!(draws.geometric_failures(0.0), u64::MAX);
    }

    /// Binomial(n, p) over 100 000 draws: the mean's standard error is
    /// sqrt(np(1-p) / n_draws), the variance's about sqrt(2) σ² / sqrt(n_draws)
    /// (normal approximation, good for np(1-p) ≥ 10); 5 of each.
    #[test]
    fn binomial_mean_and_variance_are_within_five_sigma() {
        let draws_count = 100_000;
        for (neuron, n, p) in [(10, 1000u64, 0.1), (11, 1000, 0.9), (12, 50, 0.5)] {
            let mut draws = draws(neuron);
            let samples: Vec<f64> = (0..draws_count)
                .map(|_| draws.binomial(n, p) as f64)
                .collect();
            let (mean, variance) = mean_and_variance(&samples);
            let expected_variance = n as f64 * p * (1.0 - p);
            let mean_tolerance = 5.0 * (expected_variance / draws_count as f64).sqrt();
            let variance_tolerance =
                5.0 * std::f64::consts::SQRT_2 * expected_variance / (draws_count as f64).sqrt();
            assert!(
                (mean - n as f64 * p).abs() < mean_tolerance,
                "n {n} p {p}: mean {mean}"
            );
            assert!(
                (variance - expected_variance).abs() < variance_tolerance,
                "n {n} p {p}: variance {variance}"
            );
        }
    }

    #[test]
    fn log_factorial_matches_summation() {
        let mut exact = 0.0_f64;
        for k in 1..=300u64 {
            exact += (k as f64).ln();
            let error = (log_factorial(k) - exact).abs() / exact.max(1.0);
            assert!(error < 1e-12, "k {k}: {} vs {exact}", log_factorial(k));
        }
        assert_eq!(log_factorial(0), 0.0);
    }
}
