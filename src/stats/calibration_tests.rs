use super::*;

fn pair(score: f64, correct: bool) -> Pair {
    Pair { score, correct }
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() < tolerance
}

#[test]
fn the_reliability_table_and_ece_match_a_hand_computation() {
    let pairs = [
        pair(0.95, true),
        pair(0.92, true),
        pair(0.91, false),
        pair(0.55, true),
        pair(0.52, false),
        pair(1.0, true),
    ];
    let table = reliability(&pairs, 10);
    assert_eq!(table.len(), 10);
    // 0.9 ≤ s ≤ 1: four predictions (1.0 falls in the last bin), 3 right, mean 0.945.
    let top = table[9];
    assert_eq!(top.predictions, 4);
    assert!(close(top.mean_score.unwrap_or_default(), 0.945, 1e-12));
    assert_eq!(top.accuracy, Some(0.75));
    let mid = table[5];
    assert_eq!(mid.predictions, 2);
    assert!(close(mid.mean_score.unwrap_or_default(), 0.535, 1e-12));
    assert_eq!(mid.accuracy, Some(0.5));
    assert_eq!(table[0].accuracy, None);
    // ECE = (4·|0.75 − 0.945| + 2·|0.5 − 0.535|) / 6.
    let expected = (4.0 * 0.195 + 2.0 * 0.035) / 6.0;
    assert!(close(ece(&table).unwrap_or_default(), expected, 1e-12));
    assert_eq!(ece(&reliability(&[], 10)), None);
}

#[test]
fn exact_bounds_match_known_values() {
    // No failure in n: the upper bound is 1 − δ^(1/n) (the rule of three's exact form).
    let u = upper_bound(0, 10, 0.05);
    assert!(close(u, 1.0 - 0.05f64.powf(0.1), 1e-9), "{u}");
    // Clopper–Pearson 95% for 5 of 10: [0.1871, 0.8129].
    assert!(close(lower_bound(5, 10, 0.025), 0.187_086, 1e-5));
    assert!(close(1.0 - lower_bound(5, 10, 0.025), 0.812_914, 1e-5));
    // Large n stays finite (log space).
    let big = upper_bound(5_000, 10_000, 0.05);
    assert!(big > 0.5 && big < 0.51, "{big}");
    assert_eq!(upper_bound(0, 0, 0.05), 1.0);
    assert_eq!(lower_bound(3, 3, 0.025), 0.025f64.powf(1.0 / 3.0));
}

#[test]
fn thresholds_show_coverage_and_accuracy_with_intervals() {
    let pairs = [
        pair(0.9, true),
        pair(0.8, true),
        pair(0.7, false),
        pair(0.6, true),
    ];
    let rows = threshold_table(&pairs, &[0.5, 0.75, 0.95]);
    assert_eq!(rows[0].accepted, 4);
    assert_eq!(rows[0].accuracy, Some(0.75));
    assert_eq!(rows[1].accepted, 2);
    assert_eq!(rows[1].coverage, 0.5);
    assert_eq!(rows[1].accuracy, Some(1.0));
    assert_eq!(rows[1].high, Some(1.0));
    assert!(rows[1].low.is_some_and(|l| close(l, 0.025f64.sqrt(), 1e-9)));
    assert_eq!(rows[2].accepted, 0);
    assert_eq!(rows[2].accuracy, None);
}

#[test]
fn acceptance_takes_the_lowest_threshold_that_holds_and_stops_at_the_first_that_fails() {
    // 60 right predictions scoring 0.99..0.40, then a wrong one at 0.30 and 20 right below.
    let mut pairs: Vec<Pair> = (0..60)
        .map(|i| pair(0.99 - f64::from(i) * 0.01, true))
        .collect();
    pairs.push(pair(0.30, false));
    pairs.extend((0..20).map(|i| pair(0.29 - f64::from(i) * 0.01, true)));
    // 90% accuracy with 90% confidence: n right of n gives 1 − 0.1^(1/n) ≥ 0.9 from n = 22.
    // The first 21 thresholds accept too few to ever show it and are skipped; from there every
    // test holds, the wrong one included (1 of 61 and on still bounds accuracy above 0.9).
    let a = acceptance(&pairs, 0.9, 0.9).unwrap_or_else(|| panic!("an acceptance"));
    assert!(close(a.threshold, 0.10, 1e-9), "{a:?}");
    assert_eq!((a.accepted, a.wrong), (81, 1));
    assert!(close(a.coverage, 1.0, 1e-12));
    assert!(a.guaranteed_accuracy >= 0.9);
    // The guarantee at the chosen threshold is the exact bound.
    let recomputed = 1.0 - upper_bound(a.wrong, a.accepted, 0.1);
    assert!(close(recomputed, a.guaranteed_accuracy, 1e-12));
    // A target nothing meets: no threshold.
    assert_eq!(acceptance(&pairs[..5], 0.99, 0.95), None);
    // A wrong answer at the top stops the search at once.
    let mut bad = pairs.clone();
    bad.insert(0, pair(1.0, false));
    assert_eq!(acceptance(&bad, 0.9, 0.9), None);
}

#[test]
fn isotonic_pools_violators_and_interpolates() {
    let pairs = [
        pair(0.1, false),
        pair(0.2, true),
        pair(0.3, false),
        pair(0.4, true),
    ];
    let map = isotonic(&pairs);
    assert_eq!(map.len(), 3);
    assert!(close(map[1].0, 0.25, 1e-12) && close(map[1].1, 0.5, 1e-12));
    assert_eq!(apply_isotonic(&map, 0.0), 0.0);
    assert!(close(apply_isotonic(&map, 0.325), 0.75, 1e-12));
    assert_eq!(apply_isotonic(&map, 0.9), 1.0);
    assert_eq!(apply_isotonic(&[], 0.3), 0.3);
}

#[test]
fn temperature_scaling_softens_overconfident_scores() {
    // Scores of 0.99 that are right 70% of the time: the fitted temperature maps 0.99 near 0.7.
    let pairs: Vec<Pair> = (0..100).map(|i| pair(0.99, i % 10 < 7)).collect();
    let map = CalibrationMap::fit("temperature", &pairs).unwrap_or_else(|| panic!("a map"));
    let calibrated = map.apply(0.99);
    assert!((calibrated - 0.7).abs() < 0.01, "{map:?} {calibrated}");
    let isotonic = CalibrationMap::fit("isotonic", &pairs).unwrap_or_else(|| panic!("a map"));
    assert!((isotonic.apply(0.99) - 0.7).abs() < 1e-12);
    assert_eq!(CalibrationMap::fit("platt", &pairs), None);
    // The stored form names its method.
    let stored = serde_json::to_value(&map).unwrap_or_default();
    assert_eq!(stored["method"], "temperature");
}
