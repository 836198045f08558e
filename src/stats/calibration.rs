//! Calibration of prediction scores against ground truth: the reliability table and expected
//! calibration error, exact binomial bounds, the accuracy above each score threshold, the lowest
//! threshold whose accepted predictions meet a target with a guarantee, and an isotonic
//! calibration map. Plain functions over (score, correct) pairs.

/// A scored prediction with ground truth: its score and whether it was right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// The prediction's score, 0 to 1.
    pub score: f64,
    /// Whether the task was predicted right.
    pub correct: bool,
}

/// One bin of the reliability table.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bin {
    /// Scores from (inclusive).
    pub from: f64,
    /// Scores to (exclusive; the last bin includes 1).
    pub to: f64,
    /// Predictions in the bin.
    pub predictions: u64,
    /// Their mean score (`None` for an empty bin).
    pub mean_score: Option<f64>,
    /// Their accuracy (`None` for an empty bin).
    pub accuracy: Option<f64>,
}

/// The reliability table: `bins` equal-width score bins with the mean score and the observed
/// accuracy of the predictions in each.
pub fn reliability(pairs: &[Pair], bins: usize) -> Vec<Bin> {
    let bins = bins.max(1);
    let mut sums = vec![(0u64, 0.0f64, 0u64); bins];
    for p in pairs {
        let i = ((p.score.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[i].0 += 1;
        sums[i].1 += p.score;
        sums[i].2 += u64::from(p.correct);
    }
    sums.iter()
        .enumerate()
        .map(|(i, (n, score, correct))| Bin {
            from: i as f64 / bins as f64,
            to: (i + 1) as f64 / bins as f64,
            predictions: *n,
            mean_score: (*n > 0).then(|| score / *n as f64),
            accuracy: (*n > 0).then(|| *correct as f64 / *n as f64),
        })
        .collect()
}

/// The expected calibration error of a reliability table: Σ (nᵦ/n)·|accuracyᵦ − mean scoreᵦ|;
/// `None` without predictions.
pub fn ece(table: &[Bin]) -> Option<f64> {
    let n: u64 = table.iter().map(|b| b.predictions).sum();
    (n > 0).then(|| {
        table
            .iter()
            .filter_map(|b| Some(b.predictions as f64 * (b.accuracy? - b.mean_score?).abs()))
            .sum::<f64>()
            / n as f64
    })
}

/// ln P(X ≤ k) for X ~ Binomial(n, p), summed in log space (no underflow at large n).
fn ln_binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return f64::NEG_INFINITY;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut term = n as f64 * lq;
    let mut total = term;
    for i in 0..k {
        term += ((n - i) as f64).ln() - ((i + 1) as f64).ln() + lp - lq;
        let (hi, lo) = if total > term {
            (total, term)
        } else {
            (term, total)
        };
        total = hi + (lo - hi).exp().ln_1p();
    }
    total.min(0.0)
}

/// The exact (Clopper–Pearson) one-sided upper bound on a proportion of which `k` out of `n`
/// were seen: the largest p with P(X ≤ k | p) ≥ δ, so the true proportion is below it with
/// confidence 1 − δ. 1 when `n` is 0.
pub fn upper_bound(k: u64, n: u64, delta: f64) -> f64 {
    if n == 0 || k >= n {
        return 1.0;
    }
    let target = delta.clamp(1e-12, 1.0).ln();
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if ln_binomial_cdf(k, n, mid) >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The exact one-sided lower bound: 1 − the upper bound on the complement.
pub fn lower_bound(k: u64, n: u64, delta: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    1.0 - upper_bound(n - k.min(n), n, delta)
}

/// One threshold's row: the labeled predictions scoring at least it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ThresholdRow {
    /// The threshold.
    pub threshold: f64,
    /// Labeled predictions at or above it.
    pub accepted: u64,
    /// Their share of the labeled predictions.
    pub coverage: f64,
    /// Their accuracy (`None` when none is).
    pub accuracy: Option<f64>,
    /// The exact two-sided 95% interval of that accuracy.
    pub low: Option<f64>,
    /// Its upper end.
    pub high: Option<f64>,
}

/// The accuracy above each of `thresholds` (with exact 95% intervals).
pub fn threshold_table(pairs: &[Pair], thresholds: &[f64]) -> Vec<ThresholdRow> {
    let n = pairs.len() as u64;
    thresholds
        .iter()
        .map(|&t| {
            let accepted: Vec<&Pair> = pairs.iter().filter(|p| p.score >= t).collect();
            let m = accepted.len() as u64;
            let right = accepted.iter().filter(|p| p.correct).count() as u64;
            ThresholdRow {
                threshold: t,
                accepted: m,
                coverage: if n > 0 { m as f64 / n as f64 } else { 0.0 },
                accuracy: (m > 0).then(|| right as f64 / m as f64),
                low: (m > 0).then(|| lower_bound(right, m, 0.025)),
                high: (m > 0).then(|| 1.0 - lower_bound(m - right, m, 0.025)),
            }
        })
        .collect()
}

/// The threshold that accepts predictions with a guarantee.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Acceptance {
    /// Accept predictions scoring at least this.
    pub threshold: f64,
    /// Labeled predictions it accepts.
    pub accepted: u64,
    /// Of them, wrong.
    pub wrong: u64,
    /// The share of labeled predictions it accepts.
    pub coverage: f64,
    /// The accuracy of the accepted predictions that holds with the asked confidence (the exact
    /// lower bound).
    pub guaranteed_accuracy: f64,
}

