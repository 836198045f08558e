//! Model provider connections: an organization's credentials for an LLM provider. The secrets
//! (`api_key`, `auth_token`, `google_application_credentials`) are write-only: they are sealed
//! with the service key before they reach the database, never returned by the API and never
//! logged; only the inference engine opens them, through [`credentials`].
use crate::auth::{Admin, AuthUser};
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult};
use crate::llm::{Credentials, Provider};
use crate::services::audit;
use crate::views::model_providers::ModelProviderConnectionInput;
use entity::model_provider_connection as connection;
use sea_orm::ActiveValue::NotSet;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};

use entity::enums::ConnectionScope;

fn too_long(field: &str, max: usize) -> ApiError {
    ApiError::field(
        field,
        format!("Ensure this field has no more than {max} characters."),
    )
}

/// Checks each field on its own (choices, lengths, bounds).
fn validate(input: &ModelProviderConnectionInput) -> ApiResult<()> {
    for (field, value, max) in [
        ("deployment_name", &input.deployment_name, 512),
        ("endpoint", &input.endpoint, 512),
        ("google_project_id", &input.google_project_id, 255),
        ("google_location", &input.google_location, 255),
        (
            "cached_available_models",
            &input.cached_available_models,
            4096,
        ),
    ] {
        if let Some(Some(v)) = value
            && v.chars().count() > max
        {
            return Err(too_long(field, max));
        }
    }
    for (field, value) in [
        ("budget_alert_threshold", input.budget_alert_threshold),
        ("budget_limit", input.budget_limit),
    ] {
        if let Some(Some(t)) = value
            && !(t >= 0.0 && t.is_finite())
        {
            return Err(ApiError::field(
                field,
                "Ensure this value is greater than or equal to 0.",
            ));
        }
    }
    if let Some(Some(params)) = &input.model_params {
        crate::services::model_params::check("model_params", params)?;
    }
    if let Some(Some(n)) = input.rpm_limit
        && n < 1
    {
        return Err(ApiError::field(
            "rpm_limit",
            "Ensure this value is greater than or equal to 1.",
        ));
    }
    if let Some(Some(n)) = input.tpm_limit
        && n < 1
    {
        return Err(ApiError::field(
            "tpm_limit",
            "Ensure this value is greater than or equal to 1.",
        ));
    }
    Ok(())
}

