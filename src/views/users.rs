//! Users: the current user (`whoami`) and users as other objects reference them.
use chrono::{DateTime, Utc};
use entity::user;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as other objects reference it (`UserSimple`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserSimple {
    /// User id.
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email address.
    pub email: String,
    /// Avatar URL; always null.
    pub avatar: Option<String>,
    /// Username.
    pub username: String,
}

impl From<&user::Model> for UserSimple {
    fn from(u: &user::Model) -> Self {
        UserSimple {
            id: u.id,
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            email: u.email.clone(),
            avatar: None,
            username: u.username.clone(),
        }
    }
}

/// A membership of the current user.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    /// Organization id.
    pub organization_id: i64,
    /// Role there.
    pub role: String,
    /// Whether it is the active organization.
    pub active: bool,
}

/// The current user, as Label Studio's whoami returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WhoAmIView {
    /// User id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Avatar URL; always null.
    pub avatar: Option<String>,
    /// Initials.
    pub initials: String,
    /// Phone; always empty.
    pub phone: String,
    /// Active organization id.
    pub active_organization: i64,
    /// Newsletter consent; always false.
    pub allow_newsletters: bool,
    /// When the user joined.
    pub date_joined: DateTime<Utc>,
    /// Last activity.
    pub last_activity: DateTime<Utc>,
    /// Custom hotkeys; always empty.
    #[schema(value_type = Object)]
    pub custom_hotkeys: serde_json::Value,
    /// The active membership.
    pub organization_membership: MembershipView,
    /// Every membership (the active one).
    pub org_membership: Vec<MembershipView>,
}
