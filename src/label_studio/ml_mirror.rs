//! The mirror project of each Label Studio project a prompt serves (`ml_backend_projects`):
//! the Label Studio project key, the version that answers, and the Prompter project that holds
//! what Label Studio told and sent (label config, host, sealed token, ground truth).
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::label_config::LabelConfig;
use crate::services::projects;
use crate::services::{prompts, versions};
use crate::views::projects::ProjectInput;
use entity::{ml_backend_project, model_interface, model_version, project};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    SqlErr,
};
use serde_json::Value;

/// Longest Label Studio project key stored (`ml_backend_projects.ls_project`).
const MAX_KEY: usize = 64;

/// The Label Studio project key of a `project` value: the part of `"<id>.<created_at>"`
/// before the first dot; a number, or an object's `id` (webhooks), is taken as is.
pub fn project_key(value: &Value) -> Option<String> {
    let raw = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => return o.get("id").and_then(project_key),
        _ => return None,
    };
    let key = raw.split('.').next().unwrap_or_default().trim();
    (!key.is_empty() && key.chars().count() <= MAX_KEY).then(|| key.to_string())
}

/// The prompt `prompt_id` of the caller's organization (404 otherwise), the version it answers
/// with, and that version's `model_version` label. A prompt without versions is a 400.
pub async fn answering(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<(model_interface::Model, model_version::Model, String)> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let version = prompts::answering_version(db, &prompt)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::NoVersion,
                format!(
                    "Prompt {} (\"{}\") has no versions yet: create a version in Prompter, then connect the prompt again.",
                    prompt.id, prompt.title
                ),
            )
        })?;
    let label = versions::prediction_label(&prompt.title, &version.title);
    Ok((prompt, version, label))
}

/// What Label Studio told about one of its projects (all optional: an interactive `/predict`
/// or a webhook knows less than `/setup`).
#[derive(Debug, Default, Clone, Copy)]
pub struct ProjectInfo<'a> {
    /// The label config (XML), already validated.
    pub label_config: Option<&'a str>,
    /// Label Studio's URL.
    pub hostname: Option<&'a str>,
    /// The project creator's Label Studio token (stored sealed).
    pub access_token: Option<&'a str>,
}

/// The ML-backend row of (prompt, Label Studio project), if Label Studio was seen before.
pub async fn find_mirror(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    ls_project: &str,
) -> ApiResult<Option<ml_backend_project::Model>> {
    Ok(ml_backend_project::Entity::find()
        .filter(ml_backend_project::Column::PromptId.eq(prompt_id))
        .filter(ml_backend_project::Column::LsProject.eq(ls_project))
        .one(db)
        .await?)
}

