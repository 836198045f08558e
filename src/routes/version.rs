//! `GET /api/version/`: the Label Studio version Prompter speaks, and Prompter's own.
use crate::error::LS_API_VERSION;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// Registers the version route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/version/").route(web::get().to(version)));
}

/// Versions, in Label Studio's shape, plus `prompter`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerVersionView {
    /// The Label Studio release whose API is served.
    pub release: String,
    /// Edition.
    pub edition: String,
    /// Package information, as Label Studio reports it.
    #[serde(rename = "label-studio-os-package")]
    #[schema(value_type = Object)]
    pub os_package: serde_json::Value,
    /// Backend information.
    #[serde(rename = "label-studio-os-backend")]
    #[schema(value_type = Object)]
    pub os_backend: serde_json::Value,
    /// Frontend information; empty.
    #[serde(rename = "label-studio-frontend")]
    #[schema(value_type = Object)]
    pub frontend: serde_json::Value,
    /// Data manager information; empty.
    #[schema(value_type = Object)]
    pub dm2: serde_json::Value,
    /// Converter information; empty.
    #[serde(rename = "label-studio-converter")]
    #[schema(value_type = Object)]
    pub converter: serde_json::Value,
    /// Label Studio frontend; empty.
    #[schema(value_type = Object)]
    pub lsf: serde_json::Value,
    /// Backend; empty.
    #[schema(value_type = Object)]
    pub backend: serde_json::Value,
    /// Prompter's own version.
    #[schema(value_type = Object)]
    pub prompter: serde_json::Value,
}

/// The server's versions. Needs no authentication.
#[utoipa::path(get, path = "/api/version/", tag = "version", security(()), responses((status = 200, body = ServerVersionView)))]
pub async fn version() -> HttpResponse {
    let own = env!("CARGO_PKG_VERSION");
    HttpResponse::Ok().json(ServerVersionView {
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
