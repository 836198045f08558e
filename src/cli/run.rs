//! `prompter run`: starts an inference run on a Prompter server through its API and follows
//! it with a progress bar until it ends. Ctrl-C cancels the run.
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::time::Duration;

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
    /// The subset: All, HasGT, Sample.
    #[arg(long, default_value = "All")]
    pub subset: String,
    /// Only tasks without a prediction of this version.
    #[arg(long)]
    pub only_missing: bool,
    /// Tasks of a Sample run.
    #[arg(long)]
    pub sample_size: Option<i32>,
    /// Start the run and exit without following it.
    #[arg(long)]
    pub no_follow: bool,
}

/// Runs the command; the exit code is 0 for a Completed run, 1 otherwise.
pub async fn run(args: RunArgs) -> i32 {
    match follow(args).await {
        Ok(status) if status == "Completed" => 0,
        Ok(_) => 1,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

async fn follow(args: RunArgs) -> Result<String, String> {
    let http = crate::llm::http_client();
    let base = args.url.trim_end_matches('/').to_string();
    let runs = format!(
        "{base}/api/prompts/{}/versions/{}/inference-runs",
        args.prompt, args.version
    );
    let auth = format!("Token {}", args.token);
    let mut body = json!({"project": args.project, "project_subset": args.subset});
    if args.only_missing {
        body["only_missing_predictions"] = json!(true);
    }
    if let Some(n) = args.sample_size {
        body["sample_subset_size"] = json!(n);
    }
    let response = http
        .post(&runs)
        .header("Authorization", &auth)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = response.status();
    let run: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("the server refused the run ({status}): {run}"));
    }
    let id = run["id"].as_i64().ok_or("the server answered no run id")?;
    let total = run["total_tasks"].as_u64().unwrap_or(0);
    println!("inference run {id}: {total} tasks");
    if args.no_follow {
        return Ok(run["status"].as_str().unwrap_or("Pending").to_string());
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let list = format!("{runs}?project={}", args.project);
    loop {
        let poll = async {
            let response = http
                .get(&list)
                .header("Authorization", &auth)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let runs: Value = response.json().await.map_err(|e| e.to_string())?;
            runs.as_array()
                .and_then(|r| r.iter().find(|r| r["id"].as_i64() == Some(id)).cloned())
                .ok_or_else(|| format!("run {id} is gone (replaced or deleted)"))
        };
        let current = tokio::select! {
            r = poll => r?,
            _ = tokio::signal::ctrl_c() => {
                bar.abandon_with_message("canceling");
                let _ = http.post(format!("{runs}/{id}/cancel")).header("Authorization", &auth).send().await;
                return Ok("Canceled".into());
            }
        };
        let done = current["total_predictions"].as_u64().unwrap_or(0);
        let failed = current["total_failed_predictions"].as_u64().unwrap_or(0);
        let correct = current["total_correct_predictions"].as_u64().unwrap_or(0);
        let cost = current["total_cost_usd"].as_f64().unwrap_or(0.0);
        let state = current["status"].as_str().unwrap_or("?").to_string();
        bar.set_length(current["total_tasks"].as_u64().unwrap_or(total));
        bar.set_position(done + failed);
        bar.set_message(format!(
            "{state} · {failed} failed · {correct} correct · ${cost:.4}"
        ));
        if !matches!(state.as_str(), "Pending" | "InProgress") {
            bar.finish();
            if let Some(m) = current["error_message"].as_str() {
                eprintln!("{m}");
            }
            println!(
                "run {id} {state}: {done} predictions, {failed} failed, {correct} correct, ${cost:.4}"
            );
            return Ok(state);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
