//! The acceptance view of a plan (see `services::acceptance`), the same for the API and the web.
use crate::services::acceptance::{Accepted, Plan};
use crate::views::evaluation::{AcceptanceView, AcceptedView};

/// The view of `plan` at `target` and `confidence`.
pub fn view(plan: &Plan, target: f64, confidence: f64) -> AcceptanceView {
    let found = plan.found;
    let accepted = plan.accepted.len() as u64;
    AcceptanceView {
        target,
        confidence,
        threshold: found.map(|a| a.threshold),
        guaranteed_accuracy: found.map(|a| a.guaranteed_accuracy),
        labeled_accepted: found.map_or(0, |a| a.accepted),
        labeled_wrong: found.map_or(0, |a| a.wrong),
        labeled_coverage: found.map_or(0.0, |a| a.coverage),
        accepted,
        tasks: plan.tasks as u64,
        coverage: if plan.tasks > 0 {
            accepted as f64 / plan.tasks as f64
        } else {
            0.0
        },
        review: plan.review.clone(),
        message: found.is_none().then(|| {
            format!(
                "No score threshold meets {:.0}% accuracy with {:.0}% confidence on this run's \
                 ground truth: label more of its tasks (the project-wide estimate suggests which), \
                 or lower the target.",
                target * 100.0,
                confidence * 100.0
            )
        }),
    }
}

/// The view of what accepting did.
pub fn accepted(done: &Accepted, target: f64, confidence: f64) -> AcceptedView {
    AcceptedView {
        acceptance: view(&done.plan, target, confidence),
        created: done.created,
        already_annotated: done.already_annotated,
    }
}
