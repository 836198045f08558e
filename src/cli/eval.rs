//! `prompter eval`: a regression gate for CI. Compares a candidate version of a prompt with a
//! baseline (by default the version the `production` label points at) on a project's
//! ground-truth tasks, through a Prompter server's API: it reuses a fresh completed run of
//! each version or starts one (subset `HasGT`) and follows it, then prints each version's
//! accuracy with its 95% Wilson interval and cost, and McNemar's test on the paired tasks, all
//! as the server computes them. The exit code is the verdict: 0 passes, 1 fails (the candidate
//! is significantly worse, or with `--require-better` not significantly better), 2 when the
//! gate cannot decide (a usage or API error, a run that failed), 130 after Ctrl-C (the runs it
//! started are canceled).
use super::ls::{Api, ServerArgs, refusal};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

mod print;

/// The exit code of a gate that passes.
pub const EXIT_PASS: i32 = 0;
/// The exit code of a gate that fails: the candidate is worse (or not better, as asked).
pub const EXIT_FAIL: i32 = 1;
/// The exit code when the gate cannot decide: a usage or API error, a run that failed.
pub const EXIT_ERROR: i32 = 2;
/// The exit code after Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

/// How the result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A plain-text table.
    Table,
    /// One JSON object.
    Json,
}

/// Arguments of `prompter eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The prompt id.
    #[arg(long)]
    pub prompt: i64,
    /// The version to judge: a version id, or the name of a deployment label of the prompt
    /// (`label:NAME` for a label whose name is all digits).
    #[arg(long)]
    pub candidate: String,
    /// The version to compare with: a version id or a label name.
    #[arg(long, default_value = "production")]
    pub baseline: String,
    /// The project whose ground truth scores both (default: the prompt's first associated
    /// project).
    #[arg(long)]
    pub project: Option<i64>,
    /// The significance level of McNemar's test, in (0, 0.5].
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// The smallest accuracy difference (a fraction, 0 to 1) that counts: a candidate worse by
    /// no more than this passes.
    #[arg(long, default_value_t = 0.0, value_parser = parse_min_delta)]
    pub min_delta: f64,
    /// Fail unless the candidate is significantly better than the baseline by more than
    /// `--min-delta`.
    #[arg(long)]
    pub require_better: bool,
    /// Start new runs of both versions even when fresh ones exist.
    #[arg(long)]
    pub fresh_runs: bool,
    /// The output: a plain-text table or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Table, ignore_case = true)]
    pub format: Format,
}

/// Reads `--alpha`: a number in (0, 0.5].
fn parse_alpha(raw: &str) -> Result<f64, String> {
    let alpha: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("\"{raw}\" is not a number"))?;
    if alpha > 0.0 && alpha <= 0.5 {
        Ok(alpha)
    } else {
        Err(format!("{alpha} is not in (0, 0.5]"))
    }
}

/// Reads `--min-delta`: a number in [0, 1].
fn parse_min_delta(raw: &str) -> Result<f64, String> {
    let delta: f64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("\"{raw}\" is not a number"))?;
    if (0.0..=1.0).contains(&delta) {
        Ok(delta)
    } else {
        Err(format!("{delta} is not in [0, 1]"))
    }
}

/// What the comparison says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Significantly better, by more than the minimum difference.
    Better,
    /// Significantly worse, by more than the minimum difference.
    Worse,
    /// A significant difference no larger than the minimum difference.
    WithinMinDelta,
    /// No significant difference.
    NoSignificantDifference,
}

impl Verdict {
    /// The verdict of McNemar's `p_value` and the accuracy `difference` (candidate − baseline
    /// on the paired tasks) at level `alpha` with the minimum difference `min_delta`.
    pub fn of(p_value: f64, difference: f64, alpha: f64, min_delta: f64) -> Verdict {
        if p_value >= alpha {
            Verdict::NoSignificantDifference
        } else if difference < 0.0 && -difference > min_delta {
            Verdict::Worse
        } else if difference > min_delta {
            Verdict::Better
        } else {
            Verdict::WithinMinDelta
        }
    }

