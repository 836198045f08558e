//! The provider layer: one [`LlmProvider`] trait over every LLM provider a version can use,
//! and the [`scheduler`] that paces, retries and bounds the calls to each of them.
//!
//! A call is a chat ([`LlmRequest::messages`]) plus the JSON schema the answer must fit; the
//! answer is the parsed JSON object and the tokens it cost. Providers do no retries of their
//! own: errors come back typed ([`LlmError`]) with what the provider said about its limits, and
//! the scheduler decides.
#![deny(clippy::unwrap_used, clippy::expect_used)]
pub mod anthropic;
pub mod batch;
pub mod confidence;
mod credentials;
pub mod gemini;
mod headers;
pub mod openai;
pub mod parse;
pub mod probe;
pub mod refusals;
pub mod rules;
pub mod scheduler;

pub use headers::{parse_reset, rate_limits, retry_after};

pub use credentials::{Credentials, Provider};
pub use entity::enums::FailureKind;
use outbound::{Outbound, OutboundError};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The user (the rendered prompt, few-shot inputs).
    User,
    /// The model (few-shot answers).
    Assistant,
}

/// An image given to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A public `http(s)` URL the provider fetches itself.
    Url(String),
    /// The image itself: its media type (`image/png`, ...) and its bytes in base64.
    Inline {
        /// The media type.
        media_type: String,
        /// The bytes, base64 (standard alphabet, padded).
        data: String,
    },
}

/// One part of a message's content, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text.
    Text(String),
    /// An image (user messages only).
    Image(ImageSource),
}

/// One chat message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Its author.
    pub role: Role,
    /// Its content: text and images, in order.
    pub parts: Vec<Part>,
}

impl Message {
    /// A text message of `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            parts: vec![Part::Text(content.into())],
        }
    }

    /// A message of `role` made of `parts`.
    pub fn with_parts(role: Role, parts: Vec<Part>) -> Self {
        Message { role, parts }
    }

    /// The text of the message: its text parts, joined.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                Part::Image(_) => None,
            })
            .collect()
    }

    /// The images of the message, in order.
    pub fn images(&self) -> impl Iterator<Item = &ImageSource> {
        self.parts.iter().filter_map(|p| match p {
            Part::Image(image) => Some(image),
            Part::Text(_) => None,
        })
    }
}

/// Sampling and output settings of a call, as a version (over its connection's defaults) sets
/// them. Absent values are left to the provider's rules (see `llm::rules`), which also drop
/// what a model does not take.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// Sampling temperature (0 to 2); reasoning models take none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 2.0)]
    pub temperature: Option<f64>,
    /// Largest number of output tokens (OpenAI's `max_completion_tokens`, Anthropic's
    /// `max_tokens`, Gemini's `maxOutputTokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_tokens: Option<u32>,
    /// Nucleus sampling (0 to 1); reasoning models take none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub top_p: Option<f64>,
    /// Sampling seed, where the provider takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Reasoning effort of reasoning models: `none`, `minimal`, `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = reasoning_effort_schema)]
    pub reasoning_effort: Option<String>,
    /// Any other body fields, passed to the provider as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extra: Option<serde_json::Map<String, Value>>,
}

/// Reasoning efforts the providers know (OpenAI's names; the rules map them for the others).
pub const REASONING_EFFORTS: [&str; 5] = ["none", "minimal", "low", "medium", "high"];

/// `reasoning_effort`: one of [`REASONING_EFFORTS`], or null.
fn reasoning_effort_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut values: Vec<Option<&str>> = REASONING_EFFORTS.iter().copied().map(Some).collect();
    values.push(None);
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
        .enum_values(Some(values))
        .description(Some(
            "Reasoning effort of reasoning models: `none`, `minimal`, `low`, `medium` or `high`.",
        ))
        .build()
}

