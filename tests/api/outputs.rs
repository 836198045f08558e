//! End-to-end tests of the output types through the run engine and the fake LLM: NER spans
//! with repeated words, emoji and CJK (code-point offsets found from the quoted text),
//! HyperTextLabels in Label Studio's XPath format, Pairwise and Taxonomy.
use crate::helpers::engine::{custom_connection, fake};
use crate::helpers::fixtures::{id_of, new_prompt, new_run, run_state};
use crate::helpers::reply::read;
use crate::helpers::{NER, Reply, TestApp};
use entity::enums::RunStatus;
use prompter::config::ServeConfig;
use prompter::fake_llm::FakeLlmConfig;
use prompter::views::predictions::PredictionView;
use prompter::views::runs::RunView;
use prompter::views::versions::VersionView;
use serde_json::{Value, json};

/// A server with one quick in-process worker.
async fn engine_app() -> TestApp {
    TestApp::spawn_with(|c: &mut ServeConfig| {
        c.engine.workers = 1;
        c.engine.concurrency = 8;
        c.engine.poll_ms = 50;
        c.engine.lease_secs = 5;
        c.engine.llm_timeout_secs = 2.0;
        c.engine.llm_backoff_ms = 20;
    })
    .await
}

/// Runs a prompt over `tasks` (data objects) of a project with `config` against the fake LLM
/// and returns each task's prediction `result`, in task order. Results stay raw JSON: the
/// tests check Label Studio's region format, key by key.
async fn run_over(config: &str, tasks: Value, prompt: &str) -> Vec<Value> {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let project = app.project(config).await;
    let ids = app.import(project, tasks).await;
    let prompt_id = id_of(
        &new_prompt(
            &app,
            json!({"title": "Outputs", "associated_projects": [project]}),
        )
        .await,
    );
    let connection = custom_connection(&app, &llm, "fake-key").await;
    let version: VersionView = app
        .post(
            &format!("/api/prompts/{prompt_id}/versions"),
            json!({"title": "v1", "prompt": prompt, "provider_model_id": "gpt-4o-mini",
                   "provider": "Custom", "model_provider_connection": connection}),
        )
        .await
        .created();
    let version = version.id;
    let run = id_of(
        &new_run(
            &app,
            prompt_id,
            version,
            json!({"project": project, "project_subset": "All"}),
        )
        .await,
    );
    app.engine_idle().await;
    let state: RunView = read(run_state(&app, prompt_id, version, run).await);
    assert_eq!(state.status, RunStatus::Completed, "{state:?}");
    assert_eq!(state.total_failed_predictions, 0, "{state:?}");
    let mut out = vec![];
    for id in ids {
        let preds: Vec<PredictionView> = app
            .get(&format!("/api/predictions/?task={id}"))
            .await
            .good();
        let mut mine: Vec<PredictionView> = preds
            .into_iter()
            .filter(|p| p.model_run == Some(run))
            .collect();
        assert_eq!(mine.len(), 1, "{mine:?}");
        out.push(mine.remove(0).result);
    }
    out
}

/// The code points `[start, end)` of a text (Python's `text[start:end]`).
fn cut(text: &str, start: &Value, end: &Value) -> String {
    let (s, e) = (
        start.as_u64().expect("start") as usize,
        end.as_u64().expect("end") as usize,
    );
    text.chars().skip(s).take(e - s).collect()
}

#[tokio::test]
async fn ner_spans_land_on_their_words_with_emoji_cjk_and_repeats() {
    let text = "Zoë 🙂 met Ann in 東京 at Acme. Ann thanked Zoë 👩\u{200d}💻 today.";
    let results = run_over(
        NER,
        json!([{ "text": text }]),
        "Find the people and organisations. Text: {text}",
    )
    .await;
    let regions = results[0].as_array().expect("regions");
    let mut found: Vec<(String, String, u64)> = regions
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "labels");
            assert!(r["value"].get("text").is_none(), "{r}");
            (
                cut(text, &r["value"]["start"], &r["value"]["end"]),
                r["value"]["labels"][0].as_str().expect("label").to_string(),
                r["value"]["start"].as_u64().expect("start"),
            )
        })
        .collect();
    found.sort_by_key(|f| f.2);
    let words: Vec<(&str, &str)> = found
        .iter()
        .map(|(w, l, _)| (w.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        words,
        [
            ("Zoë", "PER"),
            ("Ann", "PER"),
            ("Acme", "ORG"),
            ("Ann", "PER"),
            ("Zoë", "PER"),
        ],
        "{found:?}"
    );
    // The repeated names are distinct occurrences, at code-point offsets (the emoji before
    // them counts one).
    let starts: Vec<u64> = found.iter().map(|f| f.2).collect();
    assert_eq!(starts, [0, 10, 23, 29, 41]);
}

