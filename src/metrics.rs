//! The process's metrics, served in Prometheus's text format at `GET /metrics`: one registry,
//! and one function per thing observed, called by the code that already knows it (the request
//! middleware, the engine's LLM calls, the queue). A foundation module: any layer may call it,
//! and it names none of them.
//!
//! Labels are bounded by construction: an HTTP request is labelled with its route's pattern
//! (`/api/prompts/{id}/`, never the raw path) or `unmatched`, its method among the standard
//! ones or `other`, and its status; an LLM call with its provider, its model name (a
//! version's or a step's, cut to [`MAX_LABEL_CHARS`]) and an outcome of a fixed list. No
//! label holds a secret, an email, a prompt's text or an object's id.
//!
//! Counters and histograms live for the whole process. What is read when scraped (queue
//! depths, the LLM schedulers of this process) is put in a [`Scrape`] by the caller and
//! rendered with the rest by [`render`].
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;

/// The `Content-Type` of the text format (Prometheus's exposition format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Characters of a free-text label value (a model's name) kept; longer ones are cut.
pub const MAX_LABEL_CHARS: usize = 100;

/// The prefix of every series.
const PREFIX: &str = "prompter";

/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds (seconds) of the LLM call latency buckets (a call with its retries).
const LLM_BUCKETS: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// Upper bounds (seconds) of the background job latency buckets.
const JOB_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    provider: String,
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SchedulerLabels {
    connection: String,
    provider: String,
    model: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The registry and the series the process counts.
struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Histograms<RouteLabels>,
    llm_calls: Family<CallLabels, Counter>,
    llm_seconds: Histograms<CallLabels>,
    llm_tokens: Family<TokenLabels, Counter>,
    llm_cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    job_seconds: Histograms<KindLabels>,
}

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn llm_histogram() -> Histogram {
    Histogram::new(LLM_BUCKETS)
}

fn job_histogram() -> Histogram {
    Histogram::new(JOB_BUCKETS)
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let m = Metrics {
            http_requests: Family::default(),
            http_seconds: Family::new_with_constructor(http_histogram),
            llm_calls: Family::default(),
            llm_seconds: Family::new_with_constructor(llm_histogram),
            llm_tokens: Family::default(),
            llm_cost: Family::default(),
            job_seconds: Family::new_with_constructor(job_histogram),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route pattern",
            m.http_seconds.clone(),
        );
        registry.register(
            "llm_calls",
            "LLM calls made by the engine (a call with its retries), by provider, model and outcome",
            m.llm_calls.clone(),
        );
        registry.register(
            "llm_call_duration_seconds",
            "Time of an LLM call with its pacing waits and retries, by provider, model and outcome",
            m.llm_seconds.clone(),
        );
        registry.register(
            "llm_tokens",
            "Tokens the providers reported, by provider, model and kind (prompt, completion)",
            m.llm_tokens.clone(),
        );
        registry.register(
            "llm_cost_usd",
            "Cost of the LLM calls in US dollars at the price table, by provider and model",
            m.llm_cost.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Time from a background job's creation to its end, by kind",
            m.job_seconds.clone(),
        );
        Metrics { registry, ..m }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// A method as a label: the standard ones by name, anything else `other` (a client may send
/// any token as a method, and a label must stay bounded).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A free-text label value, cut to [`MAX_LABEL_CHARS`] characters.
fn text_label(value: &str) -> String {
    match value.char_indices().nth(MAX_LABEL_CHARS) {
        Some((at, _)) => value[..at].to_string(),
        None => value.to_string(),
    }
}

/// One HTTP request answered: its method, the pattern of the route that served it (`None`:
/// no route matched, labelled `unmatched`), its status and how long it took.
pub fn observe_http(method: &str, route: Option<&str>, status: u16, seconds: f64) {
    let method = method_label(method);
    let route = route.unwrap_or("unmatched").to_string();
    METRICS
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route: route.clone(),
            status,
        })
        .inc();
    METRICS
        .http_seconds
        .get_or_create(&RouteLabels { method, route })
        .observe(seconds);
}

