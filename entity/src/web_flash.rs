//! A value a web form leaves for the page it redirects to (post, redirect, get): kept for its
//! session a few minutes, encrypted, and taken (deleted) by the page that shows it.
use sea_orm::entity::prelude::*;

/// A flash row. `sealed_value` is encrypted with the server's key (a new API token is a
/// secret); `kind` says which page takes it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "web_flashes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The browser session it is for.
    pub session_id: i64,
    /// What it is, e.g. `new_token`.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub sealed_value: String,
    /// After this it is not shown.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
