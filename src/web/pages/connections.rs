//! Provider connections: the list with spend against budget, adding one (the key is
//! write-only), testing one (model list, a one-token call and its latency; the models found
//! are kept for the version editor to offer), deleting one.
//! Every member reads the list; Owners and Administrators add, test and delete, as in the API.
use crate::llm::Provider;
use crate::llm::probe::{ProbeReport, probe};
use crate::services::model_providers as service;
use crate::state::AppState;
use crate::views::model_providers::ModelProviderConnectionInput;
use crate::views::model_providers::ModelProviderConnectionView;
use crate::web::forms::{Form, NoFields, non_empty};
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use crate::web::{PageError, Visitor};
use actix_web::web;
use serde::{Deserialize, Serialize};

/// Registers `/connections`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/connections", web::get().to(list))
        .route("/connections", web::post().to(create))
        .route("/connections/{id}/test", web::post().to(test))
        .route("/connections/{id}/delete", web::post().to(delete))
        .route("/connections/cache/clear", web::post().to(clear_cache));
}

/// The fields of the add form, as typed: every field is text, empty when absent, so the form
/// shows an empty field (never the word "None") and keeps what was typed after an error.
#[derive(Debug, Default, Deserialize, Serialize)]
struct ConnectionForm {
    #[serde(default)]
    provider: String,
    #[serde(default, skip_serializing)]
    api_key: String,
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    deployment_name: String,
    #[serde(default)]
    rpm_limit: String,
    #[serde(default)]
    tpm_limit: String,
    #[serde(default)]
    budget_limit: String,
}

/// A typed field, `None` when blank.
fn typed(raw: &str) -> Option<String> {
    non_empty(Some(raw.to_string()))
}

fn number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, PageError> {
    match typed(raw) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            crate::error::ApiError::field(field, "Enter a number, or leave it empty.").into()
        }),
    }
}

impl ConnectionForm {
    fn input(&self) -> Result<ModelProviderConnectionInput, PageError> {
        Ok(ModelProviderConnectionInput {
            provider: Some(Provider::parse(&self.provider).ok_or_else(|| {
                crate::error::ApiError::field("provider", Provider::invalid_choice(&self.provider))
            })?),
            api_key: typed(&self.api_key).map(Some),
            endpoint: typed(&self.endpoint).map(Some),
            deployment_name: typed(&self.deployment_name).map(Some),
            rpm_limit: number::<i32>("rpm_limit", &self.rpm_limit)?.map(Some),
            tpm_limit: number::<i64>("tpm_limit", &self.tpm_limit)?.map(Some),
            budget_limit: number::<f64>("budget_limit", &self.budget_limit)?.map(Some),
            ..Default::default()
        })
    }
}

/// The connections page: the organization's connections, a test's outcome beside the one
/// tested, and the add form with the providers to choose from.
#[derive(Serialize)]
struct ConnectionsPage {
    connections: Vec<ModelProviderConnectionView>,
    probe_id: Option<i64>,
    probe: Option<ProbeReport>,
    providers: Vec<&'static str>,
    form: ConnectionForm,
    /// The organization's response cache.
    cache: crate::services::llm_cache::CacheStats,
    /// Answers the visitor just cleared from it.
    cleared: Option<u64>,
}

impl Page for ConnectionsPage {
    const TEMPLATE: &'static str = "connections.html";
}

/// The inputs of the add form, by the names errors give them.
fn inputs() -> Vec<Input> {
    vec![
        Input::choice(&["provider"], "provider", "Provider"),
        Input::text(&["api_key", "auth_token"], "api_key", "API key"),
        Input::text(&["endpoint"], "endpoint", "Endpoint"),
        Input::text(&["deployment_name"], "deployment_name", "Deployment"),
        Input::text(&["rpm_limit"], "rpm_limit", "Requests per minute"),
        Input::text(&["tpm_limit"], "tpm_limit", "Tokens per minute"),
        Input::text(
            &["budget_limit", "budget_alert_threshold"],
            "budget_limit",
            "Budget",
        ),
    ]
}

async fn page(
    state: &AppState,
    visitor: &Visitor,
    form: ConnectionForm,
    errors: Vec<Problem>,
    probe: Option<(i64, ProbeReport)>,
) -> PageResult {
    with_cleared(state, visitor, form, errors, probe, None).await
}

