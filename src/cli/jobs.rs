//! `prompter jobs`: lists the jobs of a Prompter server (its background work: runs,
//! refinements, Label Studio syncs and pushes, events, schedule firings) through its API, or
//! follows one with a progress bar until it ends.
use super::run::Api;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::time::Duration;

/// Arguments of `prompter jobs`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobsArgs {
    /// The server's base URL.
    #[arg(long, env = "PROMPTER_URL", default_value = "http://127.0.0.1:9090")]
    pub url: String,
    /// An API token of the server.
    #[arg(long, env = "PROMPTER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Only jobs of this kind (`refine`, `ls_sync`, `ls_push`, `inference_run`...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only jobs in this status (`queued`, `running`, `succeeded`, `failed`, `canceled`).
    #[arg(long)]
    pub status: Option<String>,
    /// Follow job ID with a progress bar until it ends.
    #[arg(long, value_name = "ID")]
    pub watch: Option<i64>,
}

/// Runs the command; the exit code is 0, or 1 on an error (or a watched job that did not
/// succeed).
pub async fn run(args: JobsArgs) -> i32 {
    let api = Api {
        http: crate::outbound::operator_client(),
        base: args.url.trim_end_matches('/').to_string(),
        auth: format!("Token {}", args.token),
    };
    let done = match args.watch {
        Some(id) => watch(&api, id).await,
        None => list(&api, &args).await,
    };
    match done {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// One line of a job.
fn line(job: &Value) -> String {
    let progress = match (
        job["progress"]["done"].as_i64(),
        job["progress"]["total"].as_i64(),
    ) {
        (Some(d), Some(t)) if t > 0 => format!("{d}/{t}"),
        _ => "-".into(),
    };
    let error = job["error"]
        .as_str()
        .map(|e| format!("  ({e})"))
        .unwrap_or_default();
    format!(
        "{:>6}  {:<30}  {:<10}  {:>11}  attempts {}  {}{error}",
        job["id"],
        job["kind_label"].as_str().unwrap_or_default(),
        job["status"].as_str().unwrap_or_default(),
        progress,
        job["attempts"],
        job["created_at"].as_str().unwrap_or_default(),
    )
}

async fn list(api: &Api, args: &JobsArgs) -> Result<bool, String> {
    let mut query = vec!["page_size=100".to_string()];
    if let Some(k) = &args.kind {
        query.push(format!("kind={k}"));
    }
    if let Some(s) = &args.status {
        query.push(format!("status={s}"));
    }
    let page = api.get(&format!("/api/jobs/?{}", query.join("&"))).await?;
    let jobs = page["results"].as_array().cloned().unwrap_or_default();
    println!("{} jobs (newest first; at most 100 shown)", page["count"]);
    for job in &jobs {
        println!("{}", line(job));
    }
    Ok(true)
}

async fn watch(api: &Api, id: i64) -> Result<bool, String> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    loop {
        let job = api.get(&format!("/api/jobs/{id}/")).await?;
        let status = job["status"].as_str().unwrap_or_default().to_string();
        bar.set_length(job["progress"]["total"].as_u64().unwrap_or(0));
        bar.set_position(job["progress"]["done"].as_u64().unwrap_or(0));
        bar.set_message(format!(
            "{} {status} (attempt {})",
            job["kind_label"].as_str().unwrap_or_default(),
            job["attempts"]
        ));
        if !matches!(status.as_str(), "queued" | "running") {
            bar.finish();
            println!("{}", line(&job));
            if let Some(result) = job["result"].as_str() {
                println!("{result}");
            }
            return Ok(status == "succeeded");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
