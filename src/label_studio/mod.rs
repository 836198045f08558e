//! Label Studio instances Prompter talks to, and the connector to them: a link from a Prompter
//! project to a Label Studio project (URL and token, the token sealed at rest), a background
//! **sync** that imports the Label Studio project's tasks and annotations, and a background
//! **push** that writes a run's predictions to the Label Studio tasks they belong to.
//!
//! - **Label config.** A link needs the two projects' label configs to agree. When the
//!   Prompter project has no tasks, it adopts Label Studio's config (at link time and again at
//!   each sync, so a config changed in Label Studio meanwhile is followed). When it has tasks,
//!   the parsed configs (controls, their targets, labels and inputs) must be equal, or the link
//!   is refused and a sync fails, naming the difference.
//! - **Sync** pages through the Label Studio task list (`fields=all`, 100 per page), upserts
//!   tasks by `ls_task_id` (data, meta) and annotations by `ls_annotation_id` (result,
//!   was_cancelled, ground_truth), one transaction per page, and recounts the tasks it touched.
//!   Rows whose content has not changed are not written, so a re-sync writes only what is new
//!   or changed. It deletes nothing: tasks and annotations deleted in Label Studio stay.
//! - **Push** lists the Label Studio project's predictions first and skips every task that
//!   already has one with the same `model_version`, so pushing twice (or again after a crash
//!   between a create and its bookkeeping) creates no duplicates; it records `ls_prediction_id`.
//!
//! A job is claimed atomically (a link runs one job at a time); a job that shows no progress for
//! [`STALE_AFTER`] (its server stopped) reads as failed and may be started again. Deleting the
//! link stops its running job at its next step. The token never appears in a response, an
//! error or a log line.
//!
//! One room per concern: [`client`] (the HTTP client of a Label Studio instance), [`link`] (the
//! link's CRUD and checks), [`jobs`] (claiming, progress and end of a link's background job),
//! [`sync`], [`push`], and [`mirror`] (the one upsert of Label Studio tasks and annotations into
//! a Prompter project, shared by the sync and the ML backend's webhook events), and
//! [`webhook_auth`] (the token header Prompter adds to the webhook Label Studio creates for a
//! prompt connected as its ML backend).
pub mod client;
pub mod jobs;
pub mod link;
pub mod mirror;
pub mod push;
pub mod sync;
pub mod webhook_auth;

pub use jobs::is_stale;
pub use link::{create, delete, get, linked_counts, update};
pub use push::start_push;
pub use sync::start_sync;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// A running job with no sign of life for this long is taken as interrupted.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

/// Job names.
pub mod job {
    /// Import tasks and annotations from Label Studio.
    pub const SYNC: &str = "sync";
    /// Push a run's predictions to Label Studio.
    pub const PUSH: &str = "push";
}

/// A link, or the fields of a link to change (PATCH). The token is write-only.
#[derive(Default, Deserialize, ToSchema)]
pub struct LinkInput {
    /// The Label Studio instance's base URL, `http(s)://host[:port][/path]`.
    pub url: Option<String>,
    /// A Label Studio API token (legacy token, sent as `Authorization: Token <token>`).
    /// Write-only: stored encrypted, never returned.
    #[schema(write_only)]
    pub token: Option<String>,
    /// The Label Studio project id.
    pub ls_project: Option<i64>,
}

impl std::fmt::Debug for LinkInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkInput")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ls_project", &self.ls_project)
            .finish()
    }
}

/// Which imported annotations count as ground truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroundTruthMode {
    /// Every non-cancelled annotation (Label Studio users rarely set the flag).
    #[default]
    All,
    /// Only annotations Label Studio flags as ground truth.
    Flagged,
}

/// Options of a sync.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SyncInput {
    /// `all` (default) or `flagged`.
    pub ground_truth: Option<GroundTruthMode>,
}

/// What to push.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PushInput {
    /// The inference run whose predictions to push (a run on this project).
    pub run: Option<i64>,
    /// Same as `run`.
    pub model_run: Option<i64>,
}

/// Rows of the Prompter project that are tied to Label Studio objects.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct LinkedCounts {
    /// Tasks synced from Label Studio (with a Label Studio task id).
    pub tasks: i64,
    /// Annotations synced from Label Studio.
    pub annotations: i64,
    /// Predictions pushed to Label Studio (with a Label Studio prediction id).
    pub predictions: i64,
}

/// Sets `column` of the rows of `table` by id, in one statement per 500 rows.
async fn set_ids(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    pairs: &[(i64, i64)],
) -> Result<(), sea_orm::DbErr> {
    for chunk in pairs.chunks(500) {
        let cases: String = chunk
            .iter()
            .map(|(id, value)| format!(" WHEN {id} THEN {value}"))
            .collect();
        let ids = chunk
            .iter()
            .map(|(id, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        db.execute_unprepared(&format!(
            "UPDATE {table} SET {column} = CASE id{cases} END WHERE id IN ({ids})"
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_input_debug_hides_the_token() {
        let input = LinkInput {
            url: Some("http://x".into()),
            token: Some("tok-secret".into()),
            ls_project: Some(1),
        };
        assert!(!format!("{input:?}").contains("tok-secret"));
    }
}
