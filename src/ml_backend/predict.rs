//! `/predict`: live predictions of Label Studio tasks within Label Studio's time budget, with
//! the mirror's ground truth as few-shot examples and the annotator's marks as a hint.
use super::projects::{
    ProjectInfo, answering, find_mirror, parse_config, project_key, upsert_mirror,
};
use crate::auth::AuthUser;
use crate::engine::live::{self, LiveOptions, LiveTask};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;
use crate::views::ml_backend::{PredictInput, PredictView, PredictionItem};
use entity::{project, task};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long `/predict` may take: Label Studio gives up after 100 s (`ML_TIMEOUT_PREDICT`);
/// calls still running at this point are canceled and their tasks answered empty.
pub const PREDICT_BUDGET: Duration = Duration::from_secs(90);

/// The hint of an interactive request: the regions the annotator drew (`context.result`),
/// one line each, for the model to stay consistent with.
pub fn context_hint(context: Option<&Value>) -> Option<String> {
    let regions = context?.get("result")?.as_array()?;
    let lines: Vec<String> = regions.iter().filter_map(describe_region).collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!(
        "The annotator has already marked this task:\n{}\nKeep your answer consistent with these marks and complete what is missing.",
        lines.join("\n")
    ))
}

fn describe_region(region: &Value) -> Option<String> {
    let value = region.get("value")?.as_object()?;
    let name = region
        .get("from_name")
        .and_then(Value::as_str)
        .unwrap_or("region");
    let labels: Option<Vec<&str>> = region
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| value.get(t))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect());
    let span = match (
        value.get("text").and_then(Value::as_str),
        value.get("start").and_then(Value::as_i64),
        value.get("end").and_then(Value::as_i64),
    ) {
        (Some(text), Some(start), Some(end)) => Some((text, start, end)),
        _ => None,
    };
    Some(match (labels, span) {
        (Some(labels), Some((text, start, end))) => format!(
            "- {name}: {} {text:?} (characters {start}-{end})",
            labels.join(", ")
        ),
        (Some(labels), None) if !labels.is_empty() => format!("- {name}: {}", labels.join(", ")),
        _ => format!("- {name}: {}", Value::Object(value.clone())),
    })
}

/// `/predict`: every task through the deployed version at once, one item per task in order,
/// within [`PREDICT_BUDGET`] from `started`. A task that cannot be predicted (missing field,
/// provider failure, out of time) gets an empty result with score 0.
pub async fn predict(
    state: &AppState,
    caller: &AuthUser,
    prompt_id: i64,
    input: PredictInput,
    started: Instant,
) -> ApiResult<PredictView> {
    let tasks = input
        .tasks
        .ok_or_else(|| ApiError::field("tasks", "This field is required."))?;
    let db = &state.db;
    let (prompt, version, label) = answering(db, caller, prompt_id).await?;
    let xml = input.label_config.filter(|c| !c.trim().is_empty());
    let config = xml
        .as_deref()
        .map(|xml| parse_config("label_config", xml))
        .transpose()?;
    // Interactive requests come without /setup: the mirror is found or created here.
    let mirror = match input.project.as_ref().and_then(project_key) {
        Some(key) => match (find_mirror(db, prompt.id, &key).await?, xml.as_deref()) {
            (Some(row), _) => Some(row),
            (None, Some(xml)) => {
                let info = ProjectInfo {
                    label_config: Some(xml),
                    ..Default::default()
                };
                Some(upsert_mirror(db, &state.secrets, caller, &prompt, &key, info).await?)
            }
            (None, None) => None,
        },
        None => None,
    };
    let config = match (config, &mirror) {
        (Some(config), _) => config,
        (None, Some(row)) => {
            let stored = project::Entity::find_by_id(row.project_id)
                .one(db)
                .await?
                .ok_or(ApiError::NotFound)?;
            parse_config("label_config", &stored.label_config)?
        }
        (None, None) => return Err(ApiError::field("label_config", "This field is required.")),
    };
    if tasks.is_empty() {
        return Ok(PredictView { results: vec![] });
    }
    // Few-shot examples are the mirror's ground truth; a task's own is never its example.
    let mirror_project = mirror.as_ref().map_or(0, |m| m.project_id);
    let ls_ids: Vec<i64> = tasks
        .iter()
        .filter_map(|t| t.get("id").and_then(Value::as_i64))
        .collect();
    let known: HashMap<i64, i64> = if mirror_project > 0 && !ls_ids.is_empty() {
        crate::db::in_chunks(&ls_ids, |chunk| {
            task::Entity::find()
                .select_only()
                .columns([task::Column::LsTaskId, task::Column::Id])
                .filter(task::Column::ProjectId.eq(mirror_project))
                .filter(task::Column::LsTaskId.is_in(chunk))
                .into_tuple::<(Option<i64>, i64)>()
                .all(db)
        })
        .await?
        .into_iter()
        .filter_map(|(ls, id)| Some((ls?, id)))
        .collect()
    } else {
        HashMap::new()
    };
    let live_tasks: Vec<LiveTask> = tasks
        .into_iter()
        .map(|t| {
            let id = t
                .get("id")
                .and_then(Value::as_i64)
                .and_then(|ls| known.get(&ls).copied())
                .unwrap_or(0);
            let data = match t {
                Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
                _ => Value::Null,
            };
            LiveTask { id, data }
        })
        .collect();
    let context = input.params.as_ref().and_then(|p| p.get("context"));
    let options = LiveOptions {
        deadline: Some(PREDICT_BUDGET.saturating_sub(started.elapsed())),
        hint: context_hint(context),
    };
    let count = live_tasks.len();
    let answers = live::predict_with(
        &state.engine,
        db,
        version,
        label.clone(),
        mirror_project,
        config,
        live_tasks,
        options,
    )
    .await
    .map_err(|e| ApiError::bad_request(ErrorCode::VersionCannotRun, e.0))?;
    let failed: Vec<&str> = answers
        .iter()
        .filter_map(|a| a.error_type.as_ref().map(|k| k.as_str()))
        .collect();
    if !failed.is_empty() {
        tracing::info!(prompt = prompt.id, tasks = count, failed = failed.len(), kinds = ?failed, "ML backend predictions with failures");
    }
    Ok(PredictView {
        results: answers
            .into_iter()
            .map(|a| {
                let ok = a.error_type.is_none();
                PredictionItem {
                    result: if ok { a.result } else { vec![] },
                    score: if ok { 1.0 } else { 0.0 },
                    model_version: label.clone(),
                }
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hints_describe_choices_and_spans() {
        let context = json!({"result": [
            {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Negative"]}},
            {"from_name": "label", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 4, "text": "John", "labels": ["PER"]}},
            {"from_name": "answer", "type": "textarea", "value": {"text": ["yes"]}},
            {"no": "value"}
        ], "annotation_id": null});
        let hint = context_hint(Some(&context)).expect("hint");
        assert!(hint.contains("- sentiment: Negative\n"), "{hint}");
        assert!(
            hint.contains("- label: PER \"John\" (characters 0-4)"),
            "{hint}"
        );
        assert!(hint.contains("- answer: {\"text\":[\"yes\"]}"), "{hint}");
        assert_eq!(context_hint(Some(&json!({"result": []}))), None);
        assert_eq!(context_hint(Some(&json!(null))), None);
        assert_eq!(context_hint(None), None);
    }
}
