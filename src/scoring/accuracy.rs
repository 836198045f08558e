//! A run's accuracy: the one definition every page and endpoint shows. Failed tasks count as
//! wrong: accuracy is the correct tasks over the tasks that came back, answered or failed
//! (`correct / (predicted + failed)`), over the tasks with ground truth; tasks not run yet (a run in progress, or canceled) are
//! left out, and the number of failures is shown beside the figure wherever it appears.
use serde::{Deserialize, Serialize};

/// The counts a run's accuracy is made of, and the figure they give.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Tasks whose prediction matches their ground truth.
    pub correct: u64,
    /// Tasks with ground truth and a stored prediction.
    pub predicted: u64,
    /// Tasks with ground truth that failed (no prediction): they count as wrong.
    pub failed: u64,
}

impl Accuracy {
    /// The accuracy of `correct` tasks among `predicted` answered and `failed` failed ones
    /// (negative counts, which no run has, read as 0).
    pub fn new(correct: i64, predicted: i64, failed: i64) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            correct: count(correct),
            predicted: count(predicted),
            failed: count(failed),
        }
    }

    /// The accuracy of a run from its counters: its results on tasks with ground truth (a
    /// task without any says nothing about accuracy).
    pub fn of_run(run: &entity::model_run::Model) -> Self {
        Self::new(
            run.total_correct_predictions,
            run.total_scored_predictions,
            run.total_scored_failed,
        )
    }

    /// The tasks scored: answered and failed.
    pub fn scored(&self) -> u64 {
        self.predicted + self.failed
    }

    /// The figure, `None` before any task is scored.
    pub fn value(&self) -> Option<f64> {
        let n = self.scored();
        (n > 0).then(|| self.correct as f64 / n as f64)
    }

    /// The 95% Wilson interval of the figure.
    pub fn interval(&self) -> Option<(f64, f64)> {
        crate::stats::wilson(self.correct, self.scored(), crate::stats::Z95)
    }

    /// The figure as people read it, with the failures beside it: `30.0% · 9 failed`; `—`
    /// before any task is scored.
    pub fn label(&self) -> String {
        match self.value() {
            Some(v) => format!("{:.1}% · {} failed", v * 100.0, self.failed),
            None => "—".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Accuracy;

    #[test]
    fn failed_tasks_count_as_wrong() {
        // 9 correct of 21 answered, 9 failed: 9 of 30, not 9 of 21.
        let a = Accuracy::new(9, 21, 9);
        assert_eq!(a.scored(), 30);
        assert_eq!(a.value(), Some(0.3));
        assert_eq!(a.label(), "30.0% · 9 failed");
    }

    #[test]
    fn nothing_scored_has_no_figure() {
        let a = Accuracy::new(0, 0, 0);
        assert_eq!(a.value(), None);
        assert_eq!(a.interval(), None);
        assert_eq!(a.label(), "—");
        assert_eq!(Accuracy::new(-1, 2, 0).correct, 0);
    }

    #[test]
    fn every_task_failed_is_zero() {
        assert_eq!(Accuracy::new(0, 0, 4).value(), Some(0.0));
        assert_eq!(Accuracy::new(0, 0, 4).label(), "0.0% · 4 failed");
    }
}
