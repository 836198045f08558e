//! The current user: `GET /api/current-user/whoami` and `GET /api/current-user`.
use crate::auth::AuthUser;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Registers the current-user routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/current-user/whoami").route(web::get().to(whoami)))
        .service(super::resource("/api/current-user").route(web::get().to(current_user)));
}

/// A membership of the current user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    /// Organization id.
    pub organization_id: i64,
    /// Role there.
    pub role: String,
    /// Whether it is the active organization.
    pub active: bool,
}

/// The current user, as Label Studio's whoami returns it.
#[derive(Debug, Serialize, ToSchema)]
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

fn view(caller: &AuthUser) -> WhoAmIView {
    let u = &caller.user;
    let initials: String = [&u.first_name, &u.last_name]
        .iter()
        .filter_map(|n| n.chars().next())
        .collect::<String>()
        .to_uppercase();
    let initials = if initials.is_empty() {
        u.email.chars().take(2).collect()
    } else {
        initials
    };
    let membership = || MembershipView {
        organization_id: caller.organization_id,
        role: caller.role.as_str().to_string(),
        active: true,
    };
    WhoAmIView {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        avatar: None,
        initials,
        phone: String::new(),
        active_organization: caller.organization_id,
        allow_newsletters: false,
        date_joined: u.created_at,
        last_activity: Utc::now(),
        custom_hotkeys: serde_json::json!({}),
        organization_membership: membership(),
        org_membership: vec![membership()],
    }
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/current-user/whoami", tag = "users",
    responses((status = 200, body = WhoAmIView), (status = 401, body = crate::error::ErrorBody)))]
pub async fn whoami(caller: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(view(&caller))
}

/// The current user (Label Studio Enterprise's `get_current_user`).
#[utoipa::path(get, path = "/api/current-user", tag = "users",
    responses((status = 200, body = WhoAmIView), (status = 401, body = crate::error::ErrorBody)))]
pub async fn current_user(caller: AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(view(&caller))
}
