//! The project's fake LLM server, the only fake the tests and benchmarks of the run engine may
//! use. It speaks four dialects over one code path:
//!
//! * **OpenAI** chat completions: `POST /v1/chat/completions` (also `/chat/completions`), with
//!   `GET /v1/models` (also `/models`); the key is `Authorization: Bearer <key>`. Use it through
//!   an "OpenAI" or "Custom" connection whose endpoint is [`FakeLlm::base_url`].
//! * **Azure OpenAI**: `POST /openai/deployments/{deployment}/chat/completions?api-version=...`
//!   (the query is required), the OpenAI shapes, the key in the `api-key` header (or a Bearer
//!   token). Use it through an "AzureOpenAI" connection whose endpoint is [`FakeLlm::root_url`].
//! * **Anthropic** Messages: `POST /v1/messages` (also `/messages`), the key in `x-api-key`, the
//!   `anthropic-version` header required. The schema is the `input_schema` of the tool that
//!   `tool_choice` names (or of the first tool); the answer is a `tool_use` block whose `input` is
//!   the answer object (`stop_reason: tool_use`), or a text block holding the JSON when the
//!   request has no tools. Use it through an "Anthropic" connection whose endpoint is
//!   [`FakeLlm::root_url`].
//! * **Gemini** `generateContent`: `POST /v1beta/models/{model}:generateContent`, the key in
//!   `x-goog-api-key` (or `?key=`), the schema in `generationConfig.responseJsonSchema` (or
//!   `responseSchema`); the answer is the JSON text of the first candidate's part. Use it
//!   through a "Gemini" connection whose endpoint is [`FakeLlm::root_url`].
//!
//! Answers are deterministic and derived from the request: the text of the last user message
//! (the part after its last `Text:` when there is one) is matched against the JSON schema:
//!
//! * a string property with an `enum` gets the first enum value that occurs in the text as a
//!   whole word (case-insensitive), else a keyword rule (`love`, `great`, `good`, `excellent`,
//!   `amazing` pick a value like `Positive`; `awful`, `bad`, `terrible`, `hate`, `poor` one like
//!   `Negative`), else the first enum value;
//! * an array of enum strings gets every enum value occurring in the text, or the first one;
//! * an array of span objects (items with `labels` and `text`, or `start` and `end`, properties)
//!   gets one span per capitalised word group (its `text`, `start`, and `end` when asked): `ORG`
//!   when a word is a known organisation (`Inc`, `Corp`, `Acme`, `Google`, `Microsoft`,
//!   `Apple`, `OpenAI`), `PER` otherwise, with character offsets into the matched text;
//! * the **refine** rule, for prompt-refinement ("teacher") schemas, by the name of a string
//!   property without an enum (case-insensitive, first match wins): `reasoning` answers
//!   "The fake teacher kept the placeholders and added an instruction."; a name containing
//!   `title` answers `refined`; a name containing `prompt` (e.g. `new_prompt_content`) answers
//!   "Read the text carefully and answer precisely.\n" followed by the text between
//!   `<current_prompt>` and `</current_prompt>` in the whole user message (trimmed), or the
//!   matched text when the user message has no such tags;
//! * integers and numbers get their `minimum` or 1, booleans `true`, other strings a fixed
//!   sentence, nested objects are walked the same way.
//!
//! Without a schema the answer is `{"answer": "ok"}`. Flags ([`FakeLlmConfig`]) add latency,
//! jitter, requests- and tokens-per-minute limits, an API key check (401) and fault rates: 500s,
//! timeouts, malformed (non-JSON) and invalid (out-of-schema) content. The random draws come
//! from a seeded RNG. Every dialect shares the counting, the key check, the limits, the faults
//! and the latency; only the request reading and the answer and error shapes differ:
//!
//! * a 429 carries `Retry-After` (whole seconds) in every dialect, plus `retry-after-ms` and
//!   OpenAI's `x-ratelimit-*` headers (OpenAI, Azure), `anthropic-ratelimit-requests-*` and
//!   `anthropic-ratelimit-tokens-*` headers (Anthropic; also on its 200s when a limit is set), or
//!   a `google.rpc.RetryInfo` detail in the body (Gemini);
//! * errors are `{"error": {"message", "type", "param", "code"}}` (OpenAI, Azure),
//!   `{"type": "error", "error": {"type", "message"}}` with `authentication_error`,
//!   `invalid_request_error`, `rate_limit_error` or `api_error` (Anthropic), and
//!   `{"error": {"code", "message", "status"}}` with `UNAUTHENTICATED`, `INVALID_ARGUMENT`,
//!   `RESOURCE_EXHAUSTED`, `INTERNAL` or `NOT_FOUND` (Gemini);
//! * a malformed answer is content that is not JSON, even to a tolerant parser (a sentence, then
//!   the answer object cut before its closing brace): the message content (OpenAI, Azure), a
//!   text block and no `tool_use` (Anthropic), the candidate's text (Gemini); an invalid one puts
//!   a label outside the enum into the content, the tool input or the candidate's text.
use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpResponseBuilder, HttpServer, web};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The model id `GET /v1/models` lists.
pub const FAKE_MODEL: &str = "fake-model";

/// The length of the sliding rate-limit window.
const WINDOW: Duration = Duration::from_secs(60);

/// Words that make a capitalised word an organisation.
const ORG_WORDS: &[&str] = &[
    "Inc",
    "Corp",
    "Acme",
    "Google",
    "Microsoft",
    "Apple",
    "OpenAI",
];