    /// Its name in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinMinDelta => "within min-delta",
            Verdict::NoSignificantDifference => "no significant difference",
        }
    }

    /// The exit code of the gate: [`EXIT_FAIL`] when worse, or when `require_better` and not
    /// better; [`EXIT_PASS`] otherwise.
    pub fn exit_code(self, require_better: bool) -> i32 {
        match self {
            Verdict::Worse => EXIT_FAIL,
            Verdict::Better => EXIT_PASS,
            _ if require_better => EXIT_FAIL,
            _ => EXIT_PASS,
        }
    }
}

/// Why the gate did not decide.
enum Stop {
    /// A usage or API error, or a run that did not complete.
    Error(String),
    /// Ctrl-C.
    Interrupted,
}

impl From<String> for Stop {
    fn from(message: String) -> Self {
        Stop::Error(message)
    }
}

impl From<&str> for Stop {
    fn from(message: &str) -> Self {
        Stop::Error(message.to_string())
    }
}

/// Runs the gate; returns the exit code (see the module documentation).
pub async fn run(args: EvalArgs) -> i32 {
    let interrupted = Arc::new(Notify::new());
    tokio::spawn(watch_ctrl_c(interrupted.clone()));
    match gate(&args, interrupted).await {
        Ok(report) => {
            match args.format {
                Format::Table => print!("{}", report.table()),
                Format::Json => match serde_json::to_string_pretty(&report.json()) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return EXIT_ERROR;
                    }
                },
            }
            report.exit_code()
        }
        Err(Stop::Error(message)) => {
            eprintln!("error: {message}");
            EXIT_ERROR
        }
        Err(Stop::Interrupted) => EXIT_INTERRUPTED,
    }
}

/// Wakes `interrupted` on the first Ctrl-C; the second one exits at once.
async fn watch_ctrl_c(interrupted: Arc<Notify>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.notify_one();
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("interrupted again: exiting without waiting for the cancel");
        std::process::exit(EXIT_INTERRUPTED);
    }
}

/// A version of the prompt, as named on the command line.
struct Version {
    /// Version id.
    id: i64,
    /// Its title.
    title: String,
    /// The label it was named by, if any.
    label: Option<String>,
    /// When it was last changed: older runs are not fresh.
    updated_at: Option<DateTime<Utc>>,
}

/// One side of the comparison once its run is done.
struct Side {
    role: &'static str,
    version: Version,
    run: i64,
    reused: bool,
    /// The run's `ground_truth_accuracy` values.
    accuracy: Value,
    /// The run's cost in USD; `None` when its model has no known price.
    cost_usd: Option<f64>,
}

/// Everything the gate prints.
struct Report {
    prompt: i64,
    project: i64,
    alpha: f64,
    min_delta: f64,
    require_better: bool,
    candidate: Side,
    baseline: Side,
    /// The `version_comparison` entry of the candidate's run against the baseline's.
    comparison: Value,
    verdict: Verdict,
}

/// GET `path`; a refusal is an error naming what the server said.
async fn get(api: &Api, path: &str) -> Result<Value, String> {
    let (status, body) = api.send(Method::GET, path, None).await?;
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(refusal(status, &body))
    }
}

/// The run list of a version on a project.
fn runs_path(prompt: i64, version: i64) -> String {
    format!("/api/prompts/{prompt}/versions/{version}/inference-runs")
}

