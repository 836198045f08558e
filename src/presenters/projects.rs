//! Projects as both front ends show them: counters and creators.
use crate::error::ApiResult;
use crate::services::accounts;
use crate::services::projects::{self as service, config_of};
use crate::state::AppState;
use crate::views::projects::ProjectView;
use entity::project;

/// Builds the views of `projects` with their counters and creators.
pub async fn views(state: &AppState, projects: Vec<project::Model>) -> ApiResult<Vec<ProjectView>> {
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let creators: Vec<i64> = projects.iter().filter_map(|p| p.created_by_id).collect();
    let mut stats = service::stats(&state.db, &ids).await?;
    let users = accounts::users_by_id(&state.db, &creators).await?;
    Ok(projects
        .into_iter()
        .map(|p| {
            let config = config_of(&p);
            let s = stats.remove(&p.id).unwrap_or_default();
            let creator = p.created_by_id.and_then(|id| users.get(&id));
            ProjectView::new(p, &config, s, creator)
        })
        .collect())
}
