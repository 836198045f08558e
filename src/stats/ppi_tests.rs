use super::*;
use crate::stats::Z95;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The Agresti–Coull proportion of `right` of `n` (see the module docs).
fn adjusted(right: f64, n: f64) -> f64 {
    (right + Z95 * Z95 / 2.0) / (n + Z95 * Z95)
}

#[test]
fn constant_scores_fall_back_to_the_labels() {
    let labeled: Vec<(f64, f64)> = (0..10).map(|i| (0.8, f64::from(u8::from(i < 7)))).collect();
    let e = estimate(&labeled, &[0.8; 30]).unwrap_or_else(|| panic!("an estimate"));
    assert_eq!(e.lambda, 0.0);
    // θ̂ = p̃ = (7 + z²/2)/(10 + z²); Var(y) = 10·0.21/9 is above p̃(1 − p̃), so it stays.
    let p = adjusted(7.0, 10.0);
    assert!(p * (1.0 - p) < 10.0 * 0.21 / 9.0);
    let accuracy = (10.0 * 0.7 + 30.0 * p) / 40.0;
    let half = t975(9.0) * 0.75 * (10.0 * 0.21 / 9.0 * (1.0 / 10.0 + 1.0 / 30.0f64)).sqrt();
    assert!(close(e.accuracy, accuracy), "{e:?} {accuracy}");
    // The top is cut where the 30 unlabeled tasks all right would put it: (7 + 30)/40.
    assert!(close(e.low, accuracy - half), "{e:?}");
    assert!(close(e.high, (accuracy + half).min(37.0 / 40.0)), "{e:?}");
    assert!(close(e.mean_score, 0.8));
}

#[test]
fn a_hand_computed_estimate() {
    // Scores that track the outcomes: right tasks score 0.9, wrong ones 0.3.
    let mut labeled = vec![(0.9, 1.0); 8];
    labeled.extend([(0.3, 0.0), (0.3, 0.0)]);
    let unlabeled = [0.9, 0.9, 0.9, 0.3, 0.9, 0.9, 0.3, 0.9, 0.9, 0.9];
    let e = estimate(&labeled, &unlabeled).unwrap_or_else(|| panic!("an estimate"));
    // Mean score 0.78: Var(f) = (8·0.12² + 2·0.48²)/9 = 0.064; Cov(y, f) = (8·0.12·0.2 +
    // 2·0.48·0.8)/9 = 0.96/9; λ = (0.96/9)/0.064 = 5/3, clipped to 1.
    assert_eq!(e.lambda, 1.0, "{e:?}");
    // y − f is 0.1 (right) or −0.3 (wrong): mean 0.02, variance (8·0.08² + 2·0.32²)/9 = 0.256/9.
    // Var(y) = 1.6/9 is below p̃(1 − p̃) with p̃ = (8 + z²/2)/(10 + z²): raised by the
    // difference.
    let p = adjusted(8.0, 10.0);
    let raise = p * (1.0 - p) - 1.6 / 9.0;
    assert!(raise > 0.0);
    // θ̂ = mean(f unlabeled) 0.78 + 0.02 + (p̃ − 0.8).
    let theta = 0.78 + 0.02 + (p - 0.8);
    let accuracy = (10.0 * 0.8 + 10.0 * theta) / 20.0;
    let half = t975(9.0) * 0.5 * ((0.256f64 / 9.0 + raise) * (1.0 / 10.0 + 1.0 / 10.0)).sqrt();
    assert!(close(e.accuracy, accuracy), "{e:?} {accuracy}");
    assert!(
        close(e.low, accuracy - half) && close(e.high, accuracy + half),
        "{e:?}"
    );
    assert!(close(e.labeled_accuracy, 0.8) && close(e.mean_score, 0.78));
}

