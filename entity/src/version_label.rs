//! A deployment label: a name (`production`, `staging`, any) that points at one version of a
//! prompt. `production` is the prompt's deployed version (`model_interfaces.deployed_version_id`
//! is kept equal to it by the one function that moves labels).
use sea_orm::entity::prelude::*;

/// A label row; unique per prompt and name.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "version_labels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    /// The label's name: lowercase letters, digits, `-`, `_` and `.`, at most 64 characters.
    pub name: String,
    /// The version the label points at.
    pub version_id: i64,
    /// Only Owners and Administrators move or remove a protected label.
    pub protected: bool,
    /// Who last moved it.
    pub updated_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
