//! Testing a connection: the provider's model list where it has one (OpenAI-compatible and
//! Anthropic `GET /models`) and a one-token call, each timed. Used by the web app's "Test"
//! button; nothing is stored.
use super::{
    Credentials, LlmRequest, Message, ModelParams, Provider, Role, key_and_base, provider_for,
};
use serde_json::{Value, json};
use std::time::Instant;

/// What a connection test found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProbeReport {
    /// Whether the one-token call got an answer (any answer: a cut-off one still proves the key,
    /// the endpoint and the model).
    pub ok: bool,
    /// The model the call used.
    pub model: String,
    /// How long the call took, in milliseconds.
    pub latency_ms: u64,
    /// The provider's models, when it lists them (at most 200).
    pub models: Vec<String>,
    /// Why the call or the listing failed, in the provider's words.
    pub error: Option<String>,
}

/// Tests `credentials` with `model` (else the first listed model).
pub async fn probe(
    credentials: &Credentials,
    http: &outbound::Outbound,
    model: Option<&str>,
) -> ProbeReport {
    let mut report = ProbeReport::default();
    match list_models(credentials, http).await {
        Ok(models) => report.models = models,
        Err(e) => report.error = Some(format!("listing models: {e}")),
    }
    let chosen = model
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .or_else(|| report.models.first().cloned())
        .or_else(|| credentials.deployment_name.clone());
    let Some(chosen) = chosen else {
        report.error = Some(report.error.take().unwrap_or_else(|| {
            "name a model to test: this provider does not list its models".to_string()
        }));
        return report;
    };
    report.model = chosen.clone();
    let provider = match provider_for(credentials, http) {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    let request = LlmRequest {
        model: chosen,
        messages: vec![Message::new(Role::User, "Answer with the word ok.")],
        schema: json!({"type": "object", "properties": {"answer": {"type": "string"}},
            "required": ["answer"], "additionalProperties": false}),
        params: ModelParams {
            max_tokens: Some(1),
            ..Default::default()
        },
    };
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        provider.complete(&request),
    )
    .await;
    report.latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(_)) => {
            report.ok = true;
            report.error = None;
        }
        // One token cannot hold a JSON object: an unreadable or cut-off answer is an answer.
        Ok(Err(super::LlmError::InvalidOutput { .. })) => {
            report.ok = true;
            report.error = None;
        }
        Ok(Err(e)) => report.error = Some(e.to_string()),
        Err(_) => report.error = Some("no answer within 30 s".to_string()),
    }
    report
}

/// The provider's model ids: `GET {base}/models` for OpenAI-compatible connections (and
/// `/v1/models` for Anthropic). Gemini and Azure deployments are not listed.
pub async fn list_models(
    credentials: &Credentials,
    http: &outbound::Outbound,
) -> Result<Vec<String>, String> {
    let request = match credentials.provider {
        Provider::OpenAI | Provider::Custom => {
            let (key, _) = key_and_base(credentials, "", "/").map_err(|e| e.to_string())?;
            let base = credentials
                .endpoint
                .as_deref()
                .unwrap_or("https://api.openai.com/v1")
                .trim_end_matches('/');
            http.client().get(format!("{base}/models")).bearer_auth(key)
        }
        Provider::Anthropic => {
            let (key, base) = key_and_base(credentials, "https://api.anthropic.com", "/v1")
                .map_err(|e| e.to_string())?;
            http.client()
                .get(format!("{base}/v1/models"))
                .header("x-api-key", key)
                .header("anthropic-version", "2023-06-01")
        }
        _ => return Ok(Vec::new()),
    };
    let (body, _) = super::send_json(http, request.timeout(std::time::Duration::from_secs(15)))
        .await
        .map_err(|e| e.to_string())?;
    Ok(model_ids(&body))
}

/// The ids of a model list (`{"data": [{"id": ...}]}`), sorted, at most 200.
fn model_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m["id"].as_str())
                // Model ids are words; anything else in the list is not shown.
                .filter(|id| {
                    id.len() <= 128
                        && id.chars().all(|c| {
                            c.is_ascii_alphanumeric()
                                || matches!(c, '_' | '.' | '-' | ':' | '/' | '@')
                        })
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids.truncate(200);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_lists() {
        let body = json!({"object": "list", "data": [{"id": "b"}, {"id": "a"}, {"x": 1}]});
        assert_eq!(model_ids(&body), vec!["a", "b"]);
        assert!(model_ids(&json!({})).is_empty());
    }
}
