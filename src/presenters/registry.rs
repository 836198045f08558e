//! A prompt's registry as both front ends show it: its history and its schedules.
use crate::error::ApiResult;
use crate::services::schedules;
use crate::state::AppState;
use crate::views::registry::{CommentView, LabelView, ScheduleView};
use entity::{model_version, prompt_comment, prompt_schedule, version_label};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The views of comments with their authors.
pub async fn comment_views(
    state: &AppState,
    found: Vec<prompt_comment::Model>,
) -> ApiResult<Vec<CommentView>> {
    let users = super::prompts::creators(state, found.iter().map(|c| c.author_id)).await?;
    Ok(found
        .into_iter()
        .map(|c| CommentView {
            id: c.id,
            prompt: c.prompt_id,
            version: c.version_id,
            kind: c.kind,
            text: c.text,
            author: c.author_id.and_then(|id| users.get(&id).cloned()),
            created_at: c.created_at,
        })
        .collect())
}

/// The views of schedules with their runs and creators.
pub async fn schedule_views(
    state: &AppState,
    found: Vec<prompt_schedule::Model>,
) -> ApiResult<Vec<ScheduleView>> {
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    let mut runs = schedules::runs_of(&state.db, &ids).await?;
    let users = super::prompts::creators(state, found.iter().map(|s| s.created_by_id)).await?;
    Ok(found
        .into_iter()
        .map(|s| ScheduleView {
            runs: runs.remove(&s.id).unwrap_or_default(),
            id: s.id,
            prompt: s.prompt_id,
            version: s.version_id,
            label: s.label.clone(),
            project: s.project_id,
            project_subset: s.project_subset,
            only_missing_predictions: s.only_missing_predictions,
            cron: s.cron,
            timezone: s.timezone,
            status: s.status,
            next_run_at: s.next_run_at,
            last_run_at: s.last_run_at,
            last_run: s.last_run_id,
            created_by: s.created_by_id.and_then(|id| users.get(&id).cloned()),
            created_at: s.created_at,
            updated_at: s.updated_at,
        })
        .collect())
}

/// The views of a prompt's labels with their versions' titles and who moved them.
pub async fn label_views(
    state: &AppState,
    found: Vec<version_label::Model>,
) -> ApiResult<Vec<LabelView>> {
    let ids: Vec<i64> = found.iter().map(|l| l.version_id).collect();
    let titles: std::collections::HashMap<i64, String> = model_version::Entity::find()
        .filter(model_version::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|v| (v.id, v.title))
        .collect();
    let users = super::prompts::creators(state, found.iter().map(|l| l.updated_by_id)).await?;
    Ok(found
        .into_iter()
        .map(|l| LabelView {
            version_title: titles
                .get(&l.version_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", l.version_id)),
            name: l.name,
            version: l.version_id,
            protected: l.protected,
            updated_by: l.updated_by_id.and_then(|id| users.get(&id).cloned()),
            updated_at: l.updated_at,
        })
        .collect())
}
