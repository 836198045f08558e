//! The current user: `GET /api/current-user/whoami` and `GET /api/current-user`.
use crate::auth::AuthUser;
use crate::respond::Json;
use crate::views::users::{MembershipView, WhoAmIView};
use actix_web::web;
use chrono::Utc;

/// Registers the current-user routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/api/current-user/whoami").route(web::get().to(whoami)))
        .service(super::resource("/api/current-user").route(web::get().to(current_user)));
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
pub async fn whoami(caller: AuthUser) -> Json<WhoAmIView> {
    Json(view(&caller))
}

/// The current user (Label Studio Enterprise's `get_current_user`).
#[utoipa::path(get, path = "/api/current-user", tag = "users",
    responses((status = 200, body = WhoAmIView), (status = 401, body = crate::error::ErrorBody)))]
pub async fn current_user(caller: AuthUser) -> Json<WhoAmIView> {
    Json(view(&caller))
}