async fn gate(args: &EvalArgs, interrupted: Arc<Notify>) -> Result<Report, Stop> {
    let api = Api::new(&args.server);
    let prompt = args.prompt;
    let (status, found) = api
        .send(Method::GET, &format!("/api/prompts/{prompt}/"), None)
        .await?;
    if status == 404 {
        return Err(format!("prompt {prompt} not found").into());
    }
    if !(200..300).contains(&status) {
        return Err(refusal(status, &found).into());
    }
    let project = match args.project {
        Some(p) => p,
        None => found["associated_projects"]
            .as_array()
            .and_then(|projects| projects.first())
            .and_then(|p| p["id"].as_i64().or_else(|| p.as_i64()))
            .ok_or_else(|| {
                format!("prompt {prompt} has no associated project: name one with --project")
            })?,
    };
    let candidate = resolve(&api, prompt, &args.candidate).await?;
    let baseline = resolve(&api, prompt, &args.baseline).await?;
    if candidate.id == baseline.id {
        return Err(format!(
            "the candidate ({}) and the baseline ({}) are the same version {}: nothing to compare",
            args.candidate, args.baseline, candidate.id
        )
        .into());
    }
    let subsets = get(&api, &format!("/api/projects/{project}/subsets")).await?;
    let gt_tasks = subsets
        .as_array()
        .and_then(|list| list.iter().find(|s| s["subset"] == "HasGT"))
        .and_then(|s| s["count"].as_u64())
        .ok_or("the server answered no HasGT subset count")?;
    if gt_tasks == 0 {
        return Err(format!(
            "project {project} has no ground-truth tasks: the gate has nothing to score against"
        )
        .into());
    }

    let mut runs = vec![];
    for (role, version) in [("candidate", &candidate), ("baseline", &baseline)] {
        let fresh = if args.fresh_runs {
            None
        } else {
            fresh_run(&api, prompt, project, version, gt_tasks).await?
        };
        let (run, reused) = match fresh {
            Some(run) => {
                eprintln!(
                    "{role} {}: reusing run {run}, fresh on all {gt_tasks} ground-truth tasks",
                    version.describe()
                );
                (run, true)
            }
            None => {
                let run = start_run(&api, prompt, project, version).await?;
                eprintln!(
                    "{role} {}: started run {run} on the {gt_tasks} ground-truth tasks of project {project}",
                    version.describe()
                );
                (run, false)
            }
        };
        runs.push((role, version.id, run, reused));
    }
    let started: Vec<(&'static str, i64, i64)> = runs
        .iter()
        .filter(|(_, _, _, reused)| !reused)
        .map(|&(role, version, run, _)| (role, version, run))
        .collect();
    let ended = tokio::select! {
        r = follow(&api, prompt, project, &started) => r,
        _ = interrupted.notified() => {
            cancel(&api, prompt, &started).await;
            return Err(Stop::Interrupted);
        }
    }?;

    let mut sides = vec![];
    for ((role, _, run, reused), version) in runs.into_iter().zip([candidate, baseline]) {
        let accuracy = get(
            &api,
            &format!("/api/inference-runs/{run}/indicators/ground_truth_accuracy"),
        )
        .await?["values"]
            .clone();
        let cost_usd = match ended.iter().find(|r| r["id"].as_i64() == Some(run)) {
            Some(state) => state["total_cost_usd"].as_f64(),
            None => {
                run_state(&api, prompt, project, version.id, run).await?["total_cost_usd"].as_f64()
            }
        };
        sides.push(Side {
            role,
            version,
            run,
            reused,
            accuracy,
            cost_usd,
        });
    }
    let (Some(baseline), Some(candidate)) = (sides.pop(), sides.pop()) else {
        return Err("two runs were expected".into());
    };
    let comparison = get(
        &api,
        &format!(
            "/api/inference-runs/{}/indicators/version_comparison?compare_to={}",
            candidate.run, baseline.run
        ),
    )
    .await?["values"]["comparisons"]
        .as_array()
        .and_then(|list| list.first().cloned())
        .ok_or("the server answered no version comparison")?;
    let paired = comparison["paired_tasks"].as_u64().unwrap_or(0);
    let (Some(p_value), Some(difference)) = (
        comparison["p_value"].as_f64(),
        comparison["difference"].as_f64(),
    ) else {
        return Err(format!(
            "runs {} and {} share no scored ground-truth task ({paired} paired): nothing to compare",
            candidate.run, baseline.run
        )
        .into());
    };
    if paired == 0 {
        return Err(format!(
            "runs {} and {} share no scored ground-truth task: nothing to compare",
            candidate.run, baseline.run
        )
        .into());
    }
    Ok(Report {
        prompt,
        project,
        alpha: args.alpha,
        min_delta: args.min_delta,
        require_better: args.require_better,
        verdict: Verdict::of(p_value, difference, args.alpha, args.min_delta),
        candidate,
        baseline,
        comparison,
    })
}

impl Version {
    /// `version 12 "v2"`, or `version 12 "v2" (label production)`.
    fn describe(&self) -> String {
        match &self.label {
            Some(label) => format!("version {} \"{}\" (label {label})", self.id, self.title),
            None => format!("version {} \"{}\"", self.id, self.title),
        }
    }
}

/// Reads a version named by id or by label: all digits is an id, `label:NAME` or any other
/// name a label.
async fn resolve(api: &Api, prompt: i64, reference: &str) -> Result<Version, String> {
    let reference = reference.trim();
    let (path, label) = match reference.parse::<i64>() {
        Ok(id) => (format!("/api/prompts/{prompt}/versions/{id}"), None),
        Err(_) => {
            let name = reference.strip_prefix("label:").unwrap_or(reference);
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "\"{reference}\" is neither a version id nor a label name (lowercase letters, \
                     digits, '-', '_' and '.')"
                ));
            }
            (
                format!("/api/prompts/{prompt}/labels/{name}/version"),
                Some(name.to_string()),
            )
        }
    };
    let (status, body) = api.send(Method::GET, &path, None).await?;
    if status == 404 {
        return Err(match &label {
            Some(name) => format!("prompt {prompt} has no label \"{name}\""),
            None => format!("prompt {prompt} has no version {reference}"),
        });
    }
    if !(200..300).contains(&status) {
        return Err(refusal(status, &body));
    }
    Ok(Version {
        id: body["id"]
            .as_i64()
            .ok_or_else(|| format!("the server answered no version id for {reference}"))?,
        title: body["title"].as_str().unwrap_or_default().to_string(),
        label,
        updated_at: timestamp(&body["updated_at"]),
    })
}

