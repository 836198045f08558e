//! The kind of a failed prediction (`error_type`): Prompter's own kinds as variants, and the
//! free text an outside worker reports (Label Studio's `error_type` is any string: Adala fills
//! it from the error) kept as it came.
use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Defines [`FailureKind`]'s own kinds from one table: variant = stored and wire name.
macro_rules! failure_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// Why a task of a run ended without a prediction (a failed prediction's `error_type`).
        /// Stored as its name; a name that is none of Prompter's kinds (an outside worker's)
        /// reads back as [`FailureKind::Other`] with the same text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, DeriveValueType)]
        #[sea_orm(value_type = "String")]
        pub enum FailureKind {
            $($(#[$doc])* $variant,)+
            /// A kind an outside worker reported (batch failed predictions), kept as sent.
            Other(String),
        }

        impl FailureKind {
            /// Prompter's own kinds, in order.
            pub const KNOWN: &'static [FailureKind] = &[$(FailureKind::$variant),+];

            /// The stored and wire name.
            pub fn as_str(&self) -> &str {
                match self {
                    $(FailureKind::$variant => $name,)+
                    FailureKind::Other(name) => name,
                }
            }

            /// The kind of a stored or wire name: one of Prompter's, else [`FailureKind::Other`].
            pub fn from_name(name: &str) -> FailureKind {
                match name {
                    $($name => FailureKind::$variant,)+
                    other => FailureKind::Other(other.to_string()),
                }
            }
        }
    };
}

failure_kinds! {
    /// The provider refused for its rate limit (429) after the retries.
    RateLimit = "RateLimit",
    /// The call took longer than the timeout.
    Timeout = "Timeout",
    /// The provider failed (5xx) or could not be reached.
    ProviderError = "ProviderError",
    /// The provider refused the key.
    Authentication = "Authentication",
    /// The provider refused the request (4xx other than 401 and 429).
    BadRequest = "BadRequest",
    /// The answer does not fit the output schema or the label config.
    InvalidOutput = "InvalidOutput",
    /// The provider or its settings are not supported.
    Unsupported = "Unsupported",
    /// The run was canceled while the task waited.
    Canceled = "Canceled",
    /// The prompt names a task field the task does not have.
    MissingField = "MissingField",
    /// The prompt's template does not parse.
    PromptError = "PromptError",
    /// An image of the task could not be read.
    ImageError = "ImageError",
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FailureKind {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(FailureKind::from_name(name))
    }
}

impl PartialEq<&str> for FailureKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for FailureKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(FailureKind::from_name(&name))
    }
}

impl utoipa::PartialSchema for FailureKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let known: Vec<&str> = FailureKind::KNOWN.iter().map(FailureKind::as_str).collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!(
                "Why the task has no prediction: one of Prompter's kinds ({}), or the text an \
                 outside worker reported.",
                known.join(", ")
            )))
            .examples(known)
            .into()
    }
}

impl utoipa::ToSchema for FailureKind {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FailureKind")
    }
}

#[cfg(test)]
mod tests {
    use super::FailureKind;

    #[test]
    fn names_round_trip() {
        for kind in FailureKind::KNOWN {
            assert_eq!(&FailureKind::from_name(kind.as_str()), kind);
        }
        let other = FailureKind::from_name("Rate Limit");
        assert_eq!(other, FailureKind::Other("Rate Limit".into()));
        assert_eq!(other.as_str(), "Rate Limit");
        assert_eq!(
            serde_json::to_value(FailureKind::Timeout).ok(),
            Some("Timeout".into())
        );
    }
}