impl ModelParams {
    /// These parameters over `defaults`: each value set here wins; `extra` objects merge key by
    /// key, this one's keys winning.
    pub fn over(&self, defaults: &ModelParams) -> ModelParams {
        let extra = match (&defaults.extra, &self.extra) {
            (Some(base), Some(own)) => {
                let mut merged = base.clone();
                merged.extend(own.clone());
                Some(merged)
            }
            (base, own) => own.clone().or_else(|| base.clone()),
        };
        ModelParams {
            temperature: self.temperature.or(defaults.temperature),
            max_tokens: self.max_tokens.or(defaults.max_tokens),
            top_p: self.top_p.or(defaults.top_p),
            seed: self.seed.or(defaults.seed),
            reasoning_effort: self
                .reasoning_effort
                .clone()
                .or_else(|| defaults.reasoning_effort.clone()),
            extra,
        }
    }

    /// The parameters of a stored JSON object (a version's or a connection's `model_params`):
    /// empty when none is stored, or when the stored object no longer parses (read leniently,
    /// so a stale object does not fail a run).
    pub fn from_stored(stored: Option<&Value>) -> ModelParams {
        stored
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// The stored form of these parameters: a JSON object.
    pub fn to_stored(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()))
    }
}

/// One structured-output call.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    /// The provider's model id (for Azure OpenAI the deployment stands in for it).
    pub model: String,
    /// The conversation, system message first when there is one.
    pub messages: Vec<Message>,
    /// The JSON schema of the object the answer must be.
    pub schema: Value,
    /// Sampling and output settings.
    pub params: ModelParams,
}

impl LlmRequest {
    /// A rough token count of the request (4 characters a token, plus the expected answer),
    /// for the scheduler's tokens-per-minute bucket before the provider reports the real one.
    pub fn estimated_tokens(&self) -> u64 {
        let chars: usize = self
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .map(|p| match p {
                Part::Text(t) => t.len(),
                // About a thousand tokens an image, whatever its size.
                Part::Image(_) => 4000,
            })
            .sum::<usize>()
            + self.schema.to_string().len();
        (chars as u64).div_ceil(4) + u64::from(self.params.max_tokens.unwrap_or(256).min(256))
    }
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt (input) tokens, cached ones included.
    pub prompt_tokens: u64,
    /// Completion (output) tokens, reasoning ("thinking") tokens included: they are billed
    /// as output.
    pub completion_tokens: u64,
    /// Of the completion tokens, those the model spent reasoning.
    pub reasoning_tokens: u64,
    /// Of the prompt tokens, those served from the provider's prompt cache.
    pub cached_tokens: u64,
}

/// What a provider said about its rate limits in a response's headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests allowed per window (per minute for OpenAI).
    pub limit_requests: Option<u64>,
    /// Tokens allowed per window.
    pub limit_tokens: Option<u64>,
    /// Requests left in the window.
    pub remaining_requests: Option<u64>,
    /// Tokens left in the window.
    pub remaining_tokens: Option<u64>,
    /// When the request allowance is whole again.
    pub reset_requests: Option<Duration>,
    /// When the token allowance is whole again.
    pub reset_tokens: Option<Duration>,
}

/// A successful call.
#[derive(Debug, Clone)]
pub struct LlmResponse {
    /// The answer, a JSON object.
    pub output: Value,
    /// Tokens used.
    pub usage: Usage,
    /// The provider's rate-limit headers.
    pub limits: RateLimits,
    /// What was changed to get this answer, in words (e.g. a parameter the provider refused
    /// and the call was made again without), for the result's record.
    pub notes: Vec<String>,
    /// The answer's tokens with their log-probabilities, when the provider gave them (see
    /// [`confidence`]); empty otherwise.
    pub logprobs: Vec<TokenLogprob>,
}

/// One output token and the log-probability the model gave it, with the most likely
/// alternatives at its position (OpenAI's `logprobs.content` items).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenLogprob {
    /// The token's bytes (OpenAI's `bytes` when given: a token may end inside a character).
    pub bytes: Vec<u8>,
    /// Its natural log-probability.
    pub logprob: f64,
    /// The most likely tokens at its position (its own included), with theirs.
    pub top: Vec<(Vec<u8>, f64)>,
}

impl TokenLogprob {
    /// The token `text` with probability `p` and `top` alternatives (text, probability).
    pub fn of_text(text: &str, p: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob {
            bytes: text.as_bytes().to_vec(),
            logprob: p.ln(),
            top: top
                .iter()
                .map(|(t, p)| (t.as_bytes().to_vec(), p.ln()))
                .collect(),
        }
    }
}

