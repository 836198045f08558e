//! Organizations and their members, as Label Studio Enterprise's organization API shapes them:
//! `/api/organizations/{id}` and its `memberships`.
use crate::views::users::UserSimple;
use chrono::{DateTime, Utc};
use entity::{organization, organization_member as member, user};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An organization.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrganizationView {
    /// Organization id.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<organization::Model> for OrganizationView {
    fn from(o: organization::Model) -> Self {
        OrganizationView {
            id: o.id,
            title: o.title,
            created_at: o.created_at,
        }
    }
}

/// A member of an organization: the user, their role there and whether the membership is
/// active (a deactivated member cannot authenticate in the organization).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    /// The user.
    pub user: UserSimple,
    /// The organization's id.
    pub organization: i64,
    /// `Owner`, `Administrator`, `Manager`, `Reviewer` or `Annotator`.
    pub role: String,
    /// Whether the membership is active.
    pub active: bool,
    /// Whether the user has a web sign-in password (a member added by email who had no
    /// account has none until an operator sets one with `prompter admin set-password`).
    pub can_sign_in: bool,
    /// When the user joined the organization.
    pub created_at: DateTime<Utc>,
}

impl MemberView {
    /// The view of membership `m` of user `u`.
    pub fn new(m: member::Model, u: &user::Model) -> MemberView {
        MemberView {
            user: UserSimple::from(u),
            organization: m.organization_id,
            role: m.role,
            active: m.is_active,
            can_sign_in: u.password_hash.is_some() && u.is_active,
            created_at: m.created_at,
        }
    }
}

/// Adds a member by email: an existing user joins the organization; for an unknown email a
/// user is created without a password (see `MemberView::can_sign_in`).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct MemberInput {
    /// The person's email address (at most 254 characters).
    #[schema(max_length = 254, pattern = r"^\s*[^@\s]+@\S+\s*$")]
    pub email: String,
    /// Their role; `Annotator` when absent. Only an Owner may add an Owner.
    #[serde(default)]
    #[schema(example = "Annotator")]
    pub role: Option<String>,
    /// First name of a user created by this call (at most 150 characters).
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name of a user created by this call (at most 150 characters).
    #[serde(default)]
    pub last_name: Option<String>,
}

/// Changes a membership: the role, the active flag, or both. Only an Owner may make or unmake
/// an Owner; the last active Owner can be neither demoted nor deactivated.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct MemberUpdate {
    /// The new role.
    #[serde(default)]
    #[schema(example = "Manager")]
    pub role: Option<String>,
    /// `false` deactivates the membership, `true` reactivates it.
    #[serde(default)]
    pub active: Option<bool>,
}
