//! The registry's side of a prompt: its tags, domain and parameters checked as stored, and the
//! comments that record why its deployed version, status, tags or domain changed.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::limits::{
    MAX_COMMENT_CHARS, MAX_PARAMETERS_BYTES, MAX_TAG_CHARS, MAX_TAGS, check_chars, check_json_bytes,
};
use crate::services::audit::{self, Changes, Object};
use crate::services::comments;
use crate::views::prompts::PromptInput;
use entity::enums::{AuditAction, AuditObject, CommentKind};
use entity::{model_interface, model_version};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;
use std::collections::HashSet;

/// The tags of a comma-separated list as a person types it (`"nlp, reviews"`) or as a query
/// gives them (`?tags=nlp,reviews`): split on commas, trimmed, empty ones dropped. The one
/// place tags are parsed from text; [`clean_tags`] then checks them.
pub fn parse_tags(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Tags as stored: trimmed, each 1 to [`MAX_TAG_CHARS`] characters, at most [`MAX_TAGS`],
/// duplicates dropped. Linear, and it stops at the first tag past the limit.
pub(super) fn clean_tags(tags: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = vec![];
    let mut seen: HashSet<&str> = HashSet::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty()
            || tag.len() > 4 * MAX_TAG_CHARS
            || tag.chars().count() > MAX_TAG_CHARS
            || tag.contains(',')
        {
            return Err(ApiError::field(
                "tags",
                format!("Each tag has 1 to {MAX_TAG_CHARS} characters and no comma."),
            ));
        }
        if seen.insert(tag) {
            out.push(tag.to_string());
            if out.len() > MAX_TAGS {
                return Err(ApiError::field(
                    "tags",
                    format!("A prompt has at most {MAX_TAGS} tags."),
                ));
            }
        }
    }
    Ok(out)
}

/// A domain as stored: trimmed, at most [`crate::limits::MAX_DOMAIN_CHARS`] characters, empty
/// meaning none.
pub(super) fn clean_domain(domain: Option<String>) -> ApiResult<Option<String>> {
    let domain = domain
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(d) = &domain {
        check_chars("domain", d, crate::limits::MAX_DOMAIN_CHARS)?;
    }
    Ok(domain)
}

/// Parameters must be a JSON object of at most [`MAX_PARAMETERS_BYTES`]; `model_params` in
/// them must be model parameters.
pub(super) fn check_parameters(parameters: &Option<Value>) -> ApiResult<()> {
    match parameters {
        None => Ok(()),
        Some(value @ Value::Object(map)) => {
            check_json_bytes("parameters", value, MAX_PARAMETERS_BYTES)?;
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

/// The tags a change adds and removes, in words; `None` when the set is the same (an order
/// change alone is no change).
fn tags_change(before: &[String], after: &[String]) -> Option<String> {
    // Tags hold no comma, so a comma-separated list reads unambiguously.
    let listed = |tags: Vec<&String>| {
        tags.iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let added: Vec<&String> = after.iter().filter(|t| !before.contains(t)).collect();
    let removed: Vec<&String> = before.iter().filter(|t| !after.contains(t)).collect();
    let mut said = vec![];
    if !added.is_empty() {
        said.push(format!("added {}", listed(added)));
    }
    if !removed.is_empty() {
        said.push(format!("removed {}", listed(removed)));
    }
    (!said.is_empty()).then(|| format!("Tags: {}.", said.join("; ")))
}

/// A change of domain in words.
fn domain_change(before: Option<&str>, after: Option<&str>) -> String {
    match (after, before) {
        (Some(a), Some(b)) => format!("Domain {a} (was {b})."),
        (Some(a), None) => format!("Domain {a} (was not set)."),
        (None, Some(b)) => format!("Domain cleared (was {b})."),
        (None, None) => "Domain not set.".to_string(),
    }
}

/// Records, as comments of the prompt's history, a change of its deployed version, status,
/// tags (`tags`, as cleaned) or domain (`domain`, as cleaned) that `input` makes to
/// `existing`, with the input's reason.
pub(super) async fn record_changes(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    existing: &model_interface::Model,
    input: &PromptInput,
    tags: Option<&[String]>,
    domain: Option<Option<&str>>,
) -> ApiResult<()> {
    let id = existing.id;
    let reason = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if let Some(reason) = &reason {
        check_chars("reason", reason, MAX_COMMENT_CHARS)?;
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
    let tags_before: &[String] = &existing.tags.0;
    if let Some(change) = tags.and_then(|after| tags_change(tags_before, after)) {
        comments::record(txn, caller, id, None, CommentKind::Tags, said(change)).await?;
    }
    if let Some(after) = domain.filter(|d| *d != existing.domain.as_deref()) {
        let change = domain_change(existing.domain.as_deref(), after);
        comments::record(txn, caller, id, None, CommentKind::Domain, said(change)).await?;
    }
    Ok(())
}

/// A prompt as the audit log names it.
pub fn object(prompt: &model_interface::Model) -> Object {
    Object::new(AuditObject::Prompt, prompt.id, &prompt.title)
}

/// Records the creation of `prompt`, associated with `projects`.
pub(super) async fn audit_created(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt: &model_interface::Model,
    projects: &[i64],
) -> ApiResult<()> {
    let mut changes = Changes::created(prompt);
    if !projects.is_empty() {
        changes = changes.value("associated_projects", projects);
    }
    audit::record(txn, caller, AuditAction::Create, object(prompt), changes).await
}

/// Records an update of a prompt from `before` to `after`, whose associated projects went
/// from `projects.0` to `projects.1`: a change of the deployed version is an entry of its
/// own (action `deploy`), the other fields one `update` entry.
pub(super) async fn audit_updated(
    txn: &impl ConnectionTrait,
    caller: &AuthUser,
    before: &model_interface::Model,
    after: &model_interface::Model,
    projects: (&[i64], &[i64]),
) -> ApiResult<()> {
    let (mut old, mut new) = (projects.0.to_vec(), projects.1.to_vec());
    old.sort_unstable();
    new.sort_unstable();
    let changes = Changes::diff(before, after).field("associated_projects", old, new);
    if before.deployed_version_id != after.deployed_version_id {
        let deploy = Changes::new().field(
            "deployed_version",
            before.deployed_version_id,
            after.deployed_version_id,
        );
        audit::record(txn, caller, AuditAction::Deploy, object(after), deploy).await?;
    }
    let changes = changes.without("deployed_version_id");
    if !changes.is_empty() {
        audit::record(txn, caller, AuditAction::Update, object(after), changes).await?;
    }
    Ok(())
}
