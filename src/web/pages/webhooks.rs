//! Webhooks: the organization's endpoints, adding one (with a fresh secret offered to copy),
//! and an endpoint's page: its settings, a test event, deleting it, and its delivery log.
//! Owners and Administrators only, as in the API.
use super::{Pager, page_request};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::services::webhooks::{self as service, events_of};
use crate::state::AppState;
use crate::views::webhooks::WebhookEndpointInput;
use crate::web::Visitor;
use crate::web::forms::Form;
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use actix_web::web;
use entity::enums::{DeliveryStatus, WebhookEvent};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Registers `/webhooks` and an endpoint's pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::get().to(list))
        .route("/webhooks", web::post().to(add))
        .route("/webhooks/{id}", web::get().to(detail))
        .route("/webhooks/{id}", web::post().to(change))
        .route("/webhooks/{id}/test", web::post().to(test))
        .route("/webhooks/{id}/delete", web::post().to(delete));
}

/// What an event means, in words.
fn event_label(e: WebhookEvent) -> &'static str {
    match e {
        WebhookEvent::RunCompleted => "A run finished",
        WebhookEvent::RunFailed => "A run failed",
        WebhookEvent::RunCanceled => "A run was canceled or replaced",
        WebhookEvent::BudgetAlert => "A connection's spending crossed its alert threshold",
        WebhookEvent::BudgetExceeded => "A call was stopped by a connection's budget limit",
        WebhookEvent::RefineCompleted => "A refinement ended",
        WebhookEvent::SyncCompleted => "A Label Studio sync finished",
        WebhookEvent::ScheduleFired => "A schedule fired",
        WebhookEvent::PromptDeployed => "A prompt's deployed version changed",
        WebhookEvent::Test => "A test event you send from this page",
    }
}

/// A checkbox of the events form.
#[derive(Serialize)]
struct EventChoice {
    name: &'static str,
    label: &'static str,
    checked: bool,
}

fn choices(chosen: &[WebhookEvent]) -> Vec<EventChoice> {
    WebhookEvent::ALL
        .iter()
        .filter(|e| **e != WebhookEvent::Test)
        .map(|e| EventChoice {
            name: e.as_str(),
            label: event_label(*e),
            checked: chosen.contains(e),
        })
        .collect()
}

/// The endpoint form as typed: `url`, `secret`, `description`, `active` and one
/// `event.<name>` checkbox per event (kept after an error).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
struct EndpointForm(HashMap<String, String>);

