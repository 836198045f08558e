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
//!   matched text when the user message has no such tags. The teacher **learns rules from
//!   failures**: the user message shows labeled examples as blocks
//!   `<example n="1">` / `Input:` / the rendered prompt / `Ground truth: {json}` /
//!   `Current prediction: {json}` (or `none`) / `</example>`; for each distinct KEY (in order
//!   of first appearance) of a `[[rule:KEY]]` in the focus text of a failing example's input
//!   (its prediction differs from its ground truth as JSON values; `none` always differs), the
//!   answer starts with the line `Texts about KEY are LABEL.`, LABEL being the first string
//!   (depth-first) of the ground truth of the first such example for that KEY, unless the
//!   current prompt has that line already (case-insensitive). With no such failure the answer
//!   is as above, and `reasoning` never changes. The blocks are read before the directives are
//!   taken out of the user message;
//! * **hidden rules**, for labeling calls: a `[[rule:KEY]]` in the focus text is answered
//!   right only when the prompt states it (a line of the instruction part, the user text before
//!   the focus text, holding KEY and one of the enum's values as whole words, such as
//!   `Texts about refund are Complaint.`), and a `[[example:LABEL]]` in the focus text only
//!   when the instruction part has a line starting with `Answer:` that holds LABEL as a whole
//!   word; otherwise the usual rules answer the text, these markers taken out. The rule wins
//!   over the example; markers in the instruction part trigger nothing (see the `logprobs`
//!   module's directives and the `hidden` module);
//! * integers and numbers get their `minimum` or 1, booleans `true`, other strings a fixed
//!   sentence, nested objects are walked the same way.
//!
//! OpenAI and Azure answers carry token log-probabilities when the request asks for them
//! (`logprobs: true`, `top_logprobs` up to 20; OpenAI's reasoning models refuse both), and a
//! task's text can set the probability of the answer's values and which answer each sample
//! gives: see the `logprobs` module.
//!
//! A request whose user text holds a word of the content filter ([`FakeLlmConfig`]) is
//! refused with 400 `content_filter`, as Azure OpenAI refuses flagged prompts.
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
//!
//!
//! **Strict like the real APIs**, always: each dialect refuses what its provider refuses, with
//! the provider's 400 body (OpenAI's `param` and `code` included): parameters a model does not
//! take (`temperature`, `top_p` and `max_tokens` on OpenAI's reasoning models, `reasoning_effort`
//! on its chat models, sampling parameters on Anthropic's newest models, both of them on Claude
//! 4, a missing `max_tokens` on Anthropic, fields a provider does not know), and images in any
//! shape but the provider's own. Usage has the real details: reasoning models spend reasoning
//! (thinking) tokens, prompts of 1,024 tokens and more get cached prefixes, the output token
//! limit cuts answers (`finish_reason: length`, `stop_reason: max_tokens`, `MAX_TOKENS`). The
//! rules of each dialect are in its module (`openai`, `anthropic`, `gemini`); unknown model ids
//! (such as [`FAKE_MODEL`]) get no model-specific rule.
//!
//! **Realistic mode** (`--realistic`, [`FakeLlmConfig::realistic`]): a share of the answers
//! come back the way real models give them: span offsets a few characters off, JSON in fences or
//! prose, no JSON at all, a refusal, an answer cut at the token limit (see [`Quirk`]).
//!
//! **Batch APIs** (state in memory, ids sequential; each endpoint checks the key, and Azure's
//! `api-version` or Anthropic's `anthropic-version`, as the live ones do):
//!
//! * OpenAI: `POST /v1/files` (multipart, `purpose=batch`, a JSONL file), `GET
//!   /v1/files/{id}` and `/v1/files/{id}/content`, `DELETE /v1/files/{id}` (also without
//!   `/v1`); `POST /v1/batches` (`endpoint: /v1/chat/completions`, `completion_window: 24h`),
//!   `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`. Azure: the same under `/openai/`
//!   with `?api-version=`. The input file is checked at creation (one model, unique
//!   `custom_id`s, the batch's `url`, at most 50,000 lines, Azure 100,000): a file that breaks a
//!   rule makes the batch `failed` with `errors`. An ended batch has an output file (items
//!   answered 200) and an error file (500s, 400s, canceled items).
//! * Anthropic: `POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, `POST
//!   .../{id}/cancel`, `GET .../{id}/results` (JSONL: `succeeded`, `errored`, `canceled`).
//! * Gemini: `POST /v1beta/models/{model}:batchGenerateContent` (inline requests, at most
//!   20 MB), `GET /v1beta/batches/{id}` (an Operation; when done, the responses in input order,
//!   without the requests' `metadata`), `POST /v1beta/batches/{id}:cancel`.
//!
//! A batch is in progress for `--batch-completion-ms` ([`FakeLlmConfig::batch_completion_ms`])
//! after its creation, its counts growing linearly, and ends at the first look after that (at
//! the first look when 0); a cancel ends it at the next look, the items not done by the cancel
//! canceled. Its items are answered when it ends, once, by the live path (the realistic mode
//! and the prompt cache apply; the limits, the latency and the live faults do not), and listed
//! in a shuffled order (OpenAI, Anthropic). An item fails with a server error when its user
//! text holds [`BATCH_FAIL`] (taken out of every text, live ones too) or by the draw of
//! `--batch-failure-rate`, and with the live 400 when the live endpoint refuses it. Items
//! count in [`FakeLlmStats::batch_items`] and, answered, in `ok` and the token counters, never
//! in `requests`; the batch endpoints' own answers count in no other counter.
//!
//! The code is split by concern: `server` (routing, the shared state, keys and error answers),
//! `respond` (the one code path: `serve`, and the `prepare` and `render` it shares with the
//! batches), `call` (what a request asks and what it is answered), `openai`, `anthropic` and
//! `gemini` (each dialect's reading, answers and error shapes), `answer` (the schema-driven
//! answer), `hidden` (the hidden rules and what the teacher learns), `realism` (the realistic
//! mode), `limits` (the rate-limit window and headers), `faults` (the injected faults),
//! `batch` (the batches' state and life), `batch_openai`, `batch_anthropic` and `batch_gemini`
//! (each dialect's batch endpoints) and `multipart` (the uploads' form reader).
#![deny(clippy::unwrap_used, clippy::expect_used)]
mod answer;
mod anthropic;
mod batch;
mod batch_anthropic;
mod batch_gemini;
mod batch_openai;
mod call;
mod faults;
mod gemini;
mod hidden;
mod limits;
mod logprobs;
mod multipart;
mod openai;
mod realism;
mod respond;
mod server;

