//! The many-to-many link between prompts and their associated projects.
use sea_orm::entity::prelude::*;

/// One (prompt, project) association.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_interface_projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_interface_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub project_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
