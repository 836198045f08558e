//! One event delivered (or to be delivered) to one webhook endpoint: the body as sent, its
//! delivery id (the receiver's dedupe key), and how its attempts went.
use sea_orm::entity::prelude::*;

/// A webhook delivery row. `body` is the exact JSON text posted at every attempt; `event_key`,
/// when set, makes an event once per endpoint (a budget alert once per period).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub webhook_id: i64,
    /// The delivery id the receiver dedupes on (a UUID, the same at every attempt).
    pub delivery_id: String,
    pub event: crate::enums::WebhookEvent,
    pub event_key: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub status: crate::enums::DeliveryStatus,
    pub attempts: i32,
    /// The HTTP status of the last answer, if one came.
    pub response_status: Option<i32>,
    /// Prompter's words for why the last attempt failed (never the receiver's body).
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub job_id: Option<i64>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
