//! Every page of the web app in a real headless Chromium (issue 20): the organization is
//! seeded so that each page has content (two projects, a prompt with two runs with right,
//! wrong and failed tasks, a pipeline version, a refinement, a schedule, comments and registry
//! changes; a prompt on a model without a price; a connection tested, a project linked to
//! Label Studio, a token made; a Reviewer's pages; the sign-in, first-account and not-found
//! pages), and each page is looked at twice:
//!
//! * at a desktop width (1280 px), where axe-core (`PROMPTER_AXE_JS` names its `axe.min.js`;
//!   `.ci/run` installs it from npm) finds no serious or critical accessibility violation;
//! * at a phone's width (390×844), where the page does not scroll sideways as a whole (the
//!   failure names the widest element sticking out), the evaluation chart's text is drawn at
//!   12 px or more, and at both widths no word of a table breaks in the middle.
//!
//! Item 12's layout findings have their own checks: the Label Studio page's link form sits in
//! its row's Actions column, the confusion matrix's column headers sit over their numbers,
//! and a chart of runs without a known price has no cost axis and says so.
//!
//! `PROMPTER_SCREENSHOTS=<dir>` keeps a full-page PNG of each page at each width there
//! (`page-NN-name-desktop.png`, `page-NN-name-phone.png`). Without Chromium the test is
//! skipped, and without axe-core its accessibility half, unless `PROMPTER_REQUIRE_BROWSER=1`.
use crate::helpers::TestApp;
use crate::helpers::browser::Browser;
use crate::helpers::engine::{custom_connection, engine_app, fake};
use crate::helpers::fixtures::{ground_truth, id_of, new_prompt, run_state};
use crate::helpers::web::{PASSWORD, make_reviewer, set_password};
use prompter::fake_llm::FakeLlmConfig;
use prompter::services::accounts;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Four topics: the fake LLM answers the first one (in this order) a text names.
const TOPICS: &str = r#"<View><Text name="text" value="$text"/><Choices name="topic" toName="text"><Choice value="Packaging"/><Choice value="Delivery"/><Choice value="Quality"/><Choice value="Service"/></Choices></View>"#;

/// The main project's tasks and their ground truth (none for the last).
const MESSAGES: [(&str, Option<&str>); 9] = [
    (
        "The packaging was torn and the box arrived crushed after a week in transit",
        Some("Packaging"),
    ),
    (
        "Delivery took three weeks and the courier never rang the bell",
        Some("Delivery"),
    ),
    (
        "The quality of the stitching is poor: the seams came apart after one wash",
        Some("Quality"),
    ),
    (
        "Customer service answered within minutes and replaced the broken charger",
        Some("Service"),
    ),
    (
        "The delivery was quick but the packaging smelled of smoke and was ripped open",
        Some("Delivery"),
    ),
    (
        "This forbidden message trips the provider's content filter every time",
        Some("Quality"),
    ),
    (
        "Internationalization of the manual is incomprehensible and the Packaging instructions \
         contradict themselves; I spent an afternoon on the phone with the helpline, which \
         transferred me four times before anyone could read the serial number correctly",
        Some("Service"),
    ),
    (
        "Outstanding quality overall, although the delivery window was vague",
        Some("Quality"),
    ),
    ("No ground truth for this message about delivery", None),
];

/// A ground-truth result of the `topic` Choices.
fn topic(value: &str) -> Value {
    json!([{"from_name": "topic", "to_name": "text", "type": "choices",
        "value": {"choices": [value]}}])
}

