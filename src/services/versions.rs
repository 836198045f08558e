//! Prompt versions (Label Studio's `ThirdPartyModelVersion`): CRUD, default names, and the
//! `model_version` label their predictions carry.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::llm::Provider;
use crate::services::model_params;
use crate::services::model_providers;
use crate::services::{counters, prompts};
use crate::views::versions::VersionInput;
use entity::{model_interface, model_version};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

/// The `model_version` string of the predictions a version's runs write: the version's
/// `full_title`, `"<prompt title>__<version title>"`. The one place that format lives.
pub fn prediction_label(prompt_title: &str, version_title: &str) -> String {
    format!("{prompt_title}__{version_title}")
}

/// The version `version_id` of prompt `prompt_id`, both in the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
) -> ApiResult<model_version::Model> {
    prompts::get(db, caller, prompt_id).await?;
    model_version::Entity::find_by_id(version_id)
        .filter(model_version::Column::ParentModelId.eq(prompt_id))
        .filter(model_version::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Locks a version's row until the end of the transaction (`SELECT … FOR UPDATE` on
/// PostgreSQL; a no-op on SQLite, whose write transactions are exclusive already).
pub async fn lock(txn: &impl ConnectionTrait, version_id: i64) -> ApiResult<()> {
    model_version::Entity::find_by_id(version_id)
        .select_only()
        .column(model_version::Column::Id)
        .lock_exclusive()
        .into_tuple::<i64>()
        .one(txn)
        .await?;
    Ok(())
}

/// The versions of a prompt; `ordering` over `id`, `title`, `created_at` (default `id`).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    ordering: Option<&str>,
) -> ApiResult<Vec<model_version::Model>> {
    prompts::get(db, caller, prompt_id).await?;
    let query =
        model_version::Entity::find().filter(model_version::Column::ParentModelId.eq(prompt_id));
    let (query, _) = crate::util::order_by(
        query,
        ordering,
        &[
            ("id", model_version::Column::Id),
            ("title", model_version::Column::Title),
            ("created_at", model_version::Column::CreatedAt),
            ("updated_at", model_version::Column::UpdatedAt),
        ],
    );
    Ok(query
        .order_by_asc(model_version::Column::Id)
        .all(db)
        .await?)
}

/// `"v{n+1}"` for a prompt with n versions, bumped until no version has that title.
pub async fn default_name(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<String> {
    prompts::get(db, caller, prompt_id).await?;
    let mut n = model_version::Entity::find()
        .filter(model_version::Column::ParentModelId.eq(prompt_id))
        .count(db)
        .await?
        + 1;
    loop {
        let title = format!("v{n}");
        if !title_taken(db, prompt_id, &title, None).await? {
            return Ok(title);
        }
        n += 1;
    }
}

async fn title_taken(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    title: &str,
    except: Option<i64>,
) -> ApiResult<bool> {
    let mut query = model_version::Entity::find()
        .filter(model_version::Column::ParentModelId.eq(prompt_id))
        .filter(model_version::Column::Title.eq(title));
    if let Some(id) = except {
        query = query.filter(model_version::Column::Id.ne(id));
    }
    Ok(query.count(db).await? > 0)
}

/// Tasks whose data keys are read to learn a project's fields.
const FIELD_SAMPLE: u64 = 100;

/// Checks that every `{field}` the prompt reads exists in each project the prompt is
/// associated with: a field its label config reads, or a key of its tasks' data. Catches at
/// once what would otherwise fail every task of a run as `MissingField`.
async fn check_placeholders(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    text: &str,
) -> ApiResult<()> {
    let fields =
        crate::template::fields(text).map_err(|e| ApiError::field("prompt", e.to_string()))?;
    let keys: Vec<&str> = fields
        .iter()
        .map(|f| f.split(['.', '[', '!', ':']).next().unwrap_or(f))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let projects = prompts::associations(db, &[prompt_id])
        .await?
        .remove(&prompt_id)
        .unwrap_or_default();
    for project_id in projects {
        let Some(project) = entity::project::Entity::find_by_id(project_id)
            .one(db)
            .await?
        else {
            continue;
        };
        let mut known: std::collections::BTreeSet<String> =
            crate::services::projects::config_of(&project)
                .input_fields()
                .into_iter()
                .collect();
        let sample: Vec<serde_json::Value> = entity::task::Entity::find()
            .select_only()
            .column(entity::task::Column::Data)
            .filter(entity::task::Column::ProjectId.eq(project.id))
            .order_by_asc(entity::task::Column::Id)
            .limit(FIELD_SAMPLE)
            .into_tuple()
            .all(db)
            .await?;
        known.extend(
            sample
                .iter()
                .filter_map(|d| d.as_object())
                .flat_map(|d| d.keys().cloned()),
        );
        if let Some(missing) = keys.iter().find(|k| !known.contains(**k)) {
            let have: Vec<&str> = known.iter().map(String::as_str).collect();
            return Err(ApiError::field(
                "prompt",
                format!(
                    "The prompt reads {{{missing}}}, but project {} (\"{}\") has no \"{missing}\" field; \
                     its tasks have: {}. Use one of those, or write {{{{{missing}}}}} for literal braces.",
                    project.id,
                    project.title,
                    if have.is_empty() {
                        "no fields yet".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn check_fields(input: &VersionInput) -> ApiResult<()> {
    if let Some(title) = &input.title {
        if title.trim().is_empty() {
            return Err(ApiError::field("title", "This field may not be blank."));
        }
        if title.chars().count() > 500 {
            return Err(ApiError::field(
                "title",
                "Ensure this field has no more than 500 characters.",
            ));
        }
    }
    if input.prompt.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err(ApiError::field("prompt", "This field may not be blank."));
    }
    if let Some(model) = &input.provider_model_id
        && (model.trim().is_empty() || model.chars().count() > 255)
    {
        return Err(ApiError::field(
            "provider_model_id",
            "Give the provider's model id (1 to 255 characters).",
        ));
    }
    if let Some(provider) = &input.provider
        && Provider::parse(provider).is_none()
    {
        return Err(ApiError::field(
            "provider",
            format!("\"{provider}\" is not a valid choice."),
        ));
    }
    if let Some(provider) = input.provider.as_deref().and_then(Provider::parse)
        && !crate::llm::is_supported(provider)
    {
        return Err(ApiError::field(
            "provider",
            crate::llm::unsupported_message(provider),
        ));
    }
    if let Some(Some(params)) = &input.model_params {
        model_params::check("model_params", params)?;
    }
    if let Some(Some(n)) = input.max_few_shot_examples
        && n < 0
    {
        return Err(ApiError::field(
            "max_few_shot_examples",
            "Ensure this value is greater than or equal to 0.",
        ));
    }
    Ok(())
}

async fn check_connection(db: &impl ConnectionTrait, caller: &AuthUser, id: i64) -> ApiResult<()> {
    model_providers::find(db, caller.organization_id, id)
        .await
        .map(|_| ())
        .map_err(|e| e.not_found_as_field("model_provider_connection", id))
}

/// Creates a version of a prompt. Without a connection, the organization must have one for
/// the provider.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    input: VersionInput,
) -> ApiResult<model_version::Model> {
    let txn = crate::db::begin_write(db).await?;
    let prompt: model_interface::Model = prompts::get(&txn, caller, prompt_id).await?;
    if input.parent_model.is_some_and(|p| p != prompt_id) {
        return Err(ApiError::field(
            "parent_model",
            "The prompt of a version is the one in the path.",
        ));
    }
    check_fields(&input)?;
    let title = input
        .title
        .clone()
        .ok_or_else(|| ApiError::field("title", "This field is required."))?;
    let text = input
        .prompt
        .clone()
        .ok_or_else(|| ApiError::field("prompt", "This field is required."))?;
    check_placeholders(&txn, prompt.id, &text).await?;
    let model = input
        .provider_model_id
        .clone()
        .ok_or_else(|| ApiError::field("provider_model_id", "This field is required."))?;
    let provider = input.provider.clone().unwrap_or_else(|| "OpenAI".into());
    if title_taken(&txn, prompt.id, &title, None).await? {
        return Err(ApiError::field(
            "title",
            "A version with this name already exists.",
        ));
    }
    // Without a connection, the organization's connection with a key for the provider is used
    // (and linked, so runs know which one).
    let connection = match input.model_provider_connection.flatten() {
        Some(id) => {
            check_connection(&txn, caller, id).await?;
            id
        }
        None => {
            let kind = Provider::parse(&provider).unwrap_or(Provider::OpenAI);
            model_providers::first_with_key(&txn, caller.organization_id, kind)
                .await?
                .ok_or_else(|| {
                    ApiError::field(
                        "model_provider_connection",
                        format!("A valid API key for provider {provider} has not been setup yet."),
                    )
                })?
                .id
        }
    };
    let now = crate::util::now();
    let created = model_version::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        parent_model_id: Set(prompt.id),
        title: Set(title),
        prompt: Set(text),
        provider: Set(provider),
        provider_model_id: Set(model),
        model_provider_connection_id: Set(Some(connection)),
        max_few_shot_examples: Set(Some(input.max_few_shot_examples.flatten().unwrap_or(0))),
        model_params: Set(input.model_params.flatten().map(|p| p.to_stored())),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Applies a partial update; the title stays unique within the prompt.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    input: VersionInput,
) -> ApiResult<model_version::Model> {
    check_fields(&input)?;
    if input.parent_model.is_some_and(|p| p != prompt_id) {
        return Err(ApiError::field(
            "parent_model",
            "The prompt of a version is the one in the path.",
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, prompt_id, version_id).await?;
    if let Some(text) = &input.prompt {
        check_placeholders(&txn, prompt_id, text).await?;
    }
    if let Some(title) = &input.title
        && title_taken(&txn, prompt_id, title, Some(version_id)).await?
    {
        return Err(ApiError::field(
            "title",
            "A version with this name already exists.",
        ));
    }
    if let Some(Some(id)) = input.model_provider_connection {
        check_connection(&txn, caller, id).await?;
    }
    let mut model: model_version::ActiveModel = existing.into();
    if let Some(v) = input.title {
        model.title = Set(v);
    }
    if let Some(v) = input.prompt {
        model.prompt = Set(v);
    }
    if let Some(v) = input.provider_model_id {
        model.provider_model_id = Set(v);
    }
    if let Some(v) = input.provider {
        model.provider = Set(v);
    }
    if let Some(v) = input.model_provider_connection {
        model.model_provider_connection_id = Set(v);
    }
    if let Some(v) = input.max_few_shot_examples {
        model.max_few_shot_examples = Set(Some(v.unwrap_or(0)));
    }
    if let Some(v) = input.model_params {
        model.model_params = Set(v.map(|p| p.to_stored()));
    }
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a version with its runs and their predictions; other predictions are untouched.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let version = get(&txn, caller, prompt_id, version_id).await?;
    counters::forget_runs(
        &txn,
        &prompts::run_ids_of_versions(&txn, &[version.id]).await?,
    )
    .await?;
    model_version::Entity::delete_by_id(version.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}
