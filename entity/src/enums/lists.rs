//! JSON list columns: a list of strings stored as a JSON array (`["text"]`).
use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

/// A JSON column holding a list of strings (a prompt's `input_fields`, `output_classes` and
/// `tags`): stored and sent as a plain JSON array.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, FromJsonQueryResult,
)]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

impl From<Vec<String>> for StringList {
    fn from(items: Vec<String>) -> Self {
        StringList(items)
    }
}

impl From<StringList> for Vec<String> {
    fn from(list: StringList) -> Self {
        list.0
    }
}

impl std::ops::Deref for StringList {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}