/// Why a call failed. [`LlmError::error_type`] is the `error_type` of the failed prediction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// 429: too many requests or tokens.
    #[error("rate limited by the provider: {message}")]
    RateLimit {
        /// The provider's words.
        message: String,
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
        /// Its rate-limit headers (boxed: errors stay small).
        limits: Box<RateLimits>,
    },
    /// No answer within the call's time limit.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// A 5xx answer.
    #[error("the provider failed with HTTP {status}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The provider's words.
        message: String,
    },
    /// The connection failed before an answer.
    #[error("could not reach the provider: {0}")]
    Connection(String),
    /// 401/403: the key or token was refused.
    #[error("the provider refused the credentials: {0}")]
    Authentication(String),
    /// Another 4xx: the request itself was refused (unknown model, bad parameters).
    #[error("the provider refused the request (HTTP {status}): {message}")]
    Request {
        /// HTTP status.
        status: u16,
        /// The provider's words.
        message: String,
        /// The request parameter the provider said the model does not take, when it named one
        /// (see [`refusals`]); the call is then retried without it.
        param: Option<String>,
    },
    /// No usable answer: not a JSON object, no content, cut at the token limit, or refused.
    #[error("the model's answer is unusable: {message}")]
    InvalidOutput {
        /// What was wrong.
        message: String,
        /// Tokens the call used all the same.
        usage: Usage,
    },
    /// The provider or its settings are not usable (for example, not supported yet).
    #[error("{0}")]
    Unsupported(String),
    /// The run was canceled while the call waited.
    #[error("canceled")]
    Canceled,
}

impl LlmError {
    /// The failed prediction's `error_type`.
    pub fn error_type(&self) -> FailureKind {
        match self {
            LlmError::RateLimit { .. } => FailureKind::RateLimit,
            LlmError::Timeout(_) => FailureKind::Timeout,
            LlmError::Server { .. } | LlmError::Connection(_) => FailureKind::ProviderError,
            LlmError::Authentication(_) => FailureKind::Authentication,
            LlmError::Request { .. } => FailureKind::BadRequest,
            LlmError::InvalidOutput { .. } => FailureKind::InvalidOutput,
            LlmError::Unsupported(_) => FailureKind::Unsupported,
            LlmError::Canceled => FailureKind::Canceled,
        }
    }

    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimit { .. }
                | LlmError::Timeout(_)
                | LlmError::Server { .. }
                | LlmError::Connection(_)
        )
    }

    /// Tokens spent by a failed call that still answered.
    pub fn usage(&self) -> Usage {
        match self {
            LlmError::InvalidOutput { usage, .. } => *usage,
            _ => Usage::default(),
        }
    }

    /// The error of a non-2xx HTTP answer. The wait of a 429 comes from `Retry-After`, else
    /// from a `retryDelay` in the body (Google's `RetryInfo`).
    pub fn from_status(status: u16, headers: &HeaderMap, body: &str) -> LlmError {
        let message = error_message(body);
        match status {
            429 => LlmError::RateLimit {
                message,
                retry_after: retry_after(headers).or_else(|| retry_delay(body)),
                limits: Box::new(rate_limits(headers)),
            },
            401 | 403 => LlmError::Authentication(message),
            408 => LlmError::Timeout(Duration::ZERO),
            s if s >= 500 => LlmError::Server { status, message },
            _ => LlmError::Request {
                status,
                message,
                param: refusals::refused_parameter(body),
            },
        }
    }
}

/// The failure of an answer the provider cut at the output token limit (`reason` is the
/// provider's word for it), with the tokens it cost.
fn cut_at_limit(reason: &str, usage: Usage) -> LlmError {
    let reasoning = if usage.reasoning_tokens > 0 {
        format!(
            "; {} of its {} output tokens went to reasoning",
            usage.reasoning_tokens, usage.completion_tokens
        )
    } else {
        String::new()
    };
    LlmError::InvalidOutput {
        message: format!(
            "the answer was cut at the output token limit ({reason}) before it was complete: \
             raise max_tokens{reasoning}"
        ),
        usage,
    }
}

