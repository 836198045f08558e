//! How much to trust the trust figures (issue 22): the project-wide accuracy interval and the
//! guaranteed acceptance threshold, over simulated projects whose true accuracy is known.
//!
//! ```text
//! cargo bench --bench trust -- [--projects 2000] [--tasks 1000] [--seed 22]
//! ```
//!
//! Each project has `--tasks` tasks; each task a chance of being answered right (around a
//! project-wide level between 0.5 and 0.97), a model score that is a miscalibrated, noisy view
//! of that chance (overconfident by a random power), and an outcome drawn from it. A random
//! sample of n tasks is labeled. For each n the table gives, over `--projects` projects:
//! the share whose 95% interval (`stats::ppi::estimate`) covers the true accuracy of all the
//! tasks, its mean width, the width from the labels alone (the same estimate with scores that
//! say nothing), and for an acceptance at 90% accuracy with 90% confidence
//! (`stats::calibration::acceptance`) the share of projects given a threshold, the mean share
//! of tasks it accepts, and the share of all projects where a threshold was given and the
//! model's accuracy on the tasks it accepts (their mean chance of being right) is below 90%: the
//! guarantee broken, which it allows in at most 10% of projects. Pure computation: no server, no
//! database.
use prompter::stats::calibration::{Pair, acceptance};
use prompter::stats::ppi::estimate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One simulated task: its chance of being right, its score, and whether it was right.
struct Task {
    chance: f64,
    score: f64,
    right: bool,
}

fn project(rng: &mut StdRng, tasks: usize) -> Vec<Task> {
    let base: f64 = rng.gen_range(0.5..0.97);
    let overconfidence: f64 = rng.gen_range(0.3..1.0);
    (0..tasks)
        .map(|_| {
            let p: f64 = (base + rng.gen_range(-0.3..0.3)).clamp(0.02, 0.999);
            let right = rng.r#gen::<f64>() < p;
            let score = (p.powf(overconfidence) + rng.gen_range(-0.1..0.1)).clamp(0.0, 1.0);
            Task {
                chance: p,
                score,
                right,
            }
        })
        .collect()
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let projects = arg("--projects", 2000) as usize;
    let tasks = arg("--tasks", 1000) as usize;
    let seed = arg("--seed", 22);
    println!(
        "{projects} simulated projects of {tasks} tasks each (seed {seed}); 95% intervals; \
         acceptance at 90% accuracy with 90% confidence\n"
    );
    println!(
        "| labeled | interval covers | mean width | width from labels alone | threshold found | tasks accepted | guarantee broken (≤ 10% allowed) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for labeled in [20usize, 50, 100, 200] {
        let mut rng = StdRng::seed_from_u64(seed + labeled as u64);
        let (mut covered, mut width, mut alone_width) = (0usize, 0.0, 0.0);
        let (mut found, mut accepted_share, mut held) = (0usize, 0.0, 0usize);
        for _ in 0..projects {
            let mut all = project(&mut rng, tasks);
            let truth = all.iter().filter(|t| t.right).count() as f64 / tasks as f64;
            for i in (1..all.len()).rev() {
                let j = rng.gen_range(0..=i);
                all.swap(i, j);
            }
            let (sample, rest) = all.split_at(labeled);
            let pairs: Vec<(f64, f64)> = sample
                .iter()
                .map(|t| (t.score, f64::from(u8::from(t.right))))
                .collect();
            let scores: Vec<f64> = rest.iter().map(|t| t.score).collect();
            let flat: Vec<(f64, f64)> = pairs.iter().map(|p| (0.5, p.1)).collect();
            if let (Some(e), Some(a)) = (
                estimate(&pairs, &scores),
                estimate(&flat, &vec![0.5; rest.len()]),
            ) {
                covered += usize::from(e.low <= truth && truth <= e.high);
                width += e.high - e.low;
                alone_width += a.high - a.low;
            }
            let calibration: Vec<Pair> = sample
                .iter()
                .map(|t| Pair {
                    score: t.score,
                    correct: t.right,
                })
                .collect();
            if let Some(a) = acceptance(&calibration, 0.9, 0.9) {
                found += 1;
                let accepted: Vec<&Task> = all.iter().filter(|t| t.score >= a.threshold).collect();
                accepted_share += accepted.len() as f64 / tasks as f64;
                // The accuracy the model has on tasks like these: the mean chance of being right
                // (what the guarantee is about; the outcomes of these few tasks scatter around it).
                let chance = accepted.iter().map(|t| t.chance).sum::<f64>();
                held += usize::from(chance / accepted.len().max(1) as f64 >= 0.9);
            }
        }
        let n = projects as f64;
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        println!(
            "| {labeled} | {} | {} | {} | {} | {} | {} |",
            pct(covered as f64 / n),
            pct(width / n),
            pct(alone_width / n),
            pct(found as f64 / n),
            if found > 0 {
                pct(accepted_share / found as f64)
            } else {
                "—".into()
            },
            pct((found - held) as f64 / n),
        );
    }
}
