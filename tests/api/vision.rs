//! Image projects through the engine (issue 10, item 2): `<Image>` configs are compatible with
//! prompts, images on loopback are fetched and sent inline, an image past the size limit or
//! that cannot be fetched fails its task with `ImageError`, and cost estimates count images by
//! the provider's rules for their size.
use crate::helpers::engine::{
    Setup, custom_connection, fake, finished, quick_engine, results_per_task, start, version,
};
use crate::helpers::fixtures::{id_of, new_prompt};
use crate::helpers::reply::read;
use crate::helpers::{Reply, TestApp};
use actix_web::{App, HttpResponse, HttpServer, web};
use entity::enums::RunStatus;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::views::Paginated;
use prompter::views::model_providers::ModelProviderConnectionView;
use prompter::views::projects::ProjectView;
use prompter::views::runs::RunView;
use prompter::views::versions::{CostEstimateView, VersionView};
use serde_json::json;

/// A 2×3 PNG.
pub const PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 3, 8, 2, 0,
    0, 0, 54, 136, 73, 214, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 68, 12,
    40, 20, 0, 68, 208, 5, 251, 164, 207, 222, 128, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// An image classification config, with a caption beside the image.
pub const IMAGE_CLS: &str = r#"<View><Image name="image" value="$image"/><Text name="caption" value="$caption"/><Choices name="animal" toName="image"><Choice value="Cat"/><Choice value="Dog"/></Choices></View>"#;

/// Serves `/small.png` (the PNG), `/big.png` (the PNG padded to 4 KiB) and `/text` (not an
/// image) on a loopback port; returns its base URL.
pub async fn image_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/small.png",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("image/png")
                        .body(PNG.to_vec())
                }),
            )
            .route(
                "/big.png",
                web::get().to(|| async {
                    let mut bytes = PNG.to_vec();
                    bytes.resize(4096, 0);
                    HttpResponse::Ok().content_type("image/png").body(bytes)
                }),
            )
            .route(
                "/text",
                web::get()
                    .to(|| async { HttpResponse::Ok().content_type("text/plain").body("hello") }),
            )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// A project of `IMAGE_CLS` with five tasks (a small and a big PNG on the image server, a
/// missing one, a text page, a data: URL), a prompt and a version on a Custom connection to a
/// fake LLM (returned: it must live as long as the test).
async fn image_setup(app: &TestApp, images: &str) -> (Setup, FakeLlm) {
    let llm = fake(FakeLlmConfig::default()).await;
    let project = app.project(IMAGE_CLS).await;
    let urls = [
        format!("{images}/small.png"),
        format!("{images}/big.png"),
        format!("{images}/missing.png"),
        format!("{images}/text"),
        format!("data:image/png;base64,{}", b64(&PNG)),
    ];
    let data: Vec<serde_json::Value> = urls
        .iter()
        .map(|url| json!({"image": url, "caption": "a pet"}))
        .collect();
    let tasks = app.import(project, json!(data)).await;
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": "Vision", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = custom_connection(app, &llm, "fake-key").await;
    let version = version(
        app,
        prompt,
        connection,
        "v1",
        "Which animal is in {image}? Caption: {caption}",
    )
    .await;
    let s = Setup {
        project,
        tasks,
        prompt,
        version,
        connection,
    };
    (s, llm)
}

/// The failures of a run by task: (error type, message).
async fn failures_of(app: &TestApp, run: i64) -> std::collections::HashMap<i64, (String, String)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::failed_prediction::Entity::find()
        .filter(entity::failed_prediction::Column::ModelRunId.eq(run))
        .all(&app.db)
        .await
        .expect("failures")
        .into_iter()
        .map(|f| {
            (
                f.task_id,
                (
                    f.error_type.map(|k| k.to_string()).unwrap_or_default(),
                    f.message.unwrap_or_default(),
                ),
            )
        })
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn image_runs_fetch_local_images_and_fail_the_unreadable_ones() {
    let images = image_server().await;
    let app = TestApp::spawn_with(|c| {
        quick_engine(c);
        c.engine.image_max_bytes = 1024;
    })
    .await;
    let (s, _llm) = image_setup(&app, &images).await;
    let compatible: Paginated<ProjectView> = app
        .get("/api/prompts/compatible-projects?project_type=TextClassification")
        .await
        .good();
    assert_eq!(
        compatible.count, 1,
        "the image project is compatible: {compatible:?}"
    );

    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state: RunView = read(finished(&app, &s, run).await);
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_predictions, 2, "{state:?}");
    let results = results_per_task(&app, run).await;
    assert_eq!(
        results[&s.tasks[0]].0, 1,
        "a loopback image is fetched and sent inline"
    );
    assert_eq!(results[&s.tasks[4]].0, 1, "a data: URL is sent inline");
    let failures = failures_of(&app, run).await;
    for (i, why) in [
        (1, "larger than the limit"),
        (2, "HTTP 404"),
        (3, "not a PNG, JPEG, GIF or WebP"),
    ] {
        let (kind, message) = failures.get(&s.tasks[i]).cloned().unwrap_or_default();
        assert_eq!(kind, "ImageError", "task {i}: {message}");
        assert!(message.contains(why), "task {i}: {message}");
    }
}

