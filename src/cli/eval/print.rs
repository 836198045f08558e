//! How the gate prints its figures: the table (or JSON) of the two versions, the paired test
//! and the verdict.
use super::*;

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A p-value: four decimals, or scientific below 0.0001.
fn p_text(p: f64) -> String {
    if p > 0.0 && p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

impl Side {
    /// Tasks scored (answered or failed) of the run's ground-truth tasks.
    fn scored(&self) -> u64 {
        self.accuracy["predicted"].as_u64().unwrap_or(0)
            + self.accuracy["failed"].as_u64().unwrap_or(0)
    }

    /// The table row's cells.
    fn cells(&self) -> [String; 8] {
        let interval = match (
            self.accuracy["ci_low"].as_f64(),
            self.accuracy["ci_high"].as_f64(),
        ) {
            (Some(low), Some(high)) => {
                format!("[{}, {}]", percent(Some(low)), percent(Some(high)))
            }
            _ => "-".into(),
        };
        let version = match &self.version.label {
            Some(label) => format!("{} {} ({label})", self.version.id, self.version.title),
            None => format!("{} {}", self.version.id, self.version.title),
        };
        [
            self.role.to_string(),
            version,
            self.run.to_string(),
            if self.reused { "reused" } else { "new" }.to_string(),
            format!(
                "{}/{}",
                self.scored(),
                self.accuracy["ground_truth_tasks"].as_u64().unwrap_or(0)
            ),
            percent(self.accuracy["accuracy"].as_f64()),
            interval,
            self.cost_usd
                .map_or_else(|| "unknown".into(), |c| format!("{c:.4}")),
        ]
    }

    /// Its JSON object.
    pub(super) fn json(&self) -> Value {
        let a = &self.accuracy;
        json!({
            "version": self.version.id,
            "title": self.version.title,
            "label": self.version.label,
            "run": self.run,
            "reused": self.reused,
            "ground_truth_tasks": a["ground_truth_tasks"],
            "scored_tasks": self.scored(),
            "correct": a["correct"],
            "failed": a["failed"],
            "accuracy": a["accuracy"],
            "ci_low": a["ci_low"],
            "ci_high": a["ci_high"],
            "confidence_level": a["confidence_level"],
            "cost_usd": self.cost_usd,
        })
    }
}

impl Report {
    /// The gate's exit code.
    pub(super) fn exit_code(&self) -> i32 {
        self.verdict.exit_code(self.require_better)
    }

    /// The plain-text table, the comparison line and the verdict line.
    pub(super) fn table(&self) -> String {
        let header = [
            "role",
            "version",
            "run",
            "source",
            "scored",
            "accuracy",
            "95% interval",
            "cost USD",
        ]
        .map(String::from);
        let rows = [header, self.candidate.cells(), self.baseline.cells()];
        let mut widths = [0usize; 8];
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        let c = &self.comparison;
        let count = |key: &str| c[key].as_u64().unwrap_or(0);
        let difference = c["difference"].as_f64().unwrap_or(0.0) * 100.0;
        let p = c["p_value"].as_f64().unwrap_or(1.0);
        out.push_str(&format!(
            "paired tasks {}: only candidate correct (b) {}, only baseline correct (c) {}; \
             difference {difference:+.1} points; McNemar p = {} ({})\n",
            count("paired_tasks"),
            count("only_this_correct"),
            count("only_baseline_correct"),
            p_text(p),
            c["test"].as_str().unwrap_or("?"),
        ));
        let gate = if self.exit_code() == EXIT_PASS {
            "pass"
        } else {
            "FAIL"
        };
        let why = match self.verdict {
            Verdict::NoSignificantDifference => format!("p >= alpha {}", self.alpha),
            Verdict::WithinMinDelta => format!(
                "p < alpha {} but |difference| <= min-delta {}",
                self.alpha, self.min_delta
            ),
            Verdict::Better | Verdict::Worse => format!(
                "p < alpha {} and |difference| > min-delta {}",
                self.alpha, self.min_delta
            ),
        };
        let required = if self.require_better && self.verdict != Verdict::Better {
            "; --require-better asks for better"
        } else {
            ""
        };
        out.push_str(&format!(
            "verdict: {} ({why}{required}): {gate}\n",
            self.verdict.as_str()
        ));
        out
    }

    /// The same figures as one JSON object.
    pub(super) fn json(&self) -> Value {
        let c = &self.comparison;
        json!({
            "prompt": self.prompt,
            "project": self.project,
            "alpha": self.alpha,
            "min_delta": self.min_delta,
            "require_better": self.require_better,
            "candidate": self.candidate.json(),
            "baseline": self.baseline.json(),
            "comparison": {
                "paired_tasks": c["paired_tasks"],
                "candidate_accuracy": c["accuracy"],
                "baseline_accuracy": c["baseline_accuracy"],
                "difference": c["difference"],
                "both_correct": c["both_correct"],
                "only_candidate_correct": c["only_this_correct"],
                "only_baseline_correct": c["only_baseline_correct"],
                "both_wrong": c["both_wrong"],
                "test": c["test"],
                "statistic": c["statistic"],
                "p_value": c["p_value"],
            },
            "verdict": self.verdict.as_str(),
            "passed": self.exit_code() == EXIT_PASS,
            "exit_code": self.exit_code(),
        })
    }
}
