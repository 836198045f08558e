//! Deriving a version from another: every field of the source is copied, a typed set of
//! changes is applied, and the result is checked as a new version is. The web's *Save as new
//! version*, refinement and any other "edit into a new version" make their version here, so
//! none of them can leave a field of the source behind.
use super::*;
use sea_orm::IntoActiveModel;

/// What a derived version changes of its source: `None` keeps the source's value. The
/// optional-of-optional fields set (`Some(Some(_))`) or clear (`Some(None)`) a nullable value.
#[derive(Debug, Clone, Default)]
pub struct VersionChanges {
    /// The new version's name; `None` takes the prompt's default name (titles are unique).
    pub title: Option<String>,
    /// The prompt text (a pipeline's last step's).
    pub prompt: Option<String>,
    /// The model at the provider.
    pub provider_model_id: Option<String>,
    /// The provider; by default the changed connection's, else the source's.
    pub provider: Option<entity::enums::Provider>,
    /// The provider connection.
    pub model_provider_connection: Option<Option<i64>>,
    /// Ground-truth examples per call (`None` inside: 0).
    pub max_few_shot_examples: Option<Option<i32>>,
    /// The model parameters.
    pub model_params: Option<Option<ModelParams>>,
    /// Answers asked per task.
    pub samples: Option<i32>,
    /// Other models that answer each task (`Some(vec![])` clears the jury).
    pub jury: Option<Vec<Juror>>,
    /// The steps of a pipeline (`Some(None)` turns it into a single prompt). The last step's
    /// prompt, connection, model and parameters become the version's unless the changes name
    /// those too.
    pub steps: Option<Option<Vec<Step>>>,
}

/// A new version of prompt `prompt_id` derived from its version `version_id` with `changes`,
/// in one transaction.
pub async fn derive<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    changes: VersionChanges,
) -> ApiResult<model_version::Model> {
    let txn = crate::db::begin_write(db).await?;
    let source = get(&txn, caller, prompt_id, version_id).await?;
    let created = derive_from(&txn, caller, &source, changes).await?;
    txn.commit().await?;
    Ok(created)
}

/// A new version derived from `source` (a version of the caller's organization, read by the
/// caller) with `changes`, inserted through `db` (the caller's transaction). The copy starts
/// from the source's row, so a column this function does not name is copied as it is; a
/// pipeline's last step is kept in step with the version's prompt, connection, model and
/// parameters.
pub async fn derive_from(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    source: &model_version::Model,
    changes: VersionChanges,
) -> ApiResult<model_version::Model> {
    // Every change is named here: the compiler refuses a new one left unapplied.
    let VersionChanges {
        title,
        prompt,
        provider_model_id,
        provider,
        model_provider_connection,
        max_few_shot_examples,
        model_params,
        samples,
        jury,
        steps,
    } = changes;
    check_fields(&VersionInput {
        title: title.clone(),
        prompt: prompt.clone(),
        provider_model_id: provider_model_id.clone(),
        provider,
        model_provider_connection,
        max_few_shot_examples,
        parent_model: None,
        model_params: model_params.clone(),
        samples,
        jury: None,
        steps: None,
    })?;
    let jury = match jury {
        Some(list) => {
            check_jury(db, caller, &list).await?;
            list
        }
        None => Juror::of_stored(source.jury.as_ref()),
    };
    check_answers(samples.unwrap_or(source.samples), 1 + jury.len())?;
    let prompt_id = source.parent_model_id;
    let from_steps = match &steps {
        Some(Some(list)) => check_steps(db, caller, prompt_id, list).await?,
        _ => Pipeline::default(),
    };
    let prompt_changed = prompt.is_some() || from_steps.prompt.is_some();
    let text = prompt
        .or(from_steps.prompt)
        .unwrap_or_else(|| source.prompt.clone());
    let connection_change = model_provider_connection.or(from_steps.connection.map(Some));
    let connection = connection_change.unwrap_or(source.model_provider_connection_id);
    let model = provider_model_id
        .or(from_steps.model)
        .unwrap_or_else(|| source.provider_model_id.clone());
    let params_change = model_params.or(from_steps.params.map(Some));
    let params = match &params_change {
        Some(p) => p.clone(),
        None => source
            .model_params
            .as_ref()
            .map(|v| ModelParams::from_stored(Some(v))),
    };
    // The provider follows a changed connection unless the changes name one.
    let mut provider = provider;
    if let Some(Some(id)) = connection_change {
        check_connection(db, caller, id).await?;
        if provider.is_none() {
            provider = Some(
                model_providers::find(db, caller.organization_id, id)
                    .await?
                    .provider,
            );
        }
    }
    // The steps: the given ones, or the source's; the last one mirrors the version.
    let steps_changed = steps.is_some();
    let list = match steps {
        Some(list) => list,
        None => Step::of_stored(source.steps.as_ref()),
    };
    let stored_steps = match list.filter(|s| s.len() > 1) {
        Some(mut list) => {
            let before = list.clone();
            if let Some(last) = list.last_mut() {
                last.prompt = text.clone();
                if last.model_provider_connection.is_some() {
                    last.model_provider_connection = connection;
                }
                if last.provider_model_id.is_some() {
                    last.provider_model_id = Some(model.clone());
                }
                if last.model_params.is_some() {
                    last.model_params = params.clone();
                }
            }
            if prompt_changed || connection_change.is_some() || list != before {
                check_steps(db, caller, prompt_id, &list).await?.steps
            } else {
                serde_json::to_value(&list).ok()
            }
        }
        // A single prompt stays one (with the source's stored steps, if any, as they are).
        None if !steps_changed => {
            if prompt_changed {
                check_placeholders(db, prompt_id, &text).await?;
            }
            source.steps.clone()
        }
        // The changes turn a pipeline into a single prompt.
        None => {
            check_placeholders(db, prompt_id, &text).await?;
            None
        }
    };
    let title = match title {
        Some(t) => t,
        None => default_name(db, caller, prompt_id).await?,
    };
    if title_taken(db, prompt_id, &title, None).await? {
        return Err(ApiError::field(
            "title",
            "A version with this name already exists.",
        ));
    }
    let now = crate::util::now();
    let mut row = source.clone().into_active_model().reset_all();
    row.id = NotSet;
    row.title = Set(title);
    row.prompt = Set(text);
    row.provider_model_id = Set(model);
    if let Some(p) = provider {
        row.provider = Set(p);
    }
    row.model_provider_connection_id = Set(connection);
    if let Some(n) = max_few_shot_examples {
        row.max_few_shot_examples = Set(Some(n.unwrap_or(0)));
    }
    if let Some(p) = params_change {
        row.model_params = Set(p.map(|p| p.to_stored()));
    }
    if let Some(n) = samples {
        row.samples = Set(n);
    }
    row.jury = Set(Juror::to_stored(&jury));
    // A calibration map belongs to the prompt and model it was fitted on: a new version starts
    // without one (its runs show whether it needs its own).
    row.calibration = Set(None);
    row.steps = Set(stored_steps);
    row.created_by_id = Set(Some(caller.user.id));
    row.created_at = Set(now);
    row.updated_at = Set(now);
    let created = row.insert(db).await?;
    let changes = audit::Changes::created(&created).value("derived_from", source.id);
    let action = entity::enums::AuditAction::Create;
    audit::record(db, caller, action, object(&created), changes).await?;
    Ok(created)
}
