//! The fake LLM's server: routing, the shared state of its workers, the key of each dialect and
//! the error answers (the one code path every dialect goes through is in `respond`; the batch
//! APIs are in `batch`).
use super::batch::{self, Store};
use super::call::{BadRequest, Call, tokens};
use super::limits::Quota;
use super::respond::{bad_body, serve};
use super::{Counters, FakeLlmConfig, FakeLlmStats, add, anthropic, batch_gemini, gemini, openai};
use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The model id `GET /v1/models` lists.
pub const FAKE_MODEL: &str = "fake-model";

/// The shared state of the server's workers.
#[derive(Debug)]
pub(super) struct Inner {
    pub(super) config: FakeLlmConfig,
    pub(super) rng: Mutex<StdRng>,
    /// Admitted requests of the last minute: when, and how many tokens.
    pub(super) window: Mutex<VecDeque<(Instant, u64)>>,
    pub(super) counters: Counters,
    /// Hashes of the prompt prefixes in the provider's cache.
    pub(super) cache: Mutex<HashSet<u64>>,
    /// The batch APIs' files and batches.
    pub(super) batches: Mutex<Store>,
}

impl Inner {
    /// A 400 for `bad` in the shape of `api` (counted).
    pub(super) fn refuse(&self, api: Api, bad: &BadRequest) -> HttpResponse {
        add(&self.counters.bad_requests, 1);
        let mut builder = HttpResponse::BadRequest();
        if self.limited() {
            self.headers(api, &mut builder, self.quota());
        }
        builder.json(bad_body(api, bad))
    }

    /// The prompt tokens of `call` read from or written to the provider's cache: `(read,
    /// written)`.
    pub(super) fn cached(&self, call: &Call, prompt_tokens: u64) -> (u64, u64) {
        let Some(prefix) = call.prefix else {
            return (0, 0);
        };
        let prefix_tokens =
            (tokens(prefix.chars) + call.images * super::call::IMAGE_TOKENS).min(prompt_tokens);
        if prompt_tokens < super::call::MIN_CACHED_TOKENS
            || prefix_tokens < super::call::MIN_CACHED_TOKENS
        {
            return (0, 0);
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        let hit = !cache.insert(prefix.hash);
        match (hit, prefix.explicit) {
            (true, _) => (prefix_tokens / prefix.step * prefix.step, 0),
            (false, true) => (0, prefix_tokens),
            (false, false) => (0, 0),
        }
    }

    /// An error answer in the shape of `api`. `quota` is the limiter's report (else it is
    /// read now); `retry` adds `Retry-After`.
    pub(super) fn fail(
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
            Api::OpenAi | Api::Azure => openai::error_body(failure, message),
            Api::Anthropic => anthropic::error_body(failure, message),
            Api::Gemini => gemini::error_body(failure, message, retry_secs),
        };
        builder.json(body)
    }
}

/// The wire dialect of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
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
pub(super) enum Failure {
    MissingKey,
    WrongKey,
    BadRequest,
    NotFound,
    RateLimited,
    ServerError,
}

impl Failure {
    pub(super) fn status(self) -> StatusCode {
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
            cache: Mutex::new(HashSet::new()),
            batches: Mutex::new(Store::default()),
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
                .configure(batch::routes)
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
async fn models(req: HttpRequest, inner: web::Data<Inner>) -> HttpResponse {
    // Like the providers' model lists, it needs the key: Anthropic's in `x-api-key`.
    let api = if req.headers().contains_key("x-api-key") {
        Api::Anthropic
    } else {
        Api::OpenAi
    };
    if let Some(key) = &inner.config.require_key
        && given_key(api, &req).as_deref() != Some(key.as_str())
    {
        let failure = if given_key(api, &req).is_none() {
            Failure::MissingKey
        } else {
            Failure::WrongKey
        };
        return inner.fail(api, failure, "Incorrect API key provided.", None, None);
    }
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": [{"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "prompter"}]
    }))
}

