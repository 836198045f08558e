//! A prompt as a portable asset: exported as one JSON document (its fields, versions with
//! their steps, parameters and schedules, optionally its few-shot examples; never a secret nor
//! an id of the source: connections are named by provider) and imported into any organization
//! of any Prompter as new objects, with connections matched by provider or chosen at import.
//!
//! An import is bounded (the `MAX_IMPORT_*` limits, checked before anything is written) and
//! idempotent per document: the prompt it makes keeps the content hash of the canonical
//! document, unique per organization, so importing the same document again (even
//! concurrently) answers with the first import's prompt unless a copy is asked for; examples
//! already in the project are never added again ([`examples`]).
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::llm::{ModelParams, Provider};
use crate::services::{annotations, labels, model_providers, prompts, schedules, versions};
use crate::views::prompts::PromptInput;
use crate::views::registry::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ImportInput, ImportedView, JurorAsset, LabelAsset,
    PromptAsset, PromptDocument, ScheduleAsset, ScheduleInput, VersionAsset,
};
use crate::views::versions::{Juror, Step, VersionInput};
use entity::enums::AuditAction;
use entity::{
    model_interface, model_provider_connection as connection, model_version, prompt_schedule,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionTrait,
};
use serde_json::{Value, json};
use std::collections::HashMap;

pub mod examples;

/// Few-shot examples an export carries at most.
pub const MAX_EXAMPLES: usize = 20;

/// The provider of each of the organization's connections, by id.
async fn providers_by_id(
    db: &impl ConnectionTrait,
    organization_id: i64,
) -> ApiResult<HashMap<i64, Provider>> {
    Ok(connection::Entity::find()
        .filter(connection::Column::OrganizationId.eq(organization_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.provider))
        .collect())
}

/// Exports prompt `prompt_id` (with `include_examples`, up to [`MAX_EXAMPLES`] ground-truth
/// tasks of its first project).
pub async fn export(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    include_examples: bool,
) -> ApiResult<PromptDocument> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let all = versions::list(db, caller, prompt.id, Some("id")).await?;
    let titles: HashMap<i64, String> = all.iter().map(|v| (v.id, v.title.clone())).collect();
    let providers = providers_by_id(db, caller.organization_id).await?;
    let versions = all
        .iter()
        .map(|v| VersionAsset {
            title: v.title.clone(),
            prompt: v.prompt.clone(),
            provider: v.provider,
            provider_model_id: v.provider_model_id.clone(),
            model_params: v.model_params.clone(),
            max_few_shot_examples: v.max_few_shot_examples,
            samples: v.samples,
            jury: Juror::of_stored(v.jury.as_ref())
                .into_iter()
                .map(|j| JurorAsset {
                    provider: j
                        .model_provider_connection
                        .and_then(|id| providers.get(&id).copied()),
                    provider_model_id: j.provider_model_id,
                })
                .collect(),
            steps: Step::of_stored(v.steps.as_ref()).map(|steps| {
                // A step's connection travels as its provider's name.
                Value::Array(
                    steps
                        .into_iter()
                        .map(|s| {
                            let provider = s
                                .model_provider_connection
                                .and_then(|id| providers.get(&id).copied());
                            let mut value = serde_json::to_value(Step {
                                model_provider_connection: None,
                                ..s
                            })
                            .unwrap_or_default();
                            if let (Some(p), Value::Object(map)) = (provider, &mut value) {
                                map.insert("provider".into(), json!(p));
                            }
                            value
                        })
                        .collect(),
                )
            }),
        })
        .collect();
    let schedules = prompt_schedule::Entity::find()
        .filter(prompt_schedule::Column::PromptId.eq(prompt.id))
        .order_by_asc(prompt_schedule::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| ScheduleAsset {
            cron: s.cron,
            timezone: s.timezone,
            version: s.version_id.and_then(|v| titles.get(&v).cloned()),
            label: s.label,
            project_subset: s.project_subset,
            only_missing_predictions: s.only_missing_predictions,
            status: s.status,
        })
        .collect();
    // `production` travels as the prompt's deployed version.
    let labels = labels::of_prompt(db, prompt.id)
        .await?
        .into_iter()
        .filter(|l| l.name != labels::PRODUCTION)
        .filter_map(|l| {
            titles.get(&l.version_id).map(|title| LabelAsset {
                name: l.name,
                version: title.clone(),
                protected: l.protected,
            })
        })
        .collect();
    let examples = if include_examples {
        let project = prompts::associations(db, &[prompt.id])
            .await?
            .remove(&prompt.id)
            .unwrap_or_default()
            .first()
            .copied();
        match project {
            Some(project) => Some(
                annotations::ground_truth_sample(db, project, MAX_EXAMPLES)
                    .await?
                    .into_iter()
                    .map(|t| json!({"data": t.data, "result": t.result}))
                    .collect(),
            ),
            None => Some(vec![]),
        }
    } else {
        None
    };
    Ok(PromptDocument {
        format: EXPORT_FORMAT.into(),
        format_version: EXPORT_FORMAT_VERSION,
        prompt: PromptAsset {
            title: prompt.title,
            description: prompt.description,
            skill_name: prompt.skill_name,
            input_fields: prompt.input_fields.0,
            output_classes: prompt.output_classes.0,
            tags: prompt.tags.0,
            domain: prompt.domain,
            status: prompt.status,
            parameters: prompt.parameters,
            deployed_version: prompt
                .deployed_version_id
                .and_then(|v| titles.get(&v).cloned()),
        },
        versions,
        labels,
        schedules,
        examples,
    })
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidImport, detail)
}