/// The lowest score threshold whose accepted labeled predictions have accuracy at least
/// `target` with confidence `confidence`, by fixed-sequence testing (Learn then Test): the
/// candidate thresholds (the distinct scores) are tested from the highest down, each by the
/// exact binomial bound at level 1 − `confidence`, and testing stops at the first that fails,
/// so the guarantee holds for the one chosen though many were looked at. Thresholds accepting
/// fewer predictions than the target could ever be shown with (fewer than ln δ / ln target, even
/// all right) are skipped rather than failed: which they are depends on the scores alone, not on
/// whether the predictions were right, so the sequence stays fixed given the scores. `None` when
/// the first tested fails (too few labels, or the model not good enough).
pub fn acceptance(pairs: &[Pair], target: f64, confidence: f64) -> Option<Acceptance> {
    let delta = (1.0 - confidence).clamp(1e-9, 0.5);
    let mut sorted: Vec<&Pair> = pairs.iter().collect();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let n = pairs.len() as u64;
    let fewest = if target <= 0.0 {
        1
    } else if target >= 1.0 {
        u64::MAX
    } else {
        (delta.ln() / target.ln()).ceil() as u64
    };
    let mut best = None;
    let mut wrong = 0u64;
    let mut i = 0;
    while i < sorted.len() {
        let score = sorted[i].score;
        // Every prediction with this score is accepted together.
        while i < sorted.len() && sorted[i].score == score {
            wrong += u64::from(!sorted[i].correct);
            i += 1;
        }
        let accepted = i as u64;
        if accepted < fewest {
            continue;
        }
        let guaranteed = 1.0 - upper_bound(wrong, accepted, delta);
        if guaranteed < target {
            break;
        }
        best = Some(Acceptance {
            threshold: score,
            accepted,
            wrong,
            coverage: accepted as f64 / n as f64,
            guaranteed_accuracy: guaranteed,
        });
    }
    best
}

