//! A link from a Prompter project to a project on a Label Studio instance, for sync and push.
use sea_orm::entity::prelude::*;

/// A link row. `token_enc` holds the Label Studio API token, sealed like provider keys; it is
/// never returned by the API and never logged. `status` is `idle`, `running` or `failed`;
/// `job` names the running or last job (`sync` or `push`) and `progress_*` its progress.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "label_studio_links")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub project_id: i64,
    pub url: String,
    #[sea_orm(column_type = "Text")]
    pub token_enc: String,
    pub ls_project_id: i64,
    pub status: crate::enums::LinkStatus,
    pub job: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_synced_at: Option<DateTimeUtc>,
    pub created_by_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
