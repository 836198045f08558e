//! `prompter run`: starts an inference run on a Prompter server through its API and follows
//! it with a progress bar until it ends, then prints its accuracy and failures. Ctrl-C cancels
//! the run and exits; a second Ctrl-C exits at once.
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The subsets a run can cover from the command line (`Custom` needs task ids: use the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Subset {
    /// Every task of the project.
    All,
    /// Tasks with a ground-truth annotation.
    #[value(alias = "hasgt", alias = "has-gt")]
    HasGT,
    /// The first `--sample-size` tasks.
    Sample,
}

impl Subset {
    /// The run subset it names.
    fn subset(self) -> entity::enums::Subset {
        match self {
            Subset::All => entity::enums::Subset::All,
            Subset::HasGT => entity::enums::Subset::HasGT,
            Subset::Sample => entity::enums::Subset::Sample,
        }
    }
}

/// Arguments of `prompter run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The server's base URL.
    #[arg(long, env = "PROMPTER_URL", default_value = "http://127.0.0.1:9090")]
    pub url: String,
    /// An API token of the server.
    #[arg(long, env = "PROMPTER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The prompt id.
    #[arg(long)]
    pub prompt: i64,
    /// The version id.
    #[arg(long)]
    pub version: i64,
    /// The project id.
    #[arg(long)]
    pub project: i64,
    /// The subset (case-insensitive).
    #[arg(long, value_enum, default_value_t = Subset::All, ignore_case = true)]
    pub subset: Subset,
    /// Only tasks without a prediction of this version.
    #[arg(long)]
    pub only_missing: bool,
    /// Tasks of a Sample run.
    #[arg(long)]
    pub sample_size: Option<i32>,
    /// Start the run, print its id and exit without following it.
    #[arg(long)]
    pub no_follow: bool,
}

/// Runs the command; the exit code is 0 for a Completed run (or a run started with
/// `--no-follow`), 130 after Ctrl-C, 1 otherwise.
pub async fn run(args: RunArgs) -> i32 {
    let interrupted = Arc::new(Notify::new());
    tokio::spawn(watch_ctrl_c(interrupted.clone()));
    match follow(args, interrupted).await {
        Ok(Ended::Completed | Ended::Started) => 0,
        Ok(Ended::Interrupted) => 130,
        Ok(Ended::Other) => 1,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
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
        std::process::exit(130);
    }
}

/// How following a run ended.
enum Ended {
    Completed,
    Started,
    Interrupted,
    Other,
}

/// A client of one server with one token.
pub(super) struct Api {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) auth: String,
}

