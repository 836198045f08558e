//! How far to trust a run's predictions, in a browser: the accuracy over all its tasks estimated
//! from the labeled ones beside the labeled accuracy, the tasks to label next, the reliability
//! chart of the scores, and the threshold slider: the accuracy to guarantee, what it takes off
//! review, and a button that accepts those predictions as annotations. The same services as
//! the API's `calibration` and `project_accuracy` indicators and its acceptance endpoints.
use super::Link;
use crate::presenters::words::percent;
use crate::services::{acceptance, trust};
use crate::state::AppState;
use crate::stats::calibration::Bin;
use crate::web::forms::Form;
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::{PageError, Visitor};
use actix_web::web;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

/// Registers `/runs/{id}/trust` and its accept button.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/runs/{id}/trust", web::get().to(page))
        .route("/runs/{id}/accept", web::post().to(accept))
        .route("/runs/{id}/calibrate", web::post().to(calibrate));
}

/// The accuracy targets the slider offers, in percent.
const TARGETS: (u8, u8) = (50, 99);

/// The confidences offered, in percent.
const CONFIDENCES: [u8; 4] = [80, 90, 95, 99];

/// The slider's settings as the page's query carries them (percent), and what an accept did.
#[derive(Debug, Default, Deserialize)]
struct TrustQuery {
    target: Option<String>,
    confidence: Option<String>,
    accepted: Option<u64>,
    skipped: Option<u64>,
}

/// The version's calibration map, in words.
#[derive(Serialize)]
struct MapInWords {
    method: String,
    run: i64,
    labeled: u64,
    before: Option<String>,
    after: Option<String>,
}

/// The target and confidence (percent) of a query or a form: the defaults when absent or out
/// of range.
fn settings(target: Option<&str>, confidence: Option<&str>) -> (u8, u8) {
    let target = target
        .and_then(|t| t.trim().parse::<u8>().ok())
        .filter(|t| (TARGETS.0..=TARGETS.1).contains(t))
        .unwrap_or(95);
    let confidence = confidence
        .and_then(|c| c.trim().parse::<u8>().ok())
        .filter(|c| CONFIDENCES.contains(c))
        .unwrap_or(90);
    (target, confidence)
}

/// The project-wide estimate, in words.
#[derive(Serialize)]
struct Estimate {
    /// "83.3% of 12 tasks with ground truth".
    labeled: Option<String>,
    /// "81.2% (95% interval 70.1–92.3%)", when there is an estimate.
    all: Option<String>,
    /// Tasks in all.
    tasks: u64,
    /// Why there is no estimate, or why it may not hold.
    message: Option<String>,
    /// Tasks to label next.
    label_next: Vec<i64>,
}

/// What the slider found, in words.
#[derive(Serialize)]
struct Found {
    threshold: String,
    accepted: u64,
    coverage: String,
    guaranteed: String,
    labeled_accepted: u64,
    labeled_wrong: u64,
}

#[derive(Serialize)]
struct TrustPage {
    run: i64,
    prompt: Link,
    /// Whether the predictions have scores at all.
    scored: bool,
    /// "logprobs", "agreement" or "mixed".
    method: Option<String>,
    estimate: Estimate,
    /// The reliability chart (SVG).
    chart: String,
    bins: Vec<Bin>,
    /// Expected calibration error, in points.
    ece: Option<String>,
    /// The share of tasks whose samples disagreed, when scored by agreement.
    flip_rate: Option<String>,
    labeled_predictions: u64,
    target: u8,
    confidence: u8,
    targets: (u8, u8),
    confidences: &'static [u8],
    found: Option<Found>,
    /// Why no threshold meets the target.
    not_found: Option<String>,
    /// The least sure tasks (the first of the review list).
    review: Vec<i64>,
    /// What an accept just did.
    accepted: Option<u64>,
    skipped: Option<u64>,
    can_accept: bool,
    /// The version's calibration map, if it has one.
    map: Option<MapInWords>,
    /// Labeled, scored predictions: a map can be fitted from [`MIN_CALIBRATION_LABELS`].
    can_fit: bool,
}

impl Page for TrustPage {
    const TEMPLATE: &'static str = "trust.html";
}

