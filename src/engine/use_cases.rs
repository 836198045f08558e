//! The use cases both front ends offer, each one function: estimating a version's cost and
//! starting a run. The API (`routes`) and the web app (`web`) call these and differ only in how
//! they answer.
use super::Engine;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::services::{costs, runs};
use crate::views::runs::RunInput;
use crate::views::versions::CostEstimateView;
use entity::model_run;

/// The cost estimate of running version `version_id` of prompt `prompt_id` over its first
/// associated project, with the images its tasks link to measured as the engine reads them.
pub async fn estimate(
    engine: &Engine,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
) -> ApiResult<CostEstimateView> {
    let db = engine.db();
    let sizes = super::images::ImageResolver::for_prompt(engine, db, caller, prompt_id).await?;
    costs::estimate(db, caller, prompt_id, version_id, engine.prices(), &sizes).await
}

/// Starts a run of a version over a project subset (a `Sample` subset sized as configured when
/// the input gives no size) and wakes the workers; `origin` names the front end in the log.
pub async fn start_run(
    engine: &Engine,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: RunInput,
    origin: &'static str,
) -> ApiResult<model_run::Model> {
    let run = runs::create(
        engine.db(),
        caller,
        prompt_id,
        version_id,
        input,
        engine.config().sample_subset_size,
    )
    .await?;
    tracing::info!(run = run.id, tasks = run.total_tasks, subset = %run.project_subset, origin, "run started");
    engine.wake();
    Ok(run)
}