#[tokio::test]
async fn cost_estimates_count_images_by_their_size() {
    let images = image_server().await;
    let app = TestApp::spawn_with(quick_engine).await;
    let (s, _llm) = image_setup(&app, &images).await;
    let estimate: CostEstimateView = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/cost-estimate",
            s.prompt, s.version
        ))
        .await
        .good();
    assert!(!estimate.is_error, "{estimate:?}");
    assert_eq!(estimate.images, 5);
    // The 2×3 images are read (small, big, data:); the 404 and the text count as 1024×1024.
    assert_eq!(estimate.images_assumed, 2, "{estimate:?}");
    // gpt-4o-mini: a small image is 2,833 + 5,667 tokens, a 1024×1024 one 2,833 + 4 × 5,667.
    let small = 2833 + 5667;
    let assumed = 2833 + 4 * 5667;
    let expected = ((3 * small + 2 * assumed) as f64 / 5.0 * 5.0).round() as u64;
    assert_eq!(estimate.image_tokens, expected, "{estimate:?}");
    assert!(estimate.prompt_tokens > expected);
}

/// Issue 10: an image project runs through every provider dialect against the strict fake,
/// which accepts an image only in its provider's real shape: a loopback image (sent inline),
/// a data: URL and a public URL (given to the provider as is) reach the model in each.
#[tokio::test]
async fn every_provider_dialect_runs_an_image_project() {
    let images = image_server().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let app = TestApp::spawn_with(quick_engine).await;
    let project = app.project(IMAGE_CLS).await;
    let urls = [
        format!("{images}/small.png"),
        format!("data:image/png;base64,{}", b64(&PNG)),
        "https://images.example.com/cat.png".to_string(),
    ];
    let data: Vec<serde_json::Value> = urls
        .iter()
        .map(|url| json!({"image": url, "caption": "a pet"}))
        .collect();
    let tasks = app.import(project, json!(data)).await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Vision", "associated_projects": [project]}),
        )
        .await,
    );
    let dialects = [
        ("OpenAI", "gpt-5-mini", llm.base_url(), None),
        (
            "AzureOpenAI",
            "gpt-4o",
            format!("{}?api-version=2024-10-21", llm.root_url()),
            Some("vision-deployment"),
        ),
        ("Custom", "llava-v1.6", llm.base_url(), None),
        ("Anthropic", "claude-sonnet-4-5", llm.root_url(), None),
        ("Gemini", "gemini-2.5-flash", llm.root_url(), None),
    ];
    for (n, (provider, model, endpoint, deployment)) in dialects.into_iter().enumerate() {
        let connection: ModelProviderConnectionView = app
            .post(
                "/api/model-provider-connections/",
                json!({"provider": provider, "endpoint": endpoint, "api_key": "fake-key",
                       "deployment_name": deployment}),
            )
            .await
            .created();
        let v: VersionView = app
            .post(
                &format!("/api/prompts/{prompt}/versions"),
                json!({"title": provider, "prompt": "Which animal is in {image}?",
                       "provider": provider, "provider_model_id": model,
                       "model_provider_connection": connection.id}),
            )
            .await
            .created();
        let s = Setup {
            project,
            tasks: tasks.clone(),
            prompt,
            version: v.id,
            connection: connection.id,
        };
        // Every task's image is sent (two tasks may show the same picture: not from the
        // response cache here, which would answer the second from the first).
        let run = start(&app, &s, json!({"project_subset": "All", "cache": false})).await;
        let state: RunView = read(finished(&app, &s, run).await);
        assert_eq!(state.status, RunStatus::Completed, "{provider}: {state:?}");
        assert_eq!(state.total_predictions, 3, "{provider}: {state:?}");
        let stats = llm.stats();
        assert_eq!(stats.images, 3 * (n as u64 + 1), "{provider}: {stats:?}");
        assert_eq!(stats.bad_requests, 0, "{provider}: {stats:?}");
    }
}
