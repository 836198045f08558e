//! Scores that mean something (issue 22): a prediction's score is the probability the model gave
//! its labels, read from the answer's token log-probabilities (the fake gives each answer the
//! probability its task's text sets with `[[confidence=p]]`); a model that gives none leaves
//! Label Studio's constant 1.0 with no method.
use crate::helpers::TestApp;
use crate::helpers::engine::{Setup, engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::predictions_of_run;
use entity::enums::ScoreMethod;
use prompter::fake_llm::{FakeLlm, FakeLlmConfig};
use prompter::views::predictions::PredictionView;
use serde_json::{Value, json};

const CLS: &str = r#"<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/><Choice value="Neutral"/></Choices>
</View>"#;

const NER: &str = r#"<View><Text name="text" value="$text"/>
<Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
</View>"#;

/// The predictions of a run, typed, by task id.
async fn predictions(app: &TestApp, s: &Setup, run: i64) -> Vec<PredictionView> {
    let mut found: Vec<PredictionView> = predictions_of_run(app, s.project, run)
        .await
        .into_iter()
        .map(|p| serde_json::from_value(p).expect("a prediction"))
        .collect();
    found.sort_by_key(|p| p.task);
    found
}

/// Runs the whole project of `s` and returns its predictions.
async fn run_all(app: &TestApp, s: &Setup) -> Vec<PredictionView> {
    let run = start(app, s, json!({"project_subset": "All"})).await;
    let state = finished(app, s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    predictions(app, s, run).await
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

async fn choices_setup(app: &TestApp, llm: &FakeLlm, texts: &[&str]) -> Setup {
    setup(app, llm, CLS, texts, "Classify the sentiment. Text: {text}").await
}

#[tokio::test]
async fn a_choice_scores_the_probability_the_model_gave_it() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let texts = [
        "What a great day [[confidence=0.91]]",
        "An awful film [[confidence=0.62]]",
        "Neutral news [[confidence=0.75]]",
        "Nothing to say [[confidence=0.999]]",
    ];
    let s = choices_setup(&app, &llm, &texts).await;
    let found = run_all(&app, &s).await;
    assert_eq!(found.len(), 4);
    let expected = [
        ("Positive", 0.91),
        ("Negative", 0.62),
        ("Neutral", 0.75),
        ("Positive", 0.999),
    ];
    for (p, (label, probability)) in found.iter().zip(expected) {
        assert_eq!(
            p.result[0]["value"]["choices"],
            json!([label]),
            "{:?}",
            p.result
        );
        assert!(
            close(p.score, probability),
            "{:?} != {probability}",
            p.score
        );
        assert_eq!(p.score_method, Some(ScoreMethod::Logprobs));
        // The region carries its own score, as Label Studio shows it beside the region.
        assert!(
            close(p.result[0]["score"].as_f64(), probability),
            "{:?}",
            p.result
        );
    }
}

#[tokio::test]
async fn each_span_scores_its_label_and_the_prediction_their_mean() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = setup(
        &app,
        &llm,
        NER,
        &["Ann met Bob at Acme Corp [[confidence=0.8]]"],
        "Find the names. Text: {text}",
    )
    .await;
    let found = run_all(&app, &s).await;
    let regions = found[0].result.as_array().cloned().unwrap_or_default();
    assert!(regions.len() >= 3, "{regions:?}");
    for region in &regions {
        assert!(close(region["score"].as_f64(), 0.8), "{region}");
    }
    assert!(close(found[0].score, 0.8), "{:?}", found[0].score);
    assert_eq!(found[0].score_method, Some(ScoreMethod::Logprobs));
}

#[tokio::test]
async fn a_reasoning_model_is_not_asked_and_keeps_label_studios_constant_score() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let mut s = choices_setup(&app, &llm, &["great [[confidence=0.7]]"]).await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "o3", "prompt": "Classify. Text: {text}", "provider": "Custom",
                   "provider_model_id": "o3-mini", "model_provider_connection": s.connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    s.version = body["id"].as_i64().expect("an id");
    let found = run_all(&app, &s).await;
    assert_eq!(found[0].score, Some(1.0));
    assert_eq!(found[0].score_method, None);
    assert!(found[0].result[0].get("score").is_none());
    // The fake refuses logprobs on reasoning models as OpenAI does: nothing was refused here,
    // so the version's first call went through.
    let stats = llm.stats();
    assert_eq!(stats.bad_requests, 0, "{stats:?}");
}