/// Whether `s` is an absolute `http://` or `https://` URL with a host (and a numeric port, if
/// any) and no whitespace.
fn is_http_url(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    !host.is_empty() && port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Checks the connection as it would be stored (e.g. an endpoint against the provider).
fn validate_merged(model: &connection::Model) -> ApiResult<()> {
    if model.provider.needs_url_endpoint()
        && let Some(endpoint) = &model.endpoint
        && !is_http_url(endpoint)
    {
        return Err(ApiError::field(
            "endpoint",
            "Enter a valid URL (http:// or https://).",
        ));
    }
    Ok(())
}

/// A nullable text value: `""` is stored as null.
fn text(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// A write-only value, sealed; `""` and `null` remove it.
fn sealed(secrets: &Secrets, value: Option<String>) -> Option<String> {
    text(value).map(|plain| secrets.seal(&plain))
}

/// Applies `input` (already validated) to `model`.
fn apply(model: &mut connection::Model, secrets: &Secrets, input: ModelProviderConnectionInput) {
    if let Some(p) = input.provider {
        model.provider = p;
    }
    if let Some(s) = input.scope {
        model.scope = s;
    }
    if let Some(v) = input.is_internal {
        model.is_internal = v;
    }
    if let Some(v) = input.api_key {
        model.api_key_enc = sealed(secrets, v);
    }
    if let Some(v) = input.auth_token {
        model.auth_token_enc = sealed(secrets, v);
    }
    if let Some(v) = input.google_application_credentials {
        model.google_application_credentials_enc = sealed(secrets, v);
    }
    macro_rules! set_text {
        ($($field:ident),*) => { $( if let Some(v) = input.$field { model.$field = text(v); } )* };
    }
    set_text!(
        deployment_name,
        endpoint,
        google_project_id,
        google_location,
        cached_available_models
    );
    macro_rules! set {
        ($($field:ident),*) => { $( if let Some(v) = input.$field { model.$field = v; } )* };
    }
    set!(
        budget_alert_threshold,
        budget_limit,
        budget_reset_period,
        rpm_limit,
        tpm_limit
    );
    if let Some(v) = input.model_params {
        model.model_params = v.map(|p| p.to_stored());
    }
}

/// Creates a connection in the caller's organization, sealing its secrets (an Owner or
/// Administrator: keys are theirs to set).
pub async fn create<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    secrets: &Secrets,
    caller: &Admin,
    input: ModelProviderConnectionInput,
) -> ApiResult<connection::Model> {
    validate(&input)?;
    let now = crate::util::now();
    let mut model = connection::Model {
        id: 0,
        organization_id: caller.organization_id,
        provider: Provider::OpenAI,
        scope: ConnectionScope::Organization,
        api_key_enc: None,
        auth_token_enc: None,
        google_application_credentials_enc: None,
        deployment_name: None,
        endpoint: None,
        google_project_id: None,
        google_location: None,
        cached_available_models: None,
        is_internal: false,
        budget_alert_threshold: None,
        budget_limit: None,
        budget_total_spent: 0.0,
        budget_reset_period: None,
        budget_last_reset_date: None,
        budget_alerted_at: None,
        model_params: None,
        rpm_limit: None,
        tpm_limit: None,
        created_by_id: Some(caller.user.id),
        created_at: now,
        updated_at: now,
    };
    apply(&mut model, secrets, input);
    validate_merged(&model)?;
    let mut active = model.into_active_model().reset_all();
    active.id = NotSet;
    let txn = crate::db::begin_write(db).await?;
    let created = active.insert(&txn).await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    tracing::info!(
        connection = created.id,
        organization = created.organization_id,
        provider = %created.provider,
        "created a model provider connection"
    );
    Ok(created)
}

/// A connection as the audit log names it.
fn object(c: &connection::Model) -> audit::Object {
    let title = format!("{} connection {}", c.provider, c.id);
    audit::Object::new(entity::enums::AuditObject::Connection, c.id, title)
}

/// Records an update of a connection: a new, replaced or removed API key makes the entry's
/// action `key.set`, `key.rotated` or `key.removed` (the key only as that state).
async fn audit_update(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    before: &connection::Model,
    after: &connection::Model,
) -> ApiResult<()> {
    use entity::enums::AuditAction;
    let changes = audit::Changes::diff(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    let (old, new) = (&before.api_key_enc, &after.api_key_enc);
    let action = match audit::SecretState::between(old.is_some(), new.is_some(), old != new) {
        Some(audit::SecretState::Set) => AuditAction::KeySet,
        Some(audit::SecretState::Changed) => AuditAction::KeyRotated,
        Some(audit::SecretState::Removed) => AuditAction::KeyRemoved,
        None => AuditAction::Update,
    };
    audit::record(db, caller, action, object(after), changes).await
}

/// The connection `id` of the caller's organization (internal ones included), or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<connection::Model> {
    find(db, caller.organization_id, id).await
}

/// The teacher a request names (a refinement's, an optimization's): `teacher_model_name`, 1 to
/// 255 characters once trimmed, through `teacher_model_provider_connection_id`, a connection of
/// the caller's organization to a provider Prompter supports; a 400 names the field otherwise.
/// Returns the model and the connection's id.
pub async fn teacher(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    model: Option<&str>,
    connection_id: Option<i64>,
) -> ApiResult<(String, i64)> {
    const MODEL: &str = "teacher_model_name";
    const CONNECTION: &str = "teacher_model_provider_connection_id";
    let model = model
        .map(str::trim)
        .ok_or_else(|| ApiError::field(MODEL, "This field is required."))?;
    let connection_id =
        connection_id.ok_or_else(|| ApiError::field(CONNECTION, "This field is required."))?;
    if model.is_empty() || model.chars().count() > 255 {
        return Err(ApiError::field(
            MODEL,
            "Give the provider's model id (1 to 255 characters).",
        ));
    }
    let connection = find(db, caller.organization_id, connection_id)
        .await
        .map_err(|e| e.not_found_as_field(CONNECTION, connection_id))?;
    if !crate::llm::is_supported(connection.provider) {
        return Err(ApiError::field(
            CONNECTION,
            crate::llm::unsupported_message(connection.provider),
        ));
    }
    Ok((model.to_string(), connection.id))
}

/// The connection `id` of organization `organization_id`, or 404.
pub async fn find(
    db: &impl ConnectionTrait,
    organization_id: i64,
    id: i64,
) -> ApiResult<connection::Model> {
    connection::Entity::find_by_id(id)
        .filter(connection::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The organization's oldest connection to `provider` that has an API key, if any (internal
/// ones included): what a new prompt version uses when it names no connection.
pub async fn first_with_key(
    db: &impl ConnectionTrait,
    organization_id: i64,
    provider: Provider,
) -> ApiResult<Option<connection::Model>> {
    Ok(connection::Entity::find()
        .filter(connection::Column::OrganizationId.eq(organization_id))
        .filter(connection::Column::Provider.eq(provider))
        .filter(connection::Column::ApiKeyEnc.is_not_null())
        .order_by_asc(connection::Column::Id)
        .one(db)
        .await?)
}

/// Applies a partial update; new secrets are sealed, `""` or `null` removes one.
pub async fn update<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    secrets: &Secrets,
    caller: &Admin,
    id: i64,
    input: ModelProviderConnectionInput,
) -> ApiResult<connection::Model> {
    validate(&input)?;
    // In a transaction: a row that the database wrote but could not give back (PostgreSQL's
    // `RETURNING` decoded in the same statement) is rolled back, not left behind a 500.
    let txn = crate::db::begin_write(db).await?;
    let mut model = get(&txn, caller, id).await?;
    let before = model.clone();
    apply(&mut model, secrets, input);
    validate_merged(&model)?;
    model.updated_at = crate::util::now();
    let updated = model.into_active_model().reset_all().update(&txn).await?;
    audit_update(&txn, caller, &before, &updated).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    tracing::info!(
        connection = updated.id,
        organization = updated.organization_id,
        "updated a model provider connection"
    );
    Ok(updated)
}

/// Deletes a connection; prompt versions that used it keep existing with no connection
/// (the foreign key sets `model_provider_connection_id` to null).
pub async fn delete<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    caller: &Admin,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let found = get(&txn, caller, id).await?;
    connection::Entity::delete_by_id(found.id)
        .exec(&txn)
        .await?;
    audit::deleted(&txn, caller, object(&found)).await?;
    sea_orm::TransactionSession::commit(txn).await?;
    tracing::info!(
        connection = found.id,
        organization = found.organization_id,
        "deleted a model provider connection"
    );
    Ok(())
}

/// The caller organization's visible connections (`is_internal` ones hidden), ordered by
/// `ordering` (`id`, `created_at`, `provider`; `-` for descending; comma-separated), then id.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    ordering: Option<&str>,
) -> ApiResult<Vec<connection::Model>> {
    let mut query = connection::Entity::find()
        .filter(connection::Column::OrganizationId.eq(caller.organization_id))
        .filter(connection::Column::IsInternal.eq(false));
    for key in ordering
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let (desc, name) = key.strip_prefix('-').map_or((false, key), |n| (true, n));
        let column = match name {
            "id" => connection::Column::Id,
            "created_at" => connection::Column::CreatedAt,
            "provider" => connection::Column::Provider,
            _ => continue,
        };
        query = if desc {
            query.order_by_desc(column)
        } else {
            query.order_by_asc(column)
        };
    }
    Ok(query.order_by_asc(connection::Column::Id).all(db).await?)
}

