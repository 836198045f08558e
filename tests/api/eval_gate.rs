//! `prompter eval`, the regression gate for CI (issue 23, item 3): the real binary against a
//! real server whose engine answers through the fake LLM. A project of 36 ground-truth tasks,
//! half Positive and half Negative by the fake's keyword rule; a good prompt gets every one
//! right, a bad one (whose last `Text:` is `Negative`) answers Negative to all.
use crate::helpers::engine::{engine_app, fake, setup, version};
use crate::helpers::fixtures::{ground_truth, runs_of};
use crate::helpers::{CLS, TestApp, choice};
use prompter::fake_llm::FakeLlmConfig;
use reqwest::Method;
use serde_json::{Value, json};

/// What a run of the gate left: its exit code and outputs.
struct Gate {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Gate {
    /// The `--format json` object.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

/// Runs `prompter eval --url <app> --prompt <prompt> <extra>` with the admin's token.
async fn eval(app: &TestApp, prompt: i64, extra: &[&str]) -> Gate {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_prompter"));
    command
        .args([
            "eval",
            "--url",
            &app.address,
            "--prompt",
            &prompt.to_string(),
        ])
        .args(extra)
        .env("PROMPTER_TOKEN", &app.token)
        .env("RUST_LOG", "warn");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run prompter eval");
    Gate {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The gate's fixture: the project, the prompt and its versions.
struct Versions {
    project: i64,
    prompt: i64,
    /// Every answer right.
    good: i64,
    /// Every answer right, in other words.
    also_good: i64,
    /// Every answer Negative: half wrong.
    bad: i64,
}

/// A project of 36 ground-truth tasks (18 Positive, 18 Negative) and a prompt over it with a
/// good, another good and a bad version.
async fn versions(app: &TestApp, llm: &prompter::fake_llm::FakeLlm) -> Versions {
    let mut texts = vec![];
    for i in 0..18 {
        texts.push((format!("great product number {i}"), "Positive"));
        texts.push((format!("awful product number {i}"), "Negative"));
    }
    let refs: Vec<&str> = texts.iter().map(|(t, _)| t.as_str()).collect();
    let s = setup(
        app,
        llm,
        CLS,
        &refs,
        "Classify the sentiment of the review.\nText: {text}",
    )
    .await;
    for (task, (_, label)) in s.tasks.iter().zip(&texts) {
        ground_truth(app, *task, choice(label)).await;
    }
    let also_good = version(
        app,
        s.prompt,
        s.connection,
        "also-good",
        "Is this review Positive or Negative?\nText: {text}",
    )
    .await;
    let bad = version(
        app,
        s.prompt,
        s.connection,
        "bad",
        "Review: {text}\nExample answer for this Text: Negative",
    )
    .await;
    Versions {
        project: s.project,
        prompt: s.prompt,
        good: s.version,
        also_good,
        bad,
    }
}

/// Points label `name` of the prompt at `version`.
async fn label(app: &TestApp, prompt: i64, name: &str, version: i64) {
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/api/prompts/{prompt}/labels/{name}"),
            Some(&app.token),
            Some(&json!({"version": version})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The ids of every run of the versions, sorted.
async fn run_ids(app: &TestApp, prompt: i64, versions: &[i64]) -> Vec<i64> {
    let mut ids = vec![];
    for v in versions {
        ids.extend(
            runs_of(app, prompt, *v)
                .await
                .iter()
                .filter_map(|r| r["id"].as_i64()),
        );
    }
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn a_significantly_worse_candidate_fails_and_a_second_gate_reuses_the_fresh_runs() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let v = versions(&app, &llm).await;
    label(&app, v.prompt, "production", v.good).await;

    let gate = eval(&app, v.prompt, &["--candidate", &v.bad.to_string()]).await;
    assert_eq!(gate.code, Some(1), "{gate:?}");
    let lines: Vec<&str> = gate.stdout.lines().collect();
    assert!(
        lines[0].starts_with("role") && lines[0].contains("95% interval"),
        "{gate:?}"
    );
    assert!(
        lines[1].starts_with("candidate") && lines[1].contains("bad") && lines[1].contains("new"),
        "{gate:?}"
    );
    assert!(
        lines[1].contains("50.0%") && lines[1].contains("36/36"),
        "{gate:?}"
    );
    assert!(
        lines[2].starts_with("baseline")
            && lines[2].contains("(production)")
            && lines[2].contains("100.0%"),
        "{gate:?}"
    );
    assert!(
        gate.stdout.contains(
            "paired tasks 36: only candidate correct (b) 0, only baseline correct (c) 18"
        ),
        "{gate:?}"
    );
    assert!(gate.stdout.contains("verdict: worse"), "{gate:?}");
    assert!(gate.stdout.contains("FAIL"), "{gate:?}");
    assert!(gate.stderr.contains("started run"), "{gate:?}");
    let runs = run_ids(&app, v.prompt, &[v.good, v.bad]).await;
    assert_eq!(runs.len(), 2, "{runs:?}");

    // Again, as JSON: both runs are fresh, so reused; nothing new runs.
    let again = eval(
        &app,
        v.prompt,
        &[
            "--candidate",
            &v.bad.to_string(),
            "--baseline",
            "production",
            "--project",
            &v.project.to_string(),
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(again.code, Some(1), "{again:?}");
    let report = again.json();
    assert_eq!(report["verdict"], "worse", "{again:?}");
    assert_eq!(report["exit_code"], 1, "{again:?}");
    assert_eq!(report["passed"], false, "{again:?}");
    assert_eq!(report["candidate"]["reused"], true, "{again:?}");
    assert_eq!(report["baseline"]["reused"], true, "{again:?}");
    assert_eq!(report["baseline"]["label"], "production", "{again:?}");
    assert_eq!(report["baseline"]["version"], v.good, "{again:?}");
    assert_eq!(report["candidate"]["correct"], 18, "{again:?}");
    assert_eq!(report["comparison"]["paired_tasks"], 36, "{again:?}");
    assert_eq!(
        report["comparison"]["only_baseline_correct"], 18,
        "{again:?}"
    );
    assert!(
        report["comparison"]["p_value"]
            .as_f64()
            .is_some_and(|p| p < 0.001),
        "{again:?}"
    );
    let ci_high = report["candidate"]["ci_high"].as_f64().unwrap_or(0.0);
    assert!(ci_high > 0.5 && ci_high < 1.0, "{again:?}");
    assert_eq!(
        run_ids(&app, v.prompt, &[v.good, v.bad]).await,
        runs,
        "{again:?}"
    );
    let reused: Vec<i64> = [&report["candidate"]["run"], &report["baseline"]["run"]]
        .iter()
        .filter_map(|r| r.as_i64())
        .collect();
    assert!(reused.iter().all(|r| runs.contains(r)), "{again:?}");

    // A difference within --min-delta passes; --fresh-runs runs both again.
    let lenient = eval(
        &app,
        v.prompt,
        &[
            "--candidate",
            &v.bad.to_string(),
            "--min-delta",
            "0.5",
            "--fresh-runs",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(lenient.code, Some(0), "{lenient:?}");
    let report = lenient.json();
    assert_eq!(report["verdict"], "within min-delta", "{lenient:?}");
    assert_eq!(report["candidate"]["reused"], false, "{lenient:?}");
    assert_eq!(report["baseline"]["reused"], false, "{lenient:?}");
    assert_ne!(
        run_ids(&app, v.prompt, &[v.good, v.bad]).await,
        runs,
        "{lenient:?}"
    );
}

#[tokio::test]
async fn a_better_candidate_passes_and_an_equal_one_passes_unless_better_is_required() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let v = versions(&app, &llm).await;
    label(&app, v.prompt, "production", v.bad).await;
    label(&app, v.prompt, "staging", v.good).await;

    // The candidate named by its label, the baseline by default.
    let better = eval(&app, v.prompt, &["--candidate", "staging"]).await;
    assert_eq!(better.code, Some(0), "{better:?}");
    assert!(better.stdout.contains("verdict: better"), "{better:?}");
    assert!(better.stdout.contains("pass"), "{better:?}");
    let required = eval(
        &app,
        v.prompt,
        &["--candidate", "staging", "--require-better"],
    )
    .await;
    assert_eq!(required.code, Some(0), "{required:?}");

    // As good as the baseline: no significant difference.
    let equal = [
        "--candidate",
        &v.also_good.to_string(),
        "--baseline",
        &v.good.to_string(),
    ];
    let same = eval(&app, v.prompt, &equal).await;
    assert_eq!(same.code, Some(0), "{same:?}");
    assert!(
        same.stdout.contains("verdict: no significant difference"),
        "{same:?}"
    );
    assert!(same.stdout.contains("McNemar p = 1.0000"), "{same:?}");
    let mut strict = equal.to_vec();
    strict.extend(["--require-better", "--format", "json"]);
    let not_better = eval(&app, v.prompt, &strict).await;
    assert_eq!(not_better.code, Some(1), "{not_better:?}");
    let report = not_better.json();
    assert_eq!(
        report["verdict"], "no significant difference",
        "{not_better:?}"
    );
    assert_eq!(report["require_better"], true, "{not_better:?}");
    assert_eq!(report["candidate"]["reused"], true, "{not_better:?}");
    assert_eq!(report["comparison"]["difference"], 0.0, "{not_better:?}");
}

#[tokio::test]
async fn the_gate_exits_2_when_it_cannot_decide() {
    let llm = fake(FakeLlmConfig::default()).await;
    let app = engine_app().await;
    let v = versions(&app, &llm).await;
    let good = v.good.to_string();

    // No production label yet.
    let gate = eval(&app, v.prompt, &["--candidate", &good]).await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(
        gate.stderr
            .contains(&format!("prompt {} has no label \"production\"", v.prompt)),
        "{gate:?}"
    );
    assert!(gate.stdout.is_empty(), "{gate:?}");
    let gate = eval(
        &app,
        v.prompt,
        &["--candidate", "canary", "--baseline", &good],
    )
    .await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("no label \"canary\""), "{gate:?}");
    let gate = eval(
        &app,
        v.prompt,
        &["--candidate", "999999", "--baseline", &good],
    )
    .await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("no version 999999"), "{gate:?}");

    // The same version on both sides.
    label(&app, v.prompt, "production", v.good).await;
    let gate = eval(&app, v.prompt, &["--candidate", &good]).await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("same version"), "{gate:?}");

    // Flags out of range, a missing flag: usage errors.
    for flags in [
        vec!["--candidate", "1", "--alpha", "0.7"],
        vec!["--candidate", "1", "--alpha", "0"],
        vec!["--candidate", "1", "--min-delta", "2"],
        vec!["--baseline", "1"],
    ] {
        let gate = eval(&app, v.prompt, &flags).await;
        assert_eq!(gate.code, Some(2), "{flags:?}: {gate:?}");
    }

    // An unknown prompt; a server that is not there.
    let gate = eval(&app, 999_999, &["--candidate", &good]).await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("prompt 999999 not found"), "{gate:?}");
    let gate = {
        let output = tokio::task::spawn_blocking(|| {
            std::process::Command::new(env!("CARGO_BIN_EXE_prompter"))
                .args(["eval", "--url", "http://127.0.0.1:1", "--token", "t"])
                .args(["--prompt", "1", "--candidate", "2"])
                .output()
        })
        .await
        .expect("join")
        .expect("run prompter eval");
        Gate {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("cannot reach"), "{gate:?}");

    // A prompt without a project and no --project.
    let (status, lone) = app.post("/api/prompts/", json!({"title": "Lone"})).await;
    assert_eq!(status, 201, "{lone}");
    let lone = lone["id"].as_i64().expect("prompt id");
    let gate = eval(&app, lone, &["--candidate", "1", "--baseline", "2"]).await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(gate.stderr.contains("no associated project"), "{gate:?}");

    // A candidate whose run fails (its endpoint refuses every connection).
    let (status, dead) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "Custom", "endpoint": "http://127.0.0.1:1/v1", "api_key": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{dead}");
    let dead = dead["id"].as_i64().expect("connection id");
    let doomed = version(&app, v.prompt, dead, "doomed", "Text: {text}").await;
    let gate = eval(&app, v.prompt, &["--candidate", &doomed.to_string()]).await;
    assert_eq!(gate.code, Some(2), "{gate:?}");
    assert!(
        gate.stderr.contains("the candidate's run") && gate.stderr.contains("ended Failed"),
        "{gate:?}"
    );
    assert!(gate.stdout.is_empty(), "{gate:?}");
}
