//! Small statistics for honest scores: the Wilson score interval of a proportion and McNemar's
//! test for two classifiers scored on the same tasks, and (in submodules) the calibration of
//! prediction scores and prediction-powered estimates. Plain functions, no I/O.

pub mod calibration;
pub mod ppi;

/// The two-sided 95% normal quantile, z = Φ⁻¹(0.975).
pub const Z95: f64 = 1.959_963_984_540_054;

/// Below this many discordant pairs McNemar's test uses the exact binomial distribution; from
/// it on, the continuity-corrected chi-square approximation (its usual threshold, 25).
pub const EXACT_BELOW: u64 = 25;

/// The Wilson score interval of `successes` out of `n` at normal quantile `z` (use [`Z95`] for
/// 95%): with p̂ = k/n,
///
/// center = (p̂ + z²/2n) / (1 + z²/n), half-width = z·√(p̂(1−p̂)/n + z²/4n²) / (1 + z²/n),
///
/// clamped to [0, 1]. Unlike p̂ ± z·√(p̂(1−p̂)/n) it stays inside [0, 1] and is not empty at
/// p̂ = 0 or 1. `None` when `n` is 0 (or `successes` > `n`).
pub fn wilson(successes: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 || successes > n {
        return None;
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At p̂ = 0 (or 1) the bound is exactly 0 (or 1); rounding would miss it by an ulp.
    let low = if successes == 0 {
        0.0
    } else {
        (center - half).max(0.0)
    };
    let high = if p >= 1.0 {
        1.0
    } else {
        (center + half).min(1.0)
    };
    Some((low, high))
}

/// The complementary error function, erfc(x) = 1 − erf(x), with a fractional error below
/// 1.2·10⁻⁷ everywhere (the Chebyshev fit of Numerical Recipes' `erfcc`).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// P(X > x) for a chi-square variable with one degree of freedom: erfc(√(x/2)).
pub fn chi2_sf_1(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    erfc((x / 2.0).sqrt()).clamp(0.0, 1.0)
}

/// The two-sided exact binomial p-value of `k` successes out of `n` at p = ½:
/// min(1, 2·Σ_{i ≤ min(k, n−k)} C(n, i)/2ⁿ).
pub fn binomial_two_sided(k: u64, n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let tail = k.min(n - k);
    // C(n, i)/2ⁿ built up in floating point: exact enough for the n below EXACT_BELOW (and
    // well behaved far beyond, since each term is formed as a ratio of the previous one).
    let mut term = 0.5f64.powi(i32::try_from(n).unwrap_or(i32::MAX));
    let mut sum = term;
    for i in 0..tail {
        term *= (n - i) as f64 / (i + 1) as f64;
        sum += term;
    }
    (2.0 * sum).min(1.0)
}

/// McNemar's test on paired outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct McNemar {
    /// Pairs where only the first classifier is right.
    pub b: u64,
    /// Pairs where only the second is right.
    pub c: u64,
    /// `exact_binomial` (b + c < [`EXACT_BELOW`]) or `chi_square_continuity_corrected`.
    pub method: &'static str,
    /// The chi-square statistic (max(|b − c| − 1, 0)² / (b + c)), for the chi-square method.
    pub statistic: Option<f64>,
    /// The two-sided p-value of "both classifiers are right as often".
    pub p_value: f64,
}

