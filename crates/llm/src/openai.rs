//! OpenAI, Azure OpenAI and any OpenAI-compatible server ("Custom": vLLM, Ollama, llama.cpp,
//! the project's fake server) through async-openai's chat client, with structured output
//! (`response_format: json_schema`).
//!
//! The body is async-openai's typed request (messages with `text` and `image_url` content
//! parts, the response format, `max_completion_tokens`), turned into JSON so that the
//! rules' sampling values and the version's `extra` fields go in as they are, and sent with
//! the library's bring-your-own-types call. The answer is read as JSON, so an OpenAI-compatible
//! server that adds or omits fields still answers.
//!
//! async-openai runs on a Tower service of ours: it sends the request with the shared reqwest
//! client and keeps the response headers (`Retry-After`, `x-ratelimit-*`) for the scheduler.
//! The library's own retry layer is not in that stack, so the scheduler is the only retry layer.
use super::refusals::{self, Refused};
use super::rules::{self, Settings};
use super::{ImageSource, LlmError, LlmProvider, LlmRequest, LlmResponse, Part, Role, Usage};
use crate::{Credentials, Provider};
use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestMessageContentPartImage, ChatCompletionRequestMessageContentPartText,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionRequestUserMessageContentPart,
    CreateChatCompletionRequest, ImageUrl, ResponseFormat, ResponseFormatJsonSchema,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The Azure OpenAI API version used when the endpoint URL does not name one.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// Alternatives asked for at each token (OpenAI allows up to 20): enough to see the other labels
/// a model weighed.
pub const TOP_LOGPROBS: u32 = 5;

/// The client settings of one connection.
#[derive(Clone)]
enum ClientConfig {
    OpenAi(OpenAIConfig),
    Azure(AzureConfig),
}

/// An OpenAI-compatible provider.
pub struct OpenAiCompatible {
    config: ClientConfig,
    provider: Provider,
    deployment: Option<String>,
    http: outbound::Outbound,
    refused: Refused,
}

impl OpenAiCompatible {
    /// The provider of an OpenAI, AzureOpenAI or Custom connection.
    pub fn new(credentials: &Credentials, http: outbound::Outbound) -> Result<Self, LlmError> {
        let key = credentials
            .api_key
            .clone()
            .or_else(|| credentials.auth_token.clone())
            .unwrap_or_default();
        let endpoint = credentials
            .endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/').to_string());
        let config = match credentials.provider {
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
                ClientConfig::Azure(
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
                ClientConfig::OpenAi(OpenAIConfig::new().with_api_base(base).with_api_key(key))
            }
            _ => ClientConfig::OpenAi(
                OpenAIConfig::new()
                    .with_api_base(endpoint.unwrap_or_else(|| "https://api.openai.com/v1".into()))
                    .with_api_key(key),
            ),
        };
        Ok(OpenAiCompatible {
            config,
            provider: credentials.provider,
            deployment: credentials.deployment_name.clone(),
            http,
            refused: Refused::default(),
        })
    }

    /// Sends one body; the answer's JSON and headers, or the typed error.
    async fn post(&self, body: Value) -> Result<(Value, HeaderMap), LlmError> {
        let capture = Capture {
            http: self.http.clone(),
            response: Arc::default(),
        };
        let result = match &self.config {
            ClientConfig::OpenAi(c) => call(c.clone(), &capture, body).await,
            ClientConfig::Azure(c) => call(c.clone(), &capture, body).await,
        };
        let (status, headers) = capture
            .response
            .lock()
            .ok()
            .and_then(|mut h| h.take())
            .unwrap_or((200, HeaderMap::new()));
        let answer = result.map_err(|e| map_error(e, status, &headers))?;
        Ok((answer, headers))
    }
}

