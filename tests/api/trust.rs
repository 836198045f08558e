//! Trusting predictions by their scores (issue 22 items 3–5): the `calibration` and
//! `project_accuracy` indicators of a seeded run, computed by hand from the scores the fake gave
//! and the ground truth the test wrote, and accepting the sure predictions as annotations.
use crate::helpers::TestApp;
use crate::helpers::engine::{Setup, engine_app, fake, finished, setup, start};
use crate::helpers::fixtures::ground_truth;
use prompter::fake_llm::FakeLlmConfig;
use prompter::stats::calibration::{self, Pair};
use prompter::stats::ppi;
use serde_json::{Value, json};

const CLS: &str = r#"<View><Text name="text" value="$text"/>
<Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices>
</View>"#;

fn choice(label: &str) -> Value {
    json!([{"from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": [label]}}])
}

/// A task of the seeded project: the text's keyword makes the fake answer `answer` with
/// probability `p`; `truth` is its ground truth, if it has one.
pub(crate) struct Seeded {
    p: f64,
    answer: &'static str,
    truth: Option<&'static str>,
}

/// Twelve labeled tasks (ten answered right with scores 0.90–0.99, two wrong: one confidently,
/// at 0.915, one at 0.62) and eighteen unlabeled ones scoring 0.555–0.98.
fn seeded() -> Vec<Seeded> {
    let mut tasks: Vec<Seeded> = (0..10)
        .map(|i| Seeded {
            p: 0.90 + f64::from(i) * 0.01,
            answer: if i % 2 == 0 { "Positive" } else { "Negative" },
            truth: Some(if i % 2 == 0 { "Positive" } else { "Negative" }),
        })
        .collect();
    tasks.push(Seeded {
        p: 0.915,
        answer: "Positive",
        truth: Some("Negative"),
    });
    tasks.push(Seeded {
        p: 0.62,
        answer: "Negative",
        truth: Some("Positive"),
    });
    tasks.extend((0..18).map(|i| Seeded {
        p: 0.555 + f64::from(i) * 0.025,
        answer: if i % 3 == 0 { "Negative" } else { "Positive" },
        truth: None,
    }));
    tasks
}

fn text(t: &Seeded) -> String {
    let word = if t.answer == "Positive" {
        "great"
    } else {
        "awful"
    };
    format!("A {word} thing [[confidence={}]]", t.p)
}

/// The seeded project, its ground truth, and a completed run over all of it.
pub(crate) async fn seeded_run(app: &TestApp) -> (Setup, i64, Vec<Seeded>) {
    let llm = fake(FakeLlmConfig::default()).await;
    let tasks = seeded();
    let texts: Vec<String> = tasks.iter().map(text).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(app, &llm, CLS, &refs, "Sentiment? Text: {text}").await;
    for (id, t) in s.tasks.iter().zip(&tasks) {
        if let Some(truth) = t.truth {
            ground_truth(app, *id, choice(truth)).await;
        }
    }
    let run = start(app, &s, json!({"project_subset": "All"})).await;
    let state = finished(app, &s, run).await;
    assert_eq!(state["status"], "Completed", "{state}");
    // The fake's LLM server must outlive the run only.
    drop(llm);
    (s, run, tasks)
}