#[test]
fn too_few_labels_no_estimate_and_all_labeled_is_exact() {
    assert_eq!(estimate(&[(0.5, 1.0); 9], &[0.5; 10]), None);
    let e = estimate(&[(0.5, 1.0); 10], &[]).unwrap_or_else(|| panic!("exact"));
    assert_eq!((e.accuracy, e.low, e.high), (1.0, 1.0, 1.0));
}

/// One simulated project: each task has a chance of being right; the model's score is a
/// miscalibrated, noisy view of it; a random sample is labeled.
fn simulate(rng: &mut StdRng) -> (f64, Estimate, (f64, f64)) {
    let tasks = 1_000;
    let labeled_n = rng.gen_range(30..=150);
    let base: f64 = rng.gen_range(0.5..0.97);
    let overconfidence: f64 = rng.gen_range(0.3..1.0);
    let mut all: Vec<(f64, f64)> = (0..tasks)
        .map(|_| {
            let p: f64 = (base + rng.gen_range(-0.3..0.3)).clamp(0.02, 0.999);
            let y = f64::from(u8::from(rng.r#gen::<f64>() < p));
            let noisy = (p.powf(overconfidence) + rng.gen_range(-0.1..0.1)).clamp(0.0, 1.0);
            (noisy, y)
        })
        .collect();
    let truth = all.iter().map(|t| t.1).sum::<f64>() / tasks as f64;
    // A random labeled sample: shuffle, take the first.
    for i in (1..all.len()).rev() {
        let j = rng.gen_range(0..=i);
        all.swap(i, j);
    }
    let (labeled, rest) = all.split_at(labeled_n);
    let unlabeled: Vec<f64> = rest.iter().map(|t| t.0).collect();
    let e = estimate(labeled, &unlabeled).unwrap_or_else(|| panic!("an estimate"));
    // The labels alone, for comparison: the same estimate with scores that say nothing.
    let flat: Vec<(f64, f64)> = labeled.iter().map(|t| (0.5, t.1)).collect();
    let alone = estimate(&flat, &vec![0.5; rest.len()]).unwrap_or_else(|| panic!("an estimate"));
    (truth, e, (alone.low, alone.high))
}

/// Simulated projects (the issue asks for 200; a thousand keep the bar far from chance: the
/// coverage measured over 6,000 is 0.959).
const SIMS: u32 = 1000;

#[test]
fn over_1000_simulated_projects_the_interval_covers_the_true_accuracy_at_least_93_percent() {
    let mut rng = StdRng::seed_from_u64(22);
    let mut covered = 0;
    let mut ppi_width = 0.0;
    let mut labels_width = 0.0;
    for _ in 0..SIMS {
        let (truth, e, labels_only) = simulate(&mut rng);
        covered += u32::from(e.low <= truth && truth <= e.high);
        ppi_width += e.high - e.low;
        labels_width += labels_only.1 - labels_only.0;
    }
    let coverage = f64::from(covered) / f64::from(SIMS);
    assert!(coverage >= 0.93, "coverage {coverage}");
    // Scores that carry information narrow the interval.
    assert!(ppi_width < labels_width, "{ppi_width} vs {labels_width}");
}

#[test]
fn a_labeled_set_chosen_by_score_is_flagged_and_a_random_one_is_not() {
    let scores: Vec<f64> = (0..400).map(|i| f64::from(i) / 400.0).collect();
    let (top, rest) = (&scores[350..], &scores[..350]);
    assert!(sample_check(top, rest).is_some_and(|z| z > 3.0));
    let picked = random_sample(&(0..400).collect::<Vec<i64>>(), 50, 7);
    assert_eq!(picked.len(), 50);
    assert_eq!(
        picked,
        random_sample(&(0..400).collect::<Vec<i64>>(), 50, 7)
    );
    let chosen: Vec<f64> = picked.iter().map(|&i| scores[i as usize]).collect();
    let others: Vec<f64> = (0..400)
        .filter(|i| !picked.contains(i))
        .map(|i| scores[i as usize])
        .collect();
    assert!(sample_check(&chosen, &others).is_some_and(|z| z.abs() < 3.0));
}
