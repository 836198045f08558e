//! The web app's hardening (issue 18, findings 9 and 10): sign-in goes back only to a local
//! path, failed sign-ins are rate limited per account and per address, every response
//! carries the security headers (the Swagger UI still loads), the sign-in token is signed by
//! the server, and a form sent twice does its work once.
use crate::helpers::TestApp;
use crate::helpers::web::{Answer, PASSWORD, WebClient, make_reviewer, set_password};
use crate::web::prompt_setup;
use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter};

/// One sign-in attempt from a fresh browser: the form, then the POST.
async fn attempt(app: &TestApp, email: &str, password: &str, next: &str) -> Answer {
    let mut web = WebClient::new(app);
    let page = web.get("/login").await;
    assert_eq!(page.status, 200, "{}", page.body);
    web.post(
        "/login",
        &[("email", email), ("password", password), ("next", next)],
    )
    .await
}

fn has_session(answer: &Answer) -> bool {
    answer
        .set_cookies
        .iter()
        .any(|c| c.starts_with("prompter_session=") && !c.contains("Max-Age=0"))
}

/// Undoes the HTML escapes of the templates.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of the hidden `next` field of a sign-in page.
fn next_field(body: &str) -> String {
    let at = body.find("name=\"next\" value=\"").expect("next field") + 19;
    unescape(&body[at..at + body[at..].find('"').expect("quote")])
}