impl Api {
    /// Sends a request; a refusal reads "`refused` (status): what the server said". The command
    /// line talks to the Prompter server its operator names, not on a user's behalf: the
    /// outbound policy is not for it.
    #[allow(clippy::disallowed_methods)]
    async fn send(&self, request: reqwest::RequestBuilder, refused: &str) -> Result<Value, String> {
        let response = request
            .header("Authorization", &self.auth)
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(body)
        } else {
            let detail = body["validation_errors"]
                .as_object()
                .map(|errors| {
                    errors
                        .iter()
                        .map(|(field, messages)| format!("{field}: {messages}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|d| !d.is_empty())
                .or_else(|| body["detail"].as_str().map(str::to_string))
                .unwrap_or_else(|| body.to_string());
            Err(format!("{refused} ({status}): {detail}"))
        }
    }

    pub(super) async fn get(&self, path: &str) -> Result<Value, String> {
        self.send(
            self.http.get(format!("{}{path}", self.base)),
            "the server answered",
        )
        .await
    }

    async fn post(&self, path: &str, body: &Value, refused: &str) -> Result<Value, String> {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(body),
            refused,
        )
        .await
    }
}

async fn follow(args: RunArgs, interrupted: Arc<Notify>) -> Result<Ended, String> {
    let api = Api {
        http: crate::outbound::operator_client(),
        base: args.url.trim_end_matches('/').to_string(),
        auth: format!("Token {}", args.token),
    };
    let runs = format!(
        "/api/prompts/{}/versions/{}/inference-runs",
        args.prompt, args.version
    );
    let mut body = json!({"project": args.project, "project_subset": args.subset.subset()});
    if args.only_missing {
        body["only_missing_predictions"] = json!(true);
    }
    if let Some(n) = args.sample_size {
        body["sample_subset_size"] = json!(n);
    }
    let run = api.post(&runs, &body, "the server refused the run").await?;
    let id = run["id"].as_i64().ok_or("the server answered no run id")?;
    let total = run["total_tasks"].as_u64().unwrap_or(0);
    println!("inference run {id}: {total} tasks");
    if args.no_follow {
        return Ok(Ended::Started);
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} {wide_bar} {pos}/{len} {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let list = format!("{runs}?project={}", args.project);
    loop {
        let poll = async {
            let runs = api.get(&list).await?;
            runs.as_array()
                .and_then(|r| r.iter().find(|r| r["id"].as_i64() == Some(id)).cloned())
                .ok_or_else(|| format!("run {id} is gone (replaced or deleted)"))
        };
        let current = tokio::select! {
            r = poll => r?,
            _ = interrupted.notified() => return cancel(&api, &runs, id, &bar).await,
        };
        let done = current["total_predictions"].as_u64().unwrap_or(0);
        let failed = current["total_failed_predictions"].as_u64().unwrap_or(0);
        let cost = current["total_cost_usd"].as_f64().unwrap_or(0.0);
        let state = current["status"].as_str().unwrap_or("?").to_string();
        bar.set_length(current["total_tasks"].as_u64().unwrap_or(total));
        bar.set_position(done + failed);
        bar.set_message(format!("{state} · {failed} failed · ${cost:.4}"));
        if !matches!(state.as_str(), "Pending" | "InProgress") {
            bar.finish_and_clear();
            if let Some(m) = current["error_message"].as_str() {
                eprintln!("{m}");
            }
            println!("{}", summary(&api, id, &current).await);
            return Ok(if state == "Completed" {
                Ended::Completed
            } else {
                Ended::Other
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = interrupted.notified() => return cancel(&api, &runs, id, &bar).await,
        }
    }
}

/// Cancels run `id` after a Ctrl-C.
async fn cancel(api: &Api, runs: &str, id: i64, bar: &ProgressBar) -> Result<Ended, String> {
    bar.abandon_with_message("canceling");
    match api
        .post(
            &format!("{runs}/{id}/cancel"),
            &json!({}),
            "the server refused to cancel",
        )
        .await
    {
        Ok(_) => eprintln!("run {id} canceled; its predictions so far are kept"),
        Err(e) => eprintln!("could not cancel run {id}: {e}"),
    }
    Ok(Ended::Interrupted)
}

/// The closing line of a run: its status, predictions, accuracy over the ground-truth tasks
/// (with its denominator), failures by type and cost.
async fn summary(api: &Api, id: i64, run: &Value) -> String {
    let state = run["status"].as_str().unwrap_or("?");
    let done = run["total_predictions"].as_u64().unwrap_or(0);
    let failed = run["total_failed_predictions"].as_u64().unwrap_or(0);
    let cost = match run["total_cost_usd"].as_f64() {
        Some(c) => format!("${c:.4}"),
        None => "cost unknown".into(),
    };
    let indicators = api
        .get(&format!("/api/inference-runs/{id}/indicators/"))
        .await
        .unwrap_or(Value::Null);
    let find = |key: &str| {
        indicators
            .as_array()
            .and_then(|list| list.iter().find(|i| i["key"] == key))
            .map(|i| i["values"].clone())
            .unwrap_or(Value::Null)
    };
    let gt = find("ground_truth_accuracy");
    let count = |key: &str| gt[key].as_i64().unwrap_or(0);
    let scored =
        crate::scoring::Accuracy::new(count("correct"), count("predicted"), count("failed"));
    let accuracy = match scored.value() {
        Some(_) => format!(
            "accuracy {} ({} correct of {} ground-truth tasks)",
            scored.label(),
            scored.correct,
            scored.scored()
        ),
        None => "no ground truth to score against".into(),
    };
    let failures = find("failed_predictions")["by_error_type"]
        .as_object()
        .filter(|m| !m.is_empty())
        .map(|m| {
            let parts: Vec<String> = m.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            format!(" ({})", parts.join(", "))
        })
        .unwrap_or_default();
    format!("run {id} {state}: {done} predictions, {failed} failed{failures}; {accuracy}; {cost}")
}
