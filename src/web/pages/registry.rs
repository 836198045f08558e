//! The registry on a prompt's page: its tags, domain, status and deployed version (changed
//! with a reason, which the history keeps), its comments, and its schedules.
use crate::error::ApiError;
use crate::services::{comments, prompts};
use crate::state::AppState;
use crate::views::prompts::PromptInput;
use crate::web::forms::{Form, non_empty};
use crate::web::page::{PageResult, redirect};
use actix_web::web;
use entity::enums::PromptStatus;
use serde::Deserialize;

/// Registers the registry forms of a prompt.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/prompts/{id}/registry", web::post().to(update))
        .route("/prompts/{id}/comments", web::post().to(comment));
}

#[derive(Deserialize)]
struct RegistryForm {
    #[serde(default)]
    tags: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    deployed_version: String,
    #[serde(default)]
    reason: String,
}

async fn update(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<RegistryForm>,
) -> PageResult {
    let caller = form.visitor.manager()?;
    let f = &form.data;
    let status = PromptStatus::parse(f.status.trim())
        .ok_or_else(|| ApiError::field("status", "Choose a status."))?;
    let deployed = match f.deployed_version.trim() {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::field("deployed_version", "Choose a version."))?,
        ),
    };
    let input = PromptInput {
        tags: Some(
            f.tags
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        domain: Some(non_empty(Some(f.domain.clone()))),
        status: Some(status),
        deployed_version: Some(deployed),
        reason: non_empty(Some(f.reason.clone())),
        ..Default::default()
    };
    prompts::update(&state.db, &caller, *id, input).await?;
    Ok(redirect(&format!("/prompts/{}#registry", *id)))
}

#[derive(Deserialize)]
struct CommentForm {
    #[serde(default)]
    text: String,
}

/// Any member may comment, as in the API.
async fn comment(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<CommentForm>,
) -> PageResult {
    comments::create(
        &state.db,
        form.visitor.caller(),
        *id,
        Some(form.data.text.clone()),
        None,
    )
    .await?;
    Ok(redirect(&format!("/prompts/{}#history", *id)))
}
