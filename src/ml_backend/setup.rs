//! `/setup` and `/versions`: what Label Studio learns of the prompt's model, and the mirror
//! project `/setup` registers. No LLM call.
use super::projects::{ProjectInfo, answering, parse_config, project_key, upsert_mirror};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_studio::client::normalize_base_url;
use crate::label_studio::webhook_auth::enqueue_authorize_webhook;
use crate::services::{prompts, versions};
use crate::state::AppState;
use crate::views::ml_backend::{SetupInput, SetupView};
use entity::model_version;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// `/setup`: registers or refreshes a Label Studio project and reports the deployed version's
/// `model_version`. No LLM call. With Label Studio's host and token in the body and
/// `backend_token` (the token Label Studio authenticated with), the webhook Label Studio
/// created for the backend gets that token's header by a job (unless turned off).
pub async fn setup(
    state: &AppState,
    caller: &AuthUser,
    prompt_id: i64,
    input: SetupInput,
    backend_token: Option<String>,
) -> ApiResult<SetupView> {
    let (prompt, _, label) = answering(&state.db, caller, prompt_id).await?;
    let ls_project: Option<i64> = input
        .project
        .as_ref()
        .and_then(project_key)
        .and_then(|k| k.parse().ok());
    let key = input
        .project
        .as_ref()
        .and_then(project_key)
        .ok_or_else(|| {
            ApiError::field(
                "project",
                "Expected Label Studio's \"<project id>.<created_at>\" string.",
            )
        })?;
    let schema = input.schema.as_deref().filter(|s| !s.trim().is_empty());
    if let Some(xml) = schema {
        parse_config("schema", xml)?;
    }
    let info = ProjectInfo {
        label_config: schema,
        hostname: input.hostname.as_deref(),
        access_token: input.access_token.as_deref(),
    };
    upsert_mirror(&state.db, &state.secrets, caller, &prompt, &key, info).await?;
    if state.settings.ml_webhook_auth
        && let (Some(project), Some(host), Some(ls_token), Some(token)) = (
            ls_project,
            input.hostname.as_deref(),
            input.access_token.as_deref(),
            backend_token,
        )
        && let Ok(base) = normalize_base_url(host)
    {
        enqueue_authorize_webhook(
            &state.engine,
            caller,
            prompt_id,
            &base,
            project,
            ls_token,
            &token,
        )
        .await?;
    }
    Ok(SetupView {
        model_version: label,
    })
}

/// The `model_version` labels of a prompt's versions, oldest first.
pub async fn version_labels(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<Vec<String>> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let titles: Vec<String> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Title)
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .order_by_asc(model_version::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(titles
        .iter()
        .map(|t| versions::prediction_label(&prompt.title, t))
        .collect())
}