/// McNemar's test of `b` (only the first right) against `c` (only the second right)
/// discordant pairs: the exact two-sided binomial test of b out of b + c at ½ when
/// b + c < [`EXACT_BELOW`], else the continuity-corrected chi-square
/// χ² = max(|b − c| − 1, 0)² / (b + c) with one degree of freedom. No discordant pair gives
/// p = 1.
pub fn mcnemar(b: u64, c: u64) -> McNemar {
    let n = b + c;
    if n < EXACT_BELOW {
        return McNemar {
            b,
            c,
            method: "exact_binomial",
            statistic: None,
            p_value: binomial_two_sided(b, n),
        };
    }
    let diff = (b.abs_diff(c) as f64 - 1.0).max(0.0);
    let statistic = diff * diff / n as f64;
    McNemar {
        b,
        c,
        method: "chi_square_continuity_corrected",
        statistic: Some(statistic),
        p_value: chi2_sf_1(statistic),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn wilson_known_values() {
        // 8/10 at 95%: (0.4902, 0.9433), as tabulated (e.g. R's prop.test without correction).
        let (lo, hi) = wilson(8, 10, Z95).unwrap();
        assert!(close(lo, 0.490_16, 1e-4), "{lo}");
        assert!(close(hi, 0.943_32, 1e-4), "{hi}");
        // The ends stay inside [0, 1] and are not empty.
        let (lo, hi) = wilson(0, 10, Z95).unwrap();
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.277_53, 1e-4), "{hi}");
        let (lo, hi) = wilson(10, 10, Z95).unwrap();
        assert!(close(lo, 0.722_47, 1e-4), "{lo}");
        assert_eq!(hi, 1.0);
        // 1/2: symmetric around ½.
        let (lo, hi) = wilson(1, 2, Z95).unwrap();
        assert!(close(lo + hi, 1.0, 1e-12));
        // Narrows with n.
        let (lo1, hi1) = wilson(50, 100, Z95).unwrap();
        let (lo2, hi2) = wilson(500, 1000, Z95).unwrap();
        assert!(hi2 - lo2 < hi1 - lo1);
        assert!(close(lo1, 0.403_83, 1e-4), "{lo1}");
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(wilson(3, 2, Z95), None);
    }

    #[test]
    fn erfc_and_chi_square() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
        assert!(close(erfc(3.0), 2.209_049_7e-5, 1e-9));
        // The 95% critical value of χ²(1) is 3.841459 = 1.959964².
        assert!(close(chi2_sf_1(3.841_459), 0.05, 1e-6));
        assert!(close(chi2_sf_1(6.634_897), 0.01, 1e-6));
        assert_eq!(chi2_sf_1(0.0), 1.0);
    }

    #[test]
    fn exact_binomial() {
        // 1 of 9: 2·(1 + 9)/512.
        assert!(close(binomial_two_sided(1, 9), 20.0 / 512.0, 1e-12));
        assert!(close(binomial_two_sided(8, 9), 20.0 / 512.0, 1e-12));
        // 0 of 5: 2/32.
        assert!(close(binomial_two_sided(0, 5), 0.0625, 1e-12));
        // Balanced: capped at 1.
        assert_eq!(binomial_two_sided(2, 4), 1.0);
        assert_eq!(binomial_two_sided(0, 0), 1.0);
        // 3 of 20: 2·(1 + 20 + 190 + 1140)/2²⁰.
        assert!(close(
            binomial_two_sided(3, 20),
            2.0 * 1351.0 / 1_048_576.0,
            1e-12
        ));
    }

    #[test]
    fn mcnemar_switches_method_at_25() {
        let m = mcnemar(1, 8);
        assert_eq!(m.method, "exact_binomial");
        assert_eq!(m.statistic, None);
        assert!(close(m.p_value, 20.0 / 512.0, 1e-12));
        assert_eq!((m.b, m.c), (1, 8));
        let m = mcnemar(0, 0);
        assert_eq!(m.p_value, 1.0);
        // 10 vs 25: χ² = (15 − 1)²/35 = 5.6, p = 0.01797.
        let m = mcnemar(10, 25);
        assert_eq!(m.method, "chi_square_continuity_corrected");
        assert!(close(m.statistic.unwrap(), 5.6, 1e-12));
        assert!(close(m.p_value, 0.017_96, 1e-4), "{}", m.p_value);
        // Equal counts: χ² = 0, p = 1.
        let m = mcnemar(20, 20);
        assert_eq!(m.statistic, Some(0.0));
        assert_eq!(m.p_value, 1.0);
        // 24 discordant pairs still exact; symmetric in b and c.
        assert_eq!(mcnemar(4, 20).method, "exact_binomial");
        assert!(close(mcnemar(4, 20).p_value, mcnemar(20, 4).p_value, 1e-15));
    }
}
