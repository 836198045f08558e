//! Versions as both front ends show them: score (the accuracy of the latest completed HasGT
//! run) and creator.
use crate::error::ApiResult;
use crate::scoring::Accuracy;
use crate::services::accounts;
use crate::services::prompts::version_scores;
use crate::state::AppState;
use crate::views::users::UserSimple;
use crate::views::versions::VersionView;
use entity::model_version;

/// A version as shown, with the accuracy its score is (for the failures beside it).
#[derive(Debug, serde::Serialize)]
pub struct ScoredVersion {
    /// The version's view (its `score` is `accuracy`'s value).
    #[serde(flatten)]
    pub view: VersionView,
    /// The accuracy of its latest completed HasGT run, if one scored any task.
    pub accuracy: Option<Accuracy>,
    /// That accuracy as people read it: `30.0% · 9 failed`.
    pub score_label: Option<String>,
}

/// The views of `versions` with their scores and creators.
pub async fn views(
    state: &AppState,
    versions: Vec<model_version::Model>,
) -> ApiResult<Vec<VersionView>> {
    Ok(scored(state, versions)
        .await?
        .into_iter()
        .map(|v| v.view)
        .collect())
}

/// The views of `versions` with their scores' accuracy and creators.
pub async fn scored(
    state: &AppState,
    versions: Vec<model_version::Model>,
) -> ApiResult<Vec<ScoredVersion>> {
    let ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
    let scores = version_scores(&state.db, &ids).await?;
    let creators: Vec<i64> = versions.iter().filter_map(|v| v.created_by_id).collect();
    let users = accounts::users_by_id(&state.db, &creators).await?;
    Ok(versions
        .into_iter()
        .map(|v| {
            let accuracy = scores.get(&v.id).copied();
            let creator = v
                .created_by_id
                .and_then(|id| users.get(&id))
                .map(UserSimple::from);
            ScoredVersion {
                view: VersionView::new(v, accuracy.and_then(|a| a.value()), creator),
                score_label: accuracy.map(|a| a.label()),
                accuracy,
            }
        })
        .collect())
}
