//! Prediction-powered inference (Angelopoulos et al., 2023; the power-tuned PPI++, 2023) of a
//! run's accuracy over all its tasks: the model's scores on every task, corrected by the tasks
//! whose truth is known.
//!
//! The tasks are split into n labeled ones (score f and outcome y, 1 right, 0 wrong) and N
//! unlabeled ones (score f only). The accuracy of the labeled tasks is known exactly; that of the
//! unlabeled ones is estimated by
//!
//! θ̂ = λ·mean(f over the unlabeled) + mean(y − λ·f over the labeled).
//!
//! The target is the accuracy of these very tasks (not of an endless stream like them), so the
//! error of θ̂ is the difference of two independent means of the residual y − λf, one over the
//! labeled tasks and one over the unlabeled: its variance is Var(y − λf)·(1/n + 1/N), least at
//! λ = Cov(y, f)/Var(f), clipped to [0, 1] (λ = 0 is the labeled accuracy alone, λ = 1 classic
//! PPI). As Agresti and Coull do for a proportion, the labeled outcomes count z²/2 more right and
//! wrong ones: θ̂ moves by p̃ − ȳ (p̃ = (nȳ + z²/2)/(n + z²)) and Var(y) within the variance is
//! raised to p̃(1 − p̃) when below it, so a few labels near 0 or 1 do not give a narrow interval
//! in the wrong place. The project's accuracy is (n·ȳ + N·θ̂)/(n + N), with Student's t interval
//! of θ̂ (n − 1 degrees of freedom) scaled by N/(n + N), within what the labeled tasks already
//! fix. Simulated (`ppi_tests`), it covers the true accuracy 95% of the time. It is valid, whatever
//! the scores' calibration, when the labeled tasks are a random sample of the run's tasks; good
//! scores only make it narrower.
//!
//! [`sample_check`] says when the labeled tasks do not look like a random sample (their scores
//! differ from the others' more than chance allows).

/// Fewest labeled tasks an estimate is made from (the normal interval needs a few).
pub const MIN_LABELED: usize = 10;

/// A project-wide accuracy estimate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The estimated accuracy over all the tasks.
    pub accuracy: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// Tasks with ground truth.
    pub labeled: u64,
    /// Tasks without.
    pub unlabeled: u64,
    /// The accuracy on the labeled tasks alone.
    pub labeled_accuracy: f64,
    /// What the scores alone say: their mean over all the tasks.
    pub mean_score: f64,
    /// The weight given to the scores (0: labels alone, 1: classic PPI).
    pub lambda: f64,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The sample covariance of pairs (n − 1 in the denominator; 0 below two).
fn covariance(pairs: &[(f64, f64)]) -> f64 {
    if pairs.len() < 2 {
        return 0.0;
    }
    let (ma, mb) = (
        mean(pairs.iter().map(|p| p.0)),
        mean(pairs.iter().map(|p| p.1)),
    );
    pairs.iter().map(|(a, b)| (a - ma) * (b - mb)).sum::<f64>() / (pairs.len() - 1) as f64
}

fn variance(xs: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = xs.iter().map(|x| (*x, *x)).collect();
    covariance(&pairs)
}

/// Student's t quantile at 0.975 for `df` degrees of freedom (the Cornish–Fisher expansion
/// around the normal one; within 0.002 from 5 degrees of freedom on).
pub fn t975(df: f64) -> f64 {
    let z = super::Z95;
    let df = df.max(1.0);
    z + (z.powi(3) + z) / (4.0 * df)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df)
}