/// An isotonic calibration map: scores to observed accuracy, non-decreasing, fitted by pool
/// adjacent violators. Each knot is (score, calibrated); between knots the map is linear, and
/// outside them flat.
pub fn isotonic(pairs: &[Pair]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<&Pair> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    // Blocks of (sum of scores, sum of outcomes, count).
    let mut blocks: Vec<(f64, f64, f64)> = vec![];
    for p in sorted {
        blocks.push((p.score, f64::from(u8::from(p.correct)), 1.0));
        while blocks.len() > 1 {
            let (s2, y2, n2) = blocks[blocks.len() - 1];
            let (s1, y1, n1) = blocks[blocks.len() - 2];
            if y1 / n1 <= y2 / n2 {
                break;
            }
            blocks.pop();
            if let Some(last) = blocks.last_mut() {
                *last = (s1 + s2, y1 + y2, n1 + n2);
            }
        }
    }
    blocks.iter().map(|(s, y, n)| (s / n, y / n)).collect()
}

/// A score through an isotonic map (linear between its knots, flat outside); the score itself
/// when the map is empty.
pub fn apply_isotonic(map: &[(f64, f64)], score: f64) -> f64 {
    let (Some(first), Some(last)) = (map.first(), map.last()) else {
        return score;
    };
    if score <= first.0 {
        return first.1;
    }
    if score >= last.0 {
        return last.1;
    }
    for w in map.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if score <= x1 {
            let t = if x1 > x0 {
                (score - x0) / (x1 - x0)
            } else {
                1.0
            };
            return y0 + t * (y1 - y0);
        }
    }
    last.1
}

/// A map from raw scores to calibrated ones.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum CalibrationMap {
    /// Isotonic regression: knots of (score, observed accuracy), linear between them.
    Isotonic {
        /// The knots, `[score, accuracy]`, scores ascending.
        #[schema(value_type = Vec<Vec<f64>>)]
        knots: Vec<(f64, f64)>,
    },
    /// Temperature scaling: σ(logit(score) / temperature).
    Temperature {
        /// Above 1 softens overconfident scores; below 1 sharpens.
        temperature: f64,
    },
}

impl CalibrationMap {
    /// A raw score through the map.
    pub fn apply(&self, score: f64) -> f64 {
        match self {
            CalibrationMap::Isotonic { knots } => apply_isotonic(knots, score),
            CalibrationMap::Temperature { temperature } => scaled(score, *temperature),
        }
    }

    /// The map of `method` (`isotonic` or `temperature`) fitted on `pairs`.
    pub fn fit(method: &str, pairs: &[Pair]) -> Option<CalibrationMap> {
        match method {
            "isotonic" => Some(CalibrationMap::Isotonic {
                knots: isotonic(pairs),
            }),
            "temperature" => Some(CalibrationMap::Temperature {
                temperature: fit_temperature(pairs),
            }),
            _ => None,
        }
    }
}

/// Scores are kept this far from 0 and 1 before their log-odds are taken.
const EDGE: f64 = 1e-6;

/// σ(logit(score) / temperature).
fn scaled(score: f64, temperature: f64) -> f64 {
    let p = score.clamp(EDGE, 1.0 - EDGE);
    let logit = (p / (1.0 - p)).ln() / temperature.max(EDGE);
    1.0 / (1.0 + (-logit).exp())
}

/// The temperature that makes the scores most likely to have given these outcomes (least
/// negative log-likelihood), by golden-section search over log T in [1/20, 20].
pub fn fit_temperature(pairs: &[Pair]) -> f64 {
    let loss = |log_t: f64| -> f64 {
        let t = log_t.exp();
        pairs
            .iter()
            .map(|p| {
                let q = scaled(p.score, t).clamp(EDGE, 1.0 - EDGE);
                -(if p.correct { q.ln() } else { (1.0 - q).ln() })
            })
            .sum()
    };
    let golden = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = ((1.0f64 / 20.0).ln(), 20f64.ln());
    for _ in 0..80 {
        let c = b - golden * (b - a);
        let d = a + golden * (b - a);
        if loss(c) < loss(d) {
            b = d;
        } else {
            a = c;
        }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
#[path = "calibration_tests.rs"]
mod tests;