/// The API key a request sends in the header (or query) of its dialect.
pub(super) fn given_key(api: Api, req: &HttpRequest) -> Option<String> {
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
pub(super) fn query(req: &HttpRequest, name: &str) -> Option<String> {
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

/// `POST /v1beta/models/{model}:generateContent` (and `:batchGenerateContent`, a batch).
async fn generate_content(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    inner: web::Data<Inner>,
) -> HttpResponse {
    let tail = path.into_inner();
    if let Some(model) = tail.strip_suffix(":batchGenerateContent")
        && !model.is_empty()
    {
        let model = model.to_string();
        return batch_gemini::create(req, model, body, inner).await;
    }
    match tail.strip_suffix(":generateContent") {
        Some(model) if !model.is_empty() => {
            let model = model.to_string();
            serve(Api::Gemini, Some(model), req, body, inner).await
        }
        _ => inner.fail(
            Api::Gemini,
            Failure::NotFound,
            &format!(
                "The fake server only answers models/{{model}}:generateContent and \
                 models/{{model}}:batchGenerateContent, not models/{tail}."
            ),
            None,
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::io::{Read, Write};

    /// The content the server answers an OpenAI request of `model` with `user` as its last
    /// user message and `schema`.
    async fn content(fake: &FakeLlm, model: &str, user: &str, schema: &Value) -> Value {
        let body = json!({
            "model": model,
            "messages": [{"role": "user", "content": user}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        })
        .to_string();
        let port = fake.port;
        let raw = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let head = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).expect("write");
            stream.write_all(body.as_bytes()).expect("write");
            let mut raw = String::new();
            stream.read_to_string(&mut raw).expect("read");
            raw
        })
        .await
        .expect("request");
        let (_, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
        let answer: Value = serde_json::from_str(body).expect("a JSON body");
        let text = answer["choices"][0]["message"]["content"]
            .as_str()
            .expect("content");
        serde_json::from_str(text).expect("JSON content")
    }

    #[tokio::test]
    async fn hidden_rules_are_read_before_the_directives_are_taken_out() {
        let fake = FakeLlm::start(FakeLlmConfig::default(), 0)
            .await
            .expect("start");
        let labels = json!({"type": "object", "properties": {
            "sentiment": {"type": "string", "enum": ["Positive", "Negative", "Complaint"]},
        }});
        let focus = "Text: I love it, refund me [[rule:refund]] [[confidence=0.9]]";
        let stated = format!("Texts about refund are Complaint.\n{focus}");
        let v = content(&fake, FAKE_MODEL, &format!("Classify.\n{focus}"), &labels).await;
        assert_eq!(v["sentiment"], "Positive");
        let v = content(&fake, FAKE_MODEL, &stated, &labels).await;
        assert_eq!(v["sentiment"], "Complaint");
        // A text a directive gives is answered by the usual rules alone.
        let v = content(
            &fake,
            "small",
            &format!("{stated} [[model:small=bad]]"),
            &labels,
        )
        .await;
        assert_eq!(v["sentiment"], "Negative");
        // The teacher reads its examples' markers.
        let teacher = json!({"type": "object", "properties": {
            "new_prompt_content": {"type": "string"},
        }});
        let user = "Improve.\n<current_prompt>\nClassify {text}.\n</current_prompt>\n\
                    <example n=\"1\">\nInput:\nClassify.\nText: refund [[rule:refund]]\n\
                    Ground truth: {\"sentiment\":\"Complaint\"}\n\
                    Current prediction: {\"sentiment\":\"Positive\"}\n</example>";
        let v = content(&fake, FAKE_MODEL, user, &teacher).await;
        assert_eq!(
            v["new_prompt_content"],
            "Texts about refund are Complaint.\n\
             Read the text carefully and answer precisely.\nClassify {text}."
        );
        fake.stop().await;
    }
}
