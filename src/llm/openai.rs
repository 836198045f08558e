//! OpenAI, Azure OpenAI and any OpenAI-compatible server ("Custom": vLLM, Ollama, llama.cpp,
//! the project's fake server) through async-openai's chat client, with structured output
//! (`response_format: json_schema`).
//!
//! async-openai runs on a Tower service of ours: it sends the request with the shared reqwest
//! client and keeps the response headers (`Retry-After`, `x-ratelimit-*`) for the scheduler.
//! The library's own retry layer is not in that stack, so the scheduler is the only retry layer.
use super::{LlmError, LlmProvider, LlmRequest, LlmResponse, Role, Usage};
use crate::services::model_providers::{Credentials, Provider};
use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, ResponseFormat, ResponseFormatJsonSchema,
};
use reqwest::header::HeaderMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The Azure OpenAI API version used when the endpoint URL does not name one.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// The client settings of one connection.
#[derive(Clone)]
enum Settings {
    OpenAi(OpenAIConfig),
    Azure(AzureConfig),
}

/// An OpenAI-compatible provider.
pub struct OpenAiCompatible {
    settings: Settings,
    http: reqwest::Client,
}

impl OpenAiCompatible {
    /// The provider of an OpenAI, AzureOpenAI or Custom connection.
    pub fn new(credentials: &Credentials, http: reqwest::Client) -> Result<Self, LlmError> {
        let key = credentials
            .api_key
            .clone()
            .or_else(|| credentials.auth_token.clone())
            .unwrap_or_default();
        let endpoint = credentials
            .endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/').to_string());
        let settings = match credentials.provider {
            Provider::AzureOpenAI => {
                let endpoint = endpoint.ok_or_else(|| {
                    LlmError::Unsupported(
                        "an AzureOpenAI connection needs its endpoint URL".to_string(),
                    )
                })?;
                let deployment = credentials.deployment_name.clone().ok_or_else(|| {
                    LlmError::Unsupported(
                        "an AzureOpenAI connection needs its deployment_name".to_string(),
                    )
                })?;
                let (base, version) = split_api_version(&endpoint);
                Settings::Azure(
                    AzureConfig::new()
                        .with_api_base(base)
                        .with_api_version(version)
                        .with_deployment_id(deployment)
                        .with_api_key(key),
                )
            }
            Provider::Custom => {
                let base = endpoint.ok_or_else(|| {
                    LlmError::Unsupported(
                        "a Custom connection needs its endpoint (the OpenAI-compatible base URL)"
                            .to_string(),
                    )
                })?;
                Settings::OpenAi(OpenAIConfig::new().with_api_base(base).with_api_key(key))
            }
            _ => Settings::OpenAi(
                OpenAIConfig::new()
                    .with_api_base(endpoint.unwrap_or_else(|| "https://api.openai.com/v1".into()))
                    .with_api_key(key),
            ),
        };
        Ok(OpenAiCompatible { settings, http })
    }
}

/// Splits `?api-version=...` off an Azure endpoint.
fn split_api_version(endpoint: &str) -> (String, String) {
    match endpoint.split_once('?') {
        Some((base, query)) => {
            let version = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("api-version="))
                .unwrap_or(AZURE_API_VERSION);
            (base.trim_end_matches('/').to_string(), version.to_string())
        }
        None => (endpoint.to_string(), AZURE_API_VERSION.to_string()),
    }
}

/// The chat request of `request`.
fn chat_request(request: &LlmRequest) -> CreateChatCompletionRequest {
    let messages = request
        .messages
        .iter()
        .map(|message| -> ChatCompletionRequestMessage {
            let (role, content) = (&message.role, message.text());
            match role {
                Role::System => ChatCompletionRequestSystemMessage::from(content.as_str()).into(),
                Role::User => ChatCompletionRequestUserMessage::from(content.as_str()).into(),
                Role::Assistant => ChatCompletionRequestAssistantMessage {
                    content: Some(content.clone().into()),
                    ..Default::default()
                }
                .into(),
            }
        })
        .collect();
    CreateChatCompletionRequest {
        model: request.model.clone(),
        messages,
        response_format: Some(ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: None,
                name: "labels".into(),
                schema: request.schema.clone(),
                strict: None,
            },
        }),
        max_completion_tokens: request.params.max_tokens,
        temperature: Some(0.0),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl LlmProvider for OpenAiCompatible {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let body = chat_request(request);
        let capture = Capture {
            http: self.http.clone(),
            response: Arc::default(),
        };
        let result = match &self.settings {
            Settings::OpenAi(c) => call(c.clone(), &capture, body).await,
            Settings::Azure(c) => call(c.clone(), &capture, body).await,
        };
        let (status, headers) = capture
            .response
            .lock()
            .ok()
            .and_then(|mut h| h.take())
            .unwrap_or((200, HeaderMap::new()));
        let limits = super::rate_limits(&headers);
        let response = result.map_err(|e| map_error(e, status, &headers))?;
        let usage = response
            .usage
            .map(|u| Usage {
                prompt_tokens: u64::from(u.prompt_tokens),
                completion_tokens: u64::from(u.completion_tokens),
                ..Default::default()
            })
            .unwrap_or_default();
        let message = response.choices.into_iter().next().map(|c| c.message);
        let content = match message {
            Some(m) => match (m.content, m.refusal) {
                (Some(text), _) => text,
                (None, Some(refusal)) => {
                    return Err(LlmError::InvalidOutput {
                        message: format!("the model refused: {refusal}"),
                        usage,
                    });
                }
                (None, None) => String::new(),
            },
            None => String::new(),
        };
        let output = super::parse::json_object(&content)
            .map_err(|message| LlmError::InvalidOutput { message, usage })?;
        Ok(LlmResponse {
            output,
            usage,
            limits,
            notes: vec![],
        })
    }
}

