//! `GET /api/version/`: the Label Studio version Prompter speaks, and Prompter's own.
use crate::error::LS_API_VERSION;
use crate::respond::Json;
use crate::views::ops::ServerVersionView;
use actix_web::web;
use serde_json::json;

/// Registers the version route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/version/").route(web::get().to(version)));
}

/// The server's versions. Needs no authentication.
#[utoipa::path(get, path = "/api/version/", tag = "ops", security(()), responses((status = 200, body = ServerVersionView)))]
pub async fn version() -> Json<ServerVersionView> {
    let own = env!("CARGO_PKG_VERSION");
    Json(ServerVersionView {
        release: LS_API_VERSION.into(),
        edition: "Community".into(),
        os_package: json!({"version": LS_API_VERSION, "short_version": "1.23", "current_version_is_outdated": false}),
        os_backend: json!({"message": "Prompter", "version": own}),
        frontend: json!({}),
        dm2: json!({}),
        converter: json!({}),
        lsf: json!({}),
        backend: json!({}),
        prompter: json!({"version": own}),
    })
}
