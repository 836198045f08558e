//! A process's lease on its share of a (connection, model)'s rate limits.
use sea_orm::entity::prelude::*;

/// A lease row; unique per connection, model and holder.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pacing_leases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: i64,
    pub model: String,
    /// The process (its engine's id).
    pub holder: String,
    /// Live until then; renewed every second while the process calls.
    pub expires_at: DateTimeUtc,
    /// The process met a 429 (or spent the allowance): every process holds its calls until
    /// then.
    pub backoff_until: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