async fn indicator(app: &TestApp, run: i64, key: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/inference-runs/{run}/indicators/{key}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["values"].clone()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

fn pairs(tasks: &[Seeded]) -> Vec<Pair> {
    tasks
        .iter()
        .filter_map(|t| {
            Some(Pair {
                score: t.p,
                correct: t.truth? == t.answer,
            })
        })
        .collect()
}

#[tokio::test]
async fn calibration_and_the_project_wide_estimate_match_a_hand_computation() {
    let app = engine_app().await;
    let (s, run, tasks) = seeded_run(&app).await;
    let values = indicator(&app, run, "calibration").await;
    assert_eq!(values["score_method"], "logprobs");
    assert_eq!(values["scored_predictions"], 30);
    assert_eq!(values["labeled_predictions"], 12);
    // By hand: bin 9 (0.9–1) holds the ten right ones and the wrong 0.915: 11 predictions, mean
    // score (Σ 0.90..0.99 + 0.915)/11, accuracy 10/11; bin 6 the wrong 0.62.
    let bins = values["bins"].as_array().cloned().unwrap_or_default();
    assert_eq!(bins.len(), 10);
    let top_mean = ((0..10).map(|i| 0.90 + f64::from(i) * 0.01).sum::<f64>() + 0.915) / 11.0;
    assert_eq!(bins[9]["predictions"], 11);
    assert!(close(&bins[9]["mean_score"], top_mean));
    assert!(close(&bins[9]["accuracy"], 10.0 / 11.0));
    assert_eq!(bins[6]["predictions"], 1);
    assert!(close(&bins[6]["accuracy"], 0.0));
    let ece = (11.0 * (10.0 / 11.0 - top_mean).abs() + 0.62) / 12.0;
    assert!(
        close(&values["expected_calibration_error"], ece),
        "{values}"
    );
    // The 0.9 threshold: the ten right ones and the wrong 0.915, 10 right of 11 of the twelve.
    let row = values["thresholds"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["threshold"] == 0.9).cloned())
        .unwrap_or_default();
    assert_eq!(row["accepted"], 11);
    assert!(close(&row["accuracy"], 10.0 / 11.0));
    assert!(close(&row["coverage"], 11.0 / 12.0));
    assert!(values["flip_rate"].is_null());

    let values = indicator(&app, run, "project_accuracy").await;
    let labeled: Vec<(f64, f64)> = pairs(&tasks)
        .iter()
        .map(|p| (p.score, f64::from(u8::from(p.correct))))
        .collect();
    let unlabeled: Vec<f64> = tasks
        .iter()
        .filter(|t| t.truth.is_none())
        .map(|t| t.p)
        .collect();
    let expected = ppi::estimate(&labeled, &unlabeled).unwrap_or_else(|| panic!("an estimate"));
    assert!(close(&values["accuracy"], expected.accuracy), "{values}");
    assert!(close(&values["ci_low"], expected.low));
    assert!(close(&values["ci_high"], expected.high));
    assert!(close(&values["labeled_accuracy"], 10.0 / 12.0));
    assert_eq!(values["labeled"], 12);
    assert_eq!(values["unlabeled"], 18);
    // Label next: all eighteen unlabeled tasks (fewer than 40), none with ground truth.
    let next: Vec<i64> = values["label_next"]
        .as_array()
        .map(|l| l.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    assert_eq!(next.len(), 18);
    assert!(next.iter().all(|id| s.tasks[12..].contains(id)));
}

#[tokio::test]
async fn sure_predictions_are_accepted_once_and_never_over_a_persons_annotation() {
    let app = engine_app().await;
    let (s, run, tasks) = seeded_run(&app).await;
    let pairs = pairs(&tasks);
    // By hand: six right answers in a row are the fewest that can show 75% with 80% confidence
    // (0.2^(1/6) ≥ 0.75); the eight from 0.99 down to 0.92 pass, the wrong 0.915 fails (1 of 9).
    let expected = calibration::acceptance(&pairs, 0.75, 0.8).unwrap_or_else(|| panic!("found"));
    assert!((expected.threshold - 0.92).abs() < 1e-9, "{expected:?}");
    assert_eq!((expected.accepted, expected.wrong), (8, 0));
    let (status, preview) = app
        .get(&format!(
            "/api/inference-runs/{run}/acceptance?target=0.75&confidence=0.8"
        ))
        .await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        close(&preview["threshold"], expected.threshold),
        "{preview}"
    );
    assert!(close(
        &preview["guaranteed_accuracy"],
        expected.guaranteed_accuracy
    ));
    let sure: Vec<i64> = s
        .tasks
        .iter()
        .zip(&tasks)
        .filter(|(_, t)| t.p >= expected.threshold)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(preview["accepted"], sure.len());
    // The rest, least sure first: the lowest score (0.5) leads.
    assert_eq!(preview["review"][0], s.tasks[12]);
    // A person annotates one sure unlabeled task first: it is left alone.
    let person = *sure
        .iter()
        .find(|id| s.tasks[12..].contains(id))
        .unwrap_or_else(|| panic!("a sure unlabeled task"));
    let (status, body) = app
        .post(
            &format!("/api/tasks/{person}/annotations/"),
            json!({"result": choice("Negative")}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let labeled_sure = s.tasks[..12].iter().filter(|id| sure.contains(id)).count();
    let body = json!({"target": 0.75, "confidence": 0.8});
    let (status, done) = app
        .post(&format!("/api/inference-runs/{run}/accept"), body.clone())
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["created"], sure.len() - labeled_sure - 1);
    assert_eq!(done["already_annotated"], labeled_sure + 1);
    // Each accepted task now has one annotation made from its prediction, not ground truth.
    for id in sure
        .iter()
        .filter(|id| s.tasks[12..].contains(id) && **id != person)
    {
        let (_, list) = app.get(&format!("/api/tasks/{id}/annotations/")).await;
        let list = list.as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 1, "{list:?}");
        assert!(list[0]["parent_prediction"].is_i64(), "{}", list[0]);
        assert_eq!(list[0]["ground_truth"], false);
    }
    // Again: nothing new.
    let (status, again) = app
        .post(&format!("/api/inference-runs/{run}/accept"), body)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["created"], 0);
    // A target nothing meets: a 400 that says why, and nothing written.
    let (status, refused) = app
        .post(
            &format!("/api/inference-runs/{run}/accept"),
            json!({"target": 0.999, "confidence": 0.99}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["validation_errors"]["target"].is_array(),
        "{refused}"
    );
    for bad in [
        json!({"target": 1.5}),
        json!({"confidence": 0.2}),
        json!({"other": 1}),
    ] {
        let (status, body) = app
            .post(&format!("/api/inference-runs/{run}/accept"), bad)
            .await;
        assert_eq!(status, 400, "{body}");
    }
}