/// One chat call through async-openai on the capturing service.
async fn call<C: Config + 'static>(
    config: C,
    capture: &Capture,
    body: CreateChatCompletionRequest,
) -> Result<async_openai::types::chat::CreateChatCompletionResponse, OpenAIError> {
    let client = Client::build(capture.http.clone(), config).with_http_service(capture.clone());
    client.chat().create(body).await
}

/// The typed error of an async-openai failure; `status` is the HTTP status the service saw
/// (an error page that is not JSON still counts by its status, not as a bad answer).
fn map_error(error: OpenAIError, status: u16, headers: &HeaderMap) -> LlmError {
    match error {
        OpenAIError::ApiError(e) => {
            let status = e.status_code.as_u16();
            let body = serde_json::json!({"error": {"message": e.api_error.message}}).to_string();
            LlmError::from_status(status, headers, &body)
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(std::time::Duration::ZERO),
        OpenAIError::Reqwest(e) => LlmError::Connection(e.to_string()),
        OpenAIError::JSONDeserialize(_, content) if !(200..300).contains(&status) => {
            LlmError::from_status(status, headers, &content)
        }
        OpenAIError::JSONDeserialize(e, content) => {
            let shown: String = content.chars().take(200).collect();
            LlmError::InvalidOutput {
                message: format!("unreadable response ({e}): {shown}"),
                usage: Usage::default(),
            }
        }
        other => LlmError::Connection(other.to_string()),
    }
}

/// A Tower service that sends async-openai's requests with our client and keeps the status and
/// headers of the response.
#[derive(Clone)]
struct Capture {
    http: reqwest::Client,
    response: Arc<Mutex<Option<(u16, HeaderMap)>>>,
}

impl tower::Service<HttpRequestFactory> for Capture {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let http = self.http.clone();
        let slot = self.response.clone();
        Box::pin(async move {
            let request = factory.build().await?;
            let response = http.execute(request).await?;
            if let Ok(mut slot) = slot.lock() {
                *slot = Some((response.status().as_u16(), response.headers().clone()));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    #[test]
    fn azure_endpoints_give_their_api_version() {
        assert_eq!(
            split_api_version("https://x.openai.azure.com?api-version=2025-01-01-preview"),
            (
                "https://x.openai.azure.com".to_string(),
                "2025-01-01-preview".to_string()
            )
        );
        assert_eq!(
            split_api_version("https://x.openai.azure.com"),
            (
                "https://x.openai.azure.com".to_string(),
                AZURE_API_VERSION.to_string()
            )
        );
    }

    #[test]
    fn error_pages_count_by_their_status() {
        let page = "<html>401 Authorization Required</html>".to_string();
        let not_json = || serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        let e = map_error(
            OpenAIError::JSONDeserialize(not_json(), page.clone()),
            401,
            &HeaderMap::new(),
        );
        assert_eq!(e.error_type(), "Authentication");
        let e = map_error(
            OpenAIError::JSONDeserialize(not_json(), page.clone()),
            502,
            &HeaderMap::new(),
        );
        assert_eq!(e.error_type(), "ProviderError");
        let e = map_error(
            OpenAIError::JSONDeserialize(not_json(), page),
            200,
            &HeaderMap::new(),
        );
        assert_eq!(e.error_type(), "InvalidOutput");
    }

    #[test]
    fn requests_carry_the_schema() {
        let request = LlmRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![
                Message::new(Role::System, "sys"),
                Message::new(Role::User, "hi"),
                Message::new(Role::Assistant, "{}"),
            ],
            schema: serde_json::json!({"type": "object"}),
            params: crate::llm::ModelParams {
                max_tokens: Some(100),
                ..Default::default()
            },
        };
        let body = serde_json::to_value(chat_request(&request)).expect("serializes");
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(
            body["response_format"]["json_schema"]["schema"]["type"],
            "object"
        );
        assert_eq!(body["messages"][2]["role"], "assistant");
        assert_eq!(body["max_completion_tokens"], 100);
    }
}
