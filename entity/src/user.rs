//! A user; `UserSimple` on the wire.
use sea_orm::entity::prelude::*;

/// A user row. `active_organization_id` scopes every request the user makes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub active_organization_id: Option<i64>,
    pub is_active: bool,
    /// The argon2 hash (PHC string) of the web sign-in password; `None` until one is set.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