/// Capitalised words that are not names when they start a sentence.
const SENTENCE_STARTERS: &[&str] = &[
    "A", "An", "The", "This", "That", "These", "Those", "It", "I", "He", "She", "We", "They",
    "You", "In", "On", "At", "But", "And", "Or", "So", "If", "When", "Then", "There", "Here", "My",
    "Our", "Your", "His", "Her", "Their", "Its", "What", "Who", "How", "Why", "Yes", "No", "Text",
];

/// Words that pick a positive label.
const POSITIVE_WORDS: &[&str] = &["love", "great", "good", "excellent", "amazing"];

/// Words that pick a negative label.
const NEGATIVE_WORDS: &[&str] = &["awful", "bad", "terrible", "hate", "poor"];

/// The label that invalid answers use: never in a label set.
const INVALID_LABEL: &str = "NotALabel";

/// The answer of a plain string property.
const PLAIN_STRING: &str = "This is a fake answer.";

/// The refine rule's instruction, put before the current prompt.
const REFINE_INSTRUCTION: &str = "Read the text carefully and answer precisely.";

/// The refine rule's title.
const REFINE_TITLE: &str = "refined";

/// The refine rule's reasoning.
const REFINE_REASONING: &str = "The fake teacher kept the placeholders and added an instruction.";

/// Parses a probability in 0..=1.
fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a probability between 0 and 1"))
    }
}

/// The fake server's behaviour: latency, limits, faults and the API key.
#[derive(Debug, Clone, clap::Args)]
pub struct FakeLlmConfig {
    /// Fixed latency added to every answered request, in milliseconds.
    #[arg(long, env = "FAKE_LLM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Uniform random extra latency in 0..jitter, in milliseconds.
    #[arg(long, env = "FAKE_LLM_JITTER_MS", default_value_t = 0)]
    pub jitter_ms: u64,
    /// Requests per minute (sliding 60 s window); past it requests get 429.
    #[arg(long, env = "FAKE_LLM_RPM")]
    pub rpm: Option<u32>,
    /// Tokens (prompt + completion) per minute (sliding 60 s window); past it requests get 429.
    #[arg(long, env = "FAKE_LLM_TPM")]
    pub tpm: Option<u64>,
    /// Probability (0..1) of a 500 answer.
    #[arg(long, env = "FAKE_LLM_ERROR_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Probability (0..1) of a timeout: the answer comes after `timeout_ms`.
    #[arg(long, env = "FAKE_LLM_TIMEOUT_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub timeout_rate: f64,
    /// How long a timed-out request sleeps before answering, in milliseconds.
    #[arg(long, env = "FAKE_LLM_TIMEOUT_MS", default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Probability (0..1) of content that is not JSON.
    #[arg(long, env = "FAKE_LLM_MALFORMED_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub malformed_rate: f64,
    /// Probability (0..1) of valid JSON that violates the schema (a label not in the enum).
    #[arg(long, env = "FAKE_LLM_INVALID_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub invalid_rate: f64,
    /// Seed of the random draws (faults and jitter).
    #[arg(long, env = "FAKE_LLM_SEED", default_value_t = 0)]
    pub seed: u64,
    /// When set, requests must send this key or get 401: `Authorization: Bearer <key>`
    /// (OpenAI), `api-key` (Azure), `x-api-key` (Anthropic), `x-goog-api-key` or `?key=`
    /// (Gemini).
    #[arg(long, env = "FAKE_LLM_REQUIRE_KEY")]
    pub require_key: Option<String>,
}

impl Default for FakeLlmConfig {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            jitter_ms: 0,
            rpm: None,
            tpm: None,
            error_rate: 0.0,
            timeout_rate: 0.0,
            timeout_ms: 30_000,
            malformed_rate: 0.0,
            invalid_rate: 0.0,
            seed: 0,
            require_key: None,
        }
    }
}

/// Counters of what the fake server answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FakeLlmStats {
    /// Requests received on the completion endpoints (every dialect).
    pub requests: u64,
    /// Requests answered 200 (including timed-out, malformed and invalid ones).
    pub ok: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Requests answered 500.
    pub server_errors: u64,
    /// Requests answered 401.
    pub unauthorized: u64,
    /// Requests answered 400 (unreadable body).
    pub bad_requests: u64,
    /// Requests that slept `timeout_ms` before answering.
    pub timeouts: u64,
    /// Answers whose content was not JSON.
    pub malformed: u64,
    /// Answers whose content violated the schema.
    pub invalid: u64,
    /// Prompt tokens of the requests answered 200.
    pub prompt_tokens: u64,
    /// Completion tokens of the requests answered 200.
    pub completion_tokens: u64,
}

/// The atomics behind [`FakeLlmStats`].
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    unauthorized: AtomicU64,
    bad_requests: AtomicU64,
    timeouts: AtomicU64,
    malformed: AtomicU64,
    invalid: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

/// Adds `n` to a counter.
fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> FakeLlmStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FakeLlmStats {
            requests: get(&self.requests),
            ok: get(&self.ok),
            rate_limited: get(&self.rate_limited),
            server_errors: get(&self.server_errors),
            unauthorized: get(&self.unauthorized),
            bad_requests: get(&self.bad_requests),
            timeouts: get(&self.timeouts),
            malformed: get(&self.malformed),
            invalid: get(&self.invalid),
            prompt_tokens: get(&self.prompt_tokens),
            completion_tokens: get(&self.completion_tokens),
        }
    }
}

/// What the rate limiter reports for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, Default)]
struct Quota {
    remaining_requests: u64,
    remaining_tokens: u64,
    reset_requests: Duration,
    reset_tokens: Duration,
}

/// The shared state of the server's workers.
#[derive(Debug)]
struct Inner {
    config: FakeLlmConfig,
    rng: Mutex<StdRng>,
    /// Admitted requests of the last minute: when, and how many tokens.
    window: Mutex<VecDeque<(Instant, u64)>>,
    counters: Counters,
}

