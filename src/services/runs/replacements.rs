//! Runs replaced by newer runs of the same project, version and subset: remembered, so a link
//! to the old run leads to the new one.
use crate::auth::AuthUser;
use crate::error::ApiResult;
use entity::{model_run, run_replacement};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Remembers that run `by` of `version` replaced the runs `replaced`: links to them, and to
/// the runs they had replaced, lead to it.
pub(super) async fn remember_replaced(
    db: &impl ConnectionTrait,
    version: &entity::model_version::Model,
    replaced: &[i64],
    by: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<()> {
    if replaced.is_empty() {
        return Ok(());
    }
    run_replacement::Entity::update_many()
        .col_expr(run_replacement::Column::ReplacedBy, Expr::value(by))
        .filter(run_replacement::Column::ReplacedBy.is_in(replaced.to_vec()))
        .exec(db)
        .await?;
    run_replacement::Entity::insert_many(replaced.iter().map(|old| run_replacement::ActiveModel {
        run_id: Set(*old),
        replaced_by: Set(by),
        organization_id: Set(version.organization_id),
        prompt_id: Set(version.parent_model_id),
        version_id: Set(Some(version.id)),
        created_at: Set(now),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// What became of a run that a newer run replaced.
#[derive(Debug)]
pub struct Replacement {
    /// The run that replaced it, while it exists (a deleted version takes its runs along).
    pub run: Option<model_run::Model>,
    /// The prompt both runs are of.
    pub prompt_id: i64,
    /// The version both runs are of, until it is deleted.
    pub version_id: Option<i64>,
}

/// If run `id` of the caller's organization was replaced by a newer run, what replaced it.
pub async fn replacement(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<Option<Replacement>> {
    let Some(row) = run_replacement::Entity::find_by_id(id)
        .filter(run_replacement::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let run = model_run::Entity::find_by_id(row.replaced_by)
        .filter(model_run::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?;
    Ok(Some(Replacement {
        run,
        prompt_id: row.prompt_id,
        version_id: row.version_id,
    }))
}
