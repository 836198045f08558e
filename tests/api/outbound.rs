//! The outbound policy over real HTTP (issue 18, item 1): a server not bound to loopback
//! refuses to reach loopback, private, link-local and metadata addresses for Label Studio
//! links, ML backend `/setup` hosts, Custom connection endpoints and task images (and reaches
//! what `PROMPTER_OUTBOUND_ALLOW` lists); what an outbound answer says never reaches the user;
//! answers are read up to a cap.
use crate::helpers::engine::{
    Setup, custom_connection, fake, finished, quick_engine, start, version,
};
use crate::helpers::fixtures::{id_of, new_prompt};
use crate::helpers::reply::read;
use crate::helpers::{Reply, TestApp};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use entity::failed_prediction;
use prompter::error::{ErrorBody, ErrorCode};
use prompter::fake_llm::FakeLlmConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the internal service holds that must never reach a user.
const SECRET: &str = "db_password=hunter2";

/// An "internal service" on a loopback port: every path answers by its first segment
/// (`/err500/...` a 500 with the secret, `/text/...` a 200 that is not JSON, `/big/...` 5 MB of
/// JSON, `/llm400/...` an OpenAI-style 400 with the secret, `/redirect/...` a redirect to
/// `/err500/...`); it counts the requests it gets. Returns its base URL and the count.
async fn internal_service() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(move || {
        let counter = counter.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let path = req.path().to_string();
                match path.split('/').nth(1).unwrap_or_default() {
                    "text" => HttpResponse::Ok()
                        .content_type("text/plain")
                        .body(format!("root:x:0:0:root:/root:/bin/bash {SECRET}")),
                    "big" => HttpResponse::Ok()
                        .content_type("application/json")
                        .body(format!("[\"{}\"]", "x".repeat(5 * 1024 * 1024))),
                    "llm400" => HttpResponse::BadRequest().json(json!({"error": {
                        "message": format!("internal detail {SECRET}"),
                        "type": "invalid_request_error", "code": "bad_thing", "param": null}})),
                    "redirect" => HttpResponse::Found()
                        .insert_header(("location", path.replacen("/redirect", "/err500", 1)))
                        .finish(),
                    _ => HttpResponse::InternalServerError()
                        .content_type("text/plain")
                        .body(format!("Traceback ... {SECRET}")),
                }
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), hits)
}

/// A project to link.
async fn project(app: &TestApp) -> i64 {
    app.project(crate::helpers::CLS).await
}

/// Links `project` to a "Label Studio" at `url`; the status and body.
async fn link(app: &TestApp, project: i64, url: &str) -> (u16, Value) {
    app.post(
        &format!("/api/projects/{project}/label-studio"),
        json!({"url": url, "token": "some-token", "ls_project": 1}),
    )
    .await
}