/// The failure of an answer the model or the provider's filters refused to give.
fn withheld(what: String, usage: Usage) -> LlmError {
    LlmError::InvalidOutput {
        message: what,
        usage,
    }
}

/// The `data:` URL of an inline image.
fn data_url(media_type: &str, data: &str) -> String {
    format!("data:{media_type};base64,{data}")
}

/// The media type of an image URL by its extension (`image/jpeg` when it has none known), for
/// APIs that want one with a URL.
fn media_type_of_url(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url).to_lowercase();
    let ext = path.rsplit('.').next().unwrap_or("");
    match ext {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => "image/jpeg",
    }
}

/// The `error.message` of a provider's JSON error body, or the body itself (shortened).
fn error_message(body: &str) -> String {
    // What the provider wrote never reaches a user (it may be any server's page, when the
    // endpoint is not a provider): only its error code and parameter, when they are words.
    if !body.trim().is_empty() {
        let shown: String = body.chars().take(500).collect();
        tracing::warn!(target: "outbound", "the provider answered with an error: {shown}");
    }
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let field = |paths: &[&str]| {
        paths.iter().find_map(|p| {
            parsed
                .as_ref()
                .and_then(|v| v.pointer(p))
                .and_then(Value::as_str)
                .filter(|s| is_word(s))
                .map(str::to_string)
        })
    };
    let code = field(&[
        "/error/code",
        "/error/type",
        "/error/status",
        "/type",
        "/code",
    ]);
    let param = field(&["/error/param"]);
    let shown = match (&code, param) {
        (Some(code), Some(param)) => format!("{code} (parameter {param})"),
        (Some(code), None) => code.clone(),
        (None, Some(param)) => format!("parameter {param}"),
        (None, None) => "no details".into(),
    };
    match code.as_deref().and_then(explain_code) {
        Some(explanation) => format!("{explanation} ({shown})"),
        None => shown,
    }
}

/// Prompter's words for the error codes providers use most.
fn explain_code(code: &str) -> Option<&'static str> {
    Some(match code {
        "content_filter" | "content_policy_violation" => {
            "the provider's content filter flagged the prompt"
        }
        "context_length_exceeded" | "string_above_max_length" => {
            "the prompt is longer than the model takes"
        }
        "model_not_found" | "NOT_FOUND" | "not_found_error" => {
            "the model does not exist, or this key cannot use it"
        }
        "insufficient_quota" | "RESOURCE_EXHAUSTED" => "the account's quota is used up",
        "invalid_api_key" | "authentication_error" | "UNAUTHENTICATED" => "the key is not valid",
        "unsupported_parameter" | "unsupported_value" => {
            "the model does not take a parameter of the request"
        }
        _ => return None,
    })
}

/// A provider's error code or parameter name: a short token of letters, digits, `_.-`.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Google's `RetryInfo.retryDelay` (`"30s"`) in an error body's `details`.
fn retry_delay(body: &str) -> Option<Duration> {
    let parsed: Value = serde_json::from_str(body).ok()?;
    parsed
        .pointer("/error/details")?
        .as_array()?
        .iter()
        .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .and_then(parse_reset)
}

/// A provider of structured chat completions.
#[async_trait::async_trait]
pub trait LlmProvider: Send + Sync {
    /// One call, no retries.
    async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError>;
}

/// The key (API key, else auth token) and the API base (the connection's `endpoint` without a
/// trailing `/` or `suffix`, else `default`) of a provider spoken to over plain HTTP.
fn key_and_base(
    credentials: &Credentials,
    default: &str,
    suffix: &str,
) -> Result<(String, String), LlmError> {
    let key = credentials
        .api_key
        .clone()
        .or_else(|| credentials.auth_token.clone())
        .ok_or_else(|| LlmError::Authentication("the connection has no API key".into()))?;
    let base = credentials
        .endpoint
        .as_deref()
        .unwrap_or(default)
        .trim_end_matches('/')
        .trim_end_matches(suffix)
        .to_string();
    Ok((key, base))
}

