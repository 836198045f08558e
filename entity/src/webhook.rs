//! An outbound webhook endpoint of an organization: where Prompter posts the events it
//! subscribes to, signed with its secret.
use sea_orm::entity::prelude::*;

/// A webhook endpoint row. `secret_enc` is sealed with the server's secrets key and never
/// leaves the server; `events` is a JSON list of event names.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    #[sea_orm(column_type = "Text")]
    pub secret_enc: String,
    /// The event names the endpoint wants, a JSON list.
    pub events: Json,
    pub is_active: bool,
    pub description: String,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
