//! A headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`), with
//! the few commands the web app's tests use. Each [`Browser`] starts its own `chromedriver` on
//! a free loopback port and ends it when dropped.
//!
//! Without Chromium the browser tests are skipped with a message, unless
//! `PROMPTER_REQUIRE_BROWSER=1` (as `.ci/run` sets), when they fail.
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a wait for the page lasts before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// A browser session.
pub struct Browser {
    driver: Child,
    base: String,
    client: reqwest::Client,
}

fn find_program(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
                .map(|p| p.display().to_string())
        })
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session (1280×900), or `None` when they
    /// are not installed and not required.
    pub async fn start() -> Option<Browser> {
        let required = std::env::var("PROMPTER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let driver = find_program(&["chromedriver"]);
        let chromium = std::env::var("CHROMIUM_BIN")
            .ok()
            .or_else(|| find_program(&["chromium", "chromium-browser", "google-chrome"]));
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            assert!(
                !required,
                "PROMPTER_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipping a browser test: chromium and chromedriver are not installed");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser = Browser {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            let ready = browser
                .client
                .get(format!("{}/status", browser.base))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if ready.is_some() {
                break;
            }
            assert!(started.elapsed() < WAIT, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US"],
            },
        }}});
        let session = browser.call("POST", "/session", Some(caps)).await;
        let id = session["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self.client.post(&url).json(&body.unwrap_or(json!({}))),
        };
        let response = request.send().await.expect("WebDriver request");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {value}"
        );
        value.get("value").cloned().unwrap_or(value)
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// Signs `email` in on the server at `address` with the tests' password (see
    /// `web::set_password`) and waits for the prompt list.
    pub async fn sign_in(&self, address: &str, email: &str) {
        self.open(&format!("{address}/login")).await;
        self.fill("#email", email).await;
        self.fill("#password", super::web::PASSWORD).await;
        self.click("#sign-in").await;
        self.wait_url(|u| u.ends_with("/prompts")).await;
    }

    /// Reloads the page, as the browser's reload button does.
    pub async fn refresh(&self) {
        self.call("POST", "/refresh", None).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.call("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs `script` in the page as an asynchronous script, which ends by calling its last
    /// argument (`arguments[arguments.length - 1]`) with its value; returns that value. It may
    /// take up to `timeout` before the test fails.
    pub async fn run_async(&self, script: &str, timeout: Duration) -> Value {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.call("POST", "/timeouts", Some(json!({ "script": ms })))
            .await;
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn try_find(&self, css: &str) -> Option<String> {
        let url = format!("{}/element", self.base);
        let response = self
            .client
            .post(url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.json().await.ok()?;
        value["value"][ELEMENT].as_str().map(str::to_string)
    }

    /// The element `css` names, waited for.
    pub async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(id) = self.try_find(css).await {
                return id;
            }
            assert!(
                started.elapsed() < WAIT,
                "no element {css} on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether `css` names an element now.
    pub async fn has(&self, css: &str) -> bool {
        self.try_find(css).await.is_some()
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/click"), None)
            .await;
    }

    /// Replaces the value of the field `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/clear"), None)
            .await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses the option of the select `css` whose value is `value`.
    pub async fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"))
            .await;
    }

    /// The visible text of `css`.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The visible text of `css` now, if it is there: `None` also when the page replaced the
    /// element between finding and reading it (a live page redraws; WebDriver then answers
    /// "Node ... does not belong to the document").
    async fn try_text(&self, css: &str) -> Option<String> {
        let id = self.try_find(css).await?;
        let url = format!("{}/element/{id}/text", self.base);
        let response = self.client.get(&url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let value: Value = response.json().await.ok()?;
        value["value"].as_str().map(str::to_string)
    }

    /// Waits until the text of `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Some(text) = self.try_text(css).await {
                if ok(&text) {
                    return text;
                }
                assert!(
                    started.elapsed() < WAIT,
                    "{css} still reads {text:?} on {}",
                    self.url().await
                );
            } else {
                assert!(started.elapsed() < WAIT, "no element {css}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the URL satisfies `ok`; returns it.
    pub async fn wait_url(&self, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if ok(&url) {
                return url;
            }
            assert!(started.elapsed() < WAIT, "still on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG screenshot of the page.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let data = self.call("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("screenshot PNG")
    }

    /// Makes the page a phone's screen of `width`×`height` CSS pixels (Chromium's device
    /// emulation: a mobile viewport with overlay scrollbars, as on a phone), or the window's
    /// own size again with `None`.
    pub async fn emulate(&self, screen: Option<(u32, u32)>) {
        let (cmd, params) = match screen {
            Some((width, height)) => (
                "Emulation.setDeviceMetricsOverride",
                json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": true}),
            ),
            None => ("Emulation.clearDeviceMetricsOverride", json!({})),
        };
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await;
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (closing Chromium) with a plain blocking request, then the driver.
        if let Some(rest) = self.base.strip_prefix("http://")
            && let Some((host, path)) = rest.split_once('/')
            && let Ok(mut stream) = std::net::TcpStream::connect(host)
        {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read(&mut [0u8; 256]);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