/// The outcome a random draw picked for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    ServerError,
    Timeout,
    Malformed,
    Invalid,
}

impl Inner {
    fn limited(&self) -> bool {
        self.config.rpm.is_some() || self.config.tpm.is_some()
    }

    /// Admits a request of `tokens` tokens, or returns how long until it would fit.
    fn admit(&self, tokens: u64) -> Result<Quota, (Duration, Quota)> {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        let until = |t: Instant| (t + WINDOW).saturating_duration_since(now);
        let used_requests = window.len() as u64;
        let used_tokens: u64 = window.iter().map(|(_, n)| n).sum();
        let mut wait: Option<Duration> = None;
        if let Some(rpm) = self.config.rpm {
            let rpm = u64::from(rpm);
            if used_requests + 1 > rpm {
                // The entry whose expiry frees the slot this request needs.
                let idx = (used_requests - rpm) as usize;
                let w = window.get(idx).map_or(WINDOW, |(t, _)| until(*t));
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        }
        if let Some(tpm) = self.config.tpm
            && used_tokens + tokens > tpm
            && !window.is_empty()
        {
            let need = used_tokens + tokens - tpm;
            let mut freed = 0;
            let mut w = Duration::ZERO;
            for (t, n) in window.iter() {
                freed += n;
                w = until(*t);
                if freed >= need {
                    break;
                }
            }
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
        let quota = |requests: u64, tokens_used: u64, window: &VecDeque<(Instant, u64)>| {
            let reset = window.front().map_or(Duration::ZERO, |(t, _)| until(*t));
            Quota {
                remaining_requests: self
                    .config
                    .rpm
                    .map_or(0, |r| u64::from(r).saturating_sub(requests)),
                remaining_tokens: self.config.tpm.map_or(0, |t| t.saturating_sub(tokens_used)),
                reset_requests: reset,
                reset_tokens: reset,
            }
        };
        match wait {
            Some(w) => Err((w, quota(used_requests, used_tokens, &window))),
            None => {
                window.push_back((now, tokens));
                Ok(quota(used_requests + 1, used_tokens + tokens, &window))
            }
        }
    }

    /// The quota without admitting anything (for answers that do not count).
    fn quota(&self) -> Quota {
        let now = Instant::now();
        let window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let live: Vec<&(Instant, u64)> = window
            .iter()
            .filter(|(t, _)| now.duration_since(*t) < WINDOW)
            .collect();
        let reset = live.first().map_or(Duration::ZERO, |(t, _)| {
            (*t + WINDOW).saturating_duration_since(now)
        });
        let tokens: u64 = live.iter().map(|(_, n)| n).sum();
        Quota {
            remaining_requests: self
                .config
                .rpm
                .map_or(0, |r| u64::from(r).saturating_sub(live.len() as u64)),
            remaining_tokens: self.config.tpm.map_or(0, |t| t.saturating_sub(tokens)),
            reset_requests: reset,
            reset_tokens: reset,
        }
    }

    /// Draws the fault and the jitter of one request.
    fn draw(&self) -> (Fault, Duration) {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let r: f64 = rng.r#gen();
        let jitter = if self.config.jitter_ms > 0 {
            rng.gen_range(0..self.config.jitter_ms)
        } else {
            0
        };
        let c = &self.config;
        let mut edge = c.error_rate;
        let fault = if r < edge {
            Fault::ServerError
        } else if r < {
            edge += c.timeout_rate;
            edge
        } {
            Fault::Timeout
        } else if r < {
            edge += c.malformed_rate;
            edge
        } {
            Fault::Malformed
        } else if r < edge + c.invalid_rate {
            Fault::Invalid
        } else {
            Fault::None
        };
        (fault, Duration::from_millis(jitter))
    }

    /// Adds the rate-limit headers of `api` when limits are set: OpenAI's `x-ratelimit-*`
    /// (OpenAI, Azure) or Anthropic's `anthropic-ratelimit-*`; Gemini sends none.
    fn headers(&self, api: Api, builder: &mut HttpResponseBuilder, quota: Quota) {
        match api {
            Api::OpenAi | Api::Azure => self.openai_headers(builder, quota),
            Api::Anthropic => self.anthropic_headers(builder, quota),
            Api::Gemini => {}
        }
    }

    /// OpenAI's `x-ratelimit-*` headers.
    fn openai_headers(&self, builder: &mut HttpResponseBuilder, quota: Quota) {
        if let Some(rpm) = self.config.rpm {
            builder.insert_header(("x-ratelimit-limit-requests", rpm.to_string()));
            builder.insert_header((
                "x-ratelimit-remaining-requests",
                quota.remaining_requests.to_string(),
            ));
            builder.insert_header((
                "x-ratelimit-reset-requests",
                format!("{}ms", quota.reset_requests.as_millis()),
            ));
        }
        if let Some(tpm) = self.config.tpm {
            builder.insert_header(("x-ratelimit-limit-tokens", tpm.to_string()));
            builder.insert_header((
                "x-ratelimit-remaining-tokens",
                quota.remaining_tokens.to_string(),
            ));
            builder.insert_header((
                "x-ratelimit-reset-tokens",
                format!("{}ms", quota.reset_tokens.as_millis()),
            ));
        }
    }

    /// Anthropic's `anthropic-ratelimit-*` headers (resets are RFC 3339 instants).
    fn anthropic_headers(&self, builder: &mut HttpResponseBuilder, quota: Quota) {
        let at = |d: Duration| {
            let d = chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::zero());
            (chrono::Utc::now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        if let Some(rpm) = self.config.rpm {
            builder.insert_header(("anthropic-ratelimit-requests-limit", rpm.to_string()));
            builder.insert_header((
                "anthropic-ratelimit-requests-remaining",
                quota.remaining_requests.to_string(),
            ));
            builder.insert_header((
                "anthropic-ratelimit-requests-reset",
                at(quota.reset_requests),
            ));
        }
        if let Some(tpm) = self.config.tpm {
            builder.insert_header(("anthropic-ratelimit-tokens-limit", tpm.to_string()));
            builder.insert_header((
                "anthropic-ratelimit-tokens-remaining",
                quota.remaining_tokens.to_string(),
            ));
            builder.insert_header(("anthropic-ratelimit-tokens-reset", at(quota.reset_tokens)));
        }
    }

    /// An error answer in the shape of `api`. `quota` is the limiter's report (else it is
    /// read now); `retry` adds `Retry-After`.
    fn fail(
        &self,
        api: Api,
        failure: Failure,
        message: &str,
        quota: Option<Quota>,
        retry: Option<Duration>,
    ) -> HttpResponse {
        let status = failure.status();
        let mut builder = HttpResponse::build(status);
        if self.limited() {
            let quota = quota.unwrap_or_else(|| self.quota());
            self.headers(api, &mut builder, quota);
        }
        let retry_secs = retry.map(|wait| wait.as_secs_f64().ceil().max(1.0) as u64);
        if let (Some(wait), Some(secs)) = (retry, retry_secs) {
            builder.insert_header(("retry-after", secs.to_string()));
            if matches!(api, Api::OpenAi | Api::Azure) {
                builder.insert_header(("retry-after-ms", wait.as_millis().max(1).to_string()));
            }
        }
        let body = match api {
            Api::OpenAi | Api::Azure => {
                let (kind, code) = match failure {
                    Failure::MissingKey | Failure::WrongKey => {
                        ("invalid_request_error", Some("invalid_api_key"))
                    }
                    Failure::BadRequest => ("invalid_request_error", None),
                    Failure::NotFound => ("invalid_request_error", Some("not_found")),
                    Failure::RateLimited => ("rate_limit_exceeded", Some("rate_limit_exceeded")),
                    Failure::ServerError => ("server_error", None),
                };
                json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
            }
            Api::Anthropic => {
                let kind = match failure {
                    Failure::MissingKey | Failure::WrongKey => "authentication_error",
                    Failure::BadRequest => "invalid_request_error",
                    Failure::NotFound => "not_found_error",
                    Failure::RateLimited => "rate_limit_error",
                    Failure::ServerError => "api_error",
                };
                json!({"type": "error", "error": {"type": kind, "message": message}})
            }
            Api::Gemini => {
                let kind = match failure {
                    Failure::MissingKey | Failure::WrongKey => "UNAUTHENTICATED",
                    Failure::BadRequest => "INVALID_ARGUMENT",
                    Failure::NotFound => "NOT_FOUND",
                    Failure::RateLimited => "RESOURCE_EXHAUSTED",
                    Failure::ServerError => "INTERNAL",
                };
                let mut error =
                    json!({"code": status.as_u16(), "message": message, "status": kind});
                if let Some(secs) = retry_secs {
                    error["details"] = json!([{
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": format!("{secs}s"),
                    }]);
                }
                json!({ "error": error })
            }
        };
        builder.json(body)
    }
}

/// The wire dialect of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// OpenAI chat completions.
    OpenAi,
    /// Azure OpenAI chat completions on a deployment.
    Azure,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini `generateContent`.
    Gemini,
}

/// Why a request failed; each dialect renders it in its own error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    MissingKey,
    WrongKey,
    BadRequest,
    NotFound,
    RateLimited,
    ServerError,
}

impl Failure {
    fn status(self) -> StatusCode {
        match self {
            Failure::MissingKey | Failure::WrongKey => StatusCode::UNAUTHORIZED,
            Failure::BadRequest => StatusCode::BAD_REQUEST,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Failure::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A running fake LLM server; dropping it stops the server.
#[derive(Debug)]
pub struct FakeLlm {
    /// The loopback port the server listens on.
    pub port: u16,
    handle: ServerHandle,
    inner: web::Data<Inner>,
}

impl FakeLlm {
    /// Starts the server on 127.0.0.1:`port` (0 picks a free port) in the background of the
    /// current tokio runtime.
    pub async fn start(config: FakeLlmConfig, port: u16) -> std::io::Result<FakeLlm> {
        let inner = web::Data::new(Inner {
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            config,
            window: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
        });
        let data = inner.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .route("/v1/chat/completions", web::post().to(chat_completions))
                .route("/chat/completions", web::post().to(chat_completions))
                .route(
                    "/openai/deployments/{deployment}/chat/completions",
                    web::post().to(azure_chat_completions),
                )
                .route("/v1/messages", web::post().to(messages))
                .route("/messages", web::post().to(messages))
                .route("/v1beta/models/{tail}", web::post().to(generate_content))
                .route("/v1/models", web::get().to(models))
                .route("/models", web::get().to(models))
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", port))?;
        let port = server
            .addrs()
            .first()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("the fake LLM server has no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(FakeLlm {
            port,
            handle,
            inner,
        })
    }

    /// The OpenAI base URL of the server: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The root URL of the server, `http://127.0.0.1:PORT`: the endpoint of Azure OpenAI,
    /// Anthropic and Gemini connections.
    pub fn root_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server has answered so far.
    pub fn stats(&self) -> FakeLlmStats {
        self.inner.counters.snapshot()
    }

    /// Stops the server (in-flight requests are dropped) and waits until it has stopped.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        // The stop command is sent at once; the returned future only awaits its completion.
        drop(self.handle.stop(false));
    }
}

/// `GET /v1/models`.
async fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": [{"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "prompter"}]
    }))
}