/// Creates a project titled `title` with `config` and returns its id.
async fn project(app: &TestApp, title: &str, config: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/projects/",
            json!({"title": title, "label_config": config}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// A version of `prompt` through `connection` on `model`; returns its id.
async fn version(
    app: &TestApp,
    prompt: i64,
    connection: i64,
    title: &str,
    text: &str,
    model: &str,
) -> i64 {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": title, "prompt": text, "provider_model_id": model,
                "provider": "Custom", "model_provider_connection": connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    id_of(&body)
}

/// Runs `version` of `prompt` on `project`'s tasks with ground truth and waits for the engine.
async fn run(app: &TestApp, prompt: i64, version: i64, project: i64) -> i64 {
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions/{version}/inference-runs"),
            json!({"project": project, "project_subset": "HasGT"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.engine_idle().await;
    id_of(&body)
}

/// A prompt over `project` run as a provider batch (an OpenAI connection to `llm`): its run
/// page shows the batches at the provider. Returns the run.
async fn batch_run(app: &TestApp, llm: &prompter::fake_llm::FakeLlm, project: i64) -> i64 {
    let (status, body) = app
        .post(
            "/api/model-provider-connections/",
            json!({"provider": "OpenAI", "endpoint": llm.base_url(), "api_key": "sk-batch-key"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let connection = id_of(&body);
    let prompt = id_of(
        &new_prompt(
            app,
            json!({"title": "Route messages overnight", "associated_projects": [project]}),
        )
        .await,
    );
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "v1", "prompt": "Which team should handle this? Text: {text}",
                "provider_model_id": "gpt-4o-mini", "provider": "OpenAI",
                "model_provider_connection": connection}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let version = id_of(&body);
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions/{version}/inference-runs"),
            json!({"project": project, "project_subset": "All", "execution": "batch"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.engine_idle().await;
    id_of(&body)
}

/// The page's sideways overflow at its width, if any: how wide it is and the widest element
/// sticking out of the window (outside any region that scrolls by itself), by its path.
const OVERFLOW: &str = r##"
const root = document.documentElement, vw = root.clientWidth;
if (root.scrollWidth <= vw) return null;
// Whether a region that scrolls by itself clips `el`: an ancestor in its chain of containing
// blocks (an absolutely positioned element escapes the static ones) whose overflow is not visible.
const scrolls = (el) => {
  let position = getComputedStyle(el).position;
  for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (position === "fixed") return false;
    if (position === "absolute" && style.position === "static") continue;
    if (!["visible", "clip"].includes(style.overflowX)) return true;
    position = style.position;
  }
  return false;
};
const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
  + (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\s+/).join(".") : "");
const path = (el) => {
  const parts = [];
  for (let e = el; e && e !== document.body; e = e.parentElement) parts.unshift(name(e));
  return parts.join(" > ");
};
let widest = null;
for (const el of document.body.querySelectorAll("*")) {
  const r = el.getBoundingClientRect();
  if (r.right > vw + 0.5 && !scrolls(el) && (!widest || r.width > widest.width)) widest = { el, width: r.width };
}
return "the page is " + root.scrollWidth + " px wide in a " + vw + " px window; the widest element sticking out: "
  + (widest ? path(widest.el) + " (" + Math.round(widest.width) + " px)" : "none found");
"##;

/// Words (runs of letters and digits of at most 20) that a table cell breaks over two lines.
const BROKEN_WORDS: &str = r##"
const broken = [];
for (const cell of document.querySelectorAll("td, th")) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement.closest("pre, title")) continue;
    const re = /[\p{L}\p{N}]+/gu;
    let m;
    while ((m = re.exec(node.data)) !== null) {
      if (m[0].length > 20) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (lines.size > 1) broken.push(m[0] + " (in " + (cell.closest("table").id || "a table") + ")");
    }
  }
}
return broken.slice(0, 10);
"##;

/// The smallest font size of the evaluation chart's text as drawn, in pixels, if there is one.
const CHART_FONT: &str = r##"
const svg = document.querySelector("#versions-chart svg");
if (!svg) return null;
const scale = svg.getScreenCTM().a;
return Math.min(...[...svg.querySelectorAll("text")].map((t) => parseFloat(t.getAttribute("font-size")) * scale));
"##;

/// Runs axe-core (injected before) and answers its violations: rule, impact, help, nodes.
const AXE_RUN: &str = r##"
const done = arguments[arguments.length - 1];
window.axe.run(document, { resultTypes: ["violations"] })
  .then((r) => done(r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + (n.failureSummary ? ": " + n.failureSummary.replace(/\s+/g, " ") : "")),
  }))))
  .catch((e) => done({ error: String(e) }));