async fn page(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<TrustQuery>,
) -> PageResult {
    let caller = visitor.caller();
    let (run, config) = trust::run_with_config(&state.db, caller, *id).await?;
    let version = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
        .ok_or(crate::error::ApiError::NotFound)?;
    let prompt = crate::services::prompts::get(&state.db, caller, version.parent_model_id).await?;
    let tasks = trust::tasks(&state.db, &config, run.id).await?;
    let report = trust::calibration_report(&tasks);
    let project = trust::project_accuracy(&tasks, run.id, trust::LABEL_NEXT);
    let (target, confidence) = settings(q.target.as_deref(), q.confidence.as_deref());
    let (target_share, confidence_share) =
        (f64::from(target) / 100.0, f64::from(confidence) / 100.0);
    let plan = acceptance::plan(&tasks, target_share, confidence_share);
    let view = crate::presenters::acceptance::view(&plan, target_share, confidence_share);
    let estimate = Estimate {
        labeled: project.labeled_accuracy().map(|a| {
            format!(
                "{} of {} tasks with ground truth",
                percent(a),
                project.labeled
            )
        }),
        all: project.estimate.map(|e| {
            format!(
                "{} (95% interval {}–{})",
                percent(e.accuracy),
                percent(e.low),
                percent(e.high)
            )
        }),
        tasks: project.tasks as u64,
        message: project.message,
        label_next: project.label_next,
    };
    let points = |e: Option<f64>| e.map(|e| format!("{:.1} points", e * 100.0));
    let map =
        crate::views::versions::Calibration::of_stored(version.calibration.as_ref()).map(|c| {
            MapInWords {
                method: match c.map {
                    crate::stats::calibration::CalibrationMap::Isotonic { .. } => "isotonic".into(),
                    crate::stats::calibration::CalibrationMap::Temperature { temperature } => {
                        format!("temperature {temperature:.2}")
                    }
                },
                run: c.run,
                labeled: c.labeled,
                before: points(c.ece_before),
                after: points(c.ece_after),
            }
        });
    let page = TrustPage {
        run: run.id,
        prompt: Link {
            id: prompt.id,
            title: prompt.title,
        },
        scored: report.method.is_some(),
        method: report.method.map(str::to_string),
        estimate,
        chart: crate::web::svg::reliability_chart(&report.bins),
        ece: report.ece.map(|e| format!("{:.1} points", e * 100.0)),
        flip_rate: report.flip_rate.map(percent),
        labeled_predictions: report.labeled as u64,
        can_fit: report.labeled >= crate::services::versions::MIN_CALIBRATION_LABELS,
        bins: report.bins,
        target,
        confidence,
        targets: TARGETS,
        confidences: &CONFIDENCES,
        found: view.threshold.map(|t| Found {
            threshold: percent(t),
            accepted: view.accepted,
            coverage: percent(view.coverage),
            guaranteed: percent(view.guaranteed_accuracy.unwrap_or(0.0)),
            labeled_accepted: view.labeled_accepted,
            labeled_wrong: view.labeled_wrong,
        }),
        not_found: view.message,
        review: view.review.into_iter().take(20).collect(),
        accepted: q.accepted,
        skipped: q.skipped,
        can_accept: visitor.manager().is_ok(),
        map,
    };
    render(Frame::of(&visitor, "prompts"), &page)
}

/// The accept button's fields.
#[derive(Debug, Deserialize)]
struct AcceptForm {
    target: Option<String>,
    confidence: Option<String>,
}

async fn accept(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<AcceptForm>,
) -> Result<actix_web::HttpResponse, PageError> {
    let caller = form.visitor.manager()?;
    let (target, confidence) =
        settings(form.data.target.as_deref(), form.data.confidence.as_deref());
    let done = acceptance::accept(
        &state.db,
        &caller,
        *id,
        f64::from(target) / 100.0,
        f64::from(confidence) / 100.0,
    )
    .await?;
    tracing::info!(
        run = *id,
        created = done.created,
        "predictions accepted from the web app"
    );
    Ok(redirect(&format!(
        "/runs/{}/trust?target={target}&confidence={confidence}&accepted={}&skipped={}",
        *id, done.created, done.already_annotated
    )))
}

/// The calibrate button's fields.
#[derive(Debug, Deserialize)]
struct CalibrateForm {
    method: Option<String>,
}

async fn calibrate(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<CalibrateForm>,
) -> Result<actix_web::HttpResponse, PageError> {
    let caller = form.visitor.manager()?;
    let (run, _) = trust::run_with_config(&state.db, &caller, *id).await?;
    let version = entity::model_version::Entity::find_by_id(run.model_version_id)
        .one(&state.db)
        .await?
        .ok_or(crate::error::ApiError::NotFound)?;
    let method = match form.data.method.as_deref() {
        Some("temperature") => crate::views::versions::CalibrationMethod::Temperature,
        _ => crate::views::versions::CalibrationMethod::Isotonic,
    };
    let input = crate::views::versions::CalibrationInput {
        run: run.id,
        method,
    };
    crate::services::versions::calibrate(
        &state.db,
        &caller,
        version.parent_model_id,
        version.id,
        input,
    )
    .await?;
    tracing::info!(
        run = run.id,
        version = version.id,
        "version calibrated from the web app"
    );
    Ok(redirect(&format!("/runs/{}/trust#calibration", run.id)))
}