/// The text of a message's content: a string or an array of parts (or Anthropic blocks; a
/// `tool_result` block's `content` is read the same way).
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| p.get("content").map(content_text)),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// An estimate of tokens: a quarter of the characters, at least one.
fn tokens(text_chars: usize) -> u64 {
    (text_chars as u64).div_ceil(4).max(1)
}

/// What the shared code path needs from a request, whatever its dialect.
#[derive(Debug)]
struct Call {
    /// The model named by the request (or its path).
    model: String,
    /// Characters of every message, the system prompt included.
    prompt_chars: usize,
    /// The text of the last user message.
    user_text: String,
    /// The JSON schema the answer must fit.
    schema: Option<Value>,
    /// The tool the answer is a call of (Anthropic).
    tool: Option<String>,
}

/// The answer content of a call, before it is put into the dialect's shape.
enum Content {
    /// A JSON text that parses (valid, or invalid against the schema).
    Json(String),
    /// Text that is not JSON.
    Malformed(String),
}

impl Content {
    fn text(&self) -> &str {
        match self {
            Content::Json(s) | Content::Malformed(s) => s,
        }
    }
}

/// The user text and prompt size of a list of messages: `(role, text)` pairs.
fn conversation(messages: impl Iterator<Item = (Option<String>, String)>) -> (usize, String) {
    let mut chars = 0;
    let mut user_text = None;
    let mut last = None;
    for (role, text) in messages {
        chars += text.chars().count();
        if role.as_deref() == Some("user") {
            user_text = Some(text.clone());
        }
        last = Some(text);
    }
    (chars, user_text.or(last).unwrap_or_default())
}