/// One LLM call of the engine ended: its provider (`OpenAI`, `Custom`…), model, outcome (`ok`
/// or a failure kind such as `rate_limited`, `timeout`) and how long it took with its retries.
pub fn observe_llm_call(provider: &str, model: &str, outcome: &str, seconds: f64) {
    let labels = CallLabels {
        provider: text_label(provider),
        model: text_label(model),
        outcome: text_label(outcome),
    };
    METRICS.llm_calls.get_or_create(&labels).inc();
    METRICS.llm_seconds.get_or_create(&labels).observe(seconds);
}

/// What an LLM call used: its tokens and, when the model has a price, its cost in USD.
pub fn observe_llm_usage(
    provider: &str,
    model: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: Option<f64>,
) {
    let (provider, model) = (text_label(provider), text_label(model));
    for (kind, tokens) in [("prompt", prompt_tokens), ("completion", completion_tokens)] {
        METRICS
            .llm_tokens
            .get_or_create(&TokenLabels {
                provider: provider.clone(),
                model: model.clone(),
                kind,
            })
            .inc_by(tokens);
    }
    if let Some(cost) = cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
        METRICS
            .llm_cost
            .get_or_create(&ModelLabels { provider, model })
            .inc_by(cost);
    }
}

/// A background job of `kind` (`inference_run`, `refine`…) ended, `seconds` after it was
/// created.
pub fn observe_job(kind: &str, seconds: f64) {
    METRICS
        .job_seconds
        .get_or_create(&KindLabels {
            kind: text_label(kind),
        })
        .observe(seconds.max(0.0));
}

/// What one LLM scheduler of this process reports (one per provider connection and model).
#[derive(Debug, Clone, Default)]
pub struct SchedulerSample {
    /// The provider connection's id.
    pub connection: i64,
    /// Its provider (`OpenAI`, `Custom`…).
    pub provider: String,
    /// The model.
    pub model: String,
    /// Calls in flight allowed now (it shrinks on a 429 and grows back on successes).
    pub concurrency: u64,
    /// The most calls in flight it may allow.
    pub max_concurrency: u64,
    /// Attempts sent to the provider.
    pub attempts: u64,
    /// Attempts answered 429.
    pub rate_limited: u64,
    /// Attempts retried.
    pub retried: u64,
}

/// The values read when `/metrics` is scraped, rendered with the process's counters by
/// [`render`]. Each scrape builds its own, so two servers in one process (the tests) never
/// read each other's.
#[derive(Debug)]
pub struct Scrape {
    registry: Registry,
    queue: Family<QueueLabels, Gauge>,
    concurrency: Family<SchedulerLabels, Gauge>,
    max_concurrency: Family<SchedulerLabels, Gauge>,
    attempts: Family<SchedulerLabels, Counter>,
    rate_limited: Family<SchedulerLabels, Counter>,
    retried: Family<SchedulerLabels, Counter>,
}

impl Default for Scrape {
    fn default() -> Self {
        Scrape::new()
    }
}

impl Scrape {
    /// An empty scrape.
    pub fn new() -> Scrape {
        let mut registry = Registry::with_prefix(PREFIX);
        let s = Scrape {
            registry: Registry::default(),
            queue: Family::default(),
            concurrency: Family::default(),
            max_concurrency: Family::default(),
            attempts: Family::default(),
            rate_limited: Family::default(),
            retried: Family::default(),
        };
        registry.register(
            "queue_depth",
            "Work waiting or in progress, by queue (run_slices…) and state (pending, leased…)",
            s.queue.clone(),
        );
        registry.register(
            "llm_scheduler_concurrency",
            "LLM calls in flight a scheduler allows now (cut on 429s, grown back on successes)",
            s.concurrency.clone(),
        );
        registry.register(
            "llm_scheduler_max_concurrency",
            "The most LLM calls in flight a scheduler may allow",
            s.max_concurrency.clone(),
        );
        registry.register(
            "llm_scheduler_attempts",
            "Attempts a scheduler of this process sent to its provider",
            s.attempts.clone(),
        );
        registry.register(
            "llm_scheduler_rate_limited",
            "Attempts a scheduler of this process saw answered 429 (rate limited)",
            s.rate_limited.clone(),
        );
        registry.register(
            "llm_scheduler_retries",
            "Attempts a scheduler of this process retried",
            s.retried.clone(),
        );
        Scrape { registry, ..s }
    }

