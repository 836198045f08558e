//! Prompt versions (Label Studio's `ThirdPartyModelVersion`): CRUD, default names, and the
//! `model_version` label their predictions carry.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::limits::{
    MAX_PIPELINE_STEPS as MAX_STEPS, MAX_PROMPT_TEXT_CHARS, MAX_PROMPT_TITLE_CHARS, check_chars,
};
use crate::llm::ModelParams;
use crate::llm::Provider;
use crate::services::model_params;
use crate::services::model_providers;
use crate::services::{counters, prompts};
use crate::views::versions::{Step, VersionInput};
use entity::{model_interface, model_version};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use std::collections::HashMap;

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
    check_placeholders_of(db, prompt_id, text, "prompt", &HashMap::new()).await
}

/// [`check_placeholders`] of a pipeline step's prompt (errors on `field`): `{step.field}`
/// must name an output of an earlier step (`earlier`: step name → its output fields).
async fn check_placeholders_of(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    text: &str,
    field: &str,
    earlier: &HashMap<String, Vec<String>>,
) -> ApiResult<()> {
    let fields =
        crate::template::fields(text).map_err(|e| ApiError::field(field, e.to_string()))?;
    let mut keys: Vec<&str> = vec![];
    for f in &fields {
        let mut parts = f.split(['.', '[', '!', ':']);
        let root = parts.next().unwrap_or(f);
        match earlier.get(root) {
            Some(outputs) => {
                let output = parts.next().unwrap_or("");
                if !outputs.iter().any(|o| o == output) {
                    return Err(ApiError::field(
                        field,
                        format!(
                            "{{{f}}} reads \"{output}\" of step \"{root}\", which answers {}.",
                            outputs.join(", ")
                        ),
                    ));
                }
            }
            None => keys.push(root),
        }
    }
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
                field,
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
        check_chars("title", title, MAX_PROMPT_TITLE_CHARS)?;
    }
    if let Some(prompt) = &input.prompt {
        if prompt.trim().is_empty() {
            return Err(ApiError::field("prompt", "This field may not be blank."));
        }
        check_chars("prompt", prompt, MAX_PROMPT_TEXT_CHARS)?;
    }
    if let Some(model) = &input.provider_model_id
        && (model.trim().is_empty() || model.chars().count() > 255)
    {
        return Err(ApiError::field(
            "provider_model_id",
            "Give the provider's model id (1 to 255 characters).",
        ));
    }
    if let Some(provider) = input.provider
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

/// What a version stores of its steps: the steps (none for a single prompt), and the fields
/// of the version the last step sets.
#[derive(Debug, Default)]
struct Pipeline {
    steps: Option<serde_json::Value>,
    prompt: Option<String>,
    connection: Option<i64>,
    model: Option<String>,
    params: Option<ModelParams>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

/// Checks a pipeline's steps: names, outputs, prompts (each reads task fields and earlier
/// steps' outputs only), connections of the organization and supported providers.
async fn check_steps(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    steps: &[Step],
) -> ApiResult<Pipeline> {
    if steps.is_empty() {
        return Err(ApiError::field(
            "steps",
            "Give at least one step, or null for none.",
        ));
    }
    if steps.len() > MAX_STEPS {
        return Err(ApiError::field(
            "steps",
            format!("A pipeline has at most {MAX_STEPS} steps."),
        ));
    }
    let mut earlier: HashMap<String, Vec<String>> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        let last = i + 1 == steps.len();
        if !is_name(&step.name) {
            return Err(ApiError::field(
                "steps",
                format!(
                    "{at}: name \"{}\" must start with a letter and hold only letters, digits and _ (64 at most).",
                    step.name
                ),
            ));
        }
        if earlier.contains_key(&step.name) {
            return Err(ApiError::field(
                "steps",
                format!("{at}: the name \"{}\" is used twice.", step.name),
            ));
        }
        if step.prompt.len() > MAX_PROMPT_TEXT_CHARS
            && step.prompt.chars().count() > MAX_PROMPT_TEXT_CHARS
        {
            return Err(ApiError::field(
                "steps",
                format!("{at}: the prompt has more than {MAX_PROMPT_TEXT_CHARS} characters."),
            ));
        }
        if step.prompt.trim().is_empty() {
            return Err(ApiError::field(
                "steps",
                format!("{at}: the prompt may not be blank."),
            ));
        }
        if last && step.output_fields.is_some() {
            return Err(ApiError::field(
                "steps",
                format!("{at}: the last step answers the label config and takes no output_fields."),
            ));
        }
        let outputs = step.outputs();
        if outputs.is_empty() || outputs.len() > 20 || outputs.iter().any(|o| !is_name(o)) {
            return Err(ApiError::field(
                "steps",
                format!(
                    "{at}: output_fields are 1 to 20 names (a letter, then letters, digits or _)."
                ),
            ));
        }
        if let Some(model) = &step.provider_model_id
            && (model.trim().is_empty() || model.chars().count() > 255)
        {
            return Err(ApiError::field(
                "steps",
                format!("{at}: give the provider's model id (1 to 255 characters)."),
            ));
        }
        if let Some(params) = &step.model_params {
            model_params::check("steps", params)?;
        }
        if let Some(id) = step.model_provider_connection {
            let connection = model_providers::find(db, caller.organization_id, id)
                .await
                .map_err(|_| {
                    ApiError::field(
                        "steps",
                        format!("{at}: connection {id} is not one of your organization's."),
                    )
                })?;
            if !crate::llm::is_supported(connection.provider) {
                return Err(ApiError::field(
                    "steps",
                    format!(
                        "{at}: {}",
                        crate::llm::unsupported_message(connection.provider)
                    ),
                ));
            }
        }
        check_placeholders_of(db, prompt_id, &step.prompt, "steps", &earlier)
            .await
            .map_err(|e| match e {
                ApiError::Validation { errors } => ApiError::field(
                    "steps",
                    format!(
                        "{at}: {}",
                        errors
                            .values()
                            .flatten()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                ),
                other => other,
            })?;
        earlier.insert(step.name.clone(), outputs);
    }
    let last = &steps[steps.len() - 1];
    Ok(Pipeline {
        steps: (steps.len() > 1).then(|| serde_json::to_value(steps).unwrap_or_default()),
        prompt: Some(last.prompt.clone()),
        connection: last.model_provider_connection,
        model: last.provider_model_id.clone(),
        params: last.model_params.clone(),
    })
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
    if let Some(steps) = new_steps {
        model.steps = Set(steps);
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
