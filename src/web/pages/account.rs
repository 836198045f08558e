//! Signing in and out, the first account of an empty installation, the profile page and the
//! API token rotation; `/` sends a visitor to the prompts (or to sign in).
use crate::crypto::random_hex;
use crate::services::{accounts, web_accounts};
use crate::state::AppState;
use crate::web::forms::{Form, NoFields};
use crate::web::page::{PageError, PageResult, html, redirect, render, render_bare};
use crate::web::session::{COOKIE, LOGIN_COOKIE, Visitor, read_cookie, same, set_cookie};
use actix_web::{HttpRequest, HttpResponse, web};
use minijinja::context;
use serde::Deserialize;

/// Registers `/`, `/login`, `/setup`, `/logout`, `/profile`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/setup", web::get().to(setup_page))
        .route("/setup", web::post().to(setup))
        .route("/logout", web::post().to(logout))
        .route("/profile", web::get().to(profile))
        .route("/profile/token", web::post().to(rotate_token));
}

async fn home(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    if accounts::is_empty(&state.db).await? {
        return Ok(redirect("/setup"));
    }
    match read_cookie(&req, COOKIE) {
        Some(_) => Ok(redirect("/prompts")),
        None => Ok(redirect("/login")),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// A local path to go to after signing in (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/prompts".to_string(),
    }
}

/// A sign-in form with a fresh CSRF cookie (there is no session yet).
fn with_login_cookie(req: &HttpRequest, template: &str, ctx: minijinja::Value) -> PageResult {
    let token = random_hex(16);
    let body = render_bare(template, context! { login_csrf => token.clone(), ..ctx })?;
    let mut response = html(body);
    if let Ok(value) = set_cookie(req, LOGIN_COOKIE, &token, 3600).parse() {
        response
            .headers_mut()
            .append(actix_web::http::header::SET_COOKIE, value);
    }
    Ok(response)
}

fn check_login_csrf(req: &HttpRequest, sent: &str) -> Result<(), PageError> {
    match read_cookie(req, LOGIN_COOKIE) {
        Some(cookie) if same(&cookie, sent) => Ok(()),
        _ => Err(PageError::Csrf),
    }
}

async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> PageResult {
    if accounts::is_empty(&state.db).await? {
        return Ok(redirect("/setup"));
    }
    let next = safe_next(query.next.as_deref());
    with_login_cookie(&req, "login.html", context! { next })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
    next: Option<String>,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> PageResult {
    check_login_csrf(&req, &form.csrf)?;
    let next = safe_next(form.next.as_deref());
    let Some(user) = web_accounts::check_sign_in(&state.db, &form.email, &form.password).await?
    else {
        tracing::info!("web sign-in refused");
        let mut response = with_login_cookie(
            &req,
            "login.html",
            context! { next, email => form.email.clone(),
            errors => vec!["The email or the password is wrong."] },
        )?;
        *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    sign_in(&req, &state, user.id, &next).await
}

async fn sign_in(req: &HttpRequest, state: &AppState, user_id: i64, next: &str) -> PageResult {
    let cookie = web_accounts::open_session(&state.db, user_id).await?;
    tracing::info!(user = user_id, "signed in to the web app");
    let days = web_accounts::SESSION_DAYS * 24 * 3600;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", next.to_string()))
        .append_header(("set-cookie", set_cookie(req, COOKIE, &cookie, days)))
        .append_header(("set-cookie", set_cookie(req, LOGIN_COOKIE, "", 0)))
        .finish())
}

async fn setup_page(req: HttpRequest, state: web::Data<AppState>) -> PageResult {
    if !accounts::is_empty(&state.db).await? {
        return Ok(redirect("/login"));
    }
    with_login_cookie(&req, "setup.html", context! {})
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    csrf: String,
    email: String,
    organization: String,
    password: String,
}

async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> PageResult {
    check_login_csrf(&req, &form.csrf)?;
    let organization = form.organization.trim();
    let created = if organization.is_empty() {
        Err(accounts::AccountError::Invalid(
            "Name the organization.".into(),
        ))
    } else {
        web_accounts::create_first_user(&state.db, &form.email, organization, &form.password).await
    };
    match created {
        Ok(Some(user)) => sign_in(&req, &state, user.id, "/connections").await,
        Ok(None) => Ok(redirect("/login")),
        Err(accounts::AccountError::Db(e)) => Err(e.into()),
        Err(e) => with_login_cookie(
            &req,
            "setup.html",
            context! { email => form.email.clone(), organization, errors => vec![e.to_string()] },
        ),
    }
}

async fn logout(req: HttpRequest, state: web::Data<AppState>, form: Form<NoFields>) -> PageResult {
    web_accounts::close_session(&state.db, form.visitor.0.id).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/login"))
        .append_header(("set-cookie", set_cookie(&req, COOKIE, "", 0)))
        .finish())
}

async fn profile_page(
    state: &AppState,
    visitor: &Visitor,
    new_token: Option<String>,
) -> PageResult {
    let tokens = web_accounts::tokens_of(&state.db, visitor.caller().user.id).await?;
    let organization = entity::organization::Entity::find_by_id(visitor.caller().organization_id)
        .one(&state.db)
        .await?
        .map(|o| o.title)
        .unwrap_or_default();
    let tokens: Vec<_> = tokens
        .iter()
        .map(|t| context! { created_at => t.created_at.to_rfc3339(), last_used_at => t.last_used_at.map(|d| d.to_rfc3339()) })
        .collect();
    render(
        visitor,
        "profile",
        "profile.html",
        context! { tokens, organization, new_token },
    )
}

async fn profile(state: web::Data<AppState>, visitor: Visitor) -> PageResult {
    profile_page(&state, &visitor, None).await
}

async fn rotate_token(state: web::Data<AppState>, form: Form<NoFields>) -> PageResult {
    let token = web_accounts::rotate_token(&state.db, form.visitor.caller().user.id).await?;
    state.auth_cache.clear();
    tracing::info!(
        user = form.visitor.caller().user.id,
        "API token rotated from the web app"
    );
    profile_page(&state, &form.visitor, Some(token)).await
}

use sea_orm::EntityTrait;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_back_only_to_local_paths() {
        assert_eq!(safe_next(Some("/runs/3?x=1")), "/runs/3?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/prompts");
        assert_eq!(safe_next(Some("https://evil.example")), "/prompts");
        assert_eq!(safe_next(Some("/\\evil")), "/prompts");
        assert_eq!(safe_next(None), "/prompts");
    }
}
