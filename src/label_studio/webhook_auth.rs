//! The ML backend's webhook, set up for the user: when Label Studio connects a prompt as its ML
//! backend it creates a project webhook to `<backend url>/webhook` without any header, so its
//! events would be refused. On `/setup` (which carries Label Studio's host and a token),
//! Prompter finds that webhook and adds `Authorization: Token <the backend's token>` to its
//! headers, keeping any other header. Idempotent (a webhook already sending the header is left
//! alone), logged, retried for a while because Label Studio may create the webhook just after
//! `/setup`, and off with `PROMPTER_ML_WEBHOOK_AUTH=false`. The token is never logged.
use super::client::{LsClient, LsError, LsWebhook};
use serde_json::Value;
use std::time::Duration;

/// Waits between the looks for the webhook (Label Studio creates it around `/setup`).
const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_millis(0),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// What authorizing the webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAuth {
    /// The header was added to this webhook.
    Added(i64),
    /// This webhook already sends the header.
    AlreadySet(i64),
    /// No webhook of the project posts to the backend (after every retry).
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

/// Adds `Authorization: Token <token>` to the webhook of Label Studio project `project` that
/// posts to `path` (e.g. `/ml/prompts/7/webhook`), looking again for a while if it is not
/// there yet. A refused token or an unreachable host ends the attempt with the error.
pub async fn authorize_webhook(
    client: &LsClient,
    project: i64,
    path: &str,
    token: &str,
) -> Result<WebhookAuth, LsError> {
    let header = format!("Token {token}");
    for delay in RETRY_DELAYS {
        tokio::time::sleep(delay).await;
        if let Some(done) = try_once(client, project, path, &header).await? {
            return Ok(done);
        }
    }
    Ok(WebhookAuth::NotFound)
}

/// [`authorize_webhook`] in the background, with its outcome logged.
pub fn spawn_authorize_webhook(client: LsClient, project: i64, path: String, token: String) {
    tokio::spawn(async move {
        let host = client.base().to_string();
        match authorize_webhook(&client, project, &path, &token).await {
            Ok(WebhookAuth::Added(id)) => tracing::info!(
                %host, project, webhook = id,
                "added the token header to Label Studio's webhook for the ML backend"
            ),
            Ok(WebhookAuth::AlreadySet(id)) => tracing::debug!(
                %host, project, webhook = id,
                "Label Studio's webhook for the ML backend already sends the token header"
            ),
            Ok(WebhookAuth::NotFound) => tracing::warn!(
                %host, project, %path,
                "no Label Studio webhook posts to the ML backend; annotation events will not arrive"
            ),
            Err(e) => tracing::warn!(
                %host, project, error = %e,
                "could not add the token header to Label Studio's webhook for the ML backend"
            ),
        }
    });
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