/// The connection a version or step of `provider` gets: the one the import names for the
/// provider, else the organization's first connection of it.
async fn connection_for(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    chosen: &std::collections::BTreeMap<String, i64>,
    provider: &str,
) -> ApiResult<i64> {
    if let Some(id) = chosen.get(provider) {
        let found = model_providers::find(db, caller.organization_id, *id)
            .await
            .map_err(|e| e.not_found_as_field("connections", *id))?;
        if found.provider.as_str() != provider {
            return Err(ApiError::field(
                "connections",
                format!(
                    "connection {id} is a {} connection, not {provider}",
                    found.provider
                ),
            ));
        }
        return Ok(found.id);
    }
    let kind = Provider::parse(provider)
        .ok_or_else(|| invalid(format!("unknown provider \"{provider}\" in the document")))?;
    let found = connection::Entity::find()
        .filter(connection::Column::OrganizationId.eq(caller.organization_id))
        .filter(connection::Column::Provider.eq(kind))
        .order_by_asc(connection::Column::Id)
        .one(db)
        .await?;
    found.map(|c| c.id).ok_or_else(|| {
        ApiError::field(
            "connections",
            format!(
                "The document uses provider {provider}, and this organization has no {provider} \
                 connection: add one, or name one in \"connections\"."
            ),
        )
    })
}

