//! The audit log (`/api/audit-log/`): every change made in the caller's organization, newest
//! first, filtered by actor, action, object and time.
use super::{page_links, resource};
use crate::auth::Admin;
use crate::error::{ApiResult, ErrorBody};
use crate::respond::Json;
use crate::services::audit;
use crate::state::AppState;
use crate::views::audit::{AuditEntryView, AuditLogQuery};
use crate::views::{PageParams, Paginated};
use actix_web::{HttpRequest, web};

/// Registers the audit log route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/audit-log/").route(web::get().to(list)));
}

/// The caller organization's audit log, newest first, paginated (100 per page by default,
/// 1,000 at most): who changed what, when, and the fields that changed (secrets only as
/// `set`/`changed`/`removed`). Owners and Administrators only.
#[utoipa::path(get, path = "/api/audit-log/", tag = "audit", params(PageParams, AuditLogQuery),
    responses((status = 200, body = Paginated<AuditEntryView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Admin,
    paging: web::Query<PageParams>,
    query: web::Query<AuditLogQuery>,
) -> ApiResult<Json<Paginated<AuditEntryView>>> {
    let request = paging.resolve(100, 1000)?;
    let filter = audit::Filter::parse(&query)?;
    let (items, count, page) = audit::list(&state.db, &caller, &filter, request).await?;
    let (next, previous) = page_links(&req, page, count);
    Ok(Json(Paginated {
        count,
        next,
        previous,
        results: items.into_iter().map(AuditEntryView::from).collect(),
    }))
}
