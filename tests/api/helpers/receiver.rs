//! A webhook receiver on loopback: a plain HTTP/1.1 listener that records every request it
//! gets (headers and body) and answers each as its script says: a status, or no answer at all
//! (the connection is held open, as a receiver that hangs).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the receiver does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answers with this status.
    Status(u16),
    /// Never answers (holds the connection).
    Hang,
}

/// A request the receiver got, and what it answered (`None`: it hung).
#[derive(Debug, Clone)]
pub struct Seen {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    /// The body as received.
    pub body: String,
    /// The status answered.
    pub answered: Option<u16>,
}

impl Seen {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// The receiver: its URL and what it saw.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Receiver {
    /// Starts a receiver whose `script` decides each answer from the requests seen before it
    /// (with the same `Prompter-Delivery`) and the request itself.
    pub async fn start(
        script: impl Fn(usize, &Seen) -> Answer + Send + Sync + 'static,
    ) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let script = Arc::new(script);
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let Some(mut request) = read_request(&mut stream).await else {
                        return;
                    };
                    let answer = {
                        let log = log.lock().expect("log");
                        let id = request.header("prompter-delivery").to_string();
                        let before = log
                            .iter()
                            .filter(|s| s.header("prompter-delivery") == id)
                            .count();
                        script(before, &request)
                    };
                    match answer {
                        Answer::Status(code) => {
                            request.answered = Some(code);
                            log.lock().expect("log").push(request);
                            let reply = format!(
                                "HTTP/1.1 {code} Whatever\r\ncontent-length: 34\r\nconnection: close\r\n\r\n{{\"receiver said\": \"not for users\"}}"
                            );
                            let _ = stream.write_all(reply.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                        Answer::Hang => {
                            log.lock().expect("log").push(request);
                            tokio::time::sleep(Duration::from_secs(600)).await;
                        }
                    }
                });
            }
        });
        Receiver { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }
}

/// Reads one request: its head up to the blank line, then `content-length` bytes of body.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
    Some(Seen {
        headers,
        body,
        answered: None,
    })
}

/// Whether `seen` carries a valid `Prompter-Signature` for `secret`: `v1=` and the hex
/// HMAC-SHA256 of the timestamp header, a dot and the body.
pub fn signed_with(seen: &Seen, secret: &str) -> bool {
    let message = format!("{}.{}", seen.header("prompter-timestamp"), seen.body);
    let expected = format!(
        "v1={}",
        hex::encode(prompter::crypto::hmac_sha256(
            secret.as_bytes(),
            message.as_bytes()
        ))
    );
    seen.header("prompter-signature") == expected
}