/// A mirror project's title: at most 50 characters, as every project title.
fn mirror_title(ls_project: &str, prompt_id: i64) -> String {
    let long = format!("Label Studio project {ls_project} (ML backend of prompt {prompt_id})");
    if long.chars().count() <= 50 {
        return long;
    }
    format!("LS project {ls_project}, prompt {prompt_id}")
        .chars()
        .take(50)
        .collect()
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Whether `row` (and its project's label config `current`) already holds what `info` says.
fn up_to_date(
    row: &ml_backend_project::Model,
    current: Option<&str>,
    secrets: &Secrets,
    info: ProjectInfo<'_>,
) -> bool {
    let config_same = info.label_config.is_none_or(|c| Some(c) == current);
    let host_same = non_empty(info.hostname).is_none_or(|h| row.hostname.as_deref() == Some(h));
    let token_same = non_empty(info.access_token).is_none_or(|t| {
        row.access_token_enc
            .as_deref()
            .and_then(|sealed| secrets.open(sealed).ok())
            .is_some_and(|open| open == t)
    });
    config_same && host_same && token_same
}

/// Finds or creates the row of (prompt, `ls_project`) and its mirror project, then brings them
/// up to date with `info`: the mirror's label config, Label Studio's hostname and the sealed
/// access token. The mirror is created in the prompt's organization, by the caller, and
/// associated with the prompt. Nothing is written when nothing changed (`/setup` is called
/// constantly).
pub async fn upsert_mirror(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
    info: ProjectInfo<'_>,
) -> ApiResult<ml_backend_project::Model> {
    if let Some(row) = find_mirror(db, prompt.id, ls_project).await? {
        let current = project::Entity::find_by_id(row.project_id)
            .one(db)
            .await?
            .map(|p| p.label_config);
        if up_to_date(&row, current.as_deref(), secrets, info) {
            // A concurrent first association of the same link is as good as ours.
            match prompts::associate(db, prompt.id, row.project_id).await {
                Err(ApiError::Database(e)) if is_unique_violation(&e) => {}
                other => other?,
            }
            return Ok(row);
        }
    }
    // Two first sights at once (PostgreSQL): the loser's transaction fails on the unique
    // (prompt, ls_project) key and rolls its mirror project back; it then finds the winner's.
    match write_mirror(db, secrets, caller, prompt, ls_project, info).await {
        Err(ApiError::Database(e)) if is_unique_violation(&e) => {
            write_mirror(db, secrets, caller, prompt, ls_project, info).await
        }
        other => other,
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

async fn write_mirror(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    ls_project: &str,
    info: ProjectInfo<'_>,
) -> ApiResult<ml_backend_project::Model> {
    let txn = crate::db::begin_write(db).await?;
    let now = crate::util::now();
    let hostname = non_empty(info.hostname).map(str::to_owned);
    let sealed = non_empty(info.access_token).map(|t| secrets.seal(t));
    let row = match find_mirror(&txn, prompt.id, ls_project).await? {
        Some(row) => {
            if let Some(xml) = info.label_config {
                project::Entity::update_many()
                    .col_expr(project::Column::LabelConfig, Expr::value(xml))
                    .col_expr(project::Column::UpdatedAt, Expr::value(now))
                    .filter(project::Column::Id.eq(row.project_id))
                    .filter(project::Column::LabelConfig.ne(xml))
                    .exec(&txn)
                    .await?;
            }
            let mut model: ml_backend_project::ActiveModel = row.into();
            if hostname.is_some() {
                model.hostname = Set(hostname);
            }
            if sealed.is_some() {
                model.access_token_enc = Set(sealed);
            }
            model.updated_at = Set(now);
            model.update(&txn).await?
        }
        None => {
            let description = format!(
                "Mirrors Label Studio project {ls_project}{}, which uses prompt {} (\"{}\") as its ML backend: the annotations its webhooks send are the ground truth the prompt takes few-shot examples from.",
                hostname
                    .as_deref()
                    .map(|h| format!(" at {h}"))
                    .unwrap_or_default(),
                prompt.id,
                prompt.title
            );
            let mirror = projects::create(
                &txn,
                caller,
                ProjectInput {
                    title: Some(mirror_title(ls_project, prompt.id)),
                    description: Some(description),
                    label_config: Some(
                        info.label_config
                            .unwrap_or(projects::EMPTY_CONFIG)
                            .to_string(),
                    ),
                    ..Default::default()
                },
            )
            .await?;
            ml_backend_project::ActiveModel {
                id: NotSet,
                organization_id: Set(prompt.organization_id),
                prompt_id: Set(prompt.id),
                ls_project: Set(ls_project.to_string()),
                project_id: Set(mirror.id),
                hostname: Set(hostname),
                access_token_enc: Set(sealed),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?
        }
    };
    prompts::associate(&txn, prompt.id, row.project_id).await?;
    txn.commit().await?;
    Ok(row)
}

/// Parses a label config sent by Label Studio; `field` names it in the 400.
pub fn parse_config(field: &str, xml: &str) -> ApiResult<LabelConfig> {
    let config = projects::parse_config(field, xml)?;
    let answerable = config.output_schema()["properties"]
        .as_object()
        .is_some_and(|p| !p.is_empty());
    if !answerable {
        return Err(ApiError::field(
            field,
            "The label config has no control a prompt can answer (Choices, Labels on text, TextArea, Rating or Number).",
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn project_keys_are_the_part_before_the_dot() {
        assert_eq!(project_key(&json!("7.1795325158")).as_deref(), Some("7"));
        assert_eq!(project_key(&json!("12")).as_deref(), Some("12"));
        assert_eq!(project_key(&json!(12)).as_deref(), Some("12"));
        assert_eq!(
            project_key(&json!({"id": 3, "title": "x"})).as_deref(),
            Some("3")
        );
        assert_eq!(project_key(&json!(".17")), None);
        assert_eq!(project_key(&json!(null)), None);
        assert_eq!(project_key(&json!("x".repeat(65))), None);
    }

    #[test]
    fn mirror_titles_fit_fifty_characters() {
        assert_eq!(
            mirror_title("7", 3),
            "Label Studio project 7 (ML backend of prompt 3)"
        );
        assert!(mirror_title("123456789012", 123456).chars().count() <= 50);
        assert!(mirror_title(&"9".repeat(64), 1).chars().count() <= 50);
    }
}