/// Reads an OpenAI (or Azure) chat completions request.
fn read_openai(request: &Value, default_model: &str) -> Result<Call, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("'messages' is a required property")?;
    let (prompt_chars, user_text) = conversation(messages.iter().map(|m| {
        (
            m.get("role").and_then(Value::as_str).map(str::to_string),
            m.get("content").map(content_text).unwrap_or_default(),
        )
    }));
    let schema = request
        .get("response_format")
        .filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
        .and_then(|f| f.get("json_schema"))
        .and_then(|s| s.get("schema"))
        .cloned();
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(default_model)
        .to_string();
    Ok(Call {
        model,
        prompt_chars,
        user_text,
        schema,
        tool: None,
    })
}

/// Reads an Anthropic Messages request.
fn read_anthropic(request: &Value) -> Result<Call, String> {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let system = request.get("system").map(content_text).unwrap_or_default();
    let (chars, user_text) = conversation(messages.iter().map(|m| {
        (
            m.get("role").and_then(Value::as_str).map(str::to_string),
            m.get("content").map(content_text).unwrap_or_default(),
        )
    }));
    let tools = request
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let named = request
        .get("tool_choice")
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("tool"))
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str);
    let tool = match named {
        Some(name) => Some(
            tools
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
                .ok_or_else(|| format!("tool_choice names the unknown tool '{name}'"))?,
        ),
        None => tools.first(),
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(FAKE_MODEL)
        .to_string();
    Ok(Call {
        model,
        prompt_chars: chars + system.chars().count(),
        user_text,
        schema: tool.and_then(|t| t.get("input_schema")).cloned(),
        tool: tool
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Reads a Gemini `generateContent` request for `model`.
fn read_gemini(request: &Value, model: &str) -> Result<Call, String> {
    let contents = request
        .get("contents")
        .and_then(Value::as_array)
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let parts_text = |c: &Value| c.get("parts").map(content_text).unwrap_or_default();
    let system = request
        .get("systemInstruction")
        .or_else(|| request.get("system_instruction"))
        .map(parts_text)
        .unwrap_or_default();
    let (chars, user_text) = conversation(contents.iter().map(|c| {
        // A content without a role is the user's.
        let role = c.get("role").and_then(Value::as_str).unwrap_or("user");
        (Some(role.to_string()), parts_text(c))
    }));
    let config = request
        .get("generationConfig")
        .or_else(|| request.get("generation_config"));
    let schema = config.and_then(|g| {
        [
            "responseJsonSchema",
            "response_json_schema",
            "responseSchema",
            "response_schema",
        ]
        .iter()
        .find_map(|k| g.get(*k))
        .cloned()
    });
    Ok(Call {
        model: model.to_string(),
        prompt_chars: chars + system.chars().count(),
        user_text,
        schema,
        tool: None,
    })
}

/// The API key a request sends in the header (or query) of its dialect.
fn given_key(api: Api, req: &HttpRequest) -> Option<String> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let bearer =
        || header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(|k| k.trim().into()));
    match api {
        Api::OpenAi => bearer(),
        Api::Azure => header("api-key").or_else(bearer),
        Api::Anthropic => header("x-api-key"),
        Api::Gemini => header("x-goog-api-key").or_else(|| query(req, "key")),
    }
}

/// A query parameter of a request.
fn query(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get(name).cloned())
}

/// `POST /v1/chat/completions`.
async fn chat_completions(
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    serve(Api::OpenAi, None, req, body, inner).await
}

/// `POST /openai/deployments/{deployment}/chat/completions?api-version=...`.
async fn azure_chat_completions(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    serve(Api::Azure, Some(path.into_inner()), req, body, inner).await
}

/// `POST /v1/messages`.
async fn messages(req: HttpRequest, body: web::Bytes, inner: web::Data<Inner>) -> HttpResponse {
    serve(Api::Anthropic, None, req, body, inner).await
}

