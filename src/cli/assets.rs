//! `prompter export` and `prompter import`: a prompt as a portable JSON document, through a
//! Prompter server's API (`GET /api/prompts/{id}/export`, `POST /api/prompts/import`).
use super::ls::{Api, ServerArgs, refusal};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Arguments of `prompter export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The prompt id.
    #[arg(long)]
    pub prompt: i64,
    /// Add the few-shot example set (up to 20 ground-truth tasks of the prompt's project).
    #[arg(long)]
    pub include_examples: bool,
    /// Write the document here (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Arguments of `prompter import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The exported document.
    #[arg(long)]
    pub file: PathBuf,
    /// A project to associate the prompt, its schedules and examples with.
    #[arg(long)]
    pub project: Option<i64>,
    /// The connection for a provider, as `Provider=ID` (repeatable); others are matched by
    /// provider.
    #[arg(long = "connection")]
    pub connections: Vec<String>,
    /// A new title for the prompt.
    #[arg(long)]
    pub title: Option<String>,
    /// Make a new prompt even if this organization already imported the same document (by
    /// default that import's prompt is reported and nothing is made).
    #[arg(long)]
    pub copy: bool,
}

/// Runs `prompter export`; returns the exit code.
pub async fn export(args: ExportArgs) -> i32 {
    finish(do_export(args).await)
}

/// Runs `prompter import`; returns the exit code.
pub async fn import(args: ImportArgs) -> i32 {
    finish(do_import(args).await)
}

fn finish(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

async fn do_export(args: ExportArgs) -> Result<(), String> {
    let api = Api::new(&args.server);
    let path = format!(
        "/api/prompts/{}/export?include_examples={}",
        args.prompt, args.include_examples
    );
    let (status, body) = api.send(Method::GET, &path, None).await?;
    if status != 200 {
        return Err(refusal(status, &body));
    }
    let text = serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?;
    match &args.output {
        Some(file) => {
            std::fs::write(file, format!("{text}\n"))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            eprintln!(
                "exported prompt {} ({} versions) to {}",
                args.prompt,
                body["versions"].as_array().map_or(0, Vec::len),
                file.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

async fn do_import(args: ImportArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let document: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not JSON: {e}", args.file.display()))?;
    let mut connections = serde_json::Map::new();
    for pair in &args.connections {
        let (provider, id) = pair
            .split_once('=')
            .ok_or_else(|| format!("--connection {pair:?}: write Provider=ID, e.g. OpenAI=3"))?;
        let id: i64 = id
            .trim()
            .parse()
            .map_err(|_| format!("--connection {pair:?}: the id is not a number"))?;
        connections.insert(provider.trim().to_string(), json!(id));
    }
    let body = json!({"document": document, "project": args.project,
        "connections": connections, "title": args.title});
    let api = Api::new(&args.server);
    let path = if args.copy {
        "/api/prompts/import?copy=true"
    } else {
        "/api/prompts/import"
    };
    let (status, answer) = api.send(Method::POST, path, Some(body)).await?;
    if status == 200 {
        println!(
            "already imported as prompt {}: nothing new was made (--copy makes a new prompt)",
            answer["prompt"]
        );
        return Ok(());
    }
    if status != 201 {
        return Err(refusal(status, &answer));
    }
    println!(
        "imported as prompt {} with {} versions and {} schedules",
        answer["prompt"],
        answer["versions"].as_array().map_or(0, Vec::len),
        answer["schedules"].as_array().map_or(0, Vec::len)
    );
    for note in answer["notes"].as_array().into_iter().flatten() {
        println!("note: {}", note.as_str().unwrap_or_default());
    }
    Ok(())
}
