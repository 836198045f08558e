//! What a right answer costs: a run's cost per correct label, the one definition every page and
//! endpoint shows (the `cost_per_correct_label` indicator, the `cost` indicator's key of that
//! name, the run, evaluation and compare pages).
use super::Accuracy;

/// A run's cost per correct label: its cost per task that came back (answered or failed)
/// divided by its accuracy ([`Accuracy`]: correct over the ground-truth tasks that came back,
/// failed ones wrong), with the 95% interval that accuracy's Wilson interval implies.
///
/// `cost per correct label = (total cost ÷ (answered + failed tasks)) ÷ accuracy`.
///
/// When the run covers only tasks with ground truth (a `HasGT` run), the tasks that came back
/// are the ones accuracy is scored on, and the figure is exactly the total cost divided by the
/// correct predictions. When it covers more (an `All` or `Sample` run with some ground truth),
/// it is the honest extrapolation: what a task costs on average, over the share of tasks the
/// ground truth says are right.
///
/// The interval is `[cost per task ÷ accuracy's upper bound, cost per task ÷ accuracy's lower
/// bound]`; its upper bound is unbounded (`None`) when accuracy's lower bound is 0 (no correct
/// label yet), except for a free model, whose every label costs 0.
///
/// No figure (`None`) when the cost is not known (a model without a price), when no task with
/// ground truth came back (accuracy unknown) or when none was right (accuracy 0: no correct
/// label to price); 0 when the run cost nothing (a free model) and some label is right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostPerCorrectLabel {
    /// The figure, in US dollars per correct label.
    pub value: Option<f64>,
    /// Its 95% interval: the lower bound and the upper bound (`None`: unbounded).
    pub interval: Option<(f64, Option<f64>)>,
    /// The run's cost per task that came back, answered or failed; `None` when the cost is
    /// not known or no task came back.
    pub cost_per_task: Option<f64>,
    /// Tasks that came back, answered or failed.
    pub answered_tasks: u64,
    /// The accuracy it divides by.
    pub accuracy: Accuracy,
    /// Whether the run's cost is known (its model has a price).
    pub cost_known: bool,
}

impl CostPerCorrectLabel {
    /// The cost per correct label of a run that cost `total_cost` (`None` when its model has
    /// no known price) over `answered_tasks` tasks answered or failed (the run's
    /// `total_predictions + total_failed`), scored at `accuracy` on its ground-truth tasks.
    /// A negative count reads as 0; a cost that is not a finite number as not known.
    pub fn new(total_cost: Option<f64>, answered_tasks: i64, accuracy: Accuracy) -> Self {
        let answered = u64::try_from(answered_tasks).unwrap_or(0);
        let cost = total_cost.filter(|c| c.is_finite());
        let cost_per_task = cost.filter(|_| answered > 0).map(|c| c / answered as f64);
        let value = match (cost_per_task, accuracy.value()) {
            (Some(per_task), Some(acc)) if acc > 0.0 => Some(per_task / acc),
            _ => None,
        };
        let interval = match (cost_per_task, accuracy.interval()) {
            (Some(per_task), Some((low, high))) if high > 0.0 => {
                let upper = if low > 0.0 {
                    Some(per_task / low)
                } else if per_task == 0.0 {
                    Some(0.0)
                } else {
                    None
                };
                Some((per_task / high, upper))
            }
            _ => None,
        };
        Self {
            value,
            interval,
            cost_per_task,
            answered_tasks: answered,
            accuracy,
            cost_known: cost.is_some(),
        }
    }

    /// The cost per correct label of a run from its counters: `total_cost` as the run's cost
    /// (`None` when its model has no known price), its answered and failed tasks, and
    /// [`Accuracy::of_run`].
    pub fn of_run(run: &entity::model_run::Model, total_cost: Option<f64>) -> Self {
        Self::new(
            total_cost,
            run.total_predictions + run.total_failed,
            Accuracy::of_run(run),
        )
    }

