//! Probes for operators and orchestrators: `GET /health` (the process answers) and
//! `GET /ready` (the database answers and its schema is current), neither needing a token.
//! (`GET /` is the web app's.)
use crate::respond::Json;
use crate::state::AppState;
use crate::views::ops::ProbeView;
use actix_web::http::StatusCode;
use actix_web::web;

/// Registers `/health` and `/ready`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/health").route(web::get().to(health)))
        .service(super::resource("/ready").route(web::get().to(ready)));
}

/// The process is up and serving requests. Needs no token.
#[utoipa::path(get, path = "/health", tag = "ops", security(()),
    responses((status = 200, body = ProbeView)))]
pub async fn health() -> Json<ProbeView> {
    Json(ProbeView {
        status: "ok".into(),
        detail: None,
    })
}

/// The service can serve the API: the database answers and no migration is pending (503 with
/// the reason otherwise). Needs no token.
#[utoipa::path(get, path = "/ready", tag = "ops", security(()),
    responses((status = 200, body = ProbeView), (status = 503, body = ProbeView)))]
pub async fn ready(state: web::Data<AppState>) -> (Json<ProbeView>, StatusCode) {
    use migration::MigratorTrait;
    let problem = match migration::Migrator::get_pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => None,
        Ok(pending) => Some(format!(
            "{} migration(s) pending: run `prompter migrate up`",
            pending.len()
        )),
        Err(e) => Some(format!("the database does not answer: {e}")),
    };
    match problem {
        None => (
            Json(ProbeView {
                status: "ok".into(),
                detail: None,
            }),
            StatusCode::OK,
        ),
        Some(detail) => (
            Json(ProbeView {
                status: "unavailable".into(),
                detail: Some(detail),
            }),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    }
}
