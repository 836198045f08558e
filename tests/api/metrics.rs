//! Issue 21, item 5: `GET /metrics` in Prometheus's text format (checked line by line by a
//! strict parser below; CI also parses it with the Python `prometheus-client`), with HTTP
//! requests by route pattern (never a raw id), LLM calls, tokens, cost, the run-slice queue and
//! the schedulers; its token and off switch; and the request id, echoed, replaced when bad, in
//! error bodies, on error pages and in every log line of a request (a `prompter serve`
//! subprocess with JSON logs).
//!
//! The counters are the process's, and tests run side by side in one process: counts are
//! compared as "at least this many more", or exactly on a model name only this test uses.
use crate::helpers::CLS;
use crate::helpers::TestApp;
use crate::helpers::engine::{TEXTS, fake, finished, quick_engine, setup, start};
use crate::helpers::fixtures::id_of;
use prompter::fake_llm::FakeLlmConfig;
use serde_json::json;
use std::collections::BTreeMap;

/// One sample line: its name, labels and value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn parse_value(raw: &str) -> Result<f64, String> {
    match raw {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => raw.parse::<f64>().map_err(|_| format!("bad value {raw:?}")),
    }
}

/// `{a="x",b="y"}` (the braces included) into labels; escapes `\\`, `\"`, `\n`.
fn parse_labels(raw: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = raw
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or(format!("labels {raw:?}"))?;
    let mut labels = BTreeMap::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or(format!("label in {raw:?}"))?;
        if !is_name(name, false) {
            return Err(format!("label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("escape {other:?} in {raw:?}")),
                },
                Some((at, '"')) => break at,
                Some((_, '\n')) | None => return Err(format!("unterminated value in {raw:?}")),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice in {raw:?}"));
        }
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err(format!("after a label in {raw:?}")),
        };
    }
    Ok(labels)
}

/// A strict reading of Prometheus's text format 0.0.4: every line is a `# HELP`, a `# TYPE`
/// (once per family, before its samples, of a known type) or a sample of the family typed
/// last (a counter's or gauge's own name; a histogram's `_bucket` with `le`, `_sum`,
/// `_count`), names and labels well formed, buckets cumulative and ending at `+Inf` = `_count`,
/// no series twice, and a final newline.
fn parse_strict(text: &str) -> Result<Vec<Sample>, String> {
    if !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    let mut samples = vec![];
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !is_name(name, true) {
                return Err(format!("HELP of {name:?}"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(format!("TYPE line {line:?}"))?;
            if !is_name(name, true)
                || !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
            {
                return Err(format!("TYPE line {line:?}"));
            }
            if typed.insert(name.into(), kind.into()).is_some() {
                return Err(format!("{name} typed twice"));
            }
            current = Some((name.into(), kind.into()));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            return Err(format!("unexpected line {line:?}"));
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("sample {line:?}"))?;
        let (name, labels) = match series.find('{') {
            Some(at) => (&series[..at], parse_labels(&series[at..])?),
            None => (series, BTreeMap::new()),
        };
        if !is_name(name, true) {
            return Err(format!("sample name {name:?}"));
        }
        let (family, kind) = current.clone().ok_or(format!("{name} before any TYPE"))?;
        let fits = match kind.as_str() {
            "histogram" => {
                (name == format!("{family}_bucket") && labels.contains_key("le"))
                    || name == format!("{family}_sum")
                    || name == format!("{family}_count")
            }
            _ => name == family,
        };
        if !fits {
            return Err(format!("{name} is not a sample of {kind} {family}"));
        }
        if !seen.insert(series.to_string()) {
            return Err(format!("{series} twice"));
        }
        samples.push(Sample {
            name: name.into(),
            labels,
            value: parse_value(value)?,
        });
    }
    check_histograms(&samples, &typed)?;
    Ok(samples)
}

/// Each histogram series' buckets grow with `le` and end at `+Inf`, equal to its `_count`.
fn check_histograms(samples: &[Sample], typed: &BTreeMap<String, String>) -> Result<(), String> {
    for (family, _) in typed.iter().filter(|(_, k)| *k == "histogram") {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for s in samples
            .iter()
            .filter(|s| s.name == format!("{family}_bucket"))
        {
            let mut key = s.labels.clone();
            let le = parse_value(&key.remove("le").unwrap_or_default())?;
            series
                .entry(format!("{key:?}"))
                .or_default()
                .push((le, s.value));
        }
        for (key, buckets) in series {
            let ordered = buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
            let last = buckets.last().ok_or(format!("{family}{key}: no bucket"))?;
            let count = samples
                .iter()
                .find(|s| s.name == format!("{family}_count") && format!("{:?}", s.labels) == key)
                .ok_or(format!("{family}{key}: no _count"))?;
            if !ordered || last.0 != f64::INFINITY || last.1 != count.value {
                return Err(format!(
                    "{family}{key}: buckets {buckets:?}, count {}",
                    count.value
                ));
            }
        }
    }
    Ok(())
}

/// The sum of the samples named `name` whose labels include `with`.
fn total(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// `GET /metrics` with `auth` as the `Authorization` header: status, content type, body.
async fn scrape_raw(app: &TestApp, auth: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.address));
    if let Some(auth) = auth {
        req = req.header("Authorization", auth);
    }
    let resp = req.send().await.expect("scrape");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, kind, resp.text().await.expect("body"))
}

