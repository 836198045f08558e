//! Prompt versions (Label Studio's `ThirdPartyModelVersion`): CRUD, default names, and the
//! `model_version` label their predictions carry.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::limits::{
    MAX_PIPELINE_STEPS as MAX_STEPS, MAX_PROMPT_TEXT_CHARS, MAX_PROMPT_TITLE_CHARS, check_chars,
};
use crate::llm::ModelParams;
use crate::llm::Provider;
use crate::services::audit::{self, Object};
use crate::services::model_params;
use crate::services::model_providers;
use crate::services::{counters, prompts};
use crate::views::versions::{Juror, Step, VersionInput};
use entity::{model_interface, model_version};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

mod calibrate;
mod checks;
mod derive;
pub use calibrate::{MIN_CALIBRATION_LABELS, calibrate, uncalibrate};
use checks::{
    Pipeline, check_answers, check_connection, check_fields, check_jury, check_placeholders,
    check_steps,
};
pub use derive::{VersionChanges, derive, derive_from};

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
    Ok(ordered(prompt_id, ordering).all(db).await?)
}

/// One page of the versions of prompt `prompt_id` in the order of [`list`], with their count
/// and the page served.
pub async fn list_page(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    ordering: Option<&str>,
    request: crate::pagination::PageRequest,
) -> ApiResult<(Vec<model_version::Model>, u64, crate::pagination::Page)> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    prompts::get(db, caller, prompt_id).await?;
    let count = model_version::Entity::find()
        .filter(model_version::Column::ParentModelId.eq(prompt_id))
        .count(db)
        .await?;
    let page = request.locate(count);
    let items = ordered(prompt_id, ordering)
        .offset(page.offset)
        .limit(page.size)
        .all(db)
        .await?;
    Ok((items, count, page))
}

/// The versions of `prompt_id` ordered by `ordering`, then by id.
fn ordered(prompt_id: i64, ordering: Option<&str>) -> sea_orm::Select<model_version::Entity> {
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
    query.order_by_asc(model_version::Column::Id)
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

/// Whether another version of prompt `prompt_id` than `except` has the title `title`.
pub async fn title_taken(
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
    let mut input = input;
    let pipeline = match input.steps.clone().flatten() {
        Some(steps) => check_steps(&txn, caller, prompt.id, &steps).await?,
        None => Pipeline::default(),
    };
    // The last step's prompt, connection, model and parameters are the version's.
    if let Some(p) = pipeline.prompt.clone() {
        input.prompt = Some(p);
    }
    if let Some(c) = pipeline.connection {
        input.model_provider_connection = Some(Some(c));
    }
    if let Some(m) = pipeline.model.clone() {
        input.provider_model_id = Some(m);
    }
    if let Some(p) = pipeline.params.clone() {
        input.model_params = Some(Some(p));
    }
    let title = input
        .title
        .clone()
        .ok_or_else(|| ApiError::field("title", "This field is required."))?;
    let text = input
        .prompt
        .clone()
        .ok_or_else(|| ApiError::field("prompt", "This field is required."))?;
    if pipeline.steps.is_none() {
        // A pipeline's prompts were checked step by step.
        check_placeholders(&txn, prompt.id, &text).await?;
    }
    let model = input
        .provider_model_id
        .clone()
        .ok_or_else(|| ApiError::field("provider_model_id", "This field is required."))?;
    let provider = input.provider.unwrap_or(Provider::OpenAI);
    let jury = input.jury.clone().flatten().unwrap_or_default();
    check_jury(&txn, caller, &jury).await?;
    check_answers(input.samples.unwrap_or(1), 1 + jury.len())?;
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
            model_providers::first_with_key(&txn, caller.organization_id, provider)
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
        steps: Set(pipeline.steps),
        samples: Set(input.samples.unwrap_or(1)),
        calibration: Set(None),
        jury: Set(Juror::to_stored(&jury)),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    Ok(created)
}

/// A version as the audit log names it.
pub fn object(version: &model_version::Model) -> Object {
    Object::new(
        entity::enums::AuditObject::Version,
        version.id,
        &version.title,
    )
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
    let mut input = input;
    let mut new_steps: Option<Option<serde_json::Value>> = None;
    match input.steps.clone() {
        Some(Some(steps)) => {
            let pipeline = check_steps(&txn, caller, prompt_id, &steps).await?;
            input.prompt = pipeline.prompt;
            if let Some(c) = pipeline.connection {
                input.model_provider_connection = Some(Some(c));
            }
            if let Some(m) = pipeline.model {
                input.provider_model_id = Some(m);
            }
            if let Some(p) = pipeline.params {
                input.model_params = Some(Some(p));
            }
            new_steps = Some(pipeline.steps);
        }
        Some(None) => new_steps = Some(None),
        None => {
            // A new prompt for a pipeline is its last step's.
            if let (Some(text), Some(mut steps)) =
                (&input.prompt, Step::of_stored(existing.steps.as_ref()))
                && let Some(last) = steps.last_mut()
            {
                last.prompt = text.clone();
                let pipeline = check_steps(&txn, caller, prompt_id, &steps).await?;
                new_steps = Some(pipeline.steps);
            }
        }
    }
    let is_pipeline = match &new_steps {
        Some(steps) => steps.is_some(),
        None => Step::of_stored(existing.steps.as_ref()).is_some(),
    };
    if let Some(text) = &input.prompt
        && !is_pipeline
    {
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
    let jury = match &input.jury {
        Some(jury) => jury.clone().unwrap_or_default(),
        None => Juror::of_stored(existing.jury.as_ref()),
    };
    if let Some(Some(list)) = &input.jury {
        check_jury(&txn, caller, list).await?;
    }
    check_answers(input.samples.unwrap_or(existing.samples), 1 + jury.len())?;
    let before = existing.clone();
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
    if let Some(v) = input.samples {
        model.samples = Set(v);
    }
    if input.jury.is_some() {
        model.jury = Set(Juror::to_stored(&jury));
    }
    if let Some(steps) = new_steps {
        model.steps = Set(steps);
    }
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &before, &updated).await?;
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
    audit::deleted(&txn, caller, object(&version)).await?;
    txn.commit().await?;
    Ok(())
}