/// A timestamp of the API.
fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().and_then(|s| s.parse().ok())
}

/// The newest of the version's runs on the project that is fresh: `Completed`, created since
/// the version last changed, and scored on as many ground-truth tasks as the project has now,
/// each answered. Looks at the five newest completed runs at most.
async fn fresh_run(
    api: &Api,
    prompt: i64,
    project: i64,
    version: &Version,
    gt_tasks: u64,
) -> Result<Option<i64>, String> {
    let runs = get(
        api,
        &format!(
            "{}?project={project}&ordering=-created_at",
            runs_path(prompt, version.id)
        ),
    )
    .await?;
    let completed = runs
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|r| r["status"] == "Completed")
                .filter(
                    |r| match (timestamp(&r["created_at"]), version.updated_at) {
                        (Some(created), Some(changed)) => created >= changed,
                        _ => false,
                    },
                )
                .filter_map(|r| r["id"].as_i64())
                .take(5)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for run in completed {
        let values = get(
            api,
            &format!("/api/inference-runs/{run}/indicators/ground_truth_accuracy"),
        )
        .await?["values"]
            .clone();
        if values["ground_truth_tasks"].as_u64() == Some(gt_tasks)
            && values["unanswered"].as_u64() == Some(0)
        {
            return Ok(Some(run));
        }
    }
    Ok(None)
}

/// Starts a `HasGT` run of the version on the project; returns its id.
async fn start_run(api: &Api, prompt: i64, project: i64, version: &Version) -> Result<i64, String> {
    let body = json!({"project": project, "project_subset": "HasGT"});
    let (status, run) = api
        .send(Method::POST, &runs_path(prompt, version.id), Some(body))
        .await?;
    if !(200..300).contains(&status) {
        return Err(format!(
            "starting a run of {}: {}",
            version.describe(),
            refusal(status, &run)
        ));
    }
    run["id"]
        .as_i64()
        .ok_or_else(|| "the server answered no run id".to_string())
}

/// The run `run` of a version as the run list shows it.
async fn run_state(
    api: &Api,
    prompt: i64,
    project: i64,
    version: i64,
    run: i64,
) -> Result<Value, String> {
    get(
        api,
        &format!("{}?project={project}", runs_path(prompt, version)),
    )
    .await?
    .as_array()
    .and_then(|list| list.iter().find(|r| r["id"].as_i64() == Some(run)).cloned())
    .ok_or_else(|| format!("run {run} is gone (replaced or deleted)"))
}

