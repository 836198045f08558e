//! Prompts (Label Studio's `ModelInterface`): CRUD, validation against the associated
//! projects' label configs, and the counts and best score the list shows.
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::label_config::{LabelConfig, Skill};
use crate::pagination::{Page, PageRequest};
use crate::services::{counters, labels, projects};
use crate::views::prompts::PromptInput;
use entity::enums::PromptStatus;
use entity::{model_interface, model_interface_project, model_run, model_version, project};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use std::collections::HashMap;

mod registry;
mod stats;
use registry::{check_parameters, clean_domain, clean_tags};
pub use registry::{object as audit_object, parse_tags};
pub use stats::{PromptStats, project_titles, stats, version_scores};

/// Checks that each project reads every input field and offers every output class.
fn check_against(
    projects: &[project::Model],
    inputs: &[String],
    outputs: &[String],
) -> ApiResult<()> {
    for p in projects {
        let config: LabelConfig = projects::config_of(p);
        let have_inputs = config.input_fields();
        let missing: Vec<&String> = inputs.iter().filter(|f| !have_inputs.contains(f)).collect();
        if !missing.is_empty() {
            return Err(ApiError::field(
                "input_fields",
                format!(
                    "input_fields: {missing:?} do not match inputs in Project (id:{}), which reads {have_inputs:?}",
                    p.id
                ),
            ));
        }
        let have_outputs = config.output_classes();
        let unknown: Vec<&String> = outputs
            .iter()
            .filter(|c| !have_outputs.contains(c))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::field(
                "output_classes",
                format!(
                    "output_classes: {unknown:?} not compatible with Project (id:{}), which offers {have_outputs:?}",
                    p.id
                ),
            ));
        }
    }
    Ok(())
}

async fn load_projects(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    ids: &[i64],
) -> ApiResult<Vec<project::Model>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(projects::get_for_field(db, caller, *id, "associated_projects").await?);
    }
    Ok(out)
}

/// The project ids associated with each of `prompt_ids`.
pub async fn associations(
    db: &impl ConnectionTrait,
    prompt_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<i64>>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    if prompt_ids.is_empty() {
        return Ok(out);
    }
    for link in crate::db::in_chunks(prompt_ids, |chunk| {
        model_interface_project::Entity::find()
            .filter(model_interface_project::Column::ModelInterfaceId.is_in(chunk))
            .order_by_asc(model_interface_project::Column::ProjectId)
            .all(db)
    })
    .await?
    {
        out.entry(link.model_interface_id)
            .or_default()
            .push(link.project_id);
    }
    Ok(out)
}

