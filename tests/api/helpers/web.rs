//! A browser-like client of the web app over plain HTTP: it keeps the session cookie, reads the
//! CSRF token from the pages and posts forms with it.
use super::TestApp;
use prompter::services::web_accounts;

/// The password every test user gets for the web app.
pub const PASSWORD: &str = "correct horse battery";

/// Gives `email` the test password.
pub async fn set_password(app: &TestApp, email: &str) {
    web_accounts::set_password(&app.db, email, PASSWORD)
        .await
        .expect("set password");
}

/// Makes a Reviewer of the main organization (`reviewer@example.com`) with the test password.
pub async fn make_reviewer(app: &TestApp) {
    prompter::services::accounts::create_user(
        &app.db,
        "reviewer@example.com",
        "Main",
        prompter::auth::Role::Reviewer,
        None,
    )
    .await
    .expect("reviewer");
    set_password(app, "reviewer@example.com").await;
}

/// The `Accept` header Chromium sends for a page.
pub const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// A signed-in (or not) visitor.
pub struct WebClient {
    /// The server.
    pub address: String,
    client: reqwest::Client,
    /// `name=value` of the cookies the server set.
    pub cookies: Vec<(String, String)>,
    /// The CSRF token of the last page read.
    pub csrf: String,
}

/// A page or form answer: status, `Location`, `Set-Cookie` headers and body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// The value of `name="csrf" value="..."` in a page, if any.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &html[at..];
    Some(rest[..rest.find('"')?].to_string())
}

impl WebClient {
    /// A visitor with no cookie.
    pub fn new(app: &TestApp) -> WebClient {
        WebClient {
            address: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: vec![],
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn answer(&mut self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(name, _)| name != k);
                if !c.contains("Max-Age=0") {
                    self.cookies.push((k.to_string(), v.to_string()));
                }
            }
        }
        let body = response.text().await.unwrap_or_default();
        if let Some(token) = csrf_of(&body) {
            self.csrf = token;
        }
        Answer {
            status,
            location,
            set_cookies,
            body,
        }
    }

    /// GETs a page.
    pub async fn get(&mut self, path: &str) -> Answer {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.answer(response).await
    }

    /// GETs `path` as a browser does, asking for HTML first (`Accept: text/html,...`).
    pub async fn browse(&mut self, path: &str) -> Answer {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .header("accept", BROWSER_ACCEPT)
            .send()
            .await
            .expect("GET");
        self.answer(response).await
    }

    /// A form POST with the current CSRF token (unless `fields` has its own `csrf`) and a
    /// fresh form nonce, as a page renders one (unless `fields` has its own `nonce`).
    pub fn form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            pairs.push(("csrf".into(), self.csrf.clone()));
        }
        if !fields.iter().any(|(k, _)| *k == "nonce") {
            let nonce = prompter::web::guard::new_nonce(chrono::Utc::now().timestamp());
            pairs.push(("nonce".into(), nonce));
        }
        let body = serde_urlencoded::to_string(&pairs).expect("form");
        self.client
            .post(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }

    /// POSTs a form (see [`WebClient::form`]).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let response = self.form(path, fields).send().await.expect("POST");
        self.answer(response).await
    }

    /// POSTs a body as the page script does, with the CSRF header when `csrf` is true.
    pub async fn script(&mut self, path: &str, body: Vec<u8>, csrf: bool) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/octet-stream")
            .body(body);
        if csrf {
            request = request.header("x-csrf-token", self.csrf.clone());
        }
        let response = request.send().await.expect("POST");
        self.answer(response).await
    }

    /// Signs in as `email` with the test password; panics unless it works.
    pub async fn sign_in(&mut self, email: &str) {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let answer = self
            .post(
                "/login",
                &[
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", "/prompts"),
                ],
            )
            .await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/prompts"));
        let page = self.get("/prompts").await;
        assert_eq!(page.status, 200);
    }
}