/// The SHA-256 (hex) of `value` in a canonical form: object keys sorted, no whitespace, so
/// two documents that differ only in key order or layout hash alike.
pub fn canonical_hash(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    fn feed(h: &mut Sha256, v: &Value) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                h.update(b"{");
                for k in keys {
                    h.update(Value::String(k.clone()).to_string().as_bytes());
                    h.update(b":");
                    feed(h, &map[k]);
                    h.update(b",");
                }
                h.update(b"}");
            }
            Value::Array(items) => {
                h.update(b"[");
                for item in items {
                    feed(h, item);
                    h.update(b",");
                }
                h.update(b"]");
            }
            scalar => h.update(scalar.to_string().as_bytes()),
        }
    }
    let mut hasher = Sha256::new();
    feed(&mut hasher, value);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A writer that counts bytes and refuses past `limit` (so an oversized document is measured
/// only up to its limit).
struct Meter {
    bytes: usize,
    limit: usize,
}

impl std::io::Write for Meter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        if self.bytes > self.limit {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks an import document against the limits, before anything is parsed further or
/// written: its size, and the lengths of its `versions`, `examples`, `schedules` and each
/// version's `steps`. Linear in the document's size (and stops at the size limit).
pub fn check_bounds(document: &Value) -> ApiResult<()> {
    use crate::limits::{
        MAX_IMPORT_DOCUMENT_BYTES, MAX_IMPORT_EXAMPLES, MAX_IMPORT_SCHEDULES, MAX_IMPORT_VERSIONS,
        MAX_PIPELINE_STEPS,
    };
    let mut meter = Meter {
        bytes: 0,
        limit: MAX_IMPORT_DOCUMENT_BYTES,
    };
    if serde_json::to_writer(&mut meter, document).is_err() {
        return Err(ApiError::field(
            "document",
            format!("An import document has at most {MAX_IMPORT_DOCUMENT_BYTES} bytes."),
        ));
    }
    let len = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    for (field, max) in [
        ("versions", MAX_IMPORT_VERSIONS),
        ("examples", MAX_IMPORT_EXAMPLES),
        ("schedules", MAX_IMPORT_SCHEDULES),
    ] {
        if len(field) > max {
            return Err(ApiError::field(
                field,
                format!("An import document has at most {max} {field}."),
            ));
        }
    }
    let steps = document
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("steps").and_then(Value::as_array));
    for s in steps {
        if s.len() > MAX_PIPELINE_STEPS {
            return Err(ApiError::field(
                "steps",
                format!("A version of an import document has at most {MAX_PIPELINE_STEPS} steps."),
            ));
        }
    }
    let most = crate::limits::MAX_JURORS;
    let juries = document
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("jury").and_then(Value::as_array));
    if juries.into_iter().any(|j| j.len() > most) {
        return Err(ApiError::field(
            "jury",
            format!("A version of an import document has at most {most} other models."),
        ));
    }
    Ok(())
}

/// The prompt of the caller's organization made by importing the document of `hash`.
async fn imported_as(
    db: &impl ConnectionTrait,
    organization_id: i64,
    hash: &str,
) -> ApiResult<Option<ImportedView>> {
    let Some(prompt) = model_interface::Entity::find()
        .filter(model_interface::Column::OrganizationId.eq(organization_id))
        .filter(model_interface::Column::ImportHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let versions: Vec<i64> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Id)
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .order_by_asc(model_version::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let schedules: Vec<i64> = prompt_schedule::Entity::find()
        .select_only()
        .column(prompt_schedule::Column::Id)
        .filter(prompt_schedule::Column::PromptId.eq(prompt.id))
        .order_by_asc(prompt_schedule::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Some(ImportedView {
        prompt: prompt.id,
        versions,
        schedules,
        notes: vec![format!(
            "This document was already imported as prompt {}: nothing new was made (import \
             with copy=true for a new prompt).",
            prompt.id
        )],
    }))
}

/// What an import did: made a new prompt, or found the one an earlier import of the same
/// document made.
#[derive(Debug)]
pub enum Imported {
    /// A new prompt.
    Created(ImportedView),
    /// The prompt of an earlier import of the same document; nothing was written.
    Existing(ImportedView),
}

/// Imports a prompt document into the caller's organization, all in one transaction: all or
/// nothing. The same document imported again answers with the first import's prompt (also
/// when the two race: the database's unique hash decides, and the loser answers with the
/// winner's prompt), unless `copy` asks for a new prompt.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: ImportInput,
    copy: bool,
    min_interval_secs: u64,
) -> ApiResult<Imported> {
    check_bounds(&input.document)?;
    let document: PromptDocument = serde_json::from_value(input.document.clone())
        .map_err(|e| invalid(format!("The document is not an exported prompt: {e}")))?;
    if document.format != EXPORT_FORMAT {
        return Err(invalid(format!(
            "The document's format is \"{}\", not \"{EXPORT_FORMAT}\".",
            document.format
        )));
    }
    if document.format_version != EXPORT_FORMAT_VERSION {
        return Err(invalid(format!(
            "The document has format version {}; this server reads version {EXPORT_FORMAT_VERSION}.",
            document.format_version
        )));
    }
    let hash = match copy {
        true => None,
        false => Some(canonical_hash(
            &serde_json::to_value(&document).unwrap_or_default(),
        )),
    };
    if let Some(hash) = &hash
        && let Some(found) = imported_as(db, caller.organization_id, hash).await?
    {
        return Ok(Imported::Existing(found));
    }
    match import_new(
        db,
        caller,
        &input,
        &document,
        hash.clone(),
        min_interval_secs,
    )
    .await
    {
        Err(ApiError::Database(e))
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
        {
            // A concurrent import of the same document won the race.
            match &hash {
                Some(hash) => match imported_as(db, caller.organization_id, hash).await? {
                    Some(found) => Ok(Imported::Existing(found)),
                    None => Err(ApiError::Database(e)),
                },
                None => Err(ApiError::Database(e)),
            }
        }
        other => other.map(Imported::Created),
    }
}