pub use answer::{answer, focus_text};
pub use realism::Quirk;
pub use server::{FAKE_MODEL, FakeLlm};

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// The marker that makes a batch item fail with a server error when its user text holds it.
/// It is taken out of the text before any answer, so the same request sent live is answered
/// normally, by the text without it.
pub const BATCH_FAIL: &str = "[[batch:fail]]";

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
    /// Answer like real models do, now and then: span offsets a few characters off, JSON in
    /// fences or prose, no JSON, refusals, answers cut at the token limit.
    #[arg(long, env = "FAKE_LLM_REALISTIC")]
    pub realistic: bool,
    /// Share (0..1) of the requests the realistic mode changes; which ones is decided by the
    /// seed and a hash of each request, so a run is reproducible.
    #[arg(long, env = "FAKE_LLM_REALISTIC_RATE", default_value_t = 0.3, value_parser = parse_rate)]
    pub realistic_rate: f64,
    /// The quirks the realistic mode picks from (comma-separated; all when none is given).
    #[arg(
        long = "realistic-quirk",
        env = "FAKE_LLM_REALISTIC_QUIRKS",
        value_enum,
        value_delimiter = ','
    )]
    pub realistic_quirks: Vec<Quirk>,
    /// When set, requests must send this key or get 401: `Authorization: Bearer <key>`
    /// (OpenAI), `api-key` (Azure), `x-api-key` (Anthropic), `x-goog-api-key` or `?key=`
    /// (Gemini).
    #[arg(long, env = "FAKE_LLM_REQUIRE_KEY")]
    pub require_key: Option<String>,
    /// Words (comma-separated, case-insensitive) that trip the provider's content filter: a
    /// request whose user text holds one is refused with 400 as Azure OpenAI refuses a prompt
    /// its content management policy flags (`code: content_filter`), every time.
    #[arg(
        long = "content-filter",
        env = "FAKE_LLM_CONTENT_FILTER",
        value_delimiter = ','
    )]
    pub content_filter: Vec<String>,
    /// How long a batch is in progress after its creation, in milliseconds: its items are done
    /// linearly over that time, and it ends at the first look after it (0: at the first look).
    #[arg(long, env = "FAKE_LLM_BATCH_COMPLETION_MS", default_value_t = 0)]
    pub batch_completion_ms: u64,
    /// Probability (0..1) that a batch item fails with a server error.
    #[arg(long, env = "FAKE_LLM_BATCH_FAILURE_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub batch_failure_rate: f64,
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
            realistic: false,
            realistic_rate: 0.3,
            realistic_quirks: Vec::new(),
            require_key: None,
            content_filter: Vec::new(),
            batch_completion_ms: 0,
            batch_failure_rate: 0.0,
        }
    }
}

