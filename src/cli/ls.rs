//! `prompter ls`: link a Prompter project to a Label Studio project, sync its tasks and
//! annotations in, push a run's predictions out, all through a Prompter server's API, following
//! the background jobs with a progress bar.
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::time::Duration;

/// The Prompter server to talk to.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// The Prompter server's base URL.
    #[arg(long, env = "PROMPTER_URL", default_value = "http://127.0.0.1:9090")]
    pub url: String,
    /// An API token of the Prompter server (Manager or above).
    #[arg(long, env = "PROMPTER_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// A `prompter ls` command.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum LsCommand {
    /// Link a Prompter project to a Label Studio project (or change its link).
    Link {
        #[command(flatten)]
        server: ServerArgs,
        /// The Prompter project id.
        #[arg(long)]
        project: i64,
        /// The Label Studio instance's base URL.
        #[arg(long, env = "LABEL_STUDIO_URL")]
        ls_url: String,
        /// A Label Studio API token (legacy token).
        #[arg(long, env = "LABEL_STUDIO_API_KEY", hide_env_values = true)]
        ls_token: String,
        /// The Label Studio project id.
        #[arg(long)]
        ls_project: i64,
    },
    /// Import the Label Studio project's tasks and annotations (new and changed ones).
    Sync {
        #[command(flatten)]
        server: ServerArgs,
        /// The Prompter project id.
        #[arg(long)]
        project: i64,
        /// Which annotations become ground truth: `all` non-cancelled ones, or those Label
        /// Studio `flagged`.
        #[arg(long, default_value = "all", value_parser = ["all", "flagged"])]
        ground_truth: String,
        /// Start the sync and exit without following it.
        #[arg(long)]
        no_follow: bool,
    },
    /// Push a run's predictions to Label Studio (idempotent).
    Push {
        #[command(flatten)]
        server: ServerArgs,
        /// The Prompter project id.
        #[arg(long)]
        project: i64,
        /// The inference run id.
        #[arg(long)]
        run: i64,
        /// Start the push and exit without following it.
        #[arg(long)]
        no_follow: bool,
    },
    /// Show the link and its last job.
    Status {
        #[command(flatten)]
        server: ServerArgs,
        /// The Prompter project id.
        #[arg(long)]
        project: i64,
    },
}

/// Runs the command; the exit code is 0 on success, 1 otherwise.
pub async fn run(command: LsCommand) -> i32 {
    match execute(command).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// A small JSON client of the Prompter API.
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Api {
    pub(crate) fn new(server: &ServerArgs) -> Self {
        Api {
            http: crate::outbound::operator_client(),
            base: server.url.trim_end_matches('/').to_string(),
            auth: format!("Token {}", server.token),
        }
    }

    // The command line talks to the Prompter server its operator names, not on a user's
    // behalf: the outbound policy is not for it.
    #[allow(clippy::disallowed_methods)]
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", &self.auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// The message of a Prompter error body: its validation errors, else its detail.
pub(crate) fn refusal(status: u16, body: &Value) -> String {
    let why = match (&body["validation_errors"], &body["detail"]) {
        (Value::Object(errors), _) => errors
            .iter()
            .map(|(field, messages)| {
                let text = messages
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_else(|| messages.to_string());
                format!("{field}: {text}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        (_, Value::String(detail)) => detail.clone(),
        _ => body.to_string(),
    };
    format!("the server refused ({status}): {why}")
}

async fn execute(command: LsCommand) -> Result<(), String> {
    use reqwest::Method;
    match command {
        LsCommand::Link {
            server,
            project,
            ls_url,
            ls_token,
            ls_project,
        } => {
            let api = Api::new(&server);
            let path = format!("/api/projects/{project}/label-studio");
            let body = json!({"url": ls_url, "token": ls_token, "ls_project": ls_project});
            let (mut status, mut link) = api.send(Method::POST, &path, Some(body.clone())).await?;
            if status == 400 && link["code"] == "already_linked" {
                (status, link) = api.send(Method::PATCH, &path, Some(body)).await?;
            }
            if !(200..300).contains(&status) {
                return Err(refusal(status, &link));
            }
            println!(
                "project {project} linked to Label Studio project {} at {}",
                link["ls_project"],
                link["url"].as_str().unwrap_or_default()
            );
            Ok(())
        }
        LsCommand::Sync {
            server,
            project,
            ground_truth,
            no_follow,
        } => {
            let api = Api::new(&server);
            let body = json!({"ground_truth": ground_truth});
            start_and_follow(&api, project, "sync", body, no_follow).await?;
            let (status, p) = api
                .send(Method::GET, &format!("/api/projects/{project}/"), None)
                .await?;
            if status == 200 {
                println!(
                    "project {project}: {} tasks, {} annotations ({} ground truth)",
                    p["task_number"], p["total_annotations_number"], p["ground_truth_number"]
                );
            }
            Ok(())
        }
        LsCommand::Push {
            server,
            project,
            run,
            no_follow,
        } => {
            let api = Api::new(&server);
            start_and_follow(&api, project, "push", json!({"run": run}), no_follow).await
        }
        LsCommand::Status { server, project } => {
            let api = Api::new(&server);
            let (status, link) = api
                .send(
                    Method::GET,
                    &format!("/api/projects/{project}/label-studio"),
                    None,
                )
                .await?;
            if status != 200 {
                return Err(refusal(status, &link));
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&link).unwrap_or_default()
            );
            Ok(())
        }
    }
}

/// Starts `job` and, unless `no_follow`, polls the link until the job ends.
async fn start_and_follow(
    api: &Api,
    project: i64,
    job: &str,
    body: Value,
    no_follow: bool,
) -> Result<(), String> {
    let path = format!("/api/projects/{project}/label-studio");
    let (status, started) = api
        .send(reqwest::Method::POST, &format!("{path}/{job}"), Some(body))
        .await?;
    if status != 202 {
        return Err(refusal(status, &started));
    }
    println!("{job} started (project {project}, link {})", started["id"]);
    if no_follow {
        return Ok(());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(job.to_string());
    loop {
        let (status, link) = api.send(reqwest::Method::GET, &path, None).await?;
        if status != 200 {
            bar.abandon();
            return Err(refusal(status, &link));
        }
        let total = link["progress"]["total"].as_u64().unwrap_or(0);
        let done = link["progress"]["done"].as_u64().unwrap_or(0);
        bar.set_length(total.max(done));
        bar.set_position(done);
        match link["status"].as_str().unwrap_or("?") {
            "running" => tokio::time::sleep(Duration::from_millis(300)).await,
            "idle" => {
                bar.finish();
                let linked = &link["linked"];
                println!(
                    "{job} done: {done}/{total}; linked to Label Studio: {} tasks, {} annotations, {} predictions",
                    linked["tasks"], linked["annotations"], linked["predictions"]
                );
                return Ok(());
            }
            other => {
                bar.abandon();
                return Err(format!(
                    "{job} {other}: {}",
                    link["last_error"].as_str().unwrap_or("no reason given")
                ));
            }
        }
    }
}