/// Imports `document` as a new prompt (keeping `hash`), in one transaction.
async fn import_new<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: &ImportInput,
    document: &PromptDocument,
    hash: Option<String>,
    min_interval_secs: u64,
) -> ApiResult<ImportedView> {
    let txn = crate::db::begin_write(db).await?;
    let mut notes = vec![];
    let p = &document.prompt;
    let prompt = prompts::create_with_hash(
        &txn,
        caller,
        PromptInput {
            title: Some(input.title.clone().unwrap_or_else(|| p.title.clone())),
            description: Some(p.description.clone()),
            skill_name: p.skill_name,
            associated_projects: Some(input.project.into_iter().collect()),
            input_fields: Some(p.input_fields.clone()),
            output_classes: Some(p.output_classes.clone()),
            deployed_version: None,
            tags: Some(p.tags.clone()),
            domain: Some(p.domain.clone()),
            status: Some(p.status),
            parameters: Some(p.parameters.clone()),
            reason: None,
        },
        hash,
    )
    .await?;
    let mut created: Vec<model_version::Model> = vec![];
    for v in &document.versions {
        let connection =
            connection_for(&txn, caller, &input.connections, v.provider.as_str()).await?;
        let steps = match &v.steps {
            None => None,
            Some(Value::Array(items)) => {
                let mut steps = vec![];
                for item in items {
                    let mut item = item.clone();
                    let provider = item
                        .as_object_mut()
                        .and_then(|m| m.remove("provider"))
                        .and_then(|p| p.as_str().map(str::to_string));
                    let mut step: Step = serde_json::from_value(item)
                        .map_err(|e| invalid(format!("version \"{}\": a step: {e}", v.title)))?;
                    if let Some(provider) = provider {
                        step.model_provider_connection = Some(
                            connection_for(&txn, caller, &input.connections, &provider).await?,
                        );
                    }
                    steps.push(step);
                }
                Some(steps)
            }
            Some(_) => {
                return Err(invalid(format!(
                    "version \"{}\": steps is not a list",
                    v.title
                )));
            }
        };
        let mut jury = vec![];
        for juror in &v.jury {
            let model_provider_connection = match juror.provider {
                Some(p) => {
                    Some(connection_for(&txn, caller, &input.connections, p.as_str()).await?)
                }
                None => None,
            };
            jury.push(Juror {
                provider_model_id: juror.provider_model_id.clone(),
                model_provider_connection,
            });
        }
        let params: Option<ModelParams> = match &v.model_params {
            Some(p) => Some(
                serde_json::from_value(p.clone())
                    .map_err(|e| invalid(format!("version \"{}\": model_params: {e}", v.title)))?,
            ),
            None => None,
        };
        let version = versions::create(
            &txn,
            caller,
            prompt.id,
            VersionInput {
                title: Some(v.title.clone()),
                prompt: Some(v.prompt.clone()),
                provider_model_id: Some(v.provider_model_id.clone()),
                provider: Some(v.provider),
                model_provider_connection: Some(Some(connection)),
                max_few_shot_examples: Some(v.max_few_shot_examples),
                parent_model: None,
                model_params: Some(params),
                samples: Some(v.samples),
                jury: Some(Some(jury)),
                steps: Some(steps),
            },
        )
        .await?;
        created.push(version);
    }
    if let Some(title) = &p.deployed_version {
        match created.iter().find(|v| &v.title == title) {
            Some(v) => {
                prompts::update(
                    &txn,
                    caller,
                    prompt.id,
                    PromptInput {
                        deployed_version: Some(Some(v.id)),
                        reason: Some("imported".into()),
                        ..Default::default()
                    },
                )
                .await?;
            }
            None => notes.push(format!(
                "the deployed version \"{title}\" is not in the document"
            )),
        }
    }
    labels::import(
        &txn,
        caller,
        &prompt,
        &document.labels,
        &created,
        &mut notes,
    )
    .await?;
    let mut schedule_ids = vec![];
    match input.project {
        Some(project) => {
            for s in &document.schedules {
                let version = match &s.version {
                    Some(title) => match created.iter().find(|v| &v.title == title) {
                        Some(v) => Some(v.id),
                        None => {
                            notes.push(format!("a schedule runs \"{title}\", which is not in the document; it runs the deployed version"));
                            None
                        }
                    },
                    None => None,
                };
                let made = schedules::create_with(
                    &txn,
                    caller,
                    prompt.id,
                    ScheduleInput {
                        cron: Some(s.cron.clone()),
                        timezone: Some(s.timezone.clone()),
                        version: Some(version),
                        label: Some(s.label.clone()),
                        project: Some(project),
                        project_subset: Some(s.project_subset),
                        only_missing_predictions: Some(s.only_missing_predictions),
                        status: Some(s.status),
                    },
                    min_interval_secs,
                )
                .await?;
                schedule_ids.push(made.id);
            }
        }
        None if !document.schedules.is_empty() => notes.push(format!(
            "{} schedule(s) not imported: name a project to run them on",
            document.schedules.len()
        )),
        None => {}
    }
    if let Some(examples) = &document.examples {
        match input.project {
            Some(project) if !examples.is_empty() => {
                let placed = examples::put(&txn, caller, project, examples).await?;
                if placed.present > 0 {
                    notes.push(format!(
                        "{} few-shot example(s) already in project {project} as ground truth \
                         were not added again",
                        placed.present
                    ));
                }
            }
            Some(_) => {}
            None => notes.push(format!(
                "{} few-shot example(s) not imported: name a project to put them in",
                examples.len()
            )),
        }
    }
    let changes = crate::services::audit::Changes::new()
        .value("versions", created.len())
        .value("schedules", schedule_ids.len());
    let (action, object) = (AuditAction::Import, prompts::audit_object(&prompt));
    crate::services::audit::record(&txn, caller, action, object, changes).await?;
    use sea_orm::TransactionSession;
    txn.commit().await?;
    Ok(ImportedView {
        prompt: prompt.id,
        versions: created.iter().map(|v| v.id).collect(),
        schedules: schedule_ids,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_hash_ignores_key_order_and_layout_only() {
        let a = json!({"a": 1, "b": [1, {"c": "x", "d": null}]});
        let b: Value =
            serde_json::from_str(r#"{ "b": [1, {"d": null, "c": "x"}], "a": 1 }"#).unwrap();
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
        assert_ne!(
            canonical_hash(&a),
            canonical_hash(&json!({"a": 1, "b": [{"c": "x", "d": null}, 1]}))
        );
        assert_ne!(
            canonical_hash(&json!({"a": "1"})),
            canonical_hash(&json!({"a": 1}))
        );
        assert_eq!(canonical_hash(&a).len(), 64);
    }

    #[test]
    fn bounds_name_the_field_over_its_limit() {
        let field = |d: &Value| match check_bounds(d) {
            Err(e) => format!("{e:?}"),
            Ok(()) => "ok".into(),
        };
        assert_eq!(field(&json!({"versions": []})), "ok");
        let many = Value::Array(vec![json!({}); crate::limits::MAX_IMPORT_VERSIONS + 1]);
        assert!(field(&json!({ "versions": many })).contains("versions"));
        let steps = Value::Array(vec![json!({}); crate::limits::MAX_PIPELINE_STEPS + 1]);
        assert!(field(&json!({"versions": [{"steps": steps}]})).contains("steps"));
        let big = "x".repeat(crate::limits::MAX_IMPORT_DOCUMENT_BYTES);
        assert!(field(&json!({ "prompt": big })).contains("document"));
    }
}