async fn set_projects(db: &impl ConnectionTrait, prompt_id: i64, ids: &[i64]) -> ApiResult<()> {
    model_interface_project::Entity::delete_many()
        .filter(model_interface_project::Column::ModelInterfaceId.eq(prompt_id))
        .exec(db)
        .await?;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if !ids.is_empty() {
        model_interface_project::Entity::insert_many(ids.into_iter().map(|project_id| {
            model_interface_project::ActiveModel {
                model_interface_id: Set(prompt_id),
                project_id: Set(project_id),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Links `project_id` to a prompt if it is not linked yet (a run on a project associates it).
pub async fn associate(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    project_id: i64,
) -> ApiResult<()> {
    // One statement, so concurrent requests that associate the same pair cannot collide.
    model_interface_project::Entity::insert(model_interface_project::ActiveModel {
        model_interface_id: Set(prompt_id),
        project_id: Set(project_id),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            model_interface_project::Column::ModelInterfaceId,
            model_interface_project::Column::ProjectId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn check_title(title: &str) -> ApiResult<()> {
    if title.trim().is_empty() {
        return Err(ApiError::field("title", "This field may not be blank."));
    }
    crate::limits::check_chars("title", title, crate::limits::MAX_PROMPT_TITLE_CHARS)
}

/// The checks of a prompt's fields that need no database, run before any transaction: title,
/// skill, description, tags (cleaned), domain (cleaned) and parameters.
#[allow(clippy::type_complexity)]
fn check_input(input: &PromptInput) -> ApiResult<(Option<Vec<String>>, Option<Option<String>>)> {
    if let Some(title) = &input.title {
        check_title(title)?;
    }
    if let Some(Some(description)) = &input.description {
        crate::limits::check_chars(
            "description",
            description,
            crate::limits::MAX_DESCRIPTION_CHARS,
        )?;
    }
    if let Some(reason) = &input.reason {
        crate::limits::check_chars("reason", reason.trim(), crate::limits::MAX_COMMENT_CHARS)?;
    }
    let tags = input.tags.as_deref().map(clean_tags).transpose()?;
    let domain = input.domain.clone().map(clean_domain).transpose()?;
    if let Some(parameters) = &input.parameters {
        check_parameters(parameters)?;
    }
    Ok((tags, domain))
}

/// Checks that `version_id` is a version of prompt `prompt_id` (a 400 on `deployed_version`
/// otherwise).
async fn check_deployed(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    version_id: i64,
) -> ApiResult<()> {
    let found = model_version::Entity::find_by_id(version_id)
        .filter(model_version::Column::ParentModelId.eq(prompt_id))
        .one(db)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(ApiError::field(
            "deployed_version",
            format!("Invalid pk \"{version_id}\" - not a version of prompt {prompt_id}."),
        )),
    }
}

/// The version a prompt answers with as an ML backend: its deployed version, or its newest
/// version when none is set or the deployed one was deleted; `None` when it has no versions.
pub async fn answering_version(
    db: &impl ConnectionTrait,
    prompt: &model_interface::Model,
) -> ApiResult<Option<model_version::Model>> {
    if let Some(id) = prompt.deployed_version_id
        && let Some(version) = model_version::Entity::find_by_id(id)
            .filter(model_version::Column::ParentModelId.eq(prompt.id))
            .one(db)
            .await?
    {
        return Ok(Some(version));
    }
    Ok(model_version::Entity::find()
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .order_by_desc(model_version::Column::Id)
        .one(db)
        .await?)
}

/// Clears the `deployed_version_id` of `prompts` whose deployed version was deleted, so views
/// show `null` (the newest version answers) rather than a dangling id.
pub async fn forget_deleted_deployed(
    db: &impl ConnectionTrait,
    prompts: &mut [model_interface::Model],
) -> ApiResult<()> {
    let ids: Vec<i64> = prompts
        .iter()
        .filter_map(|p| p.deployed_version_id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let live: Vec<(i64, i64)> = crate::db::in_chunks(&ids, |chunk| {
        model_version::Entity::find()
            .select_only()
            .columns([
                model_version::Column::Id,
                model_version::Column::ParentModelId,
            ])
            .filter(model_version::Column::Id.is_in(chunk))
            .into_tuple()
            .all(db)
    })
    .await?;
    for p in prompts.iter_mut() {
        if let Some(id) = p.deployed_version_id
            && !live.contains(&(id, p.id))
        {
            p.deployed_version_id = None;
        }
    }
    Ok(())
}

/// Creates a prompt in the caller's organization.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: PromptInput,
) -> ApiResult<model_interface::Model> {
    create_with_hash(db, caller, input, None).await
}

/// Creates a prompt that an import made, keeping the content hash of its document (`None`:
/// a copy). A hash the organization already has is the database's unique violation.
pub async fn create_with_hash<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    input: PromptInput,
    import_hash: Option<String>,
) -> ApiResult<model_interface::Model> {
    let (tags, domain) = check_input(&input)?;
    let title = input
        .title
        .ok_or_else(|| ApiError::field("title", "This field is required."))?;
    let skill = input.skill_name.unwrap_or(Skill::TextClassification);
    let inputs = input.input_fields.clone().unwrap_or_default();
    let outputs = input.output_classes.clone().unwrap_or_default();
    if let Some(Some(version)) = input.deployed_version {
        return Err(ApiError::field(
            "deployed_version",
            format!("Invalid pk \"{version}\" - a new prompt has no versions yet."),
        ));
    }
    let tags = tags.unwrap_or_default();
    let domain = domain.flatten();
    let parameters = input.parameters.flatten();
    let project_ids = input.associated_projects.unwrap_or_default();
    let txn = crate::db::begin_write(db).await?;
    let linked = load_projects(&txn, caller, &project_ids).await?;
    check_against(&linked, &inputs, &outputs)?;
    let now = crate::util::now();
    let created = model_interface::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        title: Set(title),
        description: Set(input.description.flatten()),
        skill_name: Set(Some(skill)),
        input_fields: Set(inputs.into()),
        output_classes: Set(outputs.into()),
        created_by_id: Set(Some(caller.user.id)),
        deployed_version_id: Set(None),
        tags: Set(tags.into()),
        domain: Set(domain),
        status: Set(input.status.unwrap_or(PromptStatus::Draft)),
        parameters: Set(parameters),
        import_hash: Set(import_hash),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    set_projects(&txn, created.id, &project_ids).await?;
    registry::audit_created(&txn, caller, &created, &project_ids).await?;
    txn.commit().await?;
    Ok(created)
}

/// The prompt `id` of the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<model_interface::Model> {
    model_interface::Entity::find_by_id(id)
        .filter(model_interface::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Applies a partial update; the field checks re-run against the new or current projects. A
/// change of `deployed_version` moves the `production` label (so a protected one takes an
/// Owner or Administrator).
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    input: PromptInput,
) -> ApiResult<model_interface::Model> {
    update_with(db, caller, id, input, None).await
}

/// [`update`], also (un)protecting the `production` label when `protect_production` says so.
pub async fn update_with<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
    input: PromptInput,
    protect_production: Option<bool>,
) -> ApiResult<model_interface::Model> {
    let (tags, domain) = check_input(&input)?;
    // The row is read under its lock, in the transaction that writes it and its history:
    // PostgreSQL's `FOR NO KEY UPDATE` makes a concurrent change wait for this one to commit
    // (and, unlike `FOR UPDATE`, not for inserts that merely reference the row), and
    // SQLite's `BEGIN IMMEDIATE` already admits one writer at a time. So the "(was …)" of
    // each history entry is the state the previous change left, never a stale read.
    let txn = crate::db::begin_write(db).await?;
    let existing = model_interface::Entity::find_by_id(id)
        .filter(model_interface::Column::OrganizationId.eq(caller.organization_id))
        .lock(LockType::NoKeyUpdate)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound)?;
    let inputs = match &input.input_fields {
        Some(v) => v.clone(),
        None => existing.input_fields.0.clone(),
    };
    let outputs = match &input.output_classes {
        Some(v) => v.clone(),
        None => existing.output_classes.0.clone(),
    };
    let project_ids = match &input.associated_projects {
        Some(ids) => ids.clone(),
        None => associations(&txn, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
    };
    let linked = load_projects(&txn, caller, &project_ids).await?;
    check_against(&linked, &inputs, &outputs)?;
    if let Some(Some(version)) = input.deployed_version {
        check_deployed(&txn, id, version).await?;
    }
    if input.deployed_version.is_some() || protect_production.is_some() {
        // The deployed version is the `production` label: the label moves with it.
        let manager = caller.clone().manager()?;
        let version = match input.deployed_version {
            Some(d) => d,
            None => existing.deployed_version_id,
        };
        let change = labels::LabelChange {
            version,
            protected: protect_production,
            reason: input.reason.clone(),
        };
        labels::move_in(&txn, &manager, &existing, labels::PRODUCTION, &change).await?;
    }
    registry::record_changes(
        &txn,
        caller,
        &existing,
        &input,
        tags.as_deref(),
        domain.as_ref().map(Option::as_deref),
    )
    .await?;
    let (before, projects_before) = match &input.associated_projects {
        Some(_) => {
            let ids = associations(&txn, &[id]).await?.remove(&id);
            (existing.clone(), ids.unwrap_or_default())
        }
        None => (existing.clone(), project_ids.clone()),
    };
    let mut model: model_interface::ActiveModel = existing.into();
    if let Some(title) = input.title {
        model.title = Set(title);
    }
    if let Some(description) = input.description {
        model.description = Set(description);
    }
    if let Some(skill) = input.skill_name {
        model.skill_name = Set(Some(skill));
    }
    if input.input_fields.is_some() {
        model.input_fields = Set(inputs.into());
    }
    if input.output_classes.is_some() {
        model.output_classes = Set(outputs.into());
    }
    if let Some(deployed) = input.deployed_version {
        model.deployed_version_id = Set(deployed);
    }
    if let Some(tags) = tags {
        model.tags = Set(tags.into());
    }
    if let Some(domain) = domain {
        model.domain = Set(domain);
    }
    if let Some(status) = input.status {
        model.status = Set(status);
    }
    if let Some(parameters) = input.parameters {
        model.parameters = Set(parameters);
    }
    model.updated_at = Set(crate::util::now());
    let updated = model.update(&txn).await?;
    if input.associated_projects.is_some() {
        set_projects(&txn, id, &project_ids).await?;
    }
    let projects = (projects_before.as_slice(), project_ids.as_slice());
    registry::audit_updated(&txn, caller, &before, &updated, projects).await?;
    if let Some(version) = updated.deployed_version_id
        && before.deployed_version_id != Some(version)
    {
        let data = serde_json::json!({
            "prompt": {"id": updated.id, "title": updated.title},
            "version": version,
            "previous_version": before.deployed_version_id,
            "by": caller.user.email,
        });
        crate::services::webhooks::emit(
            &txn,
            updated.organization_id,
            entity::enums::WebhookEvent::PromptDeployed,
            data,
            None,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Ids of the runs of the given versions.
pub async fn run_ids_of_versions(
    db: &impl ConnectionTrait,
    version_ids: &[i64],
) -> ApiResult<Vec<i64>> {
    if version_ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(crate::db::in_chunks(version_ids, |chunk| {
        model_run::Entity::find()
            .select_only()
            .column(model_run::Column::Id)
            .filter(model_run::Column::ModelVersionId.is_in(chunk))
            .into_tuple()
            .all(db)
    })
    .await?)
}

/// Deletes a prompt with its versions, runs and their predictions, and recounts the tasks.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let prompt = get(&txn, caller, id).await?;
    let versions: Vec<i64> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Id)
        .filter(model_version::Column::ParentModelId.eq(prompt.id))
        .into_tuple()
        .all(&txn)
        .await?;
    counters::forget_runs(&txn, &run_ids_of_versions(&txn, &versions).await?).await?;
    model_interface::Entity::delete_by_id(prompt.id)
        .exec(&txn)
        .await?;
    crate::services::audit::deleted(&txn, caller, registry::object(&prompt)).await?;
    txn.commit().await?;
    Ok(())
}

/// Filters of the prompt list.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Title or description contains, case-insensitive.
    pub search: Option<String>,
    /// Tags a prompt must all have.
    pub tags: Vec<String>,
    /// The domain (exact).
    pub domain: Option<String>,
    /// The status; `None` leaves archived prompts out.
    pub status: Option<PromptStatus>,
    /// DRF ordering over `id`, `title`, `created_at`, `updated_at`.
    pub ordering: Option<String>,
}

/// One page of the caller's prompts, the count and the page served.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    filter: &ListFilter,
    request: PageRequest,
) -> ApiResult<(Vec<model_interface::Model>, u64, Page)> {
    let mut query = model_interface::Entity::find()
        .filter(model_interface::Column::OrganizationId.eq(caller.organization_id));
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        query = query.filter(
            Condition::any()
                .add(crate::util::icontains(
                    model_interface::Column::Title,
                    search,
                ))
                .add(crate::util::icontains(
                    model_interface::Column::Description,
                    search,
                )),
        );
    }
    query = match filter.status {
        Some(status) => query.filter(model_interface::Column::Status.eq(status)),
        None => query.filter(model_interface::Column::Status.ne(PromptStatus::Archived)),
    };
    if let Some(domain) = filter.domain.as_deref() {
        query = query.filter(model_interface::Column::Domain.eq(domain));
    }
    for tag in &filter.tags {
        // Tags are stored as a JSON list of strings: a tag is matched as its quoted JSON
        // string, with LIKE's wildcards taken literally.
        use sea_orm::sea_query::{ExprTrait, LikeExpr};
        let quoted = serde_json::to_string(tag).unwrap_or_default();
        let escaped = quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(
            Expr::cust("CAST(tags AS TEXT)")
                .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
    let (mut query, ordered) = crate::util::order_by(
        query,
        filter.ordering.as_deref(),
        &[
            ("id", model_interface::Column::Id),
            ("title", model_interface::Column::Title),
            ("created_at", model_interface::Column::CreatedAt),
            ("updated_at", model_interface::Column::UpdatedAt),
        ],
    );
    if !ordered {
        query = query
            .order_by_desc(model_interface::Column::CreatedAt)
            .order_by_desc(model_interface::Column::Id);
    }
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let items = query.offset(page.offset).limit(page.size).all(db).await?;
    Ok((items, total, page))
}