/// Polls the started runs (role, version, run) until each ends; a progress line on stderr
/// when one moves (at most every two seconds a run) and when it ends. Returns their final
/// states; a run that does not complete is an error with its reason.
async fn follow(
    api: &Api,
    prompt: i64,
    project: i64,
    started: &[(&'static str, i64, i64)],
) -> Result<Vec<Value>, String> {
    let mut ended: Vec<Option<Value>> = vec![None; started.len()];
    let mut shown: Vec<Option<(String, u64, Instant)>> = vec![None; started.len()];
    while ended.iter().any(Option::is_none) {
        for (i, &(role, version, run)) in started.iter().enumerate() {
            if ended[i].is_some() {
                continue;
            }
            let state = run_state(api, prompt, project, version, run).await?;
            let status = state["status"].as_str().unwrap_or("?").to_string();
            let done = state["total_predictions"].as_u64().unwrap_or(0)
                + state["total_failed_predictions"].as_u64().unwrap_or(0);
            let over = !matches!(status.as_str(), "Pending" | "InProgress");
            let moved = shown[i].as_ref().is_none_or(|(s, d, at)| {
                (*s != status || *d != done) && at.elapsed() >= Duration::from_secs(2)
            });
            if moved || over {
                eprintln!(
                    "{role} run {run}: {status}, {done}/{} tasks, {} failed",
                    state["total_tasks"].as_u64().unwrap_or(0),
                    state["total_failed_predictions"].as_u64().unwrap_or(0)
                );
                shown[i] = Some((status.clone(), done, Instant::now()));
            }
            if over {
                if status != "Completed" {
                    let why = state["error_message"]
                        .as_str()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    return Err(format!("the {role}'s run {run} ended {status}{why}"));
                }
                ended[i] = Some(state);
            }
        }
        if ended.iter().any(Option::is_none) {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(ended.into_iter().flatten().collect())
}

/// Cancels the started runs after a Ctrl-C (a finished run keeps its status).
async fn cancel(api: &Api, prompt: i64, started: &[(&'static str, i64, i64)]) {
    for &(role, version, run) in started {
        let path = format!("{}/{run}/cancel", runs_path(prompt, version));
        match api.send(Method::POST, &path, Some(json!({}))).await {
            Ok((status, _)) if (200..300).contains(&status) => {
                eprintln!("{role} run {run} canceled; its predictions so far are kept");
            }
            Ok((status, body)) => {
                eprintln!("could not cancel run {run}: {}", refusal(status, &body));
            }
            Err(e) => eprintln!("could not cancel run {run}: {e}"),
        }
    }
}

/// `87.5%`, or `-` without a value.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_and_its_exit_code() {
        let v = |p, d, delta| Verdict::of(p, d, 0.05, delta);
        assert_eq!(v(0.001, -0.2, 0.0), Verdict::Worse);
        assert_eq!(v(0.001, -0.2, 0.2), Verdict::WithinMinDelta);
        assert_eq!(v(0.001, -0.2, 0.1), Verdict::Worse);
        assert_eq!(v(0.001, 0.2, 0.0), Verdict::Better);
        assert_eq!(v(0.001, 0.2, 0.3), Verdict::WithinMinDelta);
        assert_eq!(v(0.05, -0.5, 0.0), Verdict::NoSignificantDifference);
        assert_eq!(v(1.0, 0.0, 0.0), Verdict::NoSignificantDifference);
        assert_eq!(Verdict::Worse.exit_code(false), EXIT_FAIL);
        assert_eq!(Verdict::Worse.exit_code(true), EXIT_FAIL);
        assert_eq!(Verdict::Better.exit_code(true), EXIT_PASS);
        assert_eq!(Verdict::NoSignificantDifference.exit_code(false), EXIT_PASS);
        assert_eq!(Verdict::NoSignificantDifference.exit_code(true), EXIT_FAIL);
        assert_eq!(Verdict::WithinMinDelta.exit_code(false), EXIT_PASS);
        assert_eq!(Verdict::WithinMinDelta.exit_code(true), EXIT_FAIL);
    }

    #[test]
    fn alpha_and_min_delta_are_checked() {
        assert_eq!(parse_alpha("0.05"), Ok(0.05));
        assert_eq!(parse_alpha("0.5"), Ok(0.5));
        assert!(parse_alpha("0").is_err());
        assert!(parse_alpha("0.6").is_err());
        assert!(parse_alpha("x").is_err());
        assert_eq!(parse_min_delta("0"), Ok(0.0));
        assert_eq!(parse_min_delta("1"), Ok(1.0));
        assert!(parse_min_delta("-0.1").is_err());
        assert!(parse_min_delta("1.5").is_err());
        assert!(parse_min_delta("NaN").is_err());
    }
}
