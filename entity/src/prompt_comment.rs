//! A comment of a prompt's history: a note, or the reason of a deployment or status change.
use sea_orm::entity::prelude::*;

/// A comment row; append-only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prompt_comments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    /// The version the comment refers to, if any.
    pub version_id: Option<i64>,
    pub author_id: Option<i64>,
    pub kind: crate::enums::CommentKind,
    #[sea_orm(column_type = "Text")]
    pub text: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