/// Splits `?api-version=...` off an Azure endpoint.
pub(crate) fn split_api_version(endpoint: &str) -> (String, String) {
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

/// A user message: plain text, or `text` and `image_url` parts in order when it has images.
fn user_message(parts: &[Part]) -> ChatCompletionRequestUserMessage {
    if !parts.iter().any(|p| matches!(p, Part::Image(_))) {
        let text: String = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Image(_) => None,
            })
            .collect();
        return text.into();
    }
    let content = parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => ChatCompletionRequestMessageContentPartText {
                text: text.clone(),
                ..Default::default()
            }
            .into(),
            Part::Image(image) => {
                let url = match image {
                    ImageSource::Url(url) => url.clone(),
                    ImageSource::Inline { media_type, data } => super::data_url(media_type, data),
                };
                ChatCompletionRequestMessageContentPartImage {
                    image_url: ImageUrl { url, detail: None },
                    ..Default::default()
                }
                .into()
            }
        })
        .collect::<Vec<ChatCompletionRequestUserMessageContentPart>>();
    ChatCompletionRequestUserMessage {
        content: ChatCompletionRequestUserMessageContent::Array(content),
        name: None,
    }
}

/// The chat completions body of `request` with `settings` (see `llm::rules`).
pub fn body(request: &LlmRequest, settings: &Settings) -> Result<Value, LlmError> {
    let messages = request
        .messages
        .iter()
        .map(|message| -> ChatCompletionRequestMessage {
            match message.role {
                Role::System => ChatCompletionRequestSystemMessage::from(message.text()).into(),
                Role::User => user_message(&message.parts).into(),
                Role::Assistant => ChatCompletionRequestAssistantMessage {
                    content: Some(message.text().into()),
                    ..Default::default()
                }
                .into(),
            }
        })
        .collect();
    let typed = CreateChatCompletionRequest {
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
        max_completion_tokens: settings.max_tokens,
        ..Default::default()
    };
    let mut body = serde_json::to_value(typed)
        .map_err(|e| LlmError::Unsupported(format!("the request cannot be written: {e}")))?;
    // Set as JSON: the typed fields are f32, a closed enum, and `seed` is marked deprecated
    // there though OpenAI and every compatible server still take it.
    if let Some(seed) = settings.seed {
        body["seed"] = json!(seed);
    }
    if let Some(t) = settings.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(p) = settings.top_p {
        body["top_p"] = json!(p);
    }
    if let Some(effort) = &settings.reasoning_effort {
        body["reasoning_effort"] = json!(effort);
    }
    if settings.logprobs {
        body["logprobs"] = json!(true);
        body["top_logprobs"] = json!(TOP_LOGPROBS);
    }
    rules::merge_extra(&mut body, &settings.extra);
    Ok(body)
}