/// The 95% estimate from `labeled` (score, outcome) and `unlabeled` scores; `None` below
/// [`MIN_LABELED`] labeled tasks.
pub fn estimate(labeled: &[(f64, f64)], unlabeled: &[f64]) -> Option<Estimate> {
    let n = labeled.len();
    if n < MIN_LABELED {
        return None;
    }
    let big_n = unlabeled.len();
    let labeled_accuracy = mean(labeled.iter().map(|p| p.1));
    let mean_score = mean(labeled.iter().map(|p| p.0).chain(unlabeled.iter().copied()));
    if big_n == 0 {
        // Every task is labeled: the accuracy is known.
        return Some(Estimate {
            accuracy: labeled_accuracy,
            low: labeled_accuracy,
            high: labeled_accuracy,
            labeled: n as u64,
            unlabeled: 0,
            labeled_accuracy,
            mean_score,
            lambda: 0.0,
        });
    }
    let (nf, bnf) = (n as f64, big_n as f64);
    let scores: Vec<f64> = labeled.iter().map(|p| p.0).collect();
    let var_f = variance(&scores);
    let lambda = if var_f > 1e-12 {
        (covariance(labeled) / var_f).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let residuals: Vec<f64> = labeled.iter().map(|(f, y)| y - lambda * f).collect();
    // A few labels near 0 or 1 mislead (no wrong task among 30 says little): as Agresti and
    // Coull do for a proportion, the outcomes are counted with z²/2 more right and wrong ones,
    // which moves the labeled mean toward ½ and raises their variance when it is below that
    // proportion's.
    let z = super::Z95;
    let outcomes: Vec<f64> = labeled.iter().map(|p| p.1).collect();
    let adjusted = (labeled_accuracy * nf + z * z / 2.0) / (nf + z * z);
    let understated = (adjusted * (1.0 - adjusted) - variance(&outcomes)).max(0.0);
    let theta = lambda * mean(unlabeled.iter().copied())
        + mean(residuals.iter().copied())
        + (adjusted - labeled_accuracy);
    let var = (variance(&residuals) + understated) * (1.0 / nf + 1.0 / bnf);
    let share = bnf / (nf + bnf);
    let accuracy = (nf * labeled_accuracy + bnf * theta) / (nf + bnf);
    let half = t975(nf - 1.0) * share * var.max(0.0).sqrt();
    // The known part bounds the estimate: the unlabeled tasks are between all wrong and all right.
    let floor = nf * labeled_accuracy / (nf + bnf);
    let ceiling = floor + share;
    Some(Estimate {
        accuracy: accuracy.clamp(floor, ceiling),
        low: (accuracy - half).clamp(floor, ceiling),
        high: (accuracy + half).clamp(floor, ceiling),
        labeled: n as u64,
        unlabeled: big_n as u64,
        labeled_accuracy,
        mean_score,
        lambda,
    })
}

/// How far the labeled tasks' mean score is from the others', in standard errors (Welch's z);
/// beyond about 3 they do not look like a random sample of the tasks. `None` with fewer than
/// two on either side.
pub fn sample_check(labeled: &[f64], unlabeled: &[f64]) -> Option<f64> {
    if labeled.len() < 2 || unlabeled.len() < 2 {
        return None;
    }
    let se = (variance(labeled) / labeled.len() as f64
        + variance(unlabeled) / unlabeled.len() as f64)
        .sqrt();
    let diff = mean(labeled.iter().copied()) - mean(unlabeled.iter().copied());
    Some(if se > 0.0 {
        diff / se
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(diff)
    })
}

/// Up to `k` of `ids`, chosen uniformly at random and reproducibly from `seed`: the order of a
/// keyed hash (FNV-1a of the seed and the id), so the same run suggests the same tasks.
pub fn random_sample(ids: &[i64], k: usize, seed: u64) -> Vec<i64> {
    let key = |id: i64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
        for b in id.to_le_bytes().iter().chain(seed.to_le_bytes().iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A final mix: FNV's low bits alone are poorly spread.
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    };
    let mut keyed: Vec<(u64, i64)> = ids.iter().map(|&id| (key(id), id)).collect();
    keyed.sort_unstable();
    keyed.into_iter().take(k).map(|(_, id)| id).collect()
}

#[cfg(test)]
#[path = "ppi_tests.rs"]
mod tests;
