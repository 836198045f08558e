//! Evaluation: `/api/projects/{id}/subsets`, `/api/projects/{id}/subset-tasks` and
//! `/api/inference-runs/{id}/indicators/`.
use super::{page_links, parse_ids, resource};
use crate::auth::{AuthUser, Manager};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, parse_bool};
use crate::presenters;
use crate::respond::Json;
use crate::services::evaluation::{self as service, SubsetTasksQuery};
use crate::services::{acceptance, indicators};
use crate::state::AppState;
use crate::views::PageParams;
use crate::views::evaluation::{
    AcceptanceInput, AcceptanceView, AcceptedView, DEFAULT_CONFIDENCE, DEFAULT_TARGET,
    IndicatorView, IndicatorsQuery, SubsetTasksParams, SubsetTasksView, SubsetView, SubsetsQuery,
};
use actix_web::{HttpRequest, web};
use serde_json::{Value, json};

/// Registers the evaluation routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/projects/{id}/subsets").route(web::get().to(subsets)))
        .service(resource("/api/projects/{id}/subset-tasks").route(web::get().to(subset_tasks)))
        .service(resource("/api/inference-runs/{id}/indicators/").route(web::get().to(indicators)))
        .service(
            resource("/api/inference-runs/{id}/indicators/{key}").route(web::get().to(indicator)),
        )
        .service(resource("/api/inference-runs/{id}/acceptance").route(web::get().to(acceptance)))
        .service(resource("/api/inference-runs/{id}/accept").route(web::post().to(accept)));
}

/// The target and confidence of an acceptance input, defaults filled in.
fn target_of(input: &AcceptanceInput) -> (f64, f64) {
    (
        input.target.unwrap_or(DEFAULT_TARGET),
        input.confidence.unwrap_or(DEFAULT_CONFIDENCE),
    )
}

