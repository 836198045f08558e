//! Operations: the server version and the health and readiness probes.
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Versions, in Label Studio's shape, plus `prompter`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// A probe's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProbeView {
    /// `ok`, or `unavailable` with the reason in `detail`.
    pub status: String,
    /// Why the service is not ready, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}
