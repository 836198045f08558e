//! Membership of a user in an organization, with a role.
use sea_orm::entity::prelude::*;

/// A membership row; `role` is one of Owner, Administrator, Manager, Reviewer, Annotator. A
/// membership that is not active (deactivated by an Owner or Administrator) authenticates
/// nowhere in its organization; it is kept, and can be made active again.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organization_members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub user_id: i64,
    pub role: String,
    pub is_active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
