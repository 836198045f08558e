//! A prompt as a portable asset: exported as one JSON document (its fields, versions with
//! their steps, parameters and schedules, optionally its few-shot examples; never a secret nor
//! an id of the source: connections are named by provider) and imported into any organization
//! of any Prompter as new objects, with connections matched by provider or chosen at import.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::llm::{ModelParams, Provider};
use crate::services::{annotations, model_providers, prompts, schedules, versions};
use crate::views::prompts::PromptInput;
use crate::views::registry::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ImportInput, ImportedView, PromptAsset, PromptDocument,
    ScheduleAsset, ScheduleInput, VersionAsset,
};
use crate::views::versions::{Step, VersionInput};
use entity::{model_provider_connection as connection, model_version, prompt_schedule};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Few-shot examples an export carries at most.
pub const MAX_EXAMPLES: usize = 20;

/// The provider of each of the organization's connections, by id.
async fn providers_by_id(
    db: &impl ConnectionTrait,
    organization_id: i64,
) -> ApiResult<HashMap<i64, String>> {
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
            provider: v.provider.clone(),
            provider_model_id: v.provider_model_id.clone(),
            model_params: v.model_params.clone(),
            max_few_shot_examples: v.max_few_shot_examples,
            steps: Step::of_stored(v.steps.as_ref()).map(|steps| {
                // A step's connection travels as its provider's name.
                Value::Array(
                    steps
                        .into_iter()
                        .map(|s| {
                            let provider = s
                                .model_provider_connection
                                .and_then(|id| providers.get(&id).cloned());
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
            project_subset: s.project_subset,
            only_missing_predictions: s.only_missing_predictions,
            status: s.status,
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
            input_fields: prompt.input_fields,
            output_classes: prompt.output_classes,
            tags: serde_json::from_value(prompt.tags).unwrap_or_default(),
            domain: prompt.domain,
            status: prompt.status,
            parameters: prompt.parameters,
            deployed_version: prompt
                .deployed_version_id
                .and_then(|v| titles.get(&v).cloned()),
        },
        versions,
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
        if found.provider != provider {
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
        .filter(connection::Column::Provider.eq(kind.as_str()))
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

/// Imports a prompt document as a new prompt of the caller's organization, all in one
/// transaction: all or nothing.
pub async fn import<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: ImportInput,
) -> ApiResult<ImportedView> {
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
    let txn = crate::db::begin_write(db).await?;
    let mut notes = vec![];
    let p = &document.prompt;
    let prompt = prompts::create(
        &txn,
        caller,
        PromptInput {
            title: Some(input.title.clone().unwrap_or_else(|| p.title.clone())),
            description: Some(p.description.clone()),
            skill_name: p.skill_name.clone(),
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
    )
    .await?;
    let mut created: Vec<model_version::Model> = vec![];
    for v in &document.versions {
        let connection = connection_for(&txn, caller, &input.connections, &v.provider).await?;
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
                provider: Some(v.provider.clone()),
                model_provider_connection: Some(Some(connection)),
                max_few_shot_examples: Some(v.max_few_shot_examples),
                parent_model: None,
                model_params: Some(params),
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
                let made = schedules::create(
                    &txn,
                    caller,
                    prompt.id,
                    ScheduleInput {
                        cron: Some(s.cron.clone()),
                        timezone: Some(s.timezone.clone()),
                        version: Some(version),
                        project: Some(project),
                        project_subset: Some(s.project_subset),
                        only_missing_predictions: Some(s.only_missing_predictions),
                        status: Some(s.status),
                    },
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
                let tasks: Vec<Value> = examples
                    .iter()
                    .map(|e| json!({"data": e["data"], "annotations": [{"result": e["result"], "ground_truth": true}]}))
                    .collect();
                crate::services::projects::import(
                    &txn,
                    caller,
                    project,
                    Value::Array(tasks),
                    true,
                    true,
                )
                .await?;
            }
            Some(_) => {}
            None => notes.push(format!(
                "{} few-shot example(s) not imported: name a project to put them in",
                examples.len()
            )),
        }
    }
    use sea_orm::TransactionSession;
    txn.commit().await?;
    Ok(ImportedView {
        prompt: prompt.id,
        versions: created.iter().map(|v| v.id).collect(),
        schedules: schedule_ids,
        notes,
    })
}
