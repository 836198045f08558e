//! The one code path of every dialect. [`serve`] holds what only a live HTTP request goes
//! through (counting, the key and header checks, the JSON parse, the limits, the faults and the
//! latency); [`prepare`] (reading, the hidden rules, the directives, the content filter, the
//! valid answer) and [`render`] (the realistic mode, the prompt cache, the output limit, the
//! counters and the dialect's body) are shared with the batch items.
use super::call::{BadRequest, Call, Finish, Reply, Tokens, tokens};
use super::faults::Fault;
use super::server::{Api, FAKE_MODEL, Failure, Inner, given_key, query};
use super::{BATCH_FAIL, add, answer, anthropic, gemini, hidden, logprobs, openai, realism};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A request read and answered, before the answer is shaped.
#[derive(Debug)]
pub(super) struct Prepared {
    /// What the request asks (its user text without directives or the batch marker).
    pub(super) call: Call,
    /// The hidden rules read from the raw user text.
    cues: hidden::Cues,
    /// The valid answer.
    valid: String,
    /// Whether the user text held [`BATCH_FAIL`] (a batch item then fails).
    pub(super) batch_fail: bool,
}

impl Prepared {
    /// The tokens the answer is expected to cost: prompt, output and reasoning.
    fn expected_tokens(&self) -> u64 {
        self.call.prompt_tokens() + tokens(self.valid.chars().count()) + self.call.reasoning
    }
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The 401 a request without the configured key gets in the shape of `api`, if it does.
pub(super) fn key_refusal(inner: &Inner, api: Api, req: &HttpRequest) -> Option<HttpResponse> {
    let key = inner.config.require_key.as_ref()?;
    let given = given_key(api, req);
    if given.as_deref() == Some(key.as_str()) {
        return None;
    }
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
    Some(inner.fail(api, failure, message, None, None))
}

/// The refusal of a request missing what its dialect requires besides the key: Azure's
/// `api-version` query, Anthropic's `anthropic-version` header.
pub(super) fn header_refusal(api: Api, req: &HttpRequest) -> Option<BadRequest> {
    if api == Api::Azure && query(req, "api-version").is_none() {
        return Some("Missing required query parameter: api-version".into());
    }
    if api == Api::Anthropic && !req.headers().contains_key("anthropic-version") {
        return Some("anthropic-version: header is required".into());
    }
    None
}

/// The body of a 400 for `bad` in the shape of `api`.
pub(super) fn bad_body(api: Api, bad: &BadRequest) -> Value {
    match api {
        Api::OpenAi | Api::Azure => openai::bad_request_body(bad),
        Api::Anthropic => anthropic::error_body(Failure::BadRequest, &bad.message),
        Api::Gemini => gemini::bad_request_body(bad),
    }
}

/// Reads a request body of `api` and answers it: the dialect's reading, the batch marker, the
/// hidden rules, the directives, the content filter and the valid answer. `target` is the
/// Azure deployment or the Gemini model of the path.
pub(super) fn prepare(
    inner: &Inner,
    api: Api,
    target: Option<&str>,
    request: &Value,
) -> Result<Prepared, BadRequest> {
    let mut call = match api {
        Api::OpenAi => openai::read(request, FAKE_MODEL),
        Api::Azure => openai::read(request, target.unwrap_or(FAKE_MODEL)),
        Api::Anthropic => anthropic::read(request),
        Api::Gemini => gemini::read(request, target.unwrap_or(FAKE_MODEL)),
    }?;
    // The batch marker is no part of the text anywhere: a live request is answered without it.
    let marks = call.user_text.matches(BATCH_FAIL).count();
    if marks > 0 {
        call.user_text = call.user_text.replace(BATCH_FAIL, "");
        call.prompt_chars = call
            .prompt_chars
            .saturating_sub(marks * BATCH_FAIL.chars().count());
    }
    // The hidden rules are read from the raw text, before its directives are taken out.
    let cues = hidden::Cues::read(&call.user_text);
    let directives = logprobs::Directives::take(&mut call.user_text);
    // A text a directive gives (`model:`, `votes`) is answered by the usual rules alone.
    let cues = if directives.overrides(&call.model) {
        hidden::Cues::default()
    } else {
        cues
    };
    call.confidence = directives.probability(&call.user_text);
    let lowered = call.user_text.to_lowercase();
    if inner
        .config
        .content_filter
        .iter()
        .any(|w| !w.is_empty() && lowered.contains(&w.to_lowercase()))
    {
        return Err(BadRequest {
            message: "The response was filtered due to the prompt triggering the content \
                      management policy. Please modify your prompt and retry."
                .to_string(),
            param: Some("prompt".to_string()),
            code: Some("content_filter"),
        });
    }
    let valid = answer::answer_with(
        call.schema.as_ref(),
        directives.answer_text(&call.user_text, call.seed, &call.model),
        &cues,
        false,
    );
    Ok(Prepared {
        call,
        cues,
        valid,
        batch_fail: marks > 0,
    })
}

/// The answer body of `prepared` in the shape of `api`, with `fault` (none, a timeout already
/// slept, malformed or invalid content): the realistic mode's quirk, the prompt cache, the
/// output limit and the counters of an answered request. `n` numbers the answer's ids.
pub(super) fn render(inner: &Inner, api: Api, prepared: &Prepared, fault: Fault, n: u64) -> Value {
    let c = &inner.counters;
    let call = &prepared.call;
    let clean = |text: String| Reply {
        text,
        json: true,
        finish: Finish::Stop,
        tokens: Tokens::default(),
    };
    let valid = prepared.valid.clone();
    let mut reply = match fault {
        Fault::Malformed => {
            add(&c.malformed, 1);
            // A truncated object after a sentence: not JSON, even to a tolerant parser.
            let cut = valid.strip_suffix('}').unwrap_or(&valid);
            Reply {
                json: false,
                ..clean(format!("Sure! Here is the answer you asked for: {cut}"))
            }
        }
        Fault::Invalid => {
            add(&c.invalid, 1);
            let schema = call.schema.as_ref();
            clean(answer::answer_with(
                schema,
                &call.user_text,
                &prepared.cues,
                true,
            ))
        }
        Fault::None | Fault::Timeout | Fault::ServerError => clean(valid),
    };
    reply.tokens.output = tokens(reply.text.chars().count());
    if matches!(fault, Fault::None | Fault::Timeout)
        && let Some(quirk) = realism::choose(&inner.config, call.key)
    {
        add(&c.quirked, 1);
        realism::apply(quirk, &mut reply, call.key);
        if quirk == realism::Quirk::Cut
            && let Some(max) = call.max_output
        {
            // The limit it was cut at is the request's.
            reply.tokens.output = max.saturating_sub(call.reasoning);
        }
    }
    let prompt_tokens = call.prompt_tokens();
    let (cached, cache_written) = inner.cached(call, prompt_tokens);
    reply.tokens = Tokens {
        prompt: prompt_tokens,
        reasoning: call.reasoning,
        cached,
        cache_written,
        ..reply.tokens
    };
    reply.limit(call.max_output);
    let t = reply.tokens;
    add(&c.ok, 1);
    add(&c.prompt_tokens, t.prompt);
    add(&c.completion_tokens, t.output + t.reasoning);
    add(&c.reasoning_tokens, t.reasoning);
    add(&c.cached_tokens, t.cached);
    add(&c.images, call.images);
    if reply.finish == Finish::Refusal {
        add(&c.refusals, 1);
    }
    if reply.finish == Finish::Length {
        add(&c.cut, 1);
    }
    match api {
        Api::OpenAi | Api::Azure => openai::answer(call, &reply, unix_now(), n),
        Api::Anthropic => anthropic::answer(call, &reply, n),
        Api::Gemini => gemini::answer(call, &reply, n),
    }
}

/// The code path of every live request: counting, the key check, reading the request, the
/// limits, the faults and the latency, then the answer in the dialect's shape. `target` is the
/// Azure deployment or the Gemini model of the path.
pub(super) async fn serve(
    api: Api,
    target: Option<String>,
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let c = &inner.counters;
    add(&c.requests, 1);
    if let Some(refusal) = key_refusal(&inner, api, &req) {
        add(&c.unauthorized, 1);
        return refusal;
    }
    if let Some(bad) = header_refusal(api, &req) {
        return inner.refuse(api, &bad);
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request: {e}");
            return inner.refuse(api, &BadRequest::new(message));
        }
    };
    let prepared = match prepare(&inner, api, target.as_deref(), &request) {
        Ok(prepared) => prepared,
        Err(bad) => return inner.refuse(api, &bad),
    };
    let quota = if inner.limited() {
        match inner.admit(prepared.expected_tokens()) {
            Ok(q) => Some(q),
            Err((wait, q)) => {
                add(&c.rate_limited, 1);
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                let message = format!(
                    "Rate limit reached for {}: please try again in {secs}s.",
                    prepared.call.model
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
    match fault {
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
        }
        Fault::None | Fault::Malformed | Fault::Invalid => {}
    }
    let n = c.requests.load(Ordering::Relaxed);
    let body = render(&inner, api, &prepared, fault, n);
    let mut builder = HttpResponse::Ok();
    if let Some(q) = quota {
        inner.headers(api, &mut builder, q);
    }
    builder.json(body)
}
