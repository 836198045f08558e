//! The ML backend's webhook, set up for the user: when Label Studio connects a prompt as its ML
//! backend it creates a project webhook to `<backend url>/webhook` without any header, so its
//! events would be refused. On `/setup` (which carries Label Studio's host and a token),
//! Prompter finds that webhook and adds `Authorization: Token <the backend's token>` to its
//! headers, keeping any other header. Idempotent (a webhook already sending the header is left
//! alone), logged, and off with `PROMPTER_ML_WEBHOOK_AUTH=false`. It is an `ls_webhook_auth`
//! job: a look that does not find the webhook yet (Label Studio may create it just after
//! `/setup`) is tried again with the job queue's backoff. Both tokens are sealed in the job's
//! payload (`PROMPTER_SECRET_KEY`) and never logged.
use super::client::{LsClient, LsError, LsWebhook};
use crate::auth::AuthUser;
use crate::engine::Engine;
use crate::error::ApiResult;
use crate::jobs::{BackgroundJob, JobContext, JobError};
use crate::services::jobs::{self as job_rows, NewJob};
use entity::enums::JobKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What authorizing the webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAuth {
    /// The header was added to this webhook.
    Added(i64),
    /// This webhook already sends the header.
    AlreadySet(i64),
    /// No webhook of the project posts to the backend.
    NotFound,
}

/// Whether `hook` posts to the backend whose webhook path is `path` (Label Studio may reach
/// Prompter under another host name than Prompter knows, so only the path is compared).
fn posts_to(hook: &LsWebhook, path: &str) -> bool {
    let url = hook.url.trim_end_matches('/');
    url.ends_with(path.trim_end_matches('/'))
}

/// One look: finds the webhook and adds the header if it lacks it.
async fn try_once(
    client: &LsClient,
    project: i64,
    path: &str,
    header: &str,
) -> Result<Option<WebhookAuth>, LsError> {
    let hooks = client.webhooks(project).await?;
    let Some(hook) = hooks.into_iter().find(|h| posts_to(h, path)) else {
        return Ok(None);
    };
    let mut headers = hook.headers.unwrap_or_default();
    if headers.get("Authorization").and_then(Value::as_str) == Some(header) {
        return Ok(Some(WebhookAuth::AlreadySet(hook.id)));
    }
    headers.insert("Authorization".into(), Value::String(header.into()));
    client.set_webhook_headers(hook.id, &headers).await?;
    Ok(Some(WebhookAuth::Added(hook.id)))
}

/// The job that adds the backend's token header to the webhook of a Label Studio project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookAuthJob {
    /// The prompt whose backend the webhook posts to.
    pub prompt_id: i64,
    /// The Label Studio base URL.
    pub base_url: String,
    /// The Label Studio project.
    pub ls_project: i64,
    /// The backend's webhook path, e.g. `/ml/prompts/7/webhook`.
    pub path: String,
    /// Label Studio's access token, sealed.
    pub ls_token_sealed: String,
    /// The Prompter token Label Studio authenticates with, sealed.
    pub backend_token_sealed: String,
}

impl BackgroundJob for WebhookAuthJob {
    const KIND: JobKind = JobKind::LsWebhookAuth;
    const MAX_ATTEMPTS: i32 = 6;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        let secrets = cx.engine.secrets();
        let unreadable = |_| {
            JobError::Permanent(
                "a sealed token cannot be decrypted (was PROMPTER_SECRET_KEY changed?)".into(),
            )
        };
        let ls_token = secrets.open(&self.ls_token_sealed).map_err(unreadable)?;
        let token = secrets
            .open(&self.backend_token_sealed)
            .map_err(unreadable)?;
        let client = LsClient::new(cx.engine.http(), &self.base_url, &ls_token);
        let header = format!("Token {token}");
        let found = try_once(&client, self.ls_project, &self.path, &header)
            .await
            .map_err(|e| super::jobs::ls_failure(e, self.ls_project))?;
        let host = client.base().to_string();
        let project = self.ls_project;
        match found {
            Some(WebhookAuth::Added(id)) => {
                tracing::info!(%host, project, webhook = id, "added the token header to Label Studio's webhook for the ML backend");
                Ok(format!("added the token header to webhook {id}"))
            }
            Some(WebhookAuth::AlreadySet(id)) => {
                Ok(format!("webhook {id} already sends the token header"))
            }
            _ => Err(JobError::Transient(format!(
                "no webhook of Label Studio project {project} posts to {} yet",
                self.path
            ))),
        }
    }
}

/// Enqueues the job that adds `Authorization: Token <token>` to the webhook of Label Studio
/// project `project` that posts to prompt `prompt_id`'s backend (`/ml/prompts/{id}/webhook`);
/// both tokens are sealed in its payload.
pub async fn enqueue_authorize_webhook(
    engine: &Engine,
    caller: &AuthUser,
    prompt_id: i64,
    base_url: &str,
    project: i64,
    ls_token: &str,
    token: &str,
) -> ApiResult<()> {
    let payload = WebhookAuthJob {
        prompt_id,
        base_url: base_url.to_string(),
        ls_project: project,
        path: format!("/ml/prompts/{prompt_id}/webhook"),
        ls_token_sealed: engine.secrets().seal(ls_token),
        backend_token_sealed: engine.secrets().seal(token),
    };
    let new = NewJob::new(
        WebhookAuthJob::KIND,
        Some(caller.organization_id),
        serde_json::to_value(payload).unwrap_or_default(),
    )
    .dedupe(format!("ls_webhook_auth:{prompt_id}:{project}"))
    .about(job_rows::subject::PROMPT, prompt_id)
    .by(caller.user.id);
    job_rows::enqueue(
        engine.db(),
        NewJob {
            max_attempts: WebhookAuthJob::MAX_ATTEMPTS,
            ..new
        },
    )
    .await?;
    engine.wake();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_matches_by_path_whatever_the_host() {
        let hook = |url: &str| LsWebhook {
            id: 1,
            url: url.into(),
            headers: None,
        };
        let path = "/ml/prompts/7/webhook";
        assert!(posts_to(
            &hook("http://prompter:9090/ml/prompts/7/webhook"),
            path
        ));
        assert!(posts_to(
            &hook("http://127.0.0.1:9/ml/prompts/7/webhook/"),
            path
        ));
        assert!(!posts_to(&hook("http://x/ml/prompts/17/webhook"), path));
        assert!(!posts_to(&hook("http://x/other"), path));
    }
}
