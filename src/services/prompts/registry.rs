//! The registry's side of a prompt: its tags, domain and parameters checked as stored, and the
//! comments that record why its deployed version or status changed.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::services::comments;
use crate::views::prompts::PromptInput;
use entity::enums::CommentKind;
use entity::{model_interface, model_version};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;

/// Tags as stored: trimmed, each 1 to 64 characters, at most 50, duplicates dropped.
pub(super) fn clean_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = vec![];
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > 64 || tag.contains(',') {
            return Err(ApiError::field(
                "tags",
                "Each tag has 1 to 64 characters and no comma.",
            ));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    if out.len() > 50 {
        return Err(ApiError::field("tags", "A prompt has at most 50 tags."));
    }
    Ok(out)
}

/// A domain as stored: trimmed, at most 255 characters, empty meaning none.
pub(super) fn clean_domain(domain: Option<String>) -> ApiResult<Option<String>> {
    let domain = domain
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if domain.as_ref().is_some_and(|d| d.chars().count() > 255) {
        return Err(ApiError::field(
            "domain",
            "Ensure this field has no more than 255 characters.",
        ));
    }
    Ok(domain)
}

/// Parameters must be a JSON object; `model_params` in them must be model parameters.
pub(super) fn check_parameters(parameters: &Option<Value>) -> ApiResult<()> {
    match parameters {
        None => Ok(()),
        Some(Value::Object(map)) => {
            if let Some(params) = map.get("model_params") {
                serde_json::from_value::<crate::llm::ModelParams>(params.clone())
                    .map_err(|e| ApiError::field("parameters", format!("model_params: {e}")))?;
            }
            Ok(())
        }
        Some(_) => Err(ApiError::field("parameters", "Expected a JSON object.")),
    }
}

/// A deployed version in words: its title, or "the newest version" for none.
async fn version_name(db: &impl ConnectionTrait, version: Option<i64>) -> ApiResult<String> {
    Ok(match version {
        Some(v) => model_version::Entity::find_by_id(v)
            .one(db)
            .await?
            .map_or(format!("#{v}"), |m| m.title),
        None => "the newest version".to_string(),
    })
}

/// Records, as comments of the prompt's history, a change of its deployed version or status
/// that `input` makes to `existing`, with the input's reason.
pub(super) async fn record_changes(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    existing: &model_interface::Model,
    input: &PromptInput,
) -> ApiResult<()> {
    let id = existing.id;
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > comments::MAX_TEXT)
    {
        return Err(ApiError::field(
            "reason",
            "Ensure this field has no more than 10000 characters.",
        ));
    }
    // Changing the deployed version or the status is recorded with its reason.
    let deployed_change = input
        .deployed_version
        .filter(|d| *d != existing.deployed_version_id);
    let status_change = input.status.filter(|s| *s != existing.status);
    let said = |what: String| match &reason {
        Some(r) => format!("{what} Reason: {r}"),
        None => format!("{what} (no reason given)"),
    };
    if let Some(deployed) = deployed_change {
        let before = version_name(txn, existing.deployed_version_id).await?;
        let after = version_name(txn, deployed).await?;
        comments::record(
            txn,
            caller,
            id,
            deployed,
            CommentKind::Deployment,
            said(format!("Deployed {after} (was {before}).")),
        )
        .await?;
    }
    if let Some(status) = status_change {
        comments::record(
            txn,
            caller,
            id,
            None,
            CommentKind::Status,
            said(format!("Status {} (was {}).", status, existing.status)),
        )
        .await?;
    }
    Ok(())
}
