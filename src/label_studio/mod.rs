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
//! A sync or a push is a job of the job queue ([`crate::jobs`]): a link runs one at a time,
//! any worker runs it, a worker that dies has its job taken over within a lease, and a Label
//! Studio that cannot be reached is tried again with backoff. Deleting the link stops its
//! running job at its next step. The token never appears in a response, an error, a job's
//! payload or a log line.
//!
//! One room per concern: [`client`] (the HTTP client of a Label Studio instance), [`link`] (the
//! link's CRUD and checks), [`jobs`] (enqueuing, progress and end of a link's background job),
//! [`sync`], [`push`], and [`mirror`] (the one upsert of Label Studio tasks and annotations into
//! a Prompter project, shared by the sync and the ML backend's webhook events), [`ml_mirror`]
//! (the mirror project of each Label Studio project an ML backend serves), [`ml_jobs`] (the
//! ML backend's webhook events, applied as jobs), and [`webhook_auth`] (the token header Prompter adds to the webhook Label Studio creates for a
//! prompt connected as its ML backend).
pub mod client;
pub mod jobs;
pub mod link;
pub mod mirror;
pub mod ml_jobs;
pub mod ml_mirror;
pub mod push;
pub mod sync;
pub mod webhook_auth;

pub use link::{create, delete, get, linked_counts, links_of, update};
pub use push::start_push;
pub use sync::start_sync;

use sea_orm::ConnectionTrait;

/// Job names.
pub mod job {
    /// Import tasks and annotations from Label Studio.
    pub const SYNC: &str = "sync";
    /// Push a run's predictions to Label Studio.
    pub const PUSH: &str = "push";
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