"##;

/// What the passes found over all pages.
#[derive(Default)]
struct Findings {
    /// What fails the test, page by page.
    problems: Vec<String>,
    /// axe-core's violations per impact: (rules over all pages, nodes).
    impacts: BTreeMap<String, (usize, usize)>,
    /// How many pages were looked at.
    pages: usize,
}

/// The passes over the pages: the browser, axe-core's source and where screenshots go.
struct Inspector<'a> {
    b: &'a Browser,
    axe: Option<String>,
    shots: Option<std::path::PathBuf>,
    found: Findings,
}

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

impl Inspector<'_> {
    /// Saves a full-page screenshot `page-NN-name-width.png` when screenshots are kept: the
    /// window (or the phone's screen) made as tall as the page, then as it was.
    async fn snap(&self, name: &str, width: &str, phone: bool) {
        let Some(dir) = &self.shots else {
            return;
        };
        let size = if phone { PHONE } else { DESKTOP };
        let height = self
            .b
            .run("return document.documentElement.scrollHeight;")
            .await
            .as_u64()
            .unwrap_or(u64::from(size.1));
        let height = u32::try_from(height).unwrap_or(size.1).clamp(size.1, 8000);
        self.size(phone, (size.0, height)).await;
        let file = dir.join(format!("page-{:02}-{name}-{width}.png", self.found.pages));
        std::fs::write(&file, self.b.screenshot().await).expect("write a screenshot");
        self.size(phone, size).await;
    }

    /// A phone's screen of `size`, or a desktop window of `size`.
    async fn size(&self, phone: bool, size: (u32, u32)) {
        if phone {
            self.b.emulate(Some(size)).await;
        } else {
            self.b.emulate(None).await;
            self.b.resize(size.0, size.1).await;
        }
    }

    /// Looks at the page shown: axe-core and a screenshot at the desktop width, then the
    /// phone-width checks and a screenshot, and back to the desktop width.
    async fn inspect(&mut self, name: &str) {
        self.found.pages += 1;
        let b = self.b;
        let url = b.url().await;
        let here = format!("{name} ({url})");
        self.size(false, DESKTOP).await;
        if let Some(source) = &self.axe {
            let injected = b
                .run(&format!(
                    "{source}\n;return typeof window.axe === 'object';"
                ))
                .await;
            assert_eq!(injected, json!(true), "axe-core did not load on {here}");
            let violations = b.run_async(AXE_RUN, Duration::from_secs(120)).await;
            let Some(violations) = violations.as_array() else {
                panic!("axe-core failed on {here}: {violations}");
            };
            for v in violations {
                let impact = v["impact"].as_str().unwrap_or("none").to_string();
                let nodes: Vec<&str> = v["nodes"]
                    .as_array()
                    .map(|n| n.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let count = self.found.impacts.entry(impact.clone()).or_default();
                count.0 += 1;
                count.1 += nodes.len();
                let line = format!(
                    "{here}: axe-core {} ({impact}): {} on {}",
                    v["id"].as_str().unwrap_or("?"),
                    v["help"].as_str().unwrap_or(""),
                    nodes.join(" | ")
                );
                if matches!(impact.as_str(), "serious" | "critical") {
                    self.found.problems.push(line);
                } else {
                    eprintln!("{line}");
                }
            }
        }
        self.words(&here).await;
        self.snap(name, "desktop", false).await;

        self.size(true, PHONE).await;
        let width = b.run("return document.documentElement.clientWidth;").await;
        assert_eq!(
            width,
            json!(PHONE.0),
            "the page is not a phone's width on {here}"
        );
        let overflow = b.run(OVERFLOW).await;
        if let Some(overflow) = overflow.as_str() {
            self.found
                .problems
                .push(format!("{here} at {} px: {overflow}", PHONE.0));
        }
        if let Some(font) = b.run(CHART_FONT).await.as_f64()
            && font < 11.5
        {
            self.found.problems.push(format!(
                "{here} at {} px: the chart's text is drawn at {font:.1} px",
                PHONE.0
            ));
        }
        self.words(&here).await;
        self.snap(name, "phone", true).await;
        self.size(false, DESKTOP).await;
    }

    /// No word of a table cell is broken over two lines.
    async fn words(&mut self, here: &str) {
        let width = self
            .b
            .run("return document.documentElement.clientWidth;")
            .await;
        let broken = self.b.run(BROKEN_WORDS).await;
        if let Some(words) = broken.as_array().filter(|w| !w.is_empty()) {
            self.found.problems.push(format!(
                "{here} at {width} px: words broken in the middle: {}",
                words
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }

    /// Opens `path` of `app` and looks at it.
    async fn visit(&mut self, app: &TestApp, name: &str, path: &str) {
        self.b.open(&format!("{}{path}", app.address)).await;
        self.b.find("main").await;
        // A page that failed fits a phone too: that is no pass.
        let title = self.b.run("return document.title;").await;
        if title
            .as_str()
            .is_some_and(|t| t.starts_with("Something went wrong"))
        {
            self.found
                .problems
                .push(format!("{name}: {path} answered the error page"));
        }
        self.inspect(name).await;
    }
}

/// axe-core's source from `PROMPTER_AXE_JS`, or `None` (the accessibility half is skipped)
/// unless browsers are required, when a missing one fails.
fn axe_source() -> Option<String> {
    let required = std::env::var("PROMPTER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    match std::env::var("PROMPTER_AXE_JS") {
        Ok(path) if !path.is_empty() => Some(std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("PROMPTER_AXE_JS={path} cannot be read: {e} (.ci/run installs axe-core)")
        })),
        _ => {
            assert!(
                !required,
                "PROMPTER_REQUIRE_BROWSER=1 but PROMPTER_AXE_JS does not name axe-core's \
                 axe.min.js (.ci/run installs it: npm install --prefix .ci axe-core)"
            );
            eprintln!("skipping the accessibility check: PROMPTER_AXE_JS is not set");
            None
        }
    }
}

#[tokio::test]
async fn every_page_fits_a_phone_and_has_no_serious_accessibility_violation() {
    let app = engine_app().await;
    // The main connection's provider refuses one message; the teacher's refuses nothing.
    let llm = fake(FakeLlmConfig {
        content_filter: vec!["forbidden".into()],
        ..Default::default()
    })
    .await;
    let teacher_llm = fake(FakeLlmConfig::default()).await;
    set_password(&app, "admin@example.com").await;
    make_reviewer(&app).await;
    let Some(b) = Browser::start().await else {
        return;
    };
    let axe = axe_source();
    let shots = std::env::var_os("PROMPTER_SCREENSHOTS").map(std::path::PathBuf::from);
    if let Some(dir) = &shots {
        std::fs::create_dir_all(dir).expect("screenshot folder");
    }

    // The main project: four topics, messages long and short, ground truth on all but one.
    let main = project(&app, "Customer messages, spring", TOPICS).await;
    let data: Vec<Value> = MESSAGES.iter().map(|(t, _)| json!({"text": t})).collect();
    let tasks = app.import(main, Value::Array(data)).await;
    for (task, (_, truth)) in tasks.iter().zip(MESSAGES) {
        if let Some(truth) = truth {
            ground_truth(&app, *task, topic(truth)).await;
        }
    }
    let connection = custom_connection(&app, &llm, "sk-main-key").await;
    let teacher = custom_connection(&app, &teacher_llm, "sk-teacher-key").await;
    let prompt = id_of(
        &new_prompt(
            &app,
            json!({"title": "Route customer messages to the right team",
                "associated_projects": [main]}),
        )
        .await,
    );
    let v1 = version(
        &app,
        prompt,
        connection,
        "v1",
        "Which team should handle this customer message? Text: {text}",
        "gpt-4o-mini",
    )
    .await;
    // v2 reads "Quality" after each message: it calls the service message Quality.
    let v2 = version(
        &app,
        prompt,
        connection,
        "v2 quality first",
        "Route this message to a team. Text: {text} (Quality comes first.)",
        "gpt-4o-mini",
    )
    .await;
    let run1 = run(&app, prompt, v1, main).await;
    run(&app, prompt, v2, main).await;
    let batch_run = batch_run(&app, &llm, main).await;
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/versions"),
            json!({"title": "two steps", "provider": "Custom", "provider_model_id": "gpt-4o-mini",
            "model_provider_connection": connection, "max_few_shot_examples": 2,
            "model_params": {"temperature": 0.2, "seed": 7, "reasoning_effort": "low",
                "extra": {"presence_penalty": 0.5}},
            "steps": [
                {"name": "summarize", "prompt": "Summarize this message in one line: {text}",
                 "output_fields": ["summary"], "model_provider_connection": teacher,
                 "provider_model_id": "gpt-4o", "model_params": {"temperature": 0.5,
                 "extra": {"stop": ["END"]}}},
                {"name": "route", "prompt": "Route this summary: {summarize.summary}"}
            ]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let pipeline = id_of(&body);
    let (status, body) = app
        .post(
            &format!("/api/prompts/{prompt}/schedules"),
            json!({"cron": "30 6 * * mon-fri", "timezone": "Europe/Berlin", "project": main}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    for text in [
        "v2 calls every service message a quality problem; keep v1 deployed for now.",
        "Looks right.",
    ] {
        let (status, body) = app
            .post(
                &format!("/api/prompts/{prompt}/comments"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = app
        .patch(
            &format!("/api/prompts/{prompt}/"),
            json!({"status": "deployed", "deployed_version": v1, "reason": "the better of two",
                "tags": ["support", "routing", "customer-care"], "domain": "Customer care"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A second project with a prompt on a model that has no price.
    let inbox = project(&app, "Support inbox", TOPICS).await;
    let inbox_tasks = app
        .import(
            inbox,
            json!([{"text": "The delivery came a day late"}, {"text": "Great quality"}]),
        )
        .await;
    for (task, truth) in inbox_tasks.iter().zip(["Delivery", "Quality"]) {
        ground_truth(&app, *task, topic(truth)).await;
    }
    let house = id_of(
        &new_prompt(
            &app,
            json!({"title": "House model triage", "associated_projects": [inbox]}),
        )
        .await,
    );
    let unpriced = version(
        &app,
        house,
        connection,
        "house v1",
        "Route: Text: {text}",
        "house-model",
    )
    .await;
    run(&app, house, unpriced, inbox).await;
    let state = run_state(&app, prompt, v1, run1).await;
    assert_eq!(state["status"], "Completed", "{state}");
    // A Label Studio (a second server, which speaks its API) for the link.
    let ls = TestApp::spawn().await;
    let ls_token = accounts::create_token(&ls.db, "admin@example.com")
        .await
        .expect("token");
    let ls_project = project(&ls, "Customer messages in Label Studio", TOPICS).await;
    ls.import(ls_project, json!([{"text": "A message from Label Studio"}]))
        .await;

    // An optimization that found a better version (issue 23).
    let opt = crate::optimize::seeded(&app, &llm, crate::optimize::WEAK).await;
    let optimization = crate::optimize::start(&app, &opt, json!({"max_cost": 1.0})).await;
    crate::optimize::ended(&app, &opt, optimization.id).await;

    let mut pages = Inspector {
        b: &b,
        axe,
        shots,
        found: Findings::default(),
    };
    let url = |path: &str| format!("{}{path}", app.address);

    // Signed out: the sign-in page, and the first-account page of an installation without one.
    b.resize(DESKTOP.0, DESKTOP.1).await;
    pages.visit(&app, "sign-in", "/login").await;
    {
        let fresh = TestApp::spawn().await;
        use sea_orm::ConnectionTrait;
        fresh
            .db
            .execute_unprepared("DELETE FROM users")
            .await
            .expect("empty the users");
        pages.visit(&fresh, "first-account", "/setup").await;
    }
    b.open(&url("/login")).await;
    b.fill("#email", "admin@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;

    // The refinement, from its page.
    b.open(&url(&format!("/prompts/{prompt}/refine?version={v1}")))
        .await;
    b.select("#teacher-connection", &teacher.to_string()).await;
    b.click("#start-refine").await;
    b.find("#prompt-diff").await;
    let refined = b.url().await;
    let refined = refined.trim_start_matches(&app.address).to_string();

    let paths = [
        ("prompts", "/prompts".to_string()),
        ("projects", "/projects".into()),
        ("project", format!("/projects/{main}")),
        (
            "prompt-estimate",
            format!("/prompts/{prompt}?version={v1}&estimate=1"),
        ),
        ("prompt-new-version", format!("/prompts/{prompt}?new=1")),
        (
            "prompt-pipeline",
            format!("/prompts/{prompt}?version={pipeline}"),
        ),
        (
            "prompt-unpriced-estimate",
            format!("/prompts/{house}?version={unpriced}&estimate=1"),
        ),
        ("run", format!("/runs/{run1}")),
        ("run-batch", format!("/runs/{batch_run}")),
        ("run-failed", format!("/runs/{run1}?outcome=failed")),
        (
            "run-unsure",
            format!("/runs/{run1}?order=unsure&score=below-90"),
        ),
        ("trust", format!("/runs/{run1}/trust")),
        ("task", format!("/runs/{run1}/tasks/{}", tasks[0])),
        ("task-failed", format!("/runs/{run1}/tasks/{}", tasks[5])),
        ("evaluation", format!("/prompts/{prompt}/evaluation")),
        (
            "evaluation-unpriced",
            format!("/prompts/{house}/evaluation"),
        ),
        (
            "compare",
            format!("/prompts/{prompt}/compare?a={v1}&b={v2}"),
        ),
        ("refine", refined),
        (
            "optimize",
            format!("/prompts/{}/optimize?version={}", opt.prompt, opt.version),
        ),
        (
            "optimization",
            format!("/prompts/{}/optimizations/{}", opt.prompt, optimization.id),
        ),
        ("not-found", "/prompts/999999".into()),
    ];
    for (name, path) in &paths {
        pages.visit(&app, name, path).await;
    }

    // The chart of a prompt whose runs have no price: no cost axis, and it says so.
    b.open(&url(&format!("/prompts/{house}/evaluation"))).await;
    let chart = b.text("#versions-chart").await;
    let dollars = b
        .run("return [...document.querySelectorAll('#versions-chart svg text')].filter((t) => t.textContent.includes('$')).length;")
        .await;
    if !chart.contains("Cost is not known") || dollars != json!(0) {
        pages.found.problems.push(format!(
            "evaluation-unpriced: a chart without a price has {dollars} cost labels and reads {chart:?}"
        ));
    }
    // The confusion matrix's column headers sit over their numbers.
    b.open(&url(&format!("/prompts/{prompt}/evaluation?run={run1}")))
        .await;
    let misaligned = b
        .run(
            r#"
const right = (cell) => { const r = document.createRange(); r.selectNodeContents(cell);
  return Math.max(...[...r.getClientRects()].map((x) => x.right)); };
const t = document.getElementById("confusion"), heads = t.tHead.rows[0].cells, out = [];
for (let j = 1; j < heads.length; j++) for (const row of t.tBodies[0].rows)
  if (Math.abs(right(heads[j]) - right(row.cells[j])) > 2) out.push(heads[j].textContent);
return out;"#,
        )
        .await;
    if misaligned != json!([]) {
        pages.found.problems.push(format!(
            "evaluation: confusion-matrix headers off their numbers: {misaligned}"
        ));
    }

    // A connection tested: the page with the probe's answer.
    b.open(&url("/connections")).await;
    b.click(&format!("#connection-{teacher} .test-connection"))
        .await;
    b.wait_text("#probe-result", |t| !t.is_empty()).await;
    pages.inspect("connections-tested").await;

    // Label Studio: an unlinked project's link form sits in its row's Actions column; the main
    // project is linked through it and synced.
    b.open(&url("/label-studio")).await;
    let placed = b
        .run(&format!(
            r##"
const form = document.querySelector("form[action='/projects/{main}/label-studio']");
const cell = form && form.closest("td"), row = cell && cell.closest("tr");
const heads = [...document.querySelectorAll("#links thead th")].map((h) => h.textContent);
return row ? [heads[[...row.cells].indexOf(cell)], [...row.cells].length, heads.length] : null;"##
        ))
        .await;
    if placed != json!(["Actions", 4, 4]) {
        pages.found.problems.push(format!(
            "label-studio: the link form is not in its row's Actions column ([header, cells, \
             headers]: {placed})"
        ));
    }
    b.fill(&format!("#ls-url-{main}"), &ls.address).await;
    b.fill(&format!("#ls-token-{main}"), &ls_token).await;
    b.fill(&format!("#ls-project-{main}"), &ls_project.to_string())
        .await;
    b.click(&format!(
        "form[action='/projects/{main}/label-studio'] button[type=submit]"
    ))
    .await;
    let linked = b
        .wait_text("main", |t| t.contains("sync") || t.contains("did not work"))
        .await;
    assert!(!linked.contains("did not work"), "{linked}");
    b.click(&format!(
        "form[action='/projects/{main}/label-studio/sync'] button"
    ))
    .await;
    b.wait_text("#links", |t| t.contains("sync:")).await;
    app.engine_idle().await;
    pages.visit(&app, "label-studio", "/label-studio").await;
    pages.visit(&app, "jobs", "/jobs").await;

    // Webhooks: the list with one endpoint, and its page with a delivery in its log.
    let receiver = crate::helpers::receiver::Receiver::start(|_, _| {
        crate::helpers::receiver::Answer::Status(200)
    })
    .await;
    let (status, hook) = app
        .post(
            "/api/webhooks/",
            json!({"url": receiver.url, "secret": "browser-test-secret-0123", "description": "CI"}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    let hook = id_of(&hook);
    app.send(
        reqwest::Method::POST,
        &format!("/api/webhooks/{hook}/test"),
        Some(&app.token),
        None,
    )
    .await;
    pages.visit(&app, "webhooks", "/webhooks").await;
    pages
        .visit(&app, "webhook", &format!("/webhooks/{hook}"))
        .await;

    // A token made on the profile.
    b.open(&url("/profile")).await;
    b.click("#rotate-token").await;
    b.find("#new-token").await;
    pages.inspect("profile-new-token").await;

    // A Reviewer's pages: nothing to change.
    b.click("#sign-out").await;
    b.wait_url(|u| u.contains("/login")).await;
    b.fill("#email", "reviewer@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;
    pages
        .visit(&app, "reviewer-prompt", &format!("/prompts/{prompt}"))
        .await;
    pages
        .visit(&app, "reviewer-project", &format!("/projects/{main}"))
        .await;
    pages
        .visit(&app, "reviewer-label-studio", "/label-studio")
        .await;

    let found = pages.found;
    let impacts: Vec<String> = ["critical", "serious", "moderate", "minor"]
        .iter()
        .map(|i| {
            let (rules, nodes) = found.impacts.get(*i).copied().unwrap_or_default();
            format!("{i} {rules} ({nodes} nodes)")
        })
        .collect();
    eprintln!(
        "{} pages; axe-core violations by impact: {}",
        found.pages,
        impacts.join(", ")
    );
    assert!(
        found.problems.is_empty(),
        "{} problems on {} pages:\n{}",
        found.problems.len(),
        found.pages,
        found.problems.join("\n")
    );
}