/// `POST /v1beta/models/{model}:generateContent`.
async fn generate_content(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let tail = path.into_inner();
    match tail.strip_suffix(":generateContent") {
        Some(model) if !model.is_empty() => {
            let model = model.to_string();
            serve(Api::Gemini, Some(model), req, body, inner).await
        }
        _ => inner.fail(
            Api::Gemini,
            Failure::NotFound,
            &format!(
                "The fake server only answers models/{{model}}:generateContent, not models/{tail}."
            ),
            None,
            None,
        ),
    }
}

/// The code path of every dialect: counting, the key check, reading the request, the limits,
/// the faults and the latency, then the answer in the dialect's shape. `target` is the Azure
/// deployment or the Gemini model of the path.
async fn serve(
    api: Api,
    target: Option<String>,
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let c = &inner.counters;
    add(&c.requests, 1);
    if let Some(key) = &inner.config.require_key {
        let given = given_key(api, &req);
        if given.as_deref() != Some(key.as_str()) {
            add(&c.unauthorized, 1);
            let (failure, message) = match (api, &given) {
                (Api::OpenAi, None) => (Failure::MissingKey, "You didn't provide an API key."),
                (Api::OpenAi, Some(_)) => (Failure::WrongKey, "Incorrect API key provided."),
                (Api::Azure, _) => (
                    Failure::WrongKey,
                    "Access denied due to invalid subscription key or wrong API endpoint.",
                ),
                (Api::Anthropic, None) => (Failure::MissingKey, "x-api-key header is required"),
                (Api::Anthropic, Some(_)) => (Failure::WrongKey, "invalid x-api-key"),
                (Api::Gemini, None) => (
                    Failure::MissingKey,
                    "Method doesn't allow unregistered callers. Please use an API key.",
                ),
                (Api::Gemini, Some(_)) => (
                    Failure::WrongKey,
                    "API key not valid. Please pass a valid API key.",
                ),
            };
            return inner.fail(api, failure, message, None, None);
        }
    }
    let bad_request = |message: &str| {
        add(&c.bad_requests, 1);
        inner.fail(api, Failure::BadRequest, message, None, None)
    };
    if api == Api::Azure && query(&req, "api-version").is_none() {
        return bad_request("Missing required query parameter: api-version");
    }
    if api == Api::Anthropic && !req.headers().contains_key("anthropic-version") {
        return bad_request("anthropic-version: header is required");
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return bad_request(&format!(
                "We could not parse the JSON body of your request: {e}"
            ));
        }
    };
    let call = match api {
        Api::OpenAi => read_openai(&request, FAKE_MODEL),
        Api::Azure => read_openai(&request, target.as_deref().unwrap_or(FAKE_MODEL)),
        Api::Anthropic => read_anthropic(&request),
        Api::Gemini => read_gemini(&request, target.as_deref().unwrap_or(FAKE_MODEL)),
    };
    let call = match call {
        Ok(call) => call,
        Err(message) => return bad_request(&message),
    };
    let schema = call.schema.as_ref();
    let valid = answer(schema, &call.user_text, false);
    let prompt_tokens = tokens(call.prompt_chars);
    let valid_completion = tokens(valid.chars().count());

    let quota = if inner.limited() {
        match inner.admit(prompt_tokens + valid_completion) {
            Ok(q) => Some(q),
            Err((wait, q)) => {
                add(&c.rate_limited, 1);
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let message = format!(
                    "Rate limit reached for {}: please try again in {secs}s.",
                    call.model
                );
                return inner.fail(api, Failure::RateLimited, &message, Some(q), Some(wait));
            }
        }
    } else {
        None
    };

    let (fault, jitter) = inner.draw();
    let delay = Duration::from_millis(inner.config.latency_ms) + jitter;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let content = match fault {
        Fault::ServerError => {
            add(&c.server_errors, 1);
            return inner.fail(
                api,
                Failure::ServerError,
                "The server had an error while processing your request. Sorry about that!",
                quota,
                None,
            );
        }
        Fault::Timeout => {
            add(&c.timeouts, 1);
            tokio::time::sleep(Duration::from_millis(inner.config.timeout_ms)).await;
            Content::Json(valid)
        }
        Fault::Malformed => {
            add(&c.malformed, 1);
            // A truncated object after a sentence: not JSON, even to a tolerant parser.
            let cut = valid.strip_suffix('}').unwrap_or(&valid);
            Content::Malformed(format!("Sure! Here is the answer you asked for: {cut}"))
        }
        Fault::Invalid => {
            add(&c.invalid, 1);
            Content::Json(answer(schema, &call.user_text, true))
        }
        Fault::None => Content::Json(valid),
    };
    let completion_tokens = tokens(content.text().chars().count());
    add(&c.ok, 1);
    add(&c.prompt_tokens, prompt_tokens);
    add(&c.completion_tokens, completion_tokens);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = c.requests.load(Ordering::Relaxed);
    let mut builder = HttpResponse::Ok();
    if let Some(q) = quota {
        inner.headers(api, &mut builder, q);
    }
    let usage = (prompt_tokens, completion_tokens);
    builder.json(match api {
        Api::OpenAi | Api::Azure => openai_answer(&call, &content, usage, now, n),
        Api::Anthropic => anthropic_answer(&call, &content, usage, n),
        Api::Gemini => gemini_answer(&call, &content, usage, n),
    })
}

/// A chat completion.
fn openai_answer(call: &Call, content: &Content, usage: (u64, u64), now: u64, n: u64) -> Value {
    let (prompt_tokens, completion_tokens) = usage;
    json!({
        "id": format!("chatcmpl-fake-{now}-{n}"),
        "object": "chat.completion",
        "created": now,
        "model": call.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content.text(), "refusal": null},
            "logprobs": null,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fake",
    })
}

