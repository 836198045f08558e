//! Outbound webhooks on the wire: an endpoint (its secret is write-only), the form that creates
//! or changes one, and a delivery of the delivery log.
use chrono::{DateTime, Utc};
use entity::enums::{DeliveryStatus, WebhookEvent};
use entity::{webhook, webhook_delivery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An outbound webhook endpoint of the organization. Its secret is never shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointView {
    /// Endpoint id.
    pub id: i64,
    /// The organization's id.
    pub organization: i64,
    /// Where events are posted.
    pub url: String,
    /// The events it receives.
    pub events: Vec<WebhookEvent>,
    /// Whether events are delivered to it (a disabled endpoint gets none, and its pending
    /// deliveries fail).
    pub is_active: bool,
    /// What it is for.
    pub description: String,
    /// Always true: every endpoint has a signing secret (write-only, never shown).
    pub secret_set: bool,
    /// Who created it.
    pub created_by: Option<i64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpointView {
    /// The view of endpoint `w` subscribed to `events`.
    pub fn new(w: webhook::Model, events: Vec<WebhookEvent>) -> WebhookEndpointView {
        WebhookEndpointView {
            id: w.id,
            organization: w.organization_id,
            url: w.url,
            events,
            is_active: w.is_active,
            description: w.description,
            secret_set: !w.secret_enc.is_empty(),
            created_by: w.created_by_id,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// Creates an endpoint (`url` and `secret` required) or changes one (every field optional).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct WebhookEndpointInput {
    /// An absolute `http` or `https` URL (lower-case scheme) without user name, password,
    /// fragment or white space (at most 2,048 characters). The server's outbound policy
    /// decides which addresses it may reach.
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[^\s/?#@]+([/?][^\s#]*)?$",
        example = "https://hooks.example.com/prompter"
    )]
    pub url: Option<String>,
    /// The signing secret, 16 to 256 characters: the receiver checks each delivery's
    /// `Prompter-Signature` with it. Write-only.
    #[serde(default)]
    #[schema(min_length = 16, max_length = 256, write_only)]
    pub secret: Option<String>,
    /// The events to receive; every event when absent on create. At least one.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 10)]
    pub events: Option<Vec<WebhookEvent>>,
    /// Whether events are delivered (default true).
    #[serde(default)]
    pub is_active: Option<bool>,
    /// What it is for (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// One event sent (or to be sent) to an endpoint, and how its attempts went.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookDeliveryView {
    /// Row id.
    pub id: i64,
    /// The delivery id the receiver dedupes on: the body's `id` and the `Prompter-Delivery`
    /// header, the same at every attempt.
    pub delivery_id: String,
    /// The endpoint.
    pub webhook: i64,
    /// The event.
    pub event: WebhookEvent,
    /// `pending` (waiting for its first or next attempt), `delivered` or `failed`.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// The HTTP status of the last answer, if one came.
    pub response_status: Option<i32>,
    /// Why the last attempt failed, in Prompter's words (what the receiver answered is never
    /// shown).
    pub error: Option<String>,
    /// The job that delivers it.
    pub job: Option<i64>,
    /// The body as posted.
    pub payload: Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<webhook_delivery::Model> for WebhookDeliveryView {
    fn from(d: webhook_delivery::Model) -> WebhookDeliveryView {
        WebhookDeliveryView {
            id: d.id,
            payload: serde_json::from_str(&d.body).unwrap_or(Value::Null),
            delivery_id: d.delivery_id,
            webhook: d.webhook_id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            error: d.last_error,
            job: d.job_id,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
        }
    }
}