/// The page, saying how many cached answers were just cleared.
async fn with_cleared(
    state: &AppState,
    visitor: &Visitor,
    form: ConnectionForm,
    errors: Vec<Problem>,
    probe: Option<(i64, ProbeReport)>,
    cleared: Option<u64>,
) -> PageResult {
    let found = service::list(&state.db, visitor.caller(), None).await?;
    let connections = crate::presenters::model_providers::views(state, found).await?;
    let (probe_id, probe) = probe.map_or((None, None), |(id, p)| (Some(id), Some(p)));
    let config = state.engine.config();
    let cache = crate::services::llm_cache::stats(
        &state.db,
        visitor.caller(),
        config.cache_ttl_secs,
        config.cache_max_entries,
    )
    .await?;
    let page = ConnectionsPage {
        connections,
        probe_id,
        probe,
        providers: Provider::ALL.iter().map(|p| p.as_str()).collect(),
        form,
        cache,
        cleared,
    };
    render(
        Frame::of(visitor, "connections").with_problems(errors),
        &page,
    )
}

async fn list(state: web::Data<AppState>, visitor: Visitor) -> PageResult {
    page(&state, &visitor, ConnectionForm::default(), vec![], None).await
}

async fn create(state: web::Data<AppState>, form: Form<ConnectionForm>) -> PageResult {
    let caller = form.visitor.admin()?;
    let created = match form.data.input() {
        Ok(input) => service::create(&state.db, &state.secrets, &caller, input)
            .await
            .map_err(PageError::from),
        Err(e) => Err(e),
    };
    match created {
        Ok(c) => {
            tracing::info!(connection = c.id, provider = %c.provider, "connection added from the web app");
            Ok(redirect("/connections"))
        }
        Err(e) => {
            let mut errors = problems(e, &inputs())?;
            // The key typed is not sent back to the page (keys are write-only).
            if non_empty(Some(form.data.api_key.clone())).is_some()
                && !errors.iter().any(|p| p.input.as_deref() == Some("api_key"))
            {
                errors.push(Problem::at(
                    "api_key",
                    "API key",
                    "Enter the key again: a key is never shown on a page, not even the one just typed.",
                ));
            }
            page(&state, &form.visitor, form.data, errors, None).await
        }
    }
}

#[derive(Deserialize)]
struct TestForm {
    #[serde(default)]
    model: Option<String>,
}

async fn test(state: web::Data<AppState>, id: web::Path<i64>, form: Form<TestForm>) -> PageResult {
    let caller = form.visitor.admin()?;
    service::get(&state.db, &caller, *id).await?;
    let credentials =
        service::credentials(&state.db, &state.secrets, caller.organization_id, *id).await?;
    let report = probe(
        &credentials,
        state.engine.http(),
        non_empty(form.data.model.clone()).as_deref(),
    )
    .await;
    tracing::info!(
        connection = *id,
        ok = report.ok,
        latency_ms = report.latency_ms,
        "connection tested"
    );
    // What the test found is what the version editor offers for this connection.
    service::remember_models(
        &state.db,
        &caller,
        *id,
        &report.models,
        report.ok.then_some(report.model.as_str()),
    )
    .await?;
    page(
        &state,
        &form.visitor,
        ConnectionForm::default(),
        vec![],
        Some((*id, report)),
    )
    .await
}

async fn delete(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<NoFields>,
) -> PageResult {
    let caller = form.visitor.admin()?;
    service::delete(&state.db, &caller, *id).await?;
    Ok(redirect("/connections"))
}

/// Clears the organization's response cache (Owners and Administrators).
async fn clear_cache(state: web::Data<AppState>, form: Form<NoFields>) -> PageResult {
    let caller = form.visitor.admin()?;
    let cleared = crate::services::llm_cache::clear(&state.db, &caller).await?;
    tracing::info!(
        deleted = cleared.deleted,
        "response cache cleared from the web app"
    );
    with_cleared(
        &state,
        &form.visitor,
        ConnectionForm::default(),
        vec![],
        None,
        Some(cleared.deleted),
    )
    .await
}