/// A Messages answer: the tool call when the request has a tool, else a text block.
fn anthropic_answer(call: &Call, content: &Content, usage: (u64, u64), n: u64) -> Value {
    let tool_call = match (content, &call.tool) {
        (Content::Json(text), Some(tool)) => serde_json::from_str::<Value>(text)
            .ok()
            .map(|input| (tool, input)),
        _ => None,
    };
    let (blocks, stop_reason) = match tool_call {
        Some((tool, input)) => (
            json!([{"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": tool, "input": input}]),
            "tool_use",
        ),
        None => (
            json!([{"type": "text", "text": content.text()}]),
            "end_turn",
        ),
    };
    json!({
        "id": format!("msg_fake_{n}"),
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": usage.0, "output_tokens": usage.1},
    })
}

/// A `generateContent` answer.
fn gemini_answer(call: &Call, content: &Content, usage: (u64, u64), n: u64) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": content.text()}]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": usage.0,
            "candidatesTokenCount": usage.1,
            "totalTokenCount": usage.0 + usage.1,
        },
        "modelVersion": call.model,
        "responseId": format!("fake-{n}"),
    })
}

/// The JSON content answered for a schema (`{"answer": "ok"}` without one); `invalid` puts a
/// label outside the enum (or, with no enum in the schema, an unexpected shape).
pub fn answer(schema: Option<&Value>, user_text: &str, invalid: bool) -> String {
    let text = focus_text(user_text);
    let value = match schema {
        None => {
            if invalid {
                json!({"answer": 42})
            } else {
                json!({"answer": "ok"})
            }
        }
        Some(schema) => {
            let mut pending_invalid = invalid;
            let source = Source { text, user_text };
            let v = walk(schema, &source, &mut pending_invalid);
            if pending_invalid {
                json!({"unexpected": true})
            } else {
                v
            }
        }
    };
    value.to_string()
}

/// The part of the user text answers are taken from: after its last `Text:`, or all of it.
pub fn focus_text(user_text: &str) -> &str {
    let lower = user_text.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; only use the position when it is safe.
    match lower.rfind("text:") {
        Some(i) if lower.len() == user_text.len() && user_text.is_char_boundary(i + 5) => {
            user_text[i + 5..].trim_start()
        }
        _ => user_text,
    }
}

/// The type of a schema node (the first non-null one when it is a list).
fn schema_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// The string values of a node's `enum`.
fn enum_values(schema: &Value) -> Option<Vec<&str>> {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).collect())
}

/// The texts answers are taken from.
struct Source<'a> {
    /// The focus text of the user message ([`focus_text`]).
    text: &'a str,
    /// The whole user message.
    user_text: &'a str,
}

/// The refine rule: the answer of a string property of a prompt-refinement schema, by its name.
fn refine(name: &str, schema: &Value, source: &Source) -> Option<Value> {
    if schema_type(schema) != Some("string") || enum_values(schema).is_some() {
        return None;
    }
    let name = name.to_lowercase();
    if name == "reasoning" {
        Some(json!(REFINE_REASONING))
    } else if name.contains("title") {
        Some(json!(REFINE_TITLE))
    } else if name.contains("prompt") {
        let current = between(source.user_text, "<current_prompt>", "</current_prompt>")
            .map(str::trim)
            .unwrap_or(source.text);
        Some(json!(format!("{REFINE_INSTRUCTION}\n{current}")))
    } else {
        None
    }
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// An answer for one schema node.
fn walk(schema: &Value, source: &Source, invalid: &mut bool) -> Value {
    let text = source.text;
    if let Some(first) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
        .and_then(|alts| {
            alts.iter()
                .find(|a| schema_type(a) != Some("null"))
                .or(alts.first())
        })
    {
        return walk(first, source, invalid);
    }
    if let Some(values) = enum_values(schema) {
        if std::mem::take(invalid) {
            return json!(INVALID_LABEL);
        }
        return json!(choose(&values, text));
    }
    match schema_type(schema) {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    let value =
                        refine(name, prop, source).unwrap_or_else(|| walk(prop, source, invalid));
                    out.insert(name.clone(), value);
                }
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            if let Some(values) = enum_values(items) {
                if std::mem::take(invalid) {
                    return json!([INVALID_LABEL]);
                }
                let lower = text.to_lowercase();
                let mut found: Vec<&str> = values
                    .iter()
                    .copied()
                    .filter(|v| contains_word(&lower, &v.to_lowercase()))
                    .collect();
                if found.is_empty() {
                    found.extend(values.first());
                }
                return json!(found);
            }
            let props = items.get("properties");
            // Spans: `labels` with the quoted `text`, or with `start` and `end` offsets.
            let is_span = props.is_some_and(|p| {
                p.get("labels").is_some()
                    && (p.get("text").is_some()
                        || (p.get("start").is_some() && p.get("end").is_some()))
            });
            if is_span {
                return spans(items, text, invalid);
            }
            json!([walk(items, source, invalid)])
        }
        Some("integer") => schema
            .get("minimum")
            .and_then(Value::as_i64)
            .map_or(json!(1), |m| json!(m)),
        Some("number") => schema
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(json!(1), |m| json!(m)),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => json!(PLAIN_STRING),
    }
}

/// Whether `word` occurs in `haystack` between non-alphanumeric characters (both lowercase).
fn contains_word(haystack: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The enum value for a text: one that occurs in it, else the keyword rule, else the first.
fn choose<'a>(values: &[&'a str], text: &str) -> &'a str {
    let lower = text.to_lowercase();
    if let Some(v) = values
        .iter()
        .find(|v| contains_word(&lower, &v.to_lowercase()))
    {
        return v;
    }
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let named = |needle: &str| {
        values
            .iter()
            .copied()
            .find(|v| v.to_lowercase().contains(needle))
    };
    if words.iter().any(|w| POSITIVE_WORDS.contains(w))
        && let Some(v) = named("positive")
    {
        return v;
    }
    if words.iter().any(|w| NEGATIVE_WORDS.contains(w))
        && let Some(v) = named("negative")
    {
        return v;
    }
    values.first().copied().unwrap_or("")
}