    /// The wire values of the `cost_per_correct_label` indicator: `cost_per_correct_label`,
    /// `interval` (`[low, high]`, `high` null when unbounded; null without a figure's
    /// inputs), `correct_predictions`, `answered_tasks`, `cost_per_task` and `accuracy`.
    pub fn values(&self) -> serde_json::Value {
        serde_json::json!({
            "cost_per_correct_label": self.value,
            "interval": self.interval.map(|(low, high)| serde_json::json!([low, high])),
            "correct_predictions": self.accuracy.correct,
            "answered_tasks": self.answered_tasks,
            "cost_per_task": self.cost_per_task,
            "accuracy": self.accuracy.value(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Accuracy, CostPerCorrectLabel};
    use serde_json::json;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn a_dollar_over_a_hundred_tasks_at_eighty_percent() {
        let accuracy = Accuracy::new(80, 100, 0);
        let c = CostPerCorrectLabel::new(Some(1.0), 100, accuracy);
        assert!(c.value.is_some_and(|v| close(v, 0.0125)), "{c:?}");
        assert!(c.cost_per_task.is_some_and(|v| close(v, 0.01)));
        // Over ground-truth tasks only, it is the cost over the correct predictions.
        assert!(c.value.is_some_and(|v| close(v, 1.0 / 80.0)));
        let (low, high) = crate::stats::wilson(80, 100, crate::stats::Z95).expect("wilson");
        let (lo, hi) = c.interval.expect("an interval");
        assert!(close(lo, 0.01 / high) && hi.is_some_and(|h| close(h, 0.01 / low)));
        // Wilson(80, 100) is about [0.7111, 0.8666]: $0.01154 to $0.01406.
        assert!((lo - 0.011_54).abs() < 1e-5 && hi.is_some_and(|h| (h - 0.014_06).abs() < 1e-5));
        assert!(lo < 0.0125 && hi.is_some_and(|h| h > 0.0125));
        assert_eq!(c.values()["correct_predictions"], 80);
        assert_eq!(c.values()["answered_tasks"], 100);
        assert_eq!(c.values()["accuracy"], 0.8);
    }

    #[test]
    fn more_tasks_than_ground_truth_extrapolates_from_the_cost_per_task() {
        // 200 tasks for $2, 80 of the 100 with ground truth right: $0.01 a task ÷ 0.8.
        let c = CostPerCorrectLabel::new(Some(2.0), 200, Accuracy::new(80, 100, 0));
        assert!(c.value.is_some_and(|v| close(v, 0.0125)), "{c:?}");
    }

    #[test]
    fn failed_tasks_count_as_wrong_and_as_paid_for() {
        // 9 correct of 21 answered and 9 failed: accuracy 0.3, $3 over 30 tasks.
        let c = CostPerCorrectLabel::new(Some(3.0), 30, Accuracy::new(9, 21, 9));
        assert!(c.value.is_some_and(|v| close(v, 0.1 / 0.3)), "{c:?}");
        assert!(c.value.is_some_and(|v| close(v, 3.0 / 9.0)));
    }

    #[test]
    fn no_correct_label_has_no_figure_and_an_open_interval() {
        let c = CostPerCorrectLabel::new(Some(1.0), 10, Accuracy::new(0, 10, 0));
        assert_eq!(c.value, None);
        let (lo, hi) = c.interval.expect("an interval");
        assert!(lo > 0.1 && hi.is_none(), "{c:?}");
        assert_eq!(c.values()["interval"], json!([lo, null]));
        assert_eq!(c.values()["cost_per_correct_label"], json!(null));
    }

    #[test]
    fn an_unknown_cost_has_no_figure() {
        let c = CostPerCorrectLabel::new(None, 100, Accuracy::new(80, 100, 0));
        assert_eq!((c.value, c.interval, c.cost_per_task), (None, None, None));
        assert!(!c.cost_known);
        let c = CostPerCorrectLabel::new(Some(f64::NAN), 100, Accuracy::new(80, 100, 0));
        assert_eq!(c.value, None);
        assert!(!c.cost_known);
    }

    #[test]
    fn no_ground_truth_has_no_figure() {
        let c = CostPerCorrectLabel::new(Some(1.0), 100, Accuracy::new(0, 0, 0));
        assert_eq!((c.value, c.interval), (None, None));
        assert!(c.cost_per_task.is_some_and(|v| close(v, 0.01)));
        assert_eq!(c.values()["accuracy"], json!(null));
        let nothing = CostPerCorrectLabel::new(Some(0.0), 0, Accuracy::default());
        assert_eq!((nothing.value, nothing.cost_per_task), (None, None));
    }

    #[test]
    fn a_free_model_costs_nothing_per_correct_label() {
        let c = CostPerCorrectLabel::new(Some(0.0), 10, Accuracy::new(6, 8, 2));
        assert_eq!(c.value, Some(0.0));
        assert_eq!(c.interval, Some((0.0, Some(0.0))));
        // Still no figure when nothing is right, but nothing to pay either.
        let c = CostPerCorrectLabel::new(Some(0.0), 10, Accuracy::new(0, 10, 0));
        assert_eq!(c.value, None);
        assert_eq!(c.interval, Some((0.0, Some(0.0))));
    }
}
