//! Deriving a version from another (issue 19, item 3): the service operation copies every
//! field of a pipeline version that carries all of them and applies its changes; the web
//! editor, in a real browser, shows every parameter of such a version and *Save as new
//! version* keeps what was not changed.
use crate::helpers::browser::Browser;
use crate::helpers::fixtures::{connection, id_of, new_prompt};
use crate::helpers::reply::read;
use crate::helpers::web::{PASSWORD, set_password};
use crate::helpers::{CLS, Reply, TestApp};
use prompter::services::versions::{VersionChanges, derive};
use prompter::views::versions::VersionView;
use serde_json::{Value, json};

/// A prompt on a fresh project; returns (prompt, connection).
async fn prompt_and_connection(app: &TestApp) -> (i64, i64) {
    let project = app.project(CLS).await;
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": "Derived", "associated_projects": [project], "input_fields": ["text"],
                "output_classes": ["Positive", "Negative"]}),
        )
        .await,
    );
    (prompt, connection(app).await)
}

/// A two-step pipeline version carrying every parameter a version has: few-shot count, model
/// parameters with top P, seed, reasoning effort and extra ones, and a first step with its
/// own connection, model, parameters and answers, and a jury of one other model. Returns its
/// view.
async fn pipeline_with_everything(app: &TestApp, prompt: i64, connection: i64) -> VersionView {
    app.post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "full", "provider": "OpenAI", "provider_model_id": "gpt-4o-mini",
                "model_provider_connection": connection, "max_few_shot_examples": 3,
                "model_params": {"temperature": 0.2, "max_tokens": 300, "top_p": 0.9, "seed": 7,
                    "reasoning_effort": "low", "extra": {"presence_penalty": 0.5, "user": "team-a"}},
                "jury": [{"provider_model_id": "gpt-4.1-mini", "model_provider_connection": connection}],
                "steps": [
                    {"name": "summarize", "prompt": "Summarize: {text}", "output_fields": ["summary", "tone"],
                     "model_provider_connection": connection, "provider_model_id": "gpt-4o",
                     "model_params": {"temperature": 0.5, "seed": 11, "extra": {"stop": ["END"]}}},
                    {"name": "classify", "prompt": "Classify: {summarize.summary} ({summarize.tone})"}
                ]}),
    )
    .await
    .created()
}

/// A version's view without what a new version has of its own, as JSON: every other field is
/// compared at once, so one that does not carry over fails whichever it is.
fn kept(view: &VersionView) -> Value {
    let mut view = json!(view);
    let fields = view.as_object_mut().expect("a version");
    for own in ["id", "title", "created_at", "updated_at", "score"] {
        fields.remove(own);
    }
    view
}

/// A copy of a view, to change as expected (views are not `Clone`).
fn copy(view: &VersionView) -> VersionView {
    read(json!(view))
}

/// The steps of a pipeline version.
fn steps_of(view: &mut VersionView) -> &mut Vec<prompter::views::versions::Step> {
    view.steps.as_mut().expect("a pipeline's steps")
}

async fn version(app: &TestApp, prompt: i64, id: i64) -> VersionView {
    app.get(&format!("/api/prompts/{prompt}/versions/{id}"))
        .await
        .good()
}

