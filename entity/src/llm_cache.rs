//! One answer of the response cache: the output of a call, keyed by a hash of everything the
//! call sent, within an organization.
use sea_orm::entity::prelude::*;

/// A cached answer; unique per organization and key.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_cache")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    /// SHA-256 (hex) of the connection, model, parameters, messages and output schema.
    pub key: String,
    /// The model that answered.
    pub model: String,
    /// The answer object.
    pub output: Json,
    /// The answer's token log-probabilities, when the call asked for them (its scores).
    pub logprobs: Option<Json>,
    /// What the call that was cached used.
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Calls answered from it.
    pub hits: i64,
    pub created_at: DateTimeUtc,
    pub last_hit_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