/// The system messages of a chat joined into one instruction text (for APIs that take it apart),
/// and the other messages in order.
fn split_system(messages: &[Message]) -> (Option<String>, Vec<&Message>) {
    let system: Vec<String> = messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(Message::text)
        .collect();
    let rest = messages.iter().filter(|m| m.role != Role::System).collect();
    ((!system.is_empty()).then(|| system.join("\n\n")), rest)
}

/// Sends a JSON request through the outbound policy; a 2xx answer's JSON body and headers,
/// or the typed error.
async fn send_json(
    http: &Outbound,
    request: reqwest::RequestBuilder,
) -> Result<(Value, HeaderMap), LlmError> {
    let response = http.send(request).await.map_err(LlmError::from)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = http.read(response).await.map_err(LlmError::from)?;
    let text = String::from_utf8_lossy(&bytes);
    if !(200..300).contains(&status) {
        return Err(LlmError::from_status(status, &headers, &text));
    }
    let answer = serde_json::from_str(&text).map_err(|_| LlmError::InvalidOutput {
        message: "the answer is not JSON".into(),
        usage: Usage::default(),
    })?;
    Ok((answer, headers))
}

impl From<OutboundError> for LlmError {
    fn from(e: OutboundError) -> LlmError {
        match e {
            OutboundError::Denied(_) | OutboundError::BadUrl => {
                LlmError::Unsupported(format!("the connection's endpoint cannot be used: {e}"))
            }
            OutboundError::Timeout => LlmError::Timeout(Duration::ZERO),
            OutboundError::TooLarge(_) => LlmError::InvalidOutput {
                message: e.to_string(),
                usage: Usage::default(),
            },
            OutboundError::Unreachable | OutboundError::TooManyRedirects => {
                LlmError::Connection(e.to_string())
            }
        }
    }
}

/// The provider of a connection, for `model`.
pub fn provider_for(
    credentials: &Credentials,
    http: &Outbound,
) -> Result<Arc<dyn LlmProvider>, LlmError> {
    match credentials.provider {
        Provider::OpenAI | Provider::AzureOpenAI | Provider::Custom => Ok(Arc::new(
            openai::OpenAiCompatible::new(credentials, http.clone())?,
        )),
        Provider::Anthropic => Ok(Arc::new(anthropic::Anthropic::new(
            credentials,
            http.clone(),
        )?)),
        Provider::Gemini => Ok(Arc::new(gemini::Gemini::new(credentials, http.clone())?)),
        Provider::VertexAI | Provider::AzureAIFoundry => Err(LlmError::Unsupported(
            unsupported_message(credentials.provider),
        )),
    }
}

/// Whether Prompter can run versions of `provider`.
pub fn is_supported(provider: Provider) -> bool {
    !matches!(provider, Provider::VertexAI | Provider::AzureAIFoundry)
}

/// The explanation for a provider that cannot run yet.
pub fn unsupported_message(provider: Provider) -> String {
    format!(
        "Provider {} is not supported for inference yet; use OpenAI, AzureOpenAI, Anthropic, \
         Gemini or Custom (any OpenAI-compatible endpoint).",
        provider.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn errors_are_typed_from_status() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        headers.insert(
            "x-ratelimit-limit-requests",
            HeaderValue::from_static("3000"),
        );
        let e = LlmError::from_status(429, &headers, r#"{"error":{"message":"slow down"}}"#);
        assert_eq!(e.error_type(), "RateLimit");
        assert!(e.is_retryable());
        let LlmError::RateLimit {
            message,
            retry_after,
            limits,
        } = e
        else {
            panic!("not a rate limit");
        };
        assert_eq!(message, "no details");
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
        assert_eq!(limits.limit_requests, Some(3000));
        let e = LlmError::from_status(401, &HeaderMap::new(), "nope");
        assert_eq!(e.error_type(), "Authentication");
        assert!(!e.is_retryable());
        assert_eq!(
            LlmError::from_status(503, &HeaderMap::new(), "").error_type(),
            "ProviderError"
        );
        assert_eq!(
            LlmError::from_status(400, &HeaderMap::new(), "").error_type(),
            "BadRequest"
        );
        let google = r#"{"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]}}"#;
        let LlmError::RateLimit { retry_after, .. } =
            LlmError::from_status(429, &HeaderMap::new(), google)
        else {
            panic!("not a rate limit");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(17)));
    }
}
