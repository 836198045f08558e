//! The sync of a link: imports the Label Studio project's tasks and annotations page by page.
use super::client::{LsClient, PAGE_SIZE};
use super::job;
use super::jobs::{claim, describe, finish, open_token, progress};
use super::link::{get, reconcile_config};
use super::mirror::{self, Source, Written};
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::ApiResult;
use crate::views::label_studio::{GroundTruthMode, SyncInput};
use entity::{label_studio_link as link, project};
use sea_orm::{DatabaseConnection, EntityTrait};

/// Starts a sync in the background (a job of `engine`, so its idle hook waits for it) and
/// returns the link, now running.
pub async fn start_sync(
    engine: &Engine,
    caller: &AuthUser,
    project_id: i64,
    input: SyncInput,
) -> ApiResult<link::Model> {
    let db = engine.db();
    let existing = get(db, caller, project_id).await?;
    let token = open_token(engine.secrets(), &existing)?;
    let changes = crate::services::audit::Changes::new();
    let claimed = claim(db, caller, existing.id, job::SYNC, changes).await?;
    let mode = input.ground_truth.unwrap_or_default();
    let (db, caller, l) = (db.clone(), caller.clone(), claimed.clone());
    let http = engine.http().clone();
    engine.spawn(async move {
        let outcome = sync(&db, &http, &caller, &l, &token, mode).await;
        finish(&db, &l, job::SYNC, outcome).await;
    });
    Ok(claimed)
}

/// Reconciles the label configs, then pages through the Label Studio task list (100 per page)
/// and upserts each page into the project; returns the summary, or why it stopped.
async fn sync(
    db: &DatabaseConnection,
    http: &crate::outbound::Outbound,
    caller: &AuthUser,
    l: &link::Model,
    token: &str,
    mode: GroundTruthMode,
) -> Result<String, String> {
    let client = LsClient::new(http, &l.url, token);
    let ls = client
        .project(l.ls_project_id)
        .await
        .map_err(|e| describe(e, l.ls_project_id))?;
    let find_project = || async {
        project::Entity::find_by_id(l.project_id)
            .one(db)
            .await
            .map_err(|e| format!("database error: {e}"))?
            .ok_or_else(|| "the project was deleted".to_string())
    };
    reconcile_config(db, caller, &find_project().await?, &ls).await?;
    // Read again: adopting a config touched the row.
    let project = find_project().await?;
    let (mut tasks_read, mut written) = (0u64, Written::default());
    let mut page = 1u64;
    loop {
        let Some(found) = client
            .tasks_page(l.ls_project_id, page, PAGE_SIZE)
            .await
            .map_err(|e| describe(e, l.ls_project_id))?
        else {
            break;
        };
        let count = found.tasks.len() as u64;
        if count == 0 {
            break;
        }
        // One transaction per page; rows whose content has not changed are not written.
        let page_written = mirror::upsert(db, caller, &project, Source::Sync(mode), &found.tasks)
            .await
            .map_err(|e| format!("the page {page} of tasks could not be written: {e}"))?;
        written += page_written;
        tasks_read += count;
        let total = found.total.unwrap_or(0).max(tasks_read);
        progress(db, l.id, tasks_read as i64, total as i64).await?;
        if tasks_read >= total || count < PAGE_SIZE {
            break;
        }
        page += 1;
    }
    progress(db, l.id, tasks_read as i64, tasks_read as i64).await?;
    Ok(format!(
        "sync: {} tasks read; {} tasks created, {} updated; {} annotations created, {} updated",
        tasks_read,
        written.tasks_created,
        written.tasks_updated,
        written.annotations_created,
        written.annotations_updated
    ))
}
