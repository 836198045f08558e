//! Provider connections as both front ends show them.
use crate::error::ApiResult;
use crate::services::accounts;
use crate::state::AppState;
use crate::views::model_providers::ModelProviderConnectionView;
use entity::model_provider_connection as connection;

/// Builds the views of `connections` with their creators.
pub async fn views(
    state: &AppState,
    connections: Vec<connection::Model>,
) -> ApiResult<Vec<ModelProviderConnectionView>> {
    let creators: Vec<i64> = connections.iter().filter_map(|c| c.created_by_id).collect();
    let users = accounts::users_by_id(&state.db, &creators).await?;
    Ok(connections
        .into_iter()
        .map(|c| {
            let creator = c.created_by_id.and_then(|id| users.get(&id));
            ModelProviderConnectionView::new(c, creator)
        })
        .collect())
}
