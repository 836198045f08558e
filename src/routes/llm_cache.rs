//! The response cache of the caller's organization: what it holds, and clearing it.
use super::resource;
use crate::auth::{Admin, AuthUser};
use crate::error::{ApiResult, ErrorBody};
use crate::respond::Json;
use crate::services::llm_cache::{self as service, CacheStats, Cleared};
use crate::state::AppState;
use actix_web::web;

/// Registers the cache routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/llm-cache")
            .route(web::get().to(get_llm_cache))
            .route(web::delete().to(clear_llm_cache)),
    );
}

/// What the organization's response cache holds: answers kept, calls answered from them, the
/// oldest, and the server's time and size limits (`PROMPTER_CACHE_TTL_SECS`,
/// `PROMPTER_CACHE_MAX_ENTRIES`). An identical call (the same connection, model, parameters,
/// messages and output schema) of a run, a live prediction or an optimization is answered from
/// the cache at cost 0 within that time; a run created with `cache: false` never is, and the
/// samples of a version with `samples` above 1 (or a jury) never are.
#[utoipa::path(get, path = "/api/llm-cache", tag = "model_providers",
    responses((status = 200, body = CacheStats), (status = 401, body = ErrorBody)))]
pub async fn get_llm_cache(
    state: web::Data<AppState>,
    caller: AuthUser,
) -> ApiResult<Json<CacheStats>> {
    let config = state.engine.config();
    let stats = service::stats(
        &state.db,
        &caller,
        config.cache_ttl_secs,
        config.cache_max_entries,
    )
    .await?;
    Ok(Json(stats))
}

/// Clears the organization's response cache (Owner or Administrator): the next identical
/// calls are asked of the providers again.
#[utoipa::path(delete, path = "/api/llm-cache", tag = "model_providers",
    responses((status = 200, body = Cleared), (status = 403, body = ErrorBody)))]
pub async fn clear_llm_cache(
    state: web::Data<AppState>,
    caller: Admin,
) -> ApiResult<Json<Cleared>> {
    let cleared = service::clear(&state.db, &caller).await?;
    tracing::info!(
        organization = caller.organization_id,
        deleted = cleared.deleted,
        "response cache cleared"
    );
    Ok(Json(cleared))
}