#[tokio::test]
async fn after_signing_in_the_browser_goes_only_to_a_local_path() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    // The link of the finding: a tab between the slashes, which browsers drop.
    let mut web = WebClient::new(&app);
    let page = web.get("/login?next=%2F%09%2Fevil.example%2Fphish").await;
    assert_eq!(page.status, 200);
    assert_eq!(next_field(&page.body), "/");
    // Whatever the form posts back, the answer is a local path, never a 500.
    let cases = [
        ("/\t/evil.example/phish", "/"),
        ("/%09/evil.example/phish", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("%2F%2Fevil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("/prompts\r\nSet-Cookie: x=1", "/promptsSet-Cookie:%20x=1"),
        ("/%0d%0a/evil.example", "/"),
        ("/projects?page=2", "/projects?page=2"),
    ];
    for (next, expected) in cases {
        let answer = attempt(&app, "admin@example.com", PASSWORD, next).await;
        assert_eq!(answer.status, 303, "next = {next:?}: {}", answer.body);
        assert_eq!(
            answer.location.as_deref(),
            Some(expected),
            "next = {next:?}"
        );
        assert!(has_session(&answer));
    }
    // CR and LF in the query of the sign-in page: the form, not a 500.
    let page = web.get("/login?next=%2Fprompts%0D%0ALocation:%20x").await;
    assert_eq!(page.status, 200);
    assert_eq!(next_field(&page.body), "/promptsLocation:%20x");
}

#[tokio::test]
async fn failed_sign_ins_wait_longer_per_account_and_per_address() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.sign_in.sign_in_account_failures = 3;
        c.sign_in.sign_in_address_failures = 10;
        c.sign_in.sign_in_backoff_ms = 60_000;
        c.sign_in.sign_in_max_backoff_secs = 600;
        c.sign_in.sign_in_window_secs = 600;
    })
    .await;
    set_password(&app, "admin@example.com").await;
    make_reviewer(&app).await;
    let wrong = "not the password";
    // A success clears the account's count: two failures, a success, two failures, a success.
    for _ in 0..2 {
        for _ in 0..2 {
            let a = attempt(&app, "reviewer@example.com", wrong, "/").await;
            assert_eq!(a.status, 401, "{}", a.body);
        }
        let ok = attempt(&app, "reviewer@example.com", PASSWORD, "/").await;
        assert_eq!(ok.status, 303, "{}", ok.body);
    }
    // Three failures of one account (the address has 7 now): the account waits, and even the
    // right password is refused without being checked, with a Retry-After.
    for _ in 0..3 {
        let a = attempt(&app, "Admin@Example.com ", wrong, "/").await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    let refused = attempt(&app, "admin@example.com", PASSWORD, "/").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(!has_session(&refused));
    assert!(
        refused.body.contains("Too many failed sign-ins")
            && refused.body.contains("Wait 60 seconds"),
        "{}",
        refused.body
    );
    // Retry-After is on the refusal itself (checked through a raw request).
    let mut web = WebClient::new(&app);
    web.get("/login").await;
    let raw = web
        .form(
            "/login",
            &[("email", "admin@example.com"), ("password", PASSWORD)],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    assert_eq!(
        raw.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("60")
    );
    // The address: three more failures on other accounts make ten, and then every account
    // from it waits, the reviewer's right password included.
    for email in [
        "nobody1@example.com",
        "nobody2@example.com",
        "nobody3@example.com",
    ] {
        let a = attempt(&app, email, wrong, "/").await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    let from_address = attempt(&app, "reviewer@example.com", PASSWORD, "/").await;
    assert_eq!(from_address.status, 429, "{}", from_address.body);
    assert!(!has_session(&from_address));
}

/// A GET of `path` with `cookie`, redirects not followed.
async fn get_headers(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_the_api_docs_still_load() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let (_, prompt, _) = prompt_setup(&app, "Headers", &["I love it"]).await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let cookie = web
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let strict = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
        object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    let pages = [
        "/login".to_string(),
        "/prompts".to_string(),
        format!("/prompts/{prompt}"),
        "/projects".to_string(),
        "/connections".to_string(),
        "/members".to_string(),
        "/profile".to_string(),
        "/label-studio".to_string(),
        "/jobs".to_string(),
        "/nowhere".to_string(),
        "/api/version/".to_string(),
        "/prompts/999999".to_string(),
    ];
    for path in &pages {
        let res = get_headers(&app, path, &cookie).await;
        let h = res.headers().clone();
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(
            get("content-security-policy").as_deref(),
            Some(strict),
            "{path}"
        );
        assert_eq!(get("x-frame-options").as_deref(), Some("DENY"), "{path}");
        assert_eq!(
            get("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            get("referrer-policy").as_deref(),
            Some("same-origin"),
            "{path}"
        );
        let body = res.text().await.unwrap();
        // Nothing on a page that the policy would block: no inline script, handler or style.
        assert!(!body.contains(" style=\""), "{path}");
        assert!(
            !body.contains(" onclick=") && !body.contains(" onsubmit="),
            "{path}"
        );
        for (i, _) in body.match_indices("<script") {
            assert!(
                body[i..].starts_with("<script src="),
                "inline script on {path}"
            );
        }
    }
    // The page script and the stylesheet come from this server, so the policy lets them in.
    let page = unescape(&web.get("/prompts").await.body);
    for asset in [
        "<script src=\"/static/app.",
        "<link rel=\"stylesheet\" href=\"/static/app.",
    ] {
        assert!(page.contains(asset), "{asset}");
    }
    // The Swagger UI: its own policy (inline styles only), no inline script, every script of
    // its page served from here.
    let docs = get_headers(&app, "/docs/", "").await;
    assert_eq!(docs.status(), 200);
    let csp = docs
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("script-src 'self';") && csp.contains("style-src 'self' 'unsafe-inline'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        docs.headers()
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    let html = docs.text().await.unwrap();
    let mut scripts = 0;
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        let src = tag
            .split("src=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("every script of the docs page has a src");
        let url = format!("/docs/{}", src.trim_start_matches("./"));
        let res = get_headers(&app, &url, "").await;
        assert_eq!(res.status(), 200, "{url}");
        scripts += 1;
    }
    assert!(scripts >= 2, "{html}");
    let initializer = get_headers(&app, "/docs/swagger-initializer.js", "").await;
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn a_sign_in_token_the_client_made_up_is_refused() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let now = chrono::Utc::now().timestamp();
    for token in [
        "anything".to_string(),
        format!("{now}.0123456789abcdef0123456789abcdef.{}", "0".repeat(64)),
    ] {
        let mut web = WebClient::new(&app);
        web.cookies.push(("prompter_login".into(), token.clone()));
        let answer = web
            .post(
                "/login",
                &[
                    ("email", "admin@example.com"),
                    ("password", PASSWORD),
                    ("csrf", &token),
                ],
            )
            .await;
        assert_eq!(answer.status, 403, "{token}: {}", answer.body);
        assert!(!has_session(&answer));
    }
    // A token the server made, but from another sign-in form, is refused too.
    let mut first = WebClient::new(&app);
    first.get("/login").await;
    let mut second = WebClient::new(&app);
    second.get("/login").await;
    let stolen = first.csrf.clone();
    let answer = second
        .post(
            "/login",
            &[
                ("email", "admin@example.com"),
                ("password", PASSWORD),
                ("csrf", &stolen),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);
    // The server's own pair works.
    let ok = first
        .post(
            "/login",
            &[("email", "admin@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

/// The value of the `nonce` field of the form `id` in `body`.
fn nonce_of(body: &str, id: &str) -> String {
    let form = body.find(&format!("id=\"{id}\"")).expect("form");
    let at = form + body[form..].find("name=\"nonce\" value=\"").expect("nonce") + 20;
    body[at..at + body[at..].find('"').expect("quote")].to_string()
}

async fn runs(app: &TestApp) -> u64 {
    entity::model_run::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_run_form_sent_twice_at_once_starts_one_run() {
    let app = TestApp::spawn().await;
    let (project, prompt, version) = prompt_setup(&app, "Twice", &["I love it", "awful"]).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web
        .get(&format!("/prompts/{prompt}?version={version}"))
        .await;
    // Every form of the page has a nonce of its own.
    let forms = page.body.matches("<form method=\"post\"").count();
    let nonces = page.body.matches("name=\"nonce\"").count();
    assert!(
        forms >= 4 && forms == nonces,
        "{forms} forms, {nonces} nonces"
    );
    let nonce = nonce_of(&page.body, "run-form");
    let path = format!("/prompts/{prompt}/versions/{version}/runs");
    let project = project.to_string();
    let fields = [
        ("project", project.as_str()),
        ("subset", "All"),
        ("task_ids", ""),
        ("nonce", nonce.as_str()),
    ];
    // Two clicks: both sent before either is answered.
    let (a, b) = tokio::join!(
        web.form(&path, &fields).send(),
        web.form(&path, &fields).send()
    );
    let answers: Vec<(u16, Option<String>)> = [a.unwrap(), b.unwrap()]
        .iter()
        .map(|r| {
            (
                r.status().as_u16(),
                r.headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            )
        })
        .collect();
    assert_eq!(runs(&app).await, 1, "{answers:?}");
    let run = entity::model_run::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    // Ids are never reused: a second run that replaced the first would have id 2 (the next
    // run started below does).
    assert_eq!(run.id, 1, "{answers:?}");
    let run_page = format!("/runs/{}", run.id);
    assert!(
        answers.iter().any(|a| a == &(303, Some(run_page.clone()))),
        "{answers:?}"
    );
    // The other one led to the same page, or (if the first was still at work after seconds)
    // said that the form was already sent.
    for answer in &answers {
        assert!(
            answer == &(303, Some(run_page.clone())) || answer.0 == 409,
            "{answers:?}"
        );
    }
    // Sent again later (the page resent from history): the same place, no second run.
    let again = web.post(&path, &fields).await;
    assert_eq!(
        (again.status, again.location.as_deref()),
        (303, Some(run_page.as_str()))
    );
    assert_eq!(runs(&app).await, 1);
    // A new nonce (the page loaded again) is a new run, which replaces the first.
    let page = web
        .get(&format!("/prompts/{prompt}?version={version}"))
        .await;
    let fresh = nonce_of(&page.body, "run-form");
    assert_ne!(fresh, nonce);
    let second = web
        .post(&path, &[fields[0], fields[1], fields[2], ("nonce", &fresh)])
        .await;
    assert_eq!(second.status, 303, "{}", second.body);
    assert_eq!(second.location.as_deref(), Some("/runs/2"));
    // Without a nonce, or with one from long ago: refused, nothing started.
    let before = runs(&app).await;
    let missing = web
        .post(&path, &[fields[0], fields[1], fields[2], ("nonce", "")])
        .await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let old = format!(
        "{}-0123456789abcdef0123456789abcdef",
        chrono::Utc::now().timestamp() - 3 * 24 * 3600
    );
    let stale = web
        .post(&path, &[fields[0], fields[1], fields[2], ("nonce", &old)])
        .await;
    assert_eq!(stale.status, 403, "{}", stale.body);
    assert!(stale.body.contains("opened too long ago"), "{}", stale.body);
    assert_eq!(runs(&app).await, before);
}

#[tokio::test]
async fn a_page_answer_is_not_redone_and_a_refused_form_forgets_its_nonce() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    // Testing a connection answers with a page (the test's outcome); sent again, it is not
    // done a second time.
    // A connection to a port where nothing listens: its test fails at once, on a page.
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            serde_json::json!({"provider": "Custom", "endpoint": "http://127.0.0.1:9/v1", "api_key": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let c = body["id"].as_i64().expect("connection id");
    web.get("/connections").await;
    let test = prompter::web::guard::new_nonce(chrono::Utc::now().timestamp());
    let path = format!("/connections/{c}/test");
    let first = web.post(&path, &[("nonce", &test)]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = web.post(&path, &[("nonce", &test)]).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("already sent"), "{}", again.body);
    // Rotating the API token leads to the profile; sent again, it leads there again and is
    // not rotated a second time.
    web.get("/profile").await;
    let rotate = prompter::web::guard::new_nonce(chrono::Utc::now().timestamp());
    let first = web.post("/profile/token", &[("nonce", &rotate)]).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let tokens = entity::api_token::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let again = web.post("/profile/token", &[("nonce", &rotate)]).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(again.location.as_deref(), Some("/profile"));
    assert_eq!(
        entity::api_token::Entity::find()
            .all(&app.db)
            .await
            .unwrap(),
        tokens
    );
    // A form refused with an error (a Reviewer may not create projects) forgets its nonce.
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let forbidden = prompter::web::guard::new_nonce(chrono::Utc::now().timestamp());
    let config = r#"<View><Text name="text" value="$text"/></View>"#;
    let fields = [
        ("title", "R"),
        ("label_config", config),
        ("nonce", forbidden.as_str()),
    ];
    assert_eq!(reviewer.post("/projects", &fields).await.status, 403);
    assert_eq!(reviewer.post("/projects", &fields).await.status, 403);
    assert_eq!(
        entity::form_submission::Entity::find()
            .filter(sea_orm::ColumnTrait::eq(
                &entity::form_submission::Column::Nonce,
                forbidden.as_str()
            ))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}