/// The longest `cached_available_models` value (characters).
const MODELS_TEXT_MAX: usize = 4096;

/// The models stored in a connection's `cached_available_models` (ids separated by commas or
/// lines, as a test stores them or an API client wrote them), in order, without blanks or
/// repeats.
pub fn stored_models(c: &connection::Model) -> Vec<String> {
    let mut models: Vec<String> = Vec::new();
    for id in c
        .cached_available_models
        .as_deref()
        .unwrap_or_default()
        .split([',', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        if !models.iter().any(|m| m == id) {
            models.push(id.to_string());
        }
    }
    models
}

/// `models` joined by commas, as many whole ids as fit in `cached_available_models`.
fn models_text(models: &[String]) -> String {
    let mut text = String::new();
    let mut length = 0;
    for m in models {
        let extra = m.chars().count() + usize::from(length > 0);
        if length + extra > MODELS_TEXT_MAX {
            break;
        }
        if length > 0 {
            text.push(',');
        }
        text.push_str(m);
        length += extra;
    }
    text
}

/// Keeps what a test of connection `id` found as its available models
/// (`cached_available_models`), for the version editor to offer: the provider's model list
/// when it gave one, else the model that answered (`answered`) added to those stored. Writes
/// only when that changes what is stored.
pub async fn remember_models(
    db: &impl ConnectionTrait,
    caller: &Admin,
    id: i64,
    listed: &[String],
    answered: Option<&str>,
) -> ApiResult<()> {
    let found = get(db, caller, id).await?;
    let models: Vec<String> = if listed.is_empty() {
        let mut stored = stored_models(&found);
        match answered.map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) if !stored.iter().any(|s| s == m) => stored.insert(0, m.to_string()),
            _ => return Ok(()),
        }
        stored
    } else {
        listed.to_vec()
    };
    let text = Some(models_text(&models)).filter(|t| !t.is_empty());
    if text == found.cached_available_models {
        return Ok(());
    }
    connection::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(found.id),
        cached_available_models: sea_orm::ActiveValue::Set(text),
        updated_at: sea_orm::ActiveValue::Set(crate::util::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    tracing::info!(
        connection = found.id,
        models = models.len(),
        "stored the models a connection test found"
    );
    Ok(())
}