/// The parsed metrics of `app` (open, well formed).
async fn scrape(app: &TestApp) -> Vec<Sample> {
    let (status, kind, text) = scrape_raw(app, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    parse_strict(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn the_strict_parser_refuses_what_prometheus_refuses() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 2\n";
    assert_eq!(parse_strict(good).expect("good")[0].labels["x"], "1\"");
    for bad in [
        "a_total 1\n",
        "# TYPE a_total counter\na_total 1",
        "# TYPE a_total counter\nb_total 1\n",
        "# TYPE a_total counter\na_total{x=\"1} 1\n",
        "# TYPE a_total counter\na_total{1x=\"1\"} 1\n",
        "# TYPE a_total counter\na_total one\n",
        "# TYPE a_total counter\na_total 1\na_total 2\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 0\n",
    ] {
        assert!(parse_strict(bad).is_err(), "accepted {bad:?}");
    }
}

/// After API calls and a run against the fake LLM, the metrics parse and count them: HTTP
/// requests by route pattern and status (no raw id in a route), LLM calls by provider, model
/// and outcome with latency, tokens and cost, the run's job latency, the run-slice queue and
/// the scheduler of the run's connection.
#[tokio::test]
async fn metrics_count_requests_llm_calls_and_the_queue() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(quick_engine).await;
    let before = scrape(&app).await;
    let missing = [("route", "/api/projects/{id}/"), ("status", "404")];
    for id in [987_654, 987_655] {
        let (status, _) = app.get(&format!("/api/projects/{id}/")).await;
        assert_eq!(status, 404);
    }
    let (status, _) = app.get("/no/such/path/4242").await;
    assert_eq!(status, 404);

    let s = setup(
        &app,
        &llm,
        CLS,
        &TEXTS,
        "Classify the sentiment. Text: {text}",
    )
    .await;
    let model = format!("gpt-4o-mini-metrics-{}", uuid::Uuid::new_v4().simple());
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "metered", "prompt": "Classify the sentiment. Text: {text}",
                   "provider_model_id": model, "provider": "Custom",
                   "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let metered = crate::helpers::engine::Setup {
        version: id_of(&body),
        ..s
    };
    let run = start(&app, &metered, json!({"project_subset": "All"})).await;
    let state = finished(&app, &metered, run).await;
    assert_eq!(state["status"], "Completed", "{state}");

    let after = scrape(&app).await;
    let http = "prompter_http_requests_total";
    assert!(
        total(&after, http, &missing) >= total(&before, http, &missing) + 2.0,
        "two 404s of /api/projects/{{id}}/ counted"
    );
    assert!(total(&after, http, &[("route", "unmatched"), ("status", "404")]) >= 1.0);
    assert!(
        total(
            &after,
            "prompter_http_request_duration_seconds_count",
            &[("route", "/api/projects/{id}/")]
        ) >= 2.0
    );
    for sample in after
        .iter()
        .filter(|s| s.name.starts_with("prompter_http_"))
    {
        let route = &sample.labels["route"];
        assert!(
            route == "unmatched" || route.split('/').all(|seg| seg.parse::<i64>().is_err()),
            "a raw id in a route label: {route}"
        );
        assert!(
            !route.contains("4242") && !route.contains("987654"),
            "{route}"
        );
    }

    let ours = [("provider", "Custom"), ("model", model.as_str())];
    let ok = [
        ("provider", "Custom"),
        ("model", model.as_str()),
        ("outcome", "ok"),
    ];
    assert_eq!(
        total(&after, "prompter_llm_calls_total", &ok),
        TEXTS.len() as f64
    );
    assert_eq!(
        total(&after, "prompter_llm_call_duration_seconds_count", &ok),
        TEXTS.len() as f64
    );
    let prompt_tokens = [
        ("provider", "Custom"),
        ("model", model.as_str()),
        ("kind", "prompt"),
    ];
    assert_eq!(
        total(&after, "prompter_llm_tokens_total", &prompt_tokens),
        state["prompt_tokens"].as_f64().expect("prompt tokens")
    );
    let completion = [
        ("provider", "Custom"),
        ("model", model.as_str()),
        ("kind", "completion"),
    ];
    assert_eq!(
        total(&after, "prompter_llm_tokens_total", &completion),
        state["completion_tokens"]
            .as_f64()
            .expect("completion tokens")
    );
    let cost = total(&after, "prompter_llm_cost_usd_total", &ours);
    let run_cost = state["total_cost_usd"].as_f64().expect("cost");
    assert!(
        cost > 0.0 && (cost - run_cost).abs() < 1e-9,
        "{cost} vs {run_cost}"
    );
    assert!(
        total(
            &after,
            "prompter_job_duration_seconds_count",
            &[("kind", "inference_run")]
        ) >= total(
            &before,
            "prompter_job_duration_seconds_count",
            &[("kind", "inference_run")]
        ) + 1.0
    );

    let connection = s.connection.to_string();
    let scheduler = [
        ("connection", connection.as_str()),
        ("provider", "Custom"),
        ("model", model.as_str()),
    ];
    assert!(
        total(&after, "prompter_llm_scheduler_attempts_total", &scheduler) >= TEXTS.len() as f64
    );
    assert_eq!(
        total(
            &after,
            "prompter_llm_scheduler_rate_limited_total",
            &scheduler
        ),
        0.0
    );
    assert!(total(&after, "prompter_llm_scheduler_concurrency", &scheduler) >= 1.0);
    assert_eq!(
        total(&after, "prompter_llm_scheduler_max_concurrency", &scheduler),
        16.0
    );
    // The run is done: its queue is empty, and both states are shown.
    for state in ["pending", "leased"] {
        let depth = after
            .iter()
            .find(|s| {
                s.name == "prompter_queue_depth"
                    && s.labels.get("queue").map(String::as_str) == Some("run_slices")
                    && s.labels.get("state").map(String::as_str) == Some(state)
            })
            .unwrap_or_else(|| panic!("no run_slices {state} depth"));
        assert_eq!(depth.value, 0.0);
    }
    // The job queue (refinements, syncs, deliveries...) is shown beside it, empty too.
    for state in ["queued", "running"] {
        let jobs = [("queue", "jobs"), ("state", state)];
        assert_eq!(total(&after, "prompter_queue_depth", &jobs), 0.0, "{state}");
        assert!(
            after.iter().any(|s| s.name == "prompter_queue_depth"
                && s.labels.get("queue").map(String::as_str) == Some("jobs")
                && s.labels.get("state").map(String::as_str) == Some(state)),
            "no jobs {state} depth"
        );
    }
    // No secret and no email in the text.
    let (_, _, text) = scrape_raw(&app, None).await;
    for secret in [
        "fake-key",
        "admin@example.com",
        crate::helpers::ADMIN_TOKEN,
        "Classify the",
    ] {
        assert!(!text.contains(secret), "{secret} in the metrics");
    }
}

