//! The batch APIs of the fake LLM, over HTTP on loopback: each dialect's batch answered as the
//! live endpoint answers the same requests, the failure marker, cancels, refusals, key checks.
use fake_llm::{BATCH_FAIL, FakeLlm, FakeLlmConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

mod anthropic;
mod gemini;
mod openai;

/// The key every test server requires.
const KEY: &str = "batch-key";

/// The texts of a batch: two answered (Positive, Negative), the third failing.
fn texts() -> [String; 3] {
    [
        "Classify.\nText: I love it, great stuff".to_string(),
        "Classify.\nText: This is awful".to_string(),
        format!("Classify.\nText: {BATCH_FAIL} a good day"),
    ]
}

/// The schema of the tests' answers.
fn schema() -> Value {
    json!({"type": "object", "properties": {
        "sentiment": {"type": "string", "enum": ["Positive", "Negative", "Neutral"]},
    }, "required": ["sentiment"]})
}

/// A server requiring [`KEY`] whose batches take `completion_ms`.
async fn start(completion_ms: u64) -> FakeLlm {
    start_with(FakeLlmConfig {
        batch_completion_ms: completion_ms,
        ..FakeLlmConfig::default()
    })
    .await
}

/// A server requiring [`KEY`], `config` otherwise.
async fn start_with(config: FakeLlmConfig) -> FakeLlm {
    let config = FakeLlmConfig {
        require_key: Some(KEY.into()),
        ..config
    };
    FakeLlm::start(config, 0).await.expect("start the fake LLM")
}

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body as text.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The JSON lines of the body.
    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// Whether a header (lowercase name) has this value.
    fn has_header(&self, name: &str, value: &str) -> bool {
        self.headers.lines().any(|l| {
            l.split_once(':').is_some_and(|(n, v)| {
                n.trim().eq_ignore_ascii_case(name) && v.trim().starts_with(value)
            })
        })
    }
}

/// Sends one request over a fresh connection and reads the whole answer.
async fn http(
    fake: &FakeLlm,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let port = fake.port;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let raw = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(&body).expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        raw
    })
    .await
    .expect("request");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Sends JSON.
async fn send_json(
    fake: &FakeLlm,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Answer {
    let mut headers = headers.to_vec();
    headers.push(("Content-Type", "application/json"));
    http(fake, method, path, &headers, body.to_string().into_bytes()).await
}

/// Retrieves `path` until `ended` says the batch has ended (at most 30 s).
async fn poll(
    fake: &FakeLlm,
    path: &str,
    headers: &[(&str, &str)],
    ended: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = http(fake, "GET", path, headers, vec![]).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let value = answer.json();
        if ended(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "the batch never ended: {value}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sentiment of a JSON answer text.
fn sentiment(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("JSON content: {text}"));
    v["sentiment"].as_str().expect("a sentiment").to_string()
}