impl EndpointForm {
    fn text(&self, name: &str) -> String {
        self.0
            .get(name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    fn events(&self) -> Vec<WebhookEvent> {
        WebhookEvent::ALL
            .iter()
            .copied()
            .filter(|e| self.0.contains_key(&format!("event.{}", e.as_str())))
            .collect()
    }

    /// The API's input from the form; `creating` sends every field, a change leaves an empty
    /// secret unchanged.
    fn input(&self, creating: bool) -> WebhookEndpointInput {
        let secret = self.0.get("secret").cloned().filter(|s| !s.is_empty());
        WebhookEndpointInput {
            url: Some(self.text("url")),
            secret: if creating {
                Some(secret.unwrap_or_default())
            } else {
                secret
            },
            events: Some(self.events()),
            is_active: Some(creating || self.0.contains_key("active")),
            description: Some(self.text("description")),
        }
    }
}

fn inputs() -> Vec<Input> {
    vec![
        Input::text(&["url"], "url", "URL"),
        Input::text(&["secret"], "secret", "Signing secret"),
        Input::text(&["events"], "events", "Events"),
        Input::text(&["description"], "description", "Description"),
    ]
}

/// An endpoint as the list shows it.
#[derive(Serialize)]
struct EndpointRow {
    id: i64,
    url: String,
    description: String,
    active: bool,
    events: Vec<&'static str>,
}

/// The list page: the endpoints and the add form.
#[derive(Serialize)]
struct WebhooksPage {
    endpoints: Vec<EndpointRow>,
    #[serde(flatten)]
    pager: Pager,
    url: String,
    description: String,
    secret: String,
    events: Vec<EventChoice>,
}

impl Page for WebhooksPage {
    const TEMPLATE: &'static str = "webhooks.html";
}

async fn list_page(
    state: &AppState,
    visitor: &Visitor,
    page: Option<&str>,
    form: Option<&EndpointForm>,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.admin()?;
    let (found, count, located) = service::list(&state.db, &caller, page_request(page)).await?;
    let endpoints = found
        .into_iter()
        .map(|w| EndpointRow {
            events: events_of(&w)
                .into_iter()
                .map(WebhookEvent::as_str)
                .collect(),
            id: w.id,
            url: w.url,
            description: w.description,
            active: w.is_active,
        })
        .collect();
    let chosen = form.map_or_else(|| WebhookEvent::ALL.to_vec(), EndpointForm::events);
    let page = WebhooksPage {
        endpoints,
        pager: Pager::new(located.number, count, "/webhooks?"),
        url: form.map(|f| f.text("url")).unwrap_or_default(),
        description: form.map(|f| f.text("description")).unwrap_or_default(),
        // A fresh secret to copy, offered until one is typed (never a stored one).
        secret: form
            .and_then(|f| f.0.get("secret").cloned())
            .unwrap_or_else(|| crate::crypto::random_hex(24)),
        events: choices(&chosen),
    };
    render(Frame::of(visitor, "webhooks").with_problems(errors), &page)
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

async fn list(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<PageQuery>,
) -> PageResult {
    list_page(&state, &visitor, q.page.as_deref(), None, vec![]).await
}

async fn add(state: web::Data<AppState>, form: Form<EndpointForm>) -> PageResult {
    let caller = form.visitor.admin()?;
    match service::create(&state.db, &state.secrets, &caller, form.data.input(true)).await {
        Ok(created) => Ok(redirect(&format!("/webhooks/{}", created.id))),
        Err(e) => {
            let errors = problems(e.into(), &inputs())?;
            list_page(&state, &form.visitor, None, Some(&form.data), errors).await
        }
    }
}

/// A delivery as the log shows it.
#[derive(Serialize)]
struct DeliveryRow {
    delivery_id: String,
    event: &'static str,
    status: &'static str,
    failed: bool,
    attempts: i32,
    response_status: Option<i32>,
    error: Option<String>,
    job: Option<i64>,
    created_at: String,
    delivered_at: Option<String>,
}

/// An endpoint's page.
#[derive(Serialize)]
struct EndpointPage {
    id: i64,
    url: String,
    description: String,
    active: bool,
    events: Vec<EventChoice>,
    deliveries: Vec<DeliveryRow>,
    #[serde(flatten)]
    pager: Pager,
}

impl Page for EndpointPage {
    const TEMPLATE: &'static str = "webhook.html";
}

fn status_words(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Pending => "waiting to be sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

async fn detail_page(
    state: &AppState,
    visitor: &Visitor,
    caller: &Admin,
    id: i64,
    page: Option<&str>,
    form: Option<&EndpointForm>,
    errors: Vec<Problem>,
) -> PageResult {
    let w = service::get(&state.db, caller, id).await?;
    let (found, count, located) =
        service::deliveries(&state.db, caller, id, page_request(page)).await?;
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let deliveries = found
        .into_iter()
        .map(|d| DeliveryRow {
            delivery_id: d.delivery_id,
            event: d.event.as_str(),
            status: status_words(d.status),
            failed: d.status == DeliveryStatus::Failed,
            attempts: d.attempts,
            response_status: d.response_status,
            error: d.last_error,
            job: d.job_id,
            created_at: time(d.created_at),
            delivered_at: d.delivered_at.map(time),
        })
        .collect();
    let chosen = form.map_or_else(|| events_of(&w), EndpointForm::events);
    let page = EndpointPage {
        id: w.id,
        url: form.map_or(w.url, |f| f.text("url")),
        description: form.map_or(w.description, |f| f.text("description")),
        active: form.map_or(w.is_active, |f| f.0.contains_key("active")),
        events: choices(&chosen),
        deliveries,
        pager: Pager::new(located.number, count, format!("/webhooks/{id}?")),
    };
    render(Frame::of(visitor, "webhooks").with_problems(errors), &page)
}

async fn detail(
    state: web::Data<AppState>,
    visitor: Visitor,
    id: web::Path<i64>,
    q: web::Query<PageQuery>,
) -> PageResult {
    let caller = visitor.admin()?;
    detail_page(
        &state,
        &visitor,
        &caller,
        *id,
        q.page.as_deref(),
        None,
        vec![],
    )
    .await
}

async fn change(
    state: web::Data<AppState>,
    id: web::Path<i64>,
    form: Form<EndpointForm>,
) -> PageResult {
    let caller = form.visitor.admin()?;
    let input = form.data.input(false);
    match service::update(&state.db, &state.secrets, &caller, *id, input).await {
        Ok(_) => Ok(redirect(&format!("/webhooks/{}", *id))),
        Err(ApiError::NotFound) => Err(ApiError::NotFound.into()),
        Err(e) => {
            let errors = problems(e.into(), &inputs())?;
            let visitor = &form.visitor;
            detail_page(
                &state,
                visitor,
                &caller,
                *id,
                None,
                Some(&form.data),
                errors,
            )
            .await
        }
    }
}

/// An empty form: the buttons' forms carry only the guard's fields.
#[derive(Deserialize)]
struct Empty {}

async fn test(state: web::Data<AppState>, id: web::Path<i64>, form: Form<Empty>) -> PageResult {
    let caller = form.visitor.admin()?;
    service::send_test(&state.db, &caller, *id).await?;
    state.engine.wake();
    Ok(redirect(&format!("/webhooks/{}", *id)))
}

async fn delete(state: web::Data<AppState>, id: web::Path<i64>, form: Form<Empty>) -> PageResult {
    let caller = form.visitor.admin()?;
    service::delete(&state.db, &caller, *id).await?;
    Ok(redirect("/webhooks"))
}
