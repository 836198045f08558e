//! Prompts as both front ends show them: projects as `{id, title}`, counts, and the best score
//! with the accuracy it is.
use crate::error::ApiResult;
use crate::scoring::Accuracy;
use crate::services::accounts;
use crate::services::prompts as service;
use crate::state::AppState;
use crate::views::prompts::{AssociatedProject, PromptDetailView, PromptFields};
use crate::views::users::UserSimple;
use entity::model_interface;

/// The users of `ids` as `UserSimple`, by id (creators, authors).
pub async fn creators(
    state: &AppState,
    ids: impl Iterator<Item = Option<i64>>,
) -> ApiResult<std::collections::HashMap<i64, UserSimple>> {
    let ids: Vec<i64> = ids.flatten().collect();
    Ok(accounts::users_by_id(&state.db, &ids)
        .await?
        .iter()
        .map(|(id, u)| (*id, UserSimple::from(u)))
        .collect())
}

/// A prompt as a list shows it, with the accuracy its best score is.
#[derive(Debug, serde::Serialize)]
pub struct PromptRow {
    /// The prompt's detail view.
    #[serde(flatten)]
    pub view: PromptDetailView,
    /// The accuracy of its best version, by the one definition.
    pub best: Option<Accuracy>,
    /// That accuracy as people read it: `30.0% · 9 failed`.
    pub best_label: Option<String>,
    /// What every run of every version cost (USD).
    pub total_cost: f64,
}

/// The detail views of `prompts`: projects as `{id, title}`, counts and best score.
pub async fn detail_views(
    state: &AppState,
    prompts: Vec<model_interface::Model>,
) -> ApiResult<Vec<PromptDetailView>> {
    Ok(rows(state, prompts)
        .await?
        .into_iter()
        .map(|r| r.view)
        .collect())
}

/// The rows of `prompts`: detail views with the accuracy of each best score and the cost.
pub async fn rows(
    state: &AppState,
    mut prompts: Vec<model_interface::Model>,
) -> ApiResult<Vec<PromptRow>> {
    service::forget_deleted_deployed(&state.db, &mut prompts).await?;
    let ids: Vec<i64> = prompts.iter().map(|p| p.id).collect();
    let mut links = service::associations(&state.db, &ids).await?;
    let project_ids: Vec<i64> = links.values().flatten().copied().collect();
    let titles = service::project_titles(&state.db, &project_ids).await?;
    let mut stats = service::stats(&state.db, &ids).await?;
    let users = creators(state, prompts.iter().map(|p| p.created_by_id)).await?;
    Ok(prompts
        .into_iter()
        .map(|p| {
            let s = stats.remove(&p.id).unwrap_or_default();
            let creator = p.created_by_id.and_then(|id| users.get(&id).cloned());
            let projects = links
                .remove(&p.id)
                .unwrap_or_default()
                .into_iter()
                .map(|id| AssociatedProject {
                    id,
                    title: titles.get(&id).cloned(),
                })
                .collect();
            PromptRow {
                view: PromptDetailView {
                    prompt: PromptFields::new(p, creator),
                    associated_projects: projects,
                    versions_count: s.versions_count,
                    runs_count: s.runs_count,
                    best_score: s.best_score,
                },
                best_label: s.best.map(|a| a.label()),
                best: s.best,
                total_cost: s.total_cost,
            }
        })
        .collect())
}