#[tokio::test]
async fn a_derived_version_keeps_every_field_and_applies_its_changes() {
    let app = TestApp::spawn().await;
    let (prompt, c) = prompt_and_connection(&app).await;
    let source = pipeline_with_everything(&app, prompt, c).await;
    let source_id = source.id;
    let caller = prompter::auth::authenticate(&app.db, &app.token)
        .await
        .expect("caller");

    // A new prompt only: every other field carries over, and the last step mirrors it.
    let text = "Label it: {summarize.summary}";
    let derived = derive(
        &app.db,
        &caller,
        prompt,
        source_id,
        VersionChanges {
            prompt: Some(text.into()),
            ..Default::default()
        },
    )
    .await
    .expect("derived");
    let mut got = version(&app, prompt, derived.id).await;
    assert_eq!(got.title, "v2", "the default name");
    assert_eq!(got.prompt, text);
    assert_eq!(steps_of(&mut got)[1].prompt, text);
    let mut expected = copy(&source);
    expected.prompt = text.into();
    steps_of(&mut expected)[1].prompt = text.into();
    assert_eq!(kept(&got), kept(&expected));

    // Changes apply, and what they do not name stays.
    let mut steps = source.steps.clone().expect("a pipeline's steps");
    steps[0].prompt = "Summarize briefly: {text}".into();
    steps[0].output_fields = Some(vec!["summary".into(), "tone".into(), "topic".into()]);
    let params: prompter::llm::ModelParams = serde_json::from_value(
        json!({"temperature": 0.9, "max_tokens": 300, "top_p": 0.9, "seed": 7,
            "reasoning_effort": "high", "extra": {"presence_penalty": 0.5}}),
    )
    .expect("params");
    let tuned = derive(
        &app.db,
        &caller,
        prompt,
        source_id,
        VersionChanges {
            title: Some("tuned".into()),
            max_few_shot_examples: Some(Some(5)),
            model_params: Some(Some(params.clone())),
            steps: Some(Some(steps.clone())),
            ..Default::default()
        },
    )
    .await
    .expect("tuned");
    let got = version(&app, prompt, tuned.id).await;
    let mut expected = copy(&source);
    expected.max_few_shot_examples = Some(5);
    expected.model_params = params;
    expected.steps = Some(steps);
    assert_eq!(kept(&got), kept(&expected));
    assert_eq!(got.title, "tuned");

    // The derived version is checked as a new one is: a field no project has, a step's
    // answer that does not exist, a taken name; nothing is written.
    for (changes, field) in [
        (
            VersionChanges {
                prompt: Some("Classify {nope}".into()),
                ..Default::default()
            },
            "steps",
        ),
        (
            VersionChanges {
                prompt: Some("Classify {summarize.mood}".into()),
                ..Default::default()
            },
            "steps",
        ),
        (
            VersionChanges {
                title: Some("full".into()),
                ..Default::default()
            },
            "title",
        ),
    ] {
        match derive(&app.db, &caller, prompt, source_id, changes).await {
            Err(prompter::error::ApiError::Validation { errors }) => {
                assert!(errors.contains_key(field), "{errors:?}")
            }
            other => panic!("expected a validation error on {field}, got {other:?}"),
        }
    }
    let all: Vec<VersionView> = app
        .get(&format!("/api/prompts/{prompt}/versions"))
        .await
        .good();
    assert_eq!(all.len(), 3, "{all:?}");

    // Another organization's caller does not see the source.
    let other = prompter::auth::authenticate(&app.db, &app.other_token)
        .await
        .expect("other caller");
    let refused = derive(
        &app.db,
        &other,
        prompt,
        source_id,
        VersionChanges::default(),
    )
    .await;
    assert!(
        matches!(refused, Err(prompter::error::ApiError::NotFound)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_editor_shows_every_parameter_and_save_as_new_version_keeps_them() {
    let app = TestApp::spawn().await;
    let (prompt, c) = prompt_and_connection(&app).await;
    let source = pipeline_with_everything(&app, prompt, c).await;
    let source_id = source.id;
    set_password(&app, "admin@example.com").await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let url = |path: &str| format!("{}{path}", app.address);
    b.open(&url("/login")).await;
    b.fill("#email", "admin@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;
    b.open(&url(&format!("/prompts/{prompt}?version={source_id}")))
        .await;
    b.wait_text("#editor-title", |t| t == "Version full").await;

    // Every parameter is a field a person reads.
    let value = |css: &'static str| {
        let b = &b;
        async move {
            b.run(&format!("return document.querySelector('{css}').value;"))
                .await
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let connection = c.to_string();
    for (css, shown) in [
        ("#version-few-shot", "3"),
        ("#version-temperature", "0.2"),
        ("#version-max-tokens", "300"),
        ("#version-top-p", "0.9"),
        ("#version-seed", "7"),
        ("#version-reasoning-effort", "low"),
        ("#step-0-name", "summarize"),
        ("#step-0-prompt", "Summarize: {text}"),
        ("#step-0-outputs", "summary, tone"),
        ("#step-0-connection", connection.as_str()),
        ("#step-0-model", "gpt-4o"),
        ("#step-0-temperature", "0.5"),
        ("#step-0-seed", "11"),
        ("#step-0-extra-name-1", "stop"),
        ("#step-0-extra-value-1", "[\"END\"]"),
        ("#version-last-step", "classify"),
        ("#juror-1-model", "gpt-4.1-mini"),
        ("#juror-1-connection", connection.as_str()),
        (
            "#version-prompt",
            "Classify: {summarize.summary} ({summarize.tone})",
        ),
    ] {
        assert_eq!(value(css).await, shown, "{css}");
    }
    // Extra parameters are name and value rows (in the order the database keeps them).
    let rows = b
        .run(
            "return [...document.querySelectorAll('#version-extra .row')].map(r => \
             [...r.querySelectorAll('input')].map(i => i.value).join('=')).sort();",
        )
        .await;
    assert_eq!(rows, json!(["=", "presence_penalty=0.5", "user=team-a"]));
    let json_box = b
        .run("return [...document.querySelectorAll('#version-form input')].some(e => e.value.includes('{\"'));")
        .await;
    assert_eq!(json_box, json!(false), "the editor shows a JSON object");

    // Edit a few of them and save as a new version.
    b.fill("#version-temperature", "0.3").await;
    b.fill("#step-0-prompt", "Summarize in one line: {text}")
        .await;
    b.fill("#version-extra-name-new", "frequency_penalty").await;
    b.fill("#version-extra-value-new", "0.25").await;
    b.fill("#juror-new-model", "gpt-4o").await;
    b.fill("#version-title", "edited").await;
    b.click("#save-version").await;
    b.wait_text("#editor-title", |t| t == "Version edited")
        .await;

    // Through the API: the edits applied, nothing else was lost.
    let all: Vec<VersionView> = app
        .get(&format!("/api/prompts/{prompt}/versions"))
        .await
        .good();
    let edited = all
        .iter()
        .find(|v| v.title == "edited")
        .expect("the edited version");
    let mut expected = copy(&source);
    expected.model_params.temperature = Some(0.3);
    expected
        .model_params
        .extra
        .get_or_insert_default()
        .insert("frequency_penalty".into(), json!(0.25));
    steps_of(&mut expected)[0].prompt = "Summarize in one line: {text}".into();
    expected.jury.push(prompter::views::versions::Juror {
        provider_model_id: "gpt-4o".into(),
        model_provider_connection: None,
    });
    assert_eq!(kept(edited), kept(&expected));
    let unchanged = version(&app, prompt, source_id).await;
    assert_eq!(
        json!(unchanged),
        json!(source),
        "the source version changed"
    );
}