/// Prompter extension: the lowest score threshold whose predictions have at least `target`
/// accuracy with `confidence` on the run's ground truth (fixed-sequence exact binomial tests),
/// what it accepts of the whole run, and the rest to review, least sure first.
#[utoipa::path(get, path = "/api/inference-runs/{id}/acceptance", tag = "evaluation",
    params(("id" = i64, Path, description = "Run id"), AcceptanceInput),
    responses((status = 200, body = AcceptanceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn acceptance(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    query: web::Query<AcceptanceInput>,
) -> ApiResult<Json<AcceptanceView>> {
    let (target, confidence) = target_of(&query);
    let plan = acceptance::preview(&state.db, &caller, *id, target, confidence).await?;
    Ok(Json(presenters::acceptance::view(
        &plan, target, confidence,
    )))
}

/// Prompter extension: turns the run's predictions at or above the acceptance threshold into
/// annotations (completed by the caller, `parent_prediction` set, never ground truth), except
/// where the task already has an annotation; accepting again adds nothing. 400 when no
/// threshold meets the target. Owner, Administrator or Manager.
#[utoipa::path(post, path = "/api/inference-runs/{id}/accept", tag = "evaluation",
    params(("id" = i64, Path, description = "Run id")), request_body = AcceptanceInput,
    responses((status = 200, body = AcceptedView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept(
    state: web::Data<AppState>,
    caller: Manager,
    id: web::Path<i64>,
    input: ApiJson<AcceptanceInput>,
) -> ApiResult<Json<AcceptedView>> {
    let (target, confidence) = target_of(&input.0);
    let done = acceptance::accept(&state.db, &caller, *id, target, confidence).await?;
    Ok(Json(presenters::acceptance::accepted(
        &done, target, confidence,
    )))
}

/// The subsets a run can cover, with their sizes (a bare list).
#[utoipa::path(get, path = "/api/projects/{id}/subsets", tag = "evaluation",
    params(("id" = i64, Path, description = "Project id"), SubsetsQuery),
    responses((status = 200, body = Vec<SubsetView>), (status = 404, body = ErrorBody)))]
pub async fn subsets(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    _query: web::Query<SubsetsQuery>,
) -> ApiResult<Json<Vec<SubsetView>>> {
    let (counts, config) = service::subsets(
        &state.db,
        &caller,
        *id,
        state.engine.config().sample_subset_size,
    )
    .await?;
    let columns: Vec<Value> = config
        .input_fields()
        .into_iter()
        .map(|name| json!({"name": name, "type": "String"}))
        .collect();
    let views: Vec<SubsetView> = counts
        .into_iter()
        .map(|c| SubsetView {
            subset: c.subset,
            count: c.count,
            columns_schema: columns.clone(),
        })
        .collect();
    Ok(Json(views))
}

/// Tasks of a subset beside this prompt's predictions, their ground truth, per-task score and
/// errors, with class and alignment filters.
#[utoipa::path(get, path = "/api/projects/{id}/subset-tasks", tag = "evaluation",
    params(("id" = i64, Path, description = "Project id"), PageParams, SubsetTasksParams),
    responses((status = 200, body = SubsetTasksView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn subset_tasks(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    paging: web::Query<PageParams>,
    params: web::Query<SubsetTasksParams>,
) -> ApiResult<Json<SubsetTasksView>> {
    let request = paging.resolve(100, 1000)?;
    let p = params.into_inner();
    let flag = |name: &str, raw: Option<&str>| match raw {
        None => Ok(true),
        Some(raw) => parse_bool(raw).ok_or_else(|| ApiError::field(name, "Must be true or false.")),
    };
    let include_total = flag("include_total", p.include_total.as_deref())?;
    let include_summary = flag("include_summary", p.include_summary.as_deref())?;
    let one_of = |name: &str, raw: &Option<String>, allowed: &[&str]| match raw.as_deref() {
        Some(v) if !v.is_empty() && !allowed.contains(&v) => Err(ApiError::field(
            name,
            format!(
                "\"{v}\" is not a valid choice: one of {}.",
                allowed.join(", ")
            ),
        )),
        _ => Ok(()),
    };
    one_of("ordering", &p.ordering, &["id", "-id"])?;
    one_of(
        "alignment_outcome",
        &p.alignment_outcome,
        &["all", "true_positive", "false_positive", "false_negative"],
    )?;
    let query = SubsetTasksQuery {
        parent_model: p.parent_model,
        model_run: p.model_run,
        model_version: p.model_version,
        project_subset: p
            .project_subset
            .filter(|s| !s.is_empty())
            .map(|s| {
                crate::services::runs::Subset::parse(&s).ok_or_else(|| {
                    ApiError::field(
                        "project_subset",
                        crate::services::runs::Subset::invalid_choice(&s),
                    )
                })
            })
            .transpose()?,
        include_total,
        ordering: p.ordering,
        prediction_version_ids: p
            .prediction_version_ids
            .as_deref()
            .map(|r| parse_ids("prediction_version_ids", r))
            .transpose()?
            .flatten()
            .unwrap_or_default(),
        output_class: p.output_class.filter(|s| !s.is_empty()),
        output_from_name: p.output_from_name.filter(|s| !s.is_empty()),
        alignment_class: p.alignment_class.filter(|s| !s.is_empty()),
        alignment_from_name: p.alignment_from_name.filter(|s| !s.is_empty()),
        alignment_outcome: p.alignment_outcome,
        include_summary,
        compare_to: p.compare_to,
    };
    let found = service::subset_tasks(
        &state.db,
        &caller,
        *id,
        &query,
        request,
        state.engine.config().sample_subset_size,
    )
    .await?;
    let shown = found.page.offset + found.items.len() as u64;
    let count = found
        .total
        .unwrap_or(shown + u64::from(found.items.len() as u64 == found.page.size));
    let (next, previous) = page_links(&req, found.page, count);
    let list: Vec<Value> = found
        .items
        .into_iter()
        .map(|i| {
            let mut item = json!({"id": i.id, "data": i.data, "prediction": i.prediction, "ground_truth": i.ground_truth, "score": i.score, "error": i.error});
            if let Some(closeness) = i.closeness {
                item["closeness"] = closeness;
            }
            item
        })
        .collect();
    let mut page_object =
        json!({"next_cursor": null, "previous_cursor": null, "task_result_list": list});
    if let Some(total) = found.total {
        page_object["task_count"] = json!(total);
    }
    Ok(Json(SubsetTasksView {
        count,
        next,
        previous,
        results: vec![page_object],
        summary: found.summary,
    }))
}

/// The indicators of a run (a bare list): Label Studio's `accuracy`, `f1`, `predictions`,
/// `failed_predictions`, `cost`, `classification_report`, and Prompter's
/// `ground_truth_accuracy` (accuracy over every ground-truth task of the run, failed ones
/// wrong, with its 95% Wilson interval), `version_comparison` (McNemar's test against other
/// versions' runs on the same tasks), `closeness` (Rating and Number), `dropped_spans`,
/// `calibration`, `project_accuracy` and `cost_per_correct_label` (the run's cost per task that
/// came back divided by its accuracy, with the interval accuracy's Wilson interval implies;
/// null when the model has no price or no ground-truth task is right).
#[utoipa::path(get, path = "/api/inference-runs/{id}/indicators/", tag = "evaluation",
    params(("id" = i64, Path, description = "Run id"), IndicatorsQuery),
    responses((status = 200, body = Vec<IndicatorView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn indicators(
    state: web::Data<AppState>,
    caller: AuthUser,
    id: web::Path<i64>,
    query: web::Query<IndicatorsQuery>,
) -> ApiResult<Json<Vec<IndicatorView>>> {
    let found = indicators::indicators(&state.db, &caller, *id, None, query.compare_to).await?;
    let views: Vec<IndicatorView> = found
        .into_iter()
        .map(|i| IndicatorView {
            key: i.key.into(),
            title: i.title.into(),
            values: i.values,
        })
        .collect();
    Ok(Json(views))
}

/// One indicator of a run; an unknown key answers 404.
#[utoipa::path(get, path = "/api/inference-runs/{id}/indicators/{key}", tag = "evaluation",
    params(("id" = i64, Path, description = "Run id"), ("key" = String, Path, description = "Indicator key"), IndicatorsQuery),
    responses((status = 200, body = IndicatorView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn indicator(
    state: web::Data<AppState>,
    caller: AuthUser,
    path: web::Path<(i64, String)>,
    query: web::Query<IndicatorsQuery>,
) -> ApiResult<Json<IndicatorView>> {
    let (id, key) = path.into_inner();
    let found = indicators::indicators(&state.db, &caller, id, Some(&key), query.compare_to)
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(IndicatorView {
        key: found.key.into(),
        title: found.title.into(),
        values: found.values,
    }))
}