/// 24 tasks the model is 99% sure of, four of them wrong (right 20 times in 24), all labeled, and
/// a completed run over them; the fake LLM is returned to run again.
pub(crate) async fn overconfident_run(app: &TestApp) -> (Setup, i64, prompter::fake_llm::FakeLlm) {
    let llm = fake(FakeLlmConfig::default()).await;
    let texts: Vec<String> = (0..24)
        .map(|i| format!("A great thing number {i} [[confidence=0.99]]"))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(app, &llm, CLS, &refs, "Sentiment? Text: {text}").await;
    for (i, id) in s.tasks.iter().enumerate() {
        ground_truth(
            app,
            *id,
            choice(if i < 20 { "Positive" } else { "Negative" }),
        )
        .await;
    }
    let run = start(app, &s, json!({"project_subset": "All"})).await;
    finished(app, &s, run).await;
    (s, run, llm)
}

#[tokio::test]
async fn a_calibration_map_fitted_on_a_run_applies_to_the_versions_later_scores() {
    let app = engine_app().await;
    let (s, first, _llm) = overconfident_run(&app).await;
    let path = format!(
        "/api/prompts/{}/versions/{}/calibration",
        s.prompt, s.version
    );
    let (status, version) = app
        .post(&path, json!({"run": first, "method": "isotonic"}))
        .await;
    assert_eq!(status, 200, "{version}");
    let calibration = &version["calibration"];
    assert_eq!(calibration["map"]["method"], "isotonic");
    assert_eq!(calibration["run"], first);
    assert_eq!(calibration["labeled"], 24);
    // Before: every score 0.99 against 20/24 right; after, the map sends 0.99 to 20/24.
    assert!(
        close(&calibration["ece_before"], 0.99 - 20.0 / 24.0),
        "{calibration}"
    );
    assert!(close(&calibration["ece_after"], 0.0), "{calibration}");

    let second = start(&app, &s, json!({"project_subset": "All"})).await;
    finished(&app, &s, second).await;
    let (_, list) = app
        .get(&format!("/api/predictions/?project={}", s.project))
        .await;
    let ours: Vec<Value> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["model_run"] == second)
        .collect();
    assert_eq!(ours.len(), 24);
    for p in &ours {
        assert!(close(&p["score"], 20.0 / 24.0), "{p}");
        assert!(close(&p["result"][0]["score"], 20.0 / 24.0), "{p}");
        assert_eq!(p["score_method"], "logprobs");
    }
    // The raw score is kept beside it.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let stored = entity::prediction::Entity::find()
        .filter(entity::prediction::Column::ModelRunId.eq(second))
        .all(&app.db)
        .await
        .expect("predictions");
    assert!(stored.iter().all(|p| {
        p.extra
            .as_ref()
            .and_then(|e| e["raw_score"].as_f64())
            .is_some_and(|r| (r - 0.99).abs() < 1e-9)
    }));

    // The second run replaced the first (same version, same tasks). A map is fitted on the raw
    // scores (0.99, kept beside the calibrated ones): temperature scaling softens them.
    let (status, version) = app
        .post(&path, json!({"run": second, "method": "temperature"}))
        .await;
    assert_eq!(status, 200, "{version}");
    let t = version["calibration"]["map"]["temperature"]
        .as_f64()
        .unwrap_or_default();
    assert!(t > 2.0, "{version}");
    assert!(close(
        &version["calibration"]["ece_before"],
        0.99 - 20.0 / 24.0
    ));
    // Refusals: another version's run, too few labels, an unknown method.
    let other =
        crate::helpers::engine::version(&app, s.prompt, s.connection, "v2", "Again: {text}").await;
    let other_path = format!("/api/prompts/{}/versions/{other}/calibration", s.prompt);
    let (status, body) = app.post(&other_path, json!({"run": second})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["validation_errors"]["run"].is_array(), "{body}");
    let (status, body) = app
        .post(&path, json!({"run": second, "method": "platt"}))
        .await;
    assert_eq!(status, 400, "{body}");
    // Removed: the version shows none.
    let (status, version) = app.delete(&path).await;
    assert_eq!(status, 200, "{version}");
    assert!(version["calibration"].is_null());
}

#[tokio::test]
async fn too_few_labels_fit_no_map() {
    let app = engine_app().await;
    let (s, run, _) = seeded_run(&app).await;
    let (status, body) = app
        .post(
            &format!(
                "/api/prompts/{}/versions/{}/calibration",
                s.prompt, s.version
            ),
            json!({"run": run}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let message = body["validation_errors"]["run"][0]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("12 scored predictions"), "{message}");
}
