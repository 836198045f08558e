//! The audit log's wire types: an entry (who, when, what, on which object, the changed
//! fields) and the list's filters.
use chrono::{DateTime, Utc};
use entity::audit_log;
use entity::enums::{AuditAction, AuditActor, AuditObject};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// One changed field of an audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditChangeView {
    /// The field's name (a secret's without its storage suffix: `api_key`, `token`).
    pub field: String,
    /// The value before; absent for a new object's field or a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after; absent for a secret. Texts over 200 characters are shortened to their
    /// start, their length and the first 12 hex digits of their SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
    /// For a secret, only what happened to it: `set`, `changed` or `removed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// An entry of the audit log: one change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryView {
    /// Entry id.
    pub id: i64,
    /// When the change was made.
    pub created_at: DateTime<Utc>,
    /// `user`, or `system` / `schedule` for background work.
    pub actor_type: AuditActor,
    /// The user who made the change, if a person did.
    pub actor_id: Option<i64>,
    /// That user's email at the time.
    pub actor_email: Option<String>,
    /// What was done: `create`, `update`, `delete`, `import`, `run.start`, `run.cancel`,
    /// `deploy`, `key.set`, `key.rotated`, `sign_in`, `sign_in.failed`...
    pub action: AuditAction,
    /// The kind of object changed.
    pub object_type: AuditObject,
    /// The object's id.
    pub object_id: Option<i64>,
    /// The object's title at the time.
    pub object_title: String,
    /// The fields that changed.
    pub changes: Vec<AuditChangeView>,
}

impl From<audit_log::Model> for AuditEntryView {
    fn from(m: audit_log::Model) -> Self {
        let changes = match m.changes {
            Value::Array(items) => items
                .into_iter()
                .map(|c| AuditChangeView {
                    field: c["field"].as_str().unwrap_or_default().to_string(),
                    old: c.get("old").cloned(),
                    new: c.get("new").cloned(),
                    secret: c["secret"].as_str().map(str::to_string),
                })
                .collect(),
            _ => vec![],
        };
        AuditEntryView {
            id: m.id,
            created_at: m.created_at,
            actor_type: m.actor_type,
            actor_id: m.actor_id,
            actor_email: m.actor_email,
            action: m.action,
            object_type: m.object_type,
            object_id: m.object_id,
            object_title: m.object_title,
            changes,
        }
    }
}

/// Filters of the audit log; all optional, combined with AND.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// Entries by this user (id).
    #[param(value_type = Option<i64>)]
    pub actor: Option<String>,
    /// Entries of this action (`create`, `update`, `delete`, `run.start`, `deploy`...).
    #[param(value_type = Option<entity::enums::AuditAction>)]
    pub action: Option<String>,
    /// Entries about this kind of object (`project`, `task`, `prompt`, `version`, `run`,
    /// `connection`...).
    #[param(value_type = Option<entity::enums::AuditObject>)]
    pub object_type: Option<String>,
    /// Entries about the object with this id.
    #[param(value_type = Option<i64>)]
    pub object_id: Option<String>,
    /// Entries at or after this time (RFC 3339, or a date `YYYY-MM-DD` meaning its start, UTC).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub since: Option<String>,
    /// Entries before this time (RFC 3339, or a date `YYYY-MM-DD` meaning its start, UTC).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub until: Option<String>,
}
