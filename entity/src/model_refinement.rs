//! A prompt refinement: a teacher model rewriting a version's prompt with a project's ground
//! truth, run as a job whose result is a new version of the same prompt.
use sea_orm::entity::prelude::*;

/// A refinement row. `status` is `Pending`, `InProgress`, `Completed` or `Failed`; `job_id` is
/// the public, unique id clients poll with. `title`, `reasoning` and `prompt` hold the
/// teacher's answer (`prompt` is empty until then); `new_version_id` is the version it created
/// (null until completed, or once that version is deleted); `error_message` says why a failed
/// job failed; `lease_expires_at` is the lease of the process running it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "model_refinements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organization_id: i64,
    pub prompt_id: i64,
    pub previous_version_id: i64,
    pub project_id: i64,
    pub teacher_model_name: String,
    pub teacher_connection_id: i64,
    #[sea_orm(unique)]
    pub job_id: String,
    pub status: crate::enums::RefinementStatus,
    pub new_version_id: Option<i64>,
    pub title: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reasoning: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub prompt: String,
    pub total_cost: f64,
    #[sea_orm(column_type = "Text", nullable)]
    pub error_message: Option<String>,
    pub created_by_id: Option<i64>,
    /// Until when the process running the job holds it (extended while it works); a job
    /// still `Pending` or `InProgress` past it was interrupted. `None` once finished.
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
