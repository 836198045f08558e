//! Where a project's files live in Label Studio: the base URL and token that read the
//! `/data/upload/...` paths of its tasks, from the project's link to a Label Studio project, or
//! from the Label Studio that uses a prompt as its ML backend over this (mirror) project.
use crate::crypto::Secrets;
use crate::error::ApiResult;
use entity::{label_studio_link, ml_backend_project};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// A Label Studio instance and a token that reads its files. `Debug` never shows the token.
#[derive(Clone)]
pub struct LsAccess {
    /// Base URL, without a trailing slash.
    pub base: String,
    /// API token.
    pub token: String,
}

impl std::fmt::Debug for LsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LsAccess")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The Label Studio access of project `project_id`, if it has one whose token opens.
pub async fn for_project(
    db: &impl ConnectionTrait,
    secrets: &Secrets,
    project_id: i64,
) -> ApiResult<Option<LsAccess>> {
    let access = |base: &str, sealed: &str| {
        secrets.open(sealed).ok().map(|token| LsAccess {
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    };
    if let Some(link) = label_studio_link::Entity::find()
        .filter(label_studio_link::Column::ProjectId.eq(project_id))
        .one(db)
        .await?
        && let Some(found) = access(&link.url, &link.token_enc)
    {
        return Ok(Some(found));
    }
    let backends = ml_backend_project::Entity::find()
        .filter(ml_backend_project::Column::ProjectId.eq(project_id))
        .all(db)
        .await?;
    Ok(backends.iter().find_map(|b| {
        let (host, sealed) = (b.hostname.as_deref()?, b.access_token_enc.as_deref()?);
        access(host, sealed)
    }))
}