/// A word of a text with its character offsets.
struct Word<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    sentence_start: bool,
}

/// The words (runs of alphanumeric characters) of a text, with character offsets.
fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut current: Option<(usize, usize)> = None; // (byte start, char start)
    let mut chars = 0;
    for (byte, ch) in text.char_indices() {
        if ch.is_alphanumeric() {
            if current.is_none() {
                current = Some((byte, chars));
            }
        } else {
            if let Some((b, s)) = current.take() {
                out.push(Word {
                    text: &text[b..byte],
                    start: s,
                    end: chars,
                    sentence_start,
                });
                sentence_start = false;
            }
            if matches!(ch, '.' | '!' | '?' | '\n') {
                sentence_start = true;
            }
        }
        chars += 1;
    }
    if let Some((b, s)) = current {
        out.push(Word {
            text: &text[b..],
            start: s,
            end: chars,
            sentence_start,
        });
    }
    out
}

/// The span answer: capitalised word groups labelled `ORG` or `PER` when the label set has them.
fn spans(items: &Value, text: &str, invalid: &mut bool) -> Value {
    let labels: Vec<&str> = items
        .pointer("/properties/labels/items")
        .and_then(enum_values)
        .unwrap_or_default();
    let find = |prefix: &str| {
        labels
            .iter()
            .copied()
            .find(|l| l.to_uppercase().starts_with(prefix))
    };
    let (org, per) = (find("ORG"), find("PER"));
    let with_text = items.pointer("/properties/text").is_some()
        || items.get("additionalProperties") != Some(&Value::Bool(false));
    let chars: Vec<char> = text.chars().collect();
    let all = words(text);
    // Groups of consecutive capitalised words separated by single spaces.
    let mut groups: Vec<Vec<&Word>> = Vec::new();
    let mut last_end: Option<usize> = None;
    for w in &all {
        let capitalised = w.text.chars().next().is_some_and(char::is_uppercase);
        let starter = w.sentence_start && SENTENCE_STARTERS.contains(&w.text);
        if !capitalised || starter {
            last_end = None;
            continue;
        }
        let adjacent = last_end.is_some_and(|e| w.start == e + 1 && chars.get(e) == Some(&' '));
        match groups.last_mut() {
            Some(g) if adjacent => g.push(w),
            _ => groups.push(vec![w]),
        }
        last_end = Some(w.end);
    }
    let mut out = Vec::new();
    for g in groups {
        let (Some(first), Some(last)) = (g.first(), g.last()) else {
            continue;
        };
        let is_org = g.iter().any(|w| ORG_WORDS.contains(&w.text));
        let label = if is_org { org } else { per };
        let Some(label) = label else { continue };
        let label = if std::mem::take(invalid) {
            INVALID_LABEL
        } else {
            label
        };
        let mut span = Map::new();
        span.insert("start".into(), json!(first.start));
        if items.pointer("/properties/end").is_some() {
            span.insert("end".into(), json!(last.end));
        }
        span.insert("labels".into(), json!([label]));
        if with_text {
            let s: String = chars[first.start..last.end].iter().collect();
            span.insert("text".into(), json!(s));
        }
        out.push(Value::Object(span));
    }
    if std::mem::take(invalid) {
        out.push(json!({"start": 0, "end": 0, "labels": [INVALID_LABEL]}));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_have_char_offsets() {
        let w = words("Zoë met Ann.");
        assert_eq!(w[0].text, "Zoë");
        assert_eq!((w[1].start, w[1].end), (4, 7));
        assert_eq!((w[2].start, w[2].end), (8, 11));
    }

    #[test]
    fn the_refine_rule_answers_by_property_name() {
        let schema = json!({
            "type": "object",
            "properties": {
                "reasoning": {"type": "string"},
                "new_prompt_title": {"type": "string"},
                "new_prompt_content": {"type": "string"},
                "label": {"type": "string", "enum": ["A", "B"]},
            },
        });
        let user = "Improve it.\n<current_prompt>\nClassify {text}.\n</current_prompt>\nText: B";
        let v: Value = serde_json::from_str(&answer(Some(&schema), user, false)).expect("json");
        assert_eq!(
            v["reasoning"],
            "The fake teacher kept the placeholders and added an instruction."
        );
        assert_eq!(v["new_prompt_title"], "refined");
        assert_eq!(
            v["new_prompt_content"],
            "Read the text carefully and answer precisely.\nClassify {text}."
        );
        assert_eq!(v["label"], "B");
        // Without the tags, the focus text.
        let v: Value = serde_json::from_str(&answer(Some(&schema), "Fix it. Text: Say {x}", false))
            .expect("json");
        assert_eq!(
            v["new_prompt_content"],
            "Read the text carefully and answer precisely.\nSay {x}"
        );
        // Only plain strings: an enum property named like a prompt keeps the enum rule.
        let enum_schema = json!({"type": "object", "properties": {
            "prompt_kind": {"type": "string", "enum": ["short", "long"]},
        }});
        let v: Value =
            serde_json::from_str(&answer(Some(&enum_schema), "long", false)).expect("json");
        assert_eq!(v["prompt_kind"], "long");
    }

    #[test]
    fn focus_text_takes_the_part_after_text() {
        assert_eq!(focus_text("Label it.\nText: John"), "John");
        assert_eq!(focus_text("John"), "John");
    }
}