const HYPERTEXT: &str = r#"<View>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="ents" toName="page">
    <Label value="PER"/><Label value="ORG"/>
  </HyperTextLabels>
</View>"#;

#[tokio::test]
async fn hypertext_spans_carry_label_studios_xpath_ranges() {
    let html = "<div><p>John Smith joined <b>Acme Corp</b>.</p>\n<p>🙂 John left.</p></div>";
    let results = run_over(
        HYPERTEXT,
        json!([{ "html": html }]),
        "Find the entities. Text: {html}",
    )
    .await;
    let mut values: Vec<Value> = results[0]
        .as_array()
        .expect("regions")
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "hypertextlabels");
            assert_eq!(r["to_name"], "page");
            r["value"].clone()
        })
        .collect();
    values.sort_by_key(|v| v["globalOffsets"]["start"].as_u64());
    assert_eq!(
        values,
        [
            json!({"start": "/div[1]/p[1]/text()[1]", "startOffset": 0,
                   "end": "/div[1]/p[1]/text()[1]", "endOffset": 10,
                   "globalOffsets": {"start": 0, "end": 10},
                   "text": "John Smith", "hypertextlabels": ["PER"]}),
            json!({"start": "/div[1]/p[1]/b[1]/text()[1]", "startOffset": 0,
                   "end": "/div[1]/p[1]/b[1]/text()[1]", "endOffset": 9,
                   "globalOffsets": {"start": 18, "end": 27},
                   "text": "Acme Corp", "hypertextlabels": ["ORG"]}),
            // After the emoji: 2 code points into the node, 3 UTF-16 units.
            json!({"start": "/div[1]/p[2]/text()[1]", "startOffset": 3,
                   "end": "/div[1]/p[2]/text()[1]", "endOffset": 7,
                   "globalOffsets": {"start": 31, "end": 35},
                   "text": "John", "hypertextlabels": ["PER"]}),
        ]
    );
}

const PAIRWISE_TAXONOMY: &str = r#"<View>
  <Text name="a" value="$a"/>
  <Text name="b" value="$b"/>
  <Pairwise name="better" toName="a,b"/>
  <Taxonomy name="topic" toName="a">
    <Choice value="Online"><Choice value="Paywall"/><Choice value="Free"/></Choice>
    <Choice value="Offline"/>
  </Taxonomy>
</View>"#;

#[tokio::test]
async fn pairwise_and_taxonomy_results() {
    let results = run_over(
        PAIRWISE_TAXONOMY,
        json!([{"a": "A news site behind a paywall", "b": "the right answer"}]),
        "Which is better, and what is the first about? Text: {a} / {b}",
    )
    .await;
    let regions = results[0].as_array().expect("regions");
    let by = |name: &str| {
        regions
            .iter()
            .find(|r| r["from_name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} region in {regions:?}"))
    };
    let pairwise = by("better");
    assert_eq!(pairwise["to_name"], "better");
    assert_eq!(pairwise["type"], "pairwise");
    assert_eq!(pairwise["value"], json!({"selected": "right"}));
    let taxonomy = by("topic");
    assert_eq!(taxonomy["to_name"], "a");
    assert_eq!(taxonomy["type"], "taxonomy");
    // The fake LLM answers the label it reads ("Paywall"); the path is completed from the tree.
    assert_eq!(
        taxonomy["value"],
        json!({"taxonomy": [["Online", "Paywall"]]})
    );
}