/// A run no worker takes shows in the queue's depth as pending slices.
#[tokio::test]
async fn a_run_waiting_for_a_worker_shows_in_the_queue_depth() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn().await;
    let s = setup(&app, &llm, CLS, &TEXTS, "Classify: {text}").await;
    let pending = [("queue", "run_slices"), ("state", "pending")];
    assert_eq!(
        total(&scrape(&app).await, "prompter_queue_depth", &pending),
        0.0
    );
    start(&app, &s, json!({"project_subset": "All"})).await;
    let samples = scrape(&app).await;
    assert!(total(&samples, "prompter_queue_depth", &pending) >= 1.0);
    let leased = [("queue", "run_slices"), ("state", "leased")];
    assert_eq!(total(&samples, "prompter_queue_depth", &leased), 0.0);
}

/// `PROMPTER_METRICS_TOKEN` makes `/metrics` require `Authorization: Bearer <token>` (an API
/// token is not it); `PROMPTER_METRICS=off` answers 404.
#[tokio::test]
async fn the_metrics_token_and_the_off_switch() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.metrics_token = Some("metrics-secret-0001".into());
    })
    .await;
    for auth in [
        None,
        Some("Bearer wrong-token"),
        Some("Bearer "),
        Some("Basic bWV0cmljcy1zZWNyZXQtMDAwMQ=="),
    ] {
        let (status, _, body) = scrape_raw(&app, auth).await;
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(!body.contains("metrics-secret"), "{body}");
    }
    let api_token = format!("Token {}", app.token);
    assert_eq!(scrape_raw(&app, Some(&api_token)).await.0, 401);
    let (status, _, text) = scrape_raw(&app, Some("Bearer metrics-secret-0001")).await;
    assert_eq!(status, 200, "{text}");
    parse_strict(&text).expect("well formed");

    let off = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.metrics = false;
    })
    .await;
    let (status, _, body) = scrape_raw(&off, None).await;
    assert_eq!(status, 404, "{body}");
}