/// A version of `s`'s prompt asking `samples` answers per task.
async fn sampled_version(app: &TestApp, s: &Setup, title: &str, samples: i64) -> i64 {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": title, "prompt": "Classify the sentiment. Text: {text}",
                   "provider": "Custom", "provider_model_id": "gpt-4o-mini",
                   "model_provider_connection": s.connection, "samples": samples}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["samples"], samples);
    body["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn three_samples_with_one_dissent_score_two_thirds_and_cost_three_calls() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let mut s = choices_setup(
        &app,
        &llm,
        &[
            "first [[votes=Positive|Positive|Negative]]",
            "second [[votes=Neutral|Neutral|Neutral]]",
        ],
    )
    .await;
    let first = start(&app, &s, json!({"project_subset": "All"})).await;
    let single_state = finished(&app, &s, first).await;
    let single = predictions(&app, &s, first).await;
    let (_, single_estimate) = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/cost-estimate",
            s.prompt, s.version
        ))
        .await;
    // One call per task: the vote of seed 0.
    assert_eq!(single[0].result[0]["value"]["choices"], json!(["Positive"]));
    s.version = sampled_version(&app, &s, "three", 3).await;
    let requests = llm.stats().requests;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    assert_eq!(llm.stats().requests - requests, 6, "three calls per task");
    let found = predictions(&app, &s, run).await;
    assert_eq!(found[0].result[0]["value"]["choices"], json!(["Positive"]));
    assert!(close(found[0].score, 2.0 / 3.0), "{:?}", found[0].score);
    assert_eq!(found[0].score_method, Some(ScoreMethod::Agreement));
    assert!(close(found[0].result[0]["score"].as_f64(), 2.0 / 3.0));
    assert_eq!(found[1].result[0]["value"]["choices"], json!(["Neutral"]));
    assert!(close(found[1].score, 1.0));
    // Every call is paid for: the run's tokens are three times a single answer's.
    let tokens = |state: &Value| state["prompt_tokens"].as_i64().unwrap_or_default();
    assert!(tokens(&single_state) > 0, "{single_state}");
    assert_eq!(tokens(&state), 3 * tokens(&single_state));
    // The estimate says so.
    let (status, estimate) = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/cost-estimate",
            s.prompt, s.version
        ))
        .await;
    assert_eq!(status, 200, "{estimate}");
    assert_eq!(estimate["samples"], 3);
    assert_eq!(single_estimate["samples"], 1);
    let estimated = |e: &Value| e["prompt_tokens"].as_u64().unwrap_or_default();
    assert_eq!(estimated(&estimate), 3 * estimated(&single_estimate));
}

#[tokio::test]
async fn samples_out_of_range_are_refused() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = choices_setup(&app, &llm, &["one"]).await;
    for bad in [0, 10, -1] {
        let (status, body) = app
            .patch(
                &format!("/api/prompts/{}/versions/{}", s.prompt, s.version),
                json!({"samples": bad}),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(body["validation_errors"]["samples"].is_array(), "{body}");
    }
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{}/versions/{}", s.prompt, s.version),
            json!({"samples": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["samples"], 5);
}

#[tokio::test]
async fn a_jury_of_models_votes_and_its_dissent_scores_two_thirds() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let mut s = choices_setup(
        &app,
        &llm,
        &[
            "Positive [[model:juror-b=Negative]]",
            "Neutral [[model:other=Negative]]",
        ],
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{}/versions", s.prompt),
            json!({"title": "jury", "prompt": "Classify the sentiment. Text: {text}",
                   "provider": "Custom", "provider_model_id": "gpt-4o-mini",
                   "model_provider_connection": s.connection,
                   "jury": [{"provider_model_id": "juror-a"},
                            {"provider_model_id": "juror-b", "model_provider_connection": s.connection}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["jury"][0], json!({"provider_model_id": "juror-a"}));
    assert_eq!(body["jury"][1]["model_provider_connection"], s.connection);
    s.version = body["id"].as_i64().expect("an id");
    let requests = llm.stats().requests;
    let run = start(&app, &s, json!({"project_subset": "All"})).await;
    let state = finished(&app, &s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    assert_eq!(llm.stats().requests - requests, 6, "three models per task");
    let found = predictions(&app, &s, run).await;
    assert_eq!(found[0].result[0]["value"]["choices"], json!(["Positive"]));
    assert!(close(found[0].score, 2.0 / 3.0), "{:?}", found[0].score);
    assert_eq!(found[0].score_method, Some(ScoreMethod::Agreement));
    assert_eq!(found[1].result[0]["value"]["choices"], json!(["Neutral"]));
    assert!(close(found[1].score, 1.0));
    // The tally names the models behind each answer.
    let row = entity::prediction::Entity::find()
        .filter(entity::prediction::Column::Id.eq(found[0].id))
        .one(&app.db)
        .await
        .expect("read")
        .expect("the prediction");
    let tally = &row.extra.unwrap_or_default()["samples"];
    assert_eq!(tally["asked"], 3, "{tally}");
    assert_eq!(
        tally["answers"][0]["models"],
        json!(["gpt-4o-mini", "juror-a"])
    );
    assert_eq!(tally["answers"][1]["models"], json!(["juror-b"]));
    // The estimate counts an answer from each model.
    let (_, estimate) = app
        .get(&format!(
            "/api/prompts/{}/versions/{}/cost-estimate",
            s.prompt, s.version
        ))
        .await;
    assert_eq!(estimate["samples"], 3, "{estimate}");
}

#[tokio::test]
async fn a_jury_is_checked_and_answers_stay_within_nine() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let s = choices_setup(&app, &llm, &["one"]).await;
    let path = format!("/api/prompts/{}/versions/{}", s.prompt, s.version);
    let juror = |m: &str| json!({"provider_model_id": m});
    for (bad, field) in [
        (json!({"jury": [juror(" ")]}), "jury"),
        (
            json!({"jury": [{"provider_model_id": "x", "model_provider_connection": 999_999}]}),
            "jury",
        ),
        (json!({"jury": vec![juror("m"); 9]}), "jury"),
        (
            json!({"jury": [juror("a"), juror("b")], "samples": 4}),
            "samples",
        ),
        (json!({"jury": [{"model": "x"}]}), ""),
    ] {
        let (status, body) = app.patch(&path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        if !field.is_empty() {
            assert!(body["validation_errors"][field].is_array(), "{bad}: {body}");
        }
    }
    let (status, body) = app
        .patch(
            &path,
            json!({"jury": [juror("a"), juror("b")], "samples": 3}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jury"].as_array().map(Vec::len), Some(2));
    // Samples alone cannot go past nine answers with the jury kept.
    let (status, body) = app.patch(&path, json!({"samples": 4})).await;
    assert_eq!(status, 400, "{body}");
    // null clears it.
    let (status, body) = app.patch(&path, json!({"jury": null})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jury"], json!([]));
}
