//! A form of the web app that was sent: its nonce, accepted once, and where its first sending
//! led, so that sending it again leads there too instead of doing the work twice.
use sea_orm::entity::prelude::*;

/// A sent form. `nonce` is unique: the insert that claims it is the atomic check.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "form_submissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub nonce: String,
    /// The browser session that sent it.
    pub session_id: i64,
    /// `None` while the first sending is being handled; then the place it redirected to, or
    /// an empty string when it answered with a page.
    pub outcome: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
