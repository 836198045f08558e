//! The checks of a version's fields before it is written: lengths and choices, placeholders
//! against the prompt's projects, a pipeline's steps, and connections of the organization.
use super::*;
use std::collections::HashMap;

/// Tasks whose data keys are read to learn a project's fields.
const FIELD_SAMPLE: u64 = 100;

/// Checks that every `{field}` the prompt reads exists in each project the prompt is
/// associated with: a field its label config reads, or a key of its tasks' data. Catches at
/// once what would otherwise fail every task of a run as `MissingField`.
pub(super) async fn check_placeholders(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    text: &str,
) -> ApiResult<()> {
    check_placeholders_of(db, prompt_id, text, "prompt", &HashMap::new()).await
}

/// [`check_placeholders`] of a pipeline step's prompt (errors on `field`): `{step.field}`
/// must name an output of an earlier step (`earlier`: step name → its output fields).
pub(super) async fn check_placeholders_of(
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

pub(super) fn check_fields(input: &VersionInput) -> ApiResult<()> {
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
    if let Some(n) = input.samples
        && !(1..=crate::limits::MAX_SAMPLES).contains(&n)
    {
        return Err(ApiError::field(
            "samples",
            format!(
                "Ask for 1 to {} answers per task.",
                crate::limits::MAX_SAMPLES
            ),
        ));
    }
    Ok(())
}

/// Checks a version's jury: at most [`crate::limits::MAX_JURORS`] models, each named, on a
/// connection of the organization to a supported provider.
pub(super) async fn check_jury(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    jury: &[Juror],
) -> ApiResult<()> {
    let most = crate::limits::MAX_JURORS;
    if jury.len() > most {
        return Err(ApiError::field(
            "jury",
            format!("A jury has at most {most} other models."),
        ));
    }
    for (i, juror) in jury.iter().enumerate() {
        let model = &juror.provider_model_id;
        let at = format!("Other model {} ({})", i + 1, model.trim());
        if model.trim().is_empty() || model.chars().count() > 255 {
            return Err(ApiError::field(
                "jury",
                format!(
                    "Other model {}: give the provider's model id (1 to 255 characters).",
                    i + 1
                ),
            ));
        }
        if let Some(id) = juror.model_provider_connection {
            let connection = model_providers::find(db, caller.organization_id, id)
                .await
                .map_err(|_| {
                    ApiError::field(
                        "jury",
                        format!("{at}: connection {id} is not one of your organization's."),
                    )
                })?;
            if !crate::llm::is_supported(connection.provider) {
                return Err(ApiError::field(
                    "jury",
                    format!(
                        "{at}: {}",
                        crate::llm::unsupported_message(connection.provider)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that `samples` answers from each of `models` models stay within
/// [`crate::limits::MAX_SAMPLES`] answers per task.
pub(super) fn check_answers(samples: i32, models: usize) -> ApiResult<()> {
    let most = crate::limits::MAX_SAMPLES;
    if i64::from(samples.max(1)) * models as i64 > i64::from(most) {
        return Err(ApiError::field(
            "samples",
            format!(
                "{samples} answers from each of {models} models is more than {most} answers per \
                 task: ask fewer answers or list fewer models."
            ),
        ));
    }
    Ok(())
}

/// What a version stores of its steps: the steps (none for a single prompt), and the fields
/// of the version the last step sets.
#[derive(Debug, Default)]
pub(super) struct Pipeline {
    pub(super) steps: Option<serde_json::Value>,
    pub(super) prompt: Option<String>,
    pub(super) connection: Option<i64>,
    pub(super) model: Option<String>,
    pub(super) params: Option<ModelParams>,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 64
}

/// Checks a pipeline's steps: names, outputs, prompts (each reads task fields and earlier
/// steps' outputs only), connections of the organization and supported providers.
pub(super) async fn check_steps(
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

pub(super) async fn check_connection(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<()> {
    model_providers::find(db, caller.organization_id, id)
        .await
        .map(|_| ())
        .map_err(|e| e.not_found_as_field("model_provider_connection", id))
}
