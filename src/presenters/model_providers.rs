//! Provider connections as both front ends show them.
use crate::error::ApiResult;
use crate::services::accounts;
use crate::state::AppState;
use crate::views::model_providers::ModelProviderConnectionView;
use entity::model_provider_connection as connection;

/// Builds the views of `connections` with their creators.
pub async fn views(
    state: &AppState,
    connections: Vec<connection::Model>,
) -> ApiResult<Vec<ModelProviderConnectionView>> {
    let creators: Vec<i64> = connections.iter().filter_map(|c| c.created_by_id).collect();
    let users = accounts::users_by_id(&state.db, &creators).await?;
    Ok(connections
        .into_iter()
        .map(|c| {
            let creator = c.created_by_id.and_then(|id| users.get(&id));
            ModelProviderConnectionView::new(c, creator)
        })
        .collect())
}

/// The models a version editor offers for a connection, and the one a new version starts with.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ModelChoices {
    /// The models its test found, then the known models of its provider (the built-in price
    /// table), without repeats.
    pub models: Vec<String>,
    /// A model its test found (its provider's usual model when found, else the first found
    /// that is a known model of its provider, else the first found), else its provider's
    /// usual model; empty for a Custom server whose test found none.
    pub default: String,
}

/// The model choices of connection `c` ([`ModelChoices`]).
pub fn model_choices(c: &connection::Model) -> ModelChoices {
    let found = crate::services::model_providers::stored_models(c);
    let usual = crate::pricing::default_model(c.provider);
    let known = crate::pricing::known_models(c.provider);
    // A provider's own list is long and alphabetical (OpenAI's starts with `babbage-002`):
    // prefer a chat model it is known for.
    let default = found
        .iter()
        .find(|m| Some(m.as_str()) == usual)
        .or_else(|| found.iter().find(|m| known.contains(&m.as_str())))
        .or_else(|| found.first())
        .cloned()
        .or_else(|| usual.map(str::to_string))
        .unwrap_or_default();
    let mut models = found;
    for k in known {
        if !models.iter().any(|m| m == k) {
            models.push(k.to_string());
        }
    }
    ModelChoices { models, default }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entity::enums::{ConnectionScope, Provider};

    fn connection_of(provider: Provider, models: Option<&str>) -> connection::Model {
        connection::Model {
            id: 1,
            organization_id: 1,
            provider,
            scope: ConnectionScope::Organization,
            api_key_enc: None,
            auth_token_enc: None,
            google_application_credentials_enc: None,
            deployment_name: None,
            endpoint: None,
            google_project_id: None,
            google_location: None,
            cached_available_models: models.map(str::to_string),
            is_internal: false,
            budget_alert_threshold: None,
            budget_limit: None,
            budget_total_spent: 0.0,
            budget_reset_period: None,
            budget_last_reset_date: None,
            budget_alerted_at: None,
            model_params: None,
            rpm_limit: None,
            tpm_limit: None,
            created_by_id: None,
            created_at: crate::util::now(),
            updated_at: crate::util::now(),
        }
    }

    #[test]
    fn the_default_model_is_one_the_test_found() {
        // A Custom server's test found one model: it is the default and the only choice.
        let c = model_choices(&connection_of(Provider::Custom, Some("fake-model")));
        assert_eq!((c.default.as_str(), c.models.len()), ("fake-model", 1));
        // Untested: the provider's usual model, and its known ones to choose from.
        let c = model_choices(&connection_of(Provider::OpenAI, None));
        assert_eq!(c.default, "gpt-4o-mini");
        assert!(c.models.contains(&"gpt-4.1".to_string()));
        // OpenAI's own list is alphabetical: its usual chat model wins over `babbage-002`.
        let c = model_choices(&connection_of(
            Provider::OpenAI,
            Some("babbage-002,dall-e-3,gpt-4o-mini,gpt-5"),
        ));
        assert_eq!(c.default, "gpt-4o-mini");
        assert_eq!(c.models[0], "babbage-002", "found models come first");
        let c = model_choices(&connection_of(
            Provider::OpenAI,
            Some("babbage-002,o3-mini"),
        ));
        assert_eq!(c.default, "o3-mini");
        // A Custom server never tested has no default.
        assert_eq!(
            model_choices(&connection_of(Provider::Custom, None)).default,
            ""
        );
    }
}
