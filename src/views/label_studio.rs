//! A project's link to a Label Studio instance: the link view, its writable fields (the token
//! is write-only: only `has_token` tells that one is stored), and the options of a sync and a
//! push.
use chrono::{DateTime, Utc};
use entity::enums::LinkStatus;
use entity::label_studio_link as link;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Progress of the running (or last) job.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkProgress {
    /// Items handled: Label Studio tasks read (sync) or predictions handled (push).
    pub done: i64,
    /// Items to handle: the Label Studio project's tasks (sync) or the run's predictions (push).
    pub total: i64,
}

/// A link from a Prompter project to a project on a Label Studio instance.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LabelStudioLinkView {
    /// Link id.
    pub id: i64,
    /// The Prompter project.
    pub project: i64,
    /// The Label Studio instance's base URL.
    pub url: String,
    /// The Label Studio project id.
    pub ls_project: i64,
    /// Always true: a link always has a token; its value is never returned.
    pub has_token: bool,
    /// `idle`, `running` (a sync or push is queued or running, retries and takeovers by
    /// another worker included) or `failed`.
    pub status: LinkStatus,
    /// The running or last job: `sync`, `push`, or null before the first job.
    pub job: Option<String>,
    /// Progress of the running or last job.
    pub progress: LinkProgress,
    /// Why the last job failed, or null.
    pub last_error: Option<String>,
    /// End of the last successful sync.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Rows of the project tied to Label Studio objects.
    pub linked: LinkedCounts,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Updated at.
    pub updated_at: DateTime<Utc>,
}

impl LabelStudioLinkView {
    /// The view of `l`.
    pub fn new(l: link::Model, linked: LinkedCounts) -> Self {
        let (status, last_error) = (l.status, l.last_error);
        LabelStudioLinkView {
            id: l.id,
            project: l.project_id,
            url: l.url,
            ls_project: l.ls_project_id,
            has_token: !l.token_enc.is_empty(),
            status,
            job: l.job,
            progress: LinkProgress {
                done: l.progress_done,
                total: l.progress_total,
            },
            last_error,
            last_synced_at: l.last_synced_at,
            linked,
            created_at: l.created_at,
            updated_at: l.updated_at,
        }
    }
}

/// A link, or the fields of a link to change (PATCH). The token is write-only.
#[derive(Default, Deserialize, ToSchema)]
#[schema(example = json!({"url": "http://localhost:8080", "token": "<Label Studio API token>", "ls_project": 7}))]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LinkedCounts {
    /// Tasks synced from Label Studio (with a Label Studio task id).
    pub tasks: i64,
    /// Annotations synced from Label Studio.
    pub annotations: i64,
    /// Predictions pushed to Label Studio (with a Label Studio prediction id).
    pub predictions: i64,
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