    /// The depth of `queue` in `state` (`run_slices`/`pending`, or a job queue's own names).
    pub fn queue_depth(&self, queue: &str, state: &str, depth: i64) {
        self.queue
            .get_or_create(&QueueLabels {
                queue: text_label(queue),
                state: text_label(state),
            })
            .set(depth);
    }

    /// One LLM scheduler's counters and concurrency.
    pub fn scheduler(&self, s: &SchedulerSample) {
        let labels = SchedulerLabels {
            connection: s.connection.to_string(),
            provider: text_label(&s.provider),
            model: text_label(&s.model),
        };
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.concurrency
            .get_or_create(&labels)
            .set(gauge(s.concurrency));
        self.max_concurrency
            .get_or_create(&labels)
            .set(gauge(s.max_concurrency));
        self.attempts.get_or_create(&labels).inc_by(s.attempts);
        self.rate_limited
            .get_or_create(&labels)
            .inc_by(s.rate_limited);
        self.retried.get_or_create(&labels).inc_by(s.retried);
    }
}

/// The process's metrics and `scrape`'s, in the text format.
pub fn render(scrape: &Scrape) -> Result<String, std::fmt::Error> {
    use prometheus_client::encoding::prometheus_text::encode;
    let mut out = String::new();
    encode(&mut out, &METRICS.registry)?;
    encode(&mut out, &scrape.registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("BREW"), "other");
        let long = "m".repeat(500);
        assert_eq!(text_label(&long).chars().count(), MAX_LABEL_CHARS);
        assert_eq!(text_label("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(
            text_label(&"é".repeat(200)).chars().count(),
            MAX_LABEL_CHARS
        );
    }

    #[test]
    fn observations_render_as_series() {
        observe_http("GET", Some("/unit/{id}/"), 200, 0.01);
        observe_http("BREW", None, 404, 0.01);
        observe_llm_call("Custom", "unit-model", "ok", 0.2);
        observe_llm_usage("Custom", "unit-model", 10, 3, Some(0.5));
        observe_job("unit_kind", 2.0);
        let scrape = Scrape::new();
        scrape.queue_depth("run_slices", "pending", 4);
        scrape.scheduler(&SchedulerSample {
            connection: 7,
            provider: "Custom".into(),
            model: "unit-model".into(),
            concurrency: 3,
            max_concurrency: 4,
            attempts: 9,
            rate_limited: 2,
            retried: 2,
        });
        let text = render(&scrape).expect("render");
        for expected in [
            "prompter_http_requests_total{method=\"GET\",route=\"/unit/{id}/\",status=\"200\"}",
            "prompter_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"}",
            "prompter_llm_calls_total{provider=\"Custom\",model=\"unit-model\",outcome=\"ok\"}",
            "prompter_llm_tokens_total{provider=\"Custom\",model=\"unit-model\",kind=\"prompt\"}",
            "prompter_llm_cost_usd_total{provider=\"Custom\",model=\"unit-model\"}",
            "prompter_job_duration_seconds_bucket{kind=\"unit_kind\",le=\"2.5\"}",
            "prompter_queue_depth{queue=\"run_slices\",state=\"pending\"} 4",
            "prompter_llm_scheduler_rate_limited_total{connection=\"7\",provider=\"Custom\",model=\"unit-model\"} 2",
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }
}