#[tokio::test]
async fn a_server_off_loopback_refuses_internal_addresses_and_writes_nothing() {
    let (internal, hits) = internal_service().await;
    let app = TestApp::spawn_with(|c| {
        c.host = "0.0.0.0".into();
        c.engine.workers = 0;
    })
    .await;
    let p = project(&app).await;
    let port = internal.rsplit(':').next().expect("port");
    for url in [
        internal.clone(),
        format!("http://localhost:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://127.1:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        format!("http://0177.0.0.1:{port}"),
        "http://10.1.2.3".to_string(),
        "http://169.254.169.254/latest".to_string(),
        "http://[fd00:ec2::254]".to_string(),
    ] {
        let error = link(&app, p, &url).await.bad();
        assert_eq!(error.status_code, 400, "{url}: {error:?}");
        assert_eq!(
            error.code,
            ErrorCode::LabelStudioUnreachable,
            "{url}: {error:?}"
        );
        let detail = &error.detail;
        assert!(
            detail.contains("outbound policy") || detail.contains("never connects"),
            "{url}: {detail}"
        );
    }
    let (status, _) = app.get(&format!("/api/projects/{p}/label-studio")).await;
    assert_eq!(status, 404, "no link was written");
    // ML backend /setup names a hostname: the webhook set-up never reaches it.
    let (status, body) = app
        .post(
            "/api/prompts/",
            json!({"title": "Backend", "associated_projects": [p]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let prompt = id_of(&body);
    let connection = crate::helpers::fixtures::connection(&app).await;
    crate::helpers::fixtures::new_version(&app, prompt, connection, "v1").await;
    let (status, body) = app
        .post(
            &format!("/ml/prompts/{prompt}/setup"),
            json!({"project": "7.1700000000", "schema": crate::helpers::CLS,
                   "hostname": internal, "access_token": "ls-token"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.engine_idle().await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
}

#[tokio::test]
async fn runs_reach_only_allowed_endpoints_and_images() {
    let (internal, hits) = internal_service().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let llm_port = llm
        .base_url()
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .expect("port")
        .to_string();
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.host = "0.0.0.0".into();
        c.engine.outbound_allow = vec![format!("127.0.0.1:{llm_port}")];
    })
    .await;
    let config = r#"<View><Image name="image" value="$image"/><Text name="text" value="$text"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;
    let p = app.project(config).await;
    let tasks = app
        .import(
            p,
            json!([
                {"text": "I love it", "image": "data:image/png;base64,iVBORw0KGgo="},
                {"text": "I love it", "image": format!("{internal}/a.png")},
                {"text": "I love it", "image": format!("http://2130706433:{}/a.png", internal.rsplit(':').next().expect("port"))},
                {"text": "I love it", "image": "http://169.254.169.254/a.png"},
            ]),
        )
        .await;
    let prompt =
        id_of(&new_prompt(&app, json!({"title": "Out", "associated_projects": [p]})).await);
    // The allowed fake LLM answers; the internal "endpoint" on another port is refused.
    let allowed = custom_connection(&app, &llm, "k").await;
    let v1 = version(&app, prompt, allowed, "v1", "{text}").await;
    let s = Setup {
        project: p,
        tasks: tasks.clone(),
        prompt,
        version: v1,
        connection: allowed,
    };
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    finished(&app, &s, run).await;
    let failures = failures_of(&app, run).await;
    assert_eq!(failures.len(), 3, "{failures:?}");
    for (_, message) in &failures {
        assert!(
            message.contains("outbound policy") || message.contains("never connects"),
            "{message}"
        );
    }
    let refused = internal_connection(&app, &internal).await;
    let v2 = version(&app, prompt, refused, "v2", "{text}").await;
    let s2 = Setup {
        version: v2,
        connection: refused,
        ..s
    };
    let run = start(&app, &s2, json!({"project_subset": "All"})).await;
    finished(&app, &s2, run).await;
    let failures = failures_of(&app, run).await;
    assert_eq!(failures.len(), tasks.len(), "{failures:?}");
    assert!(
        failures
            .iter()
            .all(|(_, m)| m.contains("outbound policy") || m.contains("never connects")),
        "{failures:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
}

/// A Custom connection whose endpoint is the internal service's OpenAI-style 400.
async fn internal_connection(app: &TestApp, internal: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": format!("{internal}/llm400/v1"), "api_key": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// The failures of a run: (error type, message).
async fn failures_of(app: &TestApp, run: i64) -> Vec<(String, String)> {
    failed_prediction::Entity::find()
        .filter(failed_prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .expect("failures")
        .into_iter()
        .map(|f| {
            (
                f.error_type.map(|k| k.to_string()).unwrap_or_default(),
                f.message.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn what_an_outbound_answer_says_never_reaches_the_user() {
    let (internal, _) = internal_service().await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.outbound_max_bytes = 1024 * 1024;
    })
    .await;
    let p = project(&app).await;
    // A server error, a page that is not JSON, and a redirect to the server error.
    for (path, code) in [
        ("err500", ErrorCode::LabelStudioError),
        ("text", ErrorCode::LabelStudioError),
        ("redirect", ErrorCode::LabelStudioError),
        ("big", ErrorCode::LabelStudioUnreachable),
    ] {
        let (status, body) = link(&app, p, &format!("{internal}/{path}")).await;
        // The leak check below scans the whole body text, so the body stays raw here too.
        let text = body.to_string();
        let error: ErrorBody = read(body);
        assert_eq!((status, error.code), (400, code), "{path}: {text}");
        assert!(
            !text.contains("hunter2") && !text.contains("root:x"),
            "{path}: {text}"
        );
        if path == "big" {
            assert!(text.contains("larger than the limit"), "{text}");
        }
    }
    // A closed port and an open port that is not HTTP read the same.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let not_http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let open = not_http.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = not_http.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        }
    });
    let a = link(&app, p, &format!("http://127.0.0.1:{closed}"))
        .await
        .bad();
    let b = link(&app, p, &format!("http://127.0.0.1:{open}"))
        .await
        .bad();
    let strip = |e: &ErrorBody| {
        e.detail
            .replace(&closed.to_string(), "PORT")
            .replace(&open.to_string(), "PORT")
    };
    assert_eq!(strip(&a), strip(&b));
    // An LLM endpoint's error body: its code is kept, its words are not.
    let llm = fake(FakeLlmConfig::default()).await;
    let connection = internal_connection(&app, &internal).await;
    let prompt =
        id_of(&new_prompt(&app, json!({"title": "Leak", "associated_projects": [p]})).await);
    let tasks = app.import(p, json!([{"text": "I love it"}])).await;
    let v = version(&app, prompt, connection, "v1", "{text}").await;
    let s = Setup {
        project: p,
        tasks,
        prompt,
        version: v,
        connection,
    };
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    finished(&app, &s, run).await;
    let failures = failures_of(&app, run).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (kind, message) = &failures[0];
    assert_eq!(kind, "BadRequest");
    assert!(message.contains("bad_thing"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    drop(llm);
}
