//! What calling a provider takes: which provider it is ([`Provider`], Label Studio's
//! `ProviderEnum`) and a connection's opened secrets and settings ([`Credentials`]), which the
//! services read from a provider connection and hand to the provider layer.

/// An LLM provider (Label Studio's `ProviderEnum`), stored in the connection and version rows.
pub use entity::enums::Provider;

/// What the inference engine needs to call a provider: the opened secrets and the settings.
/// Its `Debug` output never shows a secret.
#[derive(Clone)]
pub struct Credentials {
    /// Connection id.
    pub id: i64,
    /// The provider.
    pub provider: Provider,
    /// API key.
    pub api_key: Option<String>,
    /// Auth token.
    pub auth_token: Option<String>,
    /// Google service-account credentials (JSON text).
    pub google_application_credentials: Option<String>,
    /// Endpoint URL (Azure, Custom).
    pub endpoint: Option<String>,
    /// Deployment name (Azure).
    pub deployment_name: Option<String>,
    /// Google Cloud project id.
    pub google_project_id: Option<String>,
    /// Google Cloud location.
    pub google_location: Option<String>,
    /// Requests per minute the provider allows, if known.
    pub rpm_limit: Option<i32>,
    /// Tokens per minute the provider allows, if known.
    pub tpm_limit: Option<i64>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hide = |v: &Option<String>| {
            if v.is_some() {
                "Some(<redacted>)"
            } else {
                "None"
            }
        };
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("api_key", &format_args!("{}", hide(&self.api_key)))
            .field("auth_token", &format_args!("{}", hide(&self.auth_token)))
            .field(
                "google_application_credentials",
                &format_args!("{}", hide(&self.google_application_credentials)),
            )
            .field("endpoint", &self.endpoint)
            .field("deployment_name", &self.deployment_name)
            .field("google_project_id", &self.google_project_id)
            .field("google_location", &self.google_location)
            .field("rpm_limit", &self.rpm_limit)
            .field("tpm_limit", &self.tpm_limit)
            .finish()
    }
}
