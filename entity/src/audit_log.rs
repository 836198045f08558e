//! An entry of the audit log: one change, who made it, when, on what, and the fields it
//! changed. Append-only; rows older than the retention period are pruned.
use sea_orm::entity::prelude::*;

/// An audit log row.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub actor_type: crate::enums::AuditActor,
    /// The user who acted, if a person did.
    pub actor_id: Option<i64>,
    /// That user's email at the time.
    pub actor_email: Option<String>,
    pub action: crate::enums::AuditAction,
    pub object_type: crate::enums::AuditObject,
    pub object_id: Option<i64>,
    /// The object's title at the time, for display.
    pub object_title: String,
    /// The changed fields: a JSON list of `{"field", "old", "new"}` or `{"field", "secret"}`.
    pub changes: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