/// Counters of what the fake server answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FakeLlmStats {
    /// HTTP requests received on the completion endpoints (every dialect; batch items are not
    /// counted here).
    pub requests: u64,
    /// Requests answered 200 (including timed-out, malformed and invalid ones), batch items
    /// answered included.
    pub ok: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
    /// Requests answered 500.
    pub server_errors: u64,
    /// Requests answered 401.
    pub unauthorized: u64,
    /// Requests answered 400 (unreadable or refused).
    pub bad_requests: u64,
    /// Requests that slept `timeout_ms` before answering.
    pub timeouts: u64,
    /// Answers whose content was not JSON.
    pub malformed: u64,
    /// Answers whose content violated the schema.
    pub invalid: u64,
    /// Prompt tokens of the requests answered 200.
    pub prompt_tokens: u64,
    /// Completion tokens of the requests answered 200 (reasoning tokens included).
    pub completion_tokens: u64,
    /// Of those, reasoning tokens.
    pub reasoning_tokens: u64,
    /// Prompt tokens served from the cache.
    pub cached_tokens: u64,
    /// Answers the realistic mode changed.
    pub quirked: u64,
    /// Answers that were refusals.
    pub refusals: u64,
    /// Answers cut at the output token limit.
    pub cut: u64,
    /// Images in the answered requests (each accepted in its dialect's shape).
    pub images: u64,
    /// Batches created (every dialect).
    pub batches: u64,
    /// Batch items answered or failed inside batches (not the canceled ones).
    pub batch_items: u64,
    /// Batches a cancel was asked for while they were running.
    pub batches_canceled: u64,
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
    reasoning_tokens: AtomicU64,
    cached_tokens: AtomicU64,
    quirked: AtomicU64,
    refusals: AtomicU64,
    cut: AtomicU64,
    images: AtomicU64,
    batches: AtomicU64,
    batch_items: AtomicU64,
    batches_canceled: AtomicU64,
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
            reasoning_tokens: get(&self.reasoning_tokens),
            cached_tokens: get(&self.cached_tokens),
            quirked: get(&self.quirked),
            refusals: get(&self.refusals),
            cut: get(&self.cut),
            images: get(&self.images),
            batches: get(&self.batches),
            batch_items: get(&self.batch_items),
            batches_canceled: get(&self.batches_canceled),
        }
    }
}