/// The text of a message's `content`: a string, or the `text` of its parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// The usage of a chat completion: reasoning tokens (part of the completion tokens) and cached
/// prompt tokens (part of the prompt tokens) from the details.
pub fn read_usage(usage: Option<&Value>) -> Usage {
    let number = |path: &str| {
        usage
            .and_then(|u| u.pointer(path))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Usage {
        prompt_tokens: number("/prompt_tokens"),
        completion_tokens: number("/completion_tokens"),
        reasoning_tokens: number("/completion_tokens_details/reasoning_tokens"),
        cached_tokens: number("/prompt_tokens_details/cached_tokens"),
    }
}

/// The token log-probabilities of a chat completion's content (`choices[0].logprobs.content`),
/// empty when it has none. A token's `bytes` are used when given, else its text.
pub fn read_logprobs(answer: &Value) -> Vec<super::TokenLogprob> {
    let bytes = |item: &Value| -> Option<Vec<u8>> {
        match item.get("bytes").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect(),
            None => item
                .get("token")
                .and_then(Value::as_str)
                .map(|t| t.as_bytes().to_vec()),
        }
    };
    let Some(content) = answer
        .pointer("/choices/0/logprobs/content")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let read: Option<Vec<super::TokenLogprob>> = content
        .iter()
        .map(|item| {
            let top = item
                .get("top_logprobs")
                .and_then(Value::as_array)
                .map(|alts| {
                    alts.iter()
                        .filter_map(|a| Some((bytes(a)?, a.get("logprob")?.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            Some(super::TokenLogprob {
                bytes: bytes(item)?,
                logprob: item.get("logprob")?.as_f64()?,
                top,
            })
        })
        .collect();
    // One unreadable token makes the offsets of all the others unreliable.
    read.unwrap_or_default()
}

/// The output and usage of a chat completion. A refusal, an answer cut at the token limit
/// (`finish_reason: length`) and one withheld by the content filter are `InvalidOutput`.
pub fn read_answer(answer: &Value) -> Result<(Value, Usage), LlmError> {
    let usage = read_usage(answer.get("usage"));
    let choice = answer.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    if let Some(refusal) = message
        .and_then(|m| m.get("refusal"))
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
    {
        return Err(super::withheld(
            format!("the model refused to answer: {refusal}"),
            usage,
        ));
    }
    match choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
    {
        Some("length") => return Err(super::cut_at_limit("finish_reason: length", usage)),
        Some("content_filter") => {
            return Err(super::withheld(
                "the provider's content filter withheld the answer (finish_reason: \
                 content_filter)"
                    .into(),
                usage,
            ));
        }
        _ => {}
    }
    let content = message
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default();
    super::parse::json_object(&content)
        .map(|v| (v, usage))
        .map_err(|message| LlmError::InvalidOutput { message, usage })
}

#[async_trait::async_trait]
impl LlmProvider for OpenAiCompatible {
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let rules = rules::rules(self.provider, &request.model, self.deployment.as_deref());
        let settings = rules::settings(&rules, &request.model, &request.params);
        let mut notes = settings.notes.clone();
        let body = body(request, &settings)?;
        let (answer, headers) =
            refusals::send(&self.refused, &request.model, body, &mut notes, |b| {
                self.post(b)
            })
            .await?;
        let (output, usage) = read_answer(&answer)?;
        Ok(LlmResponse {
            output,
            usage,
            limits: super::rate_limits(&headers),
            notes,
            logprobs: read_logprobs(&answer),
        })
    }
}

/// One chat call through async-openai on the capturing service.
async fn call<C: Config + 'static>(
    config: C,
    capture: &Capture,
    body: Value,
) -> Result<Value, OpenAIError> {
    let client =
        Client::build(capture.http.client().clone(), config).with_http_service(capture.clone());
    client.chat().create_byot(body).await
}

/// The typed error of an async-openai failure; `status` is the HTTP status the service saw
/// (an error page that is not JSON still counts by its status, not as a bad answer).
fn map_error(error: OpenAIError, status: u16, headers: &HeaderMap) -> LlmError {
    match error {
        OpenAIError::ApiError(e) => {
            let status = e.status_code.as_u16();
            let a = e.api_error;
            let body = json!({"error": {
                "message": a.message, "type": a.r#type, "param": a.param, "code": a.code,
            }})
            .to_string();
            LlmError::from_status(status, headers, &body)
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(std::time::Duration::ZERO),
        OpenAIError::Reqwest(e) => {
            tracing::warn!(target: "outbound", "provider request failed: {e}");
            LlmError::Connection("the host cannot be reached".into())
        }
        OpenAIError::JSONDeserialize(_, content) if !(200..300).contains(&status) => {
            LlmError::from_status(status, headers, &content)
        }
        OpenAIError::JSONDeserialize(e, content) => {
            let shown: String = content.chars().take(200).collect();
            tracing::warn!(target: "outbound", "unreadable provider answer ({e}): {shown}");
            LlmError::InvalidOutput {
                message: "the answer is not a chat completion".into(),
                usage: Usage::default(),
            }
        }
        OpenAIError::Boxed(e) => match e.downcast::<outbound::OutboundError>() {
            Ok(outbound) => LlmError::from(*outbound),
            Err(e) => {
                tracing::warn!(target: "outbound", "provider request failed: {e}");
                LlmError::Connection("the host cannot be reached".into())
            }
        },
        other => {
            tracing::warn!(target: "outbound", "provider request failed: {other}");
            LlmError::Connection("the request could not be made".into())
        }
    }
}

/// A Tower service that sends async-openai's requests with our client and keeps the status and
/// headers of the response.
#[derive(Clone)]
struct Capture {
    http: outbound::Outbound,
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
            let outcome = match http.execute(request).await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some((status.as_u16(), headers.clone()));
                    }
                    // Read here under the cap; async-openai reads the copy in memory.
                    http.read(response)
                        .await
                        .map(|body| (status, headers, body))
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok((status, headers, body)) => {
                    let mut copy = http::Response::new(body);
                    *copy.status_mut() = status;
                    *copy.headers_mut() = headers;
                    Ok(reqwest::Response::from(copy))
                }
                Err(e) => {
                    if let Ok(mut slot) = slot.lock() {
                        *slot = Some((0, HeaderMap::new()));
                    }
                    Err(OpenAIError::Boxed(Box::new(e)))
                }
            }
        })
    }
}

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
