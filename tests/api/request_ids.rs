//! Issue 21, item 5: the request id. A valid `X-Request-Id` is kept and echoed, a bad one is
//! replaced by a made-up one, every answer carries it, every error body's `id` is it, an error
//! page shows it as its reference, and every log line of the request carries it (the lines of
//! a `prompter serve` subprocess with `PROMPTER_LOG_FORMAT=json`).
use crate::helpers::{ADMIN_TOKEN, CLS, TestApp};
use serde_json::{Value, json};
use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

/// Sends `method path` as the admin with `X-Request-Id: id` (none when `None`) and `body`;
/// returns the status, the answer's `X-Request-Id` and the body as text.
async fn send(
    address: &str,
    method: reqwest::Method,
    path: &str,
    id: Option<&str>,
    body: Option<Value>,
) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{address}{path}"))
        .header("Authorization", format!("Token {ADMIN_TOKEN}"));
    if let Some(id) = id {
        req = req.header("X-Request-Id", id);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let echoed = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, echoed, resp.text().await.expect("body"))
}

fn is_made_up(id: &str) -> bool {
    id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// A valid id is echoed and is the error body's `id`; a bad one (too long, unsafe characters)
/// and a missing one are replaced by a made-up one, echoed and used alike; successes carry
/// it too, and a browser's error page shows it.
#[tokio::test]
async fn request_ids_are_echoed_replaced_and_in_error_bodies() {
    let app = TestApp::spawn().await;
    let get = reqwest::Method::GET;
    let (status, echoed, body) = send(
        &app.address,
        get.clone(),
        "/api/projects/999999/",
        Some("client-abc_1.x:y"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(echoed, "client-abc_1.x:y");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["id"], "client-abc_1.x:y", "{body}");

    let long = "a".repeat(65);
    for bad in [long.as_str(), "has space", "quote\"d", "semi;colon", ""] {
        let (status, echoed, body) = send(
            &app.address,
            get.clone(),
            "/api/projects/999999/",
            Some(bad),
            None,
        )
        .await;
        assert_eq!(status, 404);
        assert!(is_made_up(&echoed), "{bad:?} -> {echoed:?}");
        let body: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["id"], echoed.as_str(), "{body}");
    }

    // No id sent: one is made up; a validation error's body carries it.
    let (status, echoed, body) = send(
        &app.address,
        reqwest::Method::POST,
        "/api/projects/",
        None,
        Some(json!({"title": "x".repeat(500), "label_config": CLS})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(is_made_up(&echoed), "{echoed}");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["id"], echoed.as_str(), "{body}");
    // Without credentials, 401: the body's id is the echoed id as well.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/projects/", app.address))
        .header("X-Request-Id", "no-token-1")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["id"], "no-token-1");

    // A success carries the id too; two requests never share a made-up one.
    let (status, first, _) = send(&app.address, get.clone(), "/api/projects/", None, None).await;
    let (_, second, _) = send(&app.address, get.clone(), "/api/projects/", None, None).await;
    assert_eq!(status, 200);
    assert!(is_made_up(&first) && is_made_up(&second) && first != second);
    let (_, kept, _) = send(
        &app.address,
        get.clone(),
        "/api/projects/",
        Some("ok-7"),
        None,
    )
    .await;
    assert_eq!(kept, "ok-7");

    // A browser meeting an error sees the id as the page's reference.
    let resp = reqwest::Client::new()
        .get(format!("{}/no/such/page", app.address))
        .header("Accept", "text/html,application/xhtml+xml")
        .header("X-Request-Id", "page-ref-42")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("page-ref-42")
    );
    let page = resp.text().await.expect("page");
    assert!(page.contains("<code>page-ref-42</code>"), "{page}");
}

/// Kills the subprocess when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next JSON log line of the subprocess that `wanted` accepts (bounded: no such line
/// within a minute fails the test).
fn next_line(lines: &mpsc::Receiver<Value>, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => {}
            Err(e) => panic!("no such log line: {e}"),
        }
    }
}

/// The request id of a JSON log line: its `request` span's `request_id`.
fn span_id(line: &Value) -> Option<&str> {
    line["span"]["request_id"].as_str()
}

/// A `prompter serve` subprocess logging JSON: the access line and the lines a handler logs
/// carry the request's id (the one sent, or the one made up and echoed) in the `request` span.
#[tokio::test]
async fn every_log_line_of_a_request_carries_its_id() {
    let app = TestApp::spawn().await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_prompter"));
    command
        .args(["serve", "--host", "127.0.0.1", "--port", "0"])
        .env("PROMPTER_DATABASE_URL", &app.database_url)
        .env("PROMPTER_SECRET_KEY", "integration-test-secret-key")
        .env("PROMPTER_LOG_FORMAT", "json")
        .env("PROMPTER_LOG", "info")
        .env("PROMPTER_WORKERS", "0")
        .env("PROMPTER_SCHEDULE_POLL_MS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = Child(command.spawn().expect("prompter serve"));
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            // Lines that are not JSON (none are expected) are passed on as text, and skipped.
            let parsed = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });
    let listening = next_line(&lines, |l| l["message"] == "listening");
    let address = format!("http://{}", listening["address"].as_str().expect("address"));

    let (status, _, body) = send(
        &address,
        reqwest::Method::POST,
        "/api/projects/",
        None,
        Some(json!({"title": "logged", "label_config": CLS})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let project = serde_json::from_str::<Value>(&body).expect("json")["id"]
        .as_i64()
        .expect("id");
    // A handler that logs: the import's line and the access line carry the id sent.
    let (status, _, body) = send(
        &address,
        reqwest::Method::POST,
        &format!("/api/projects/{project}/import"),
        Some("log-import-1"),
        Some(json!([{"text": "one"}, {"text": "two"}])),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let imported = next_line(&lines, |l| l["message"] == "imported tasks");
    assert_eq!(span_id(&imported), Some("log-import-1"), "{imported}");
    let access = next_line(&lines, |l| {
        l["message"] == "request" && l["path"] == format!("/api/projects/{project}/import")
    });
    assert_eq!(span_id(&access), Some("log-import-1"), "{access}");
    assert_eq!(access["status"], 201);

    // A bad id is replaced: the log lines carry the id the answer echoes.
    let (status, echoed, _) = send(
        &address,
        reqwest::Method::GET,
        "/api/projects/999999/",
        Some("bad id"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(is_made_up(&echoed), "{echoed}");
    let access = next_line(&lines, |l| {
        l["message"] == "request" && l["path"] == "/api/projects/999999/"
    });
    assert_eq!(span_id(&access), Some(echoed.as_str()), "{access}");
    drop(child);
}