fn open(
    secrets: &Secrets,
    id: i64,
    field: &str,
    sealed: Option<&String>,
) -> ApiResult<Option<String>> {
    sealed
        .map(|s| {
            secrets.open(s).map_err(|_| {
                ApiError::Internal(format!(
                    "the stored {field} of model provider connection {id} could not be \
                     decrypted (was PROMPTER_SECRET_KEY changed?)"
                ))
            })
        })
        .transpose()
}

/// The opened credentials of connection `id` of organization `organization_id` (internal
/// ones included), or 404. A stored secret that does not open (another service key, or a
/// tampered value) is a 500 whose message names the field, never its value.
pub async fn credentials(
    db: &impl ConnectionTrait,
    secrets: &Secrets,
    organization_id: i64,
    id: i64,
) -> ApiResult<Credentials> {
    let model = find(db, organization_id, id).await?;
    let provider = model.provider;
    Ok(Credentials {
        id: model.id,
        provider,
        api_key: open(secrets, id, "api_key", model.api_key_enc.as_ref())?,
        auth_token: open(secrets, id, "auth_token", model.auth_token_enc.as_ref())?,
        google_application_credentials: open(
            secrets,
            id,
            "google_application_credentials",
            model.google_application_credentials_enc.as_ref(),
        )?,
        endpoint: model.endpoint,
        deployment_name: model.deployment_name,
        google_project_id: model.google_project_id,
        google_location: model.google_location,
        rpm_limit: model.rpm_limit,
        tpm_limit: model.tpm_limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_models_read_back_what_a_test_stores() {
        let ids: Vec<String> = (0..300)
            .map(|i| format!("model-{i:03}-{}", "x".repeat(20)))
            .collect();
        let text = models_text(&ids);
        assert!(text.chars().count() <= MODELS_TEXT_MAX);
        let mut c = connection::Model {
            id: 1,
            organization_id: 1,
            provider: Provider::Custom,
            scope: ConnectionScope::Organization,
            api_key_enc: None,
            auth_token_enc: None,
            google_application_credentials_enc: None,
            deployment_name: None,
            endpoint: None,
            google_project_id: None,
            google_location: None,
            cached_available_models: Some(text),
            is_internal: false,
            budget_alert_threshold: None,
            budget_limit: None,
            budget_total_spent: 0.0,
            budget_reset_period: None,
            budget_last_reset_date: None,
            budget_alerted_at: None,
            model_params: None,
            rpm_limit: None,
            tpm_limit: None,
            created_by_id: None,
            created_at: crate::util::now(),
            updated_at: crate::util::now(),
        };
        let back = stored_models(&c);
        assert!(!back.is_empty() && back.len() < ids.len());
        assert_eq!(back[..], ids[..back.len()]);
        c.cached_available_models = Some(" a, b\nb ,, c ".into());
        assert_eq!(stored_models(&c), ["a", "b", "c"]);
        c.cached_available_models = None;
        assert!(stored_models(&c).is_empty());
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        for ok in [
            "http://localhost:8080/v1",
            "https://example.openai.azure.com/",
            "HTTPS://host",
            "http://[::1]:9000/v1",
            "http://user@host/x",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "localhost:8080",
            "ftp://host",
            "http://",
            "https:///path",
            "http://host name/",
            "http://host:abc/",
            "not a url",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let input: ModelProviderConnectionInput =
            serde_json::from_str(r#"{"api_key": "sk-secret-1", "auth_token": null}"#)
                .expect("input");
        let shown = format!("{input:?}");
        assert!(!shown.contains("sk-secret-1") && shown.contains("<redacted>"));
        let creds = Credentials {
            id: 1,
            provider: Provider::OpenAI,
            api_key: Some("sk-secret-2".into()),
            auth_token: None,
            google_application_credentials: Some("{\"private_key\": \"k\"}".into()),
            endpoint: None,
            deployment_name: None,
            google_project_id: None,
            google_location: None,
            rpm_limit: Some(60),
            tpm_limit: None,
        };
        let shown = format!("{creds:?}");
        assert!(!shown.contains("sk-secret-2") && !shown.contains("private_key"));
        assert!(shown.contains("rpm_limit: Some(60)"));
    }
}
