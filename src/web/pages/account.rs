//! Signing in and out, the first account of an empty installation, the profile page and the
//! API token rotation; `/` sends a visitor to the prompts (or to sign in).
use crate::services::{accounts, web_accounts};
use crate::state::AppState;
use crate::web::forms::{Form, NoFields};
use crate::web::guard::{LOGIN_TOKEN_SECS, login_token, login_token_ok, safe_next};
use crate::web::page::{Frame, Page, PageError, PageResult, html, redirect, render, render_string};
use crate::web::session::{COOKIE, LOGIN_COOKIE, Visitor, read_cookie, set_cookie};
use crate::web::throttle::SignInThrottle;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

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

/// The sign-in page: the form's CSRF token, where to go after, the email as typed.
#[derive(Serialize)]
struct LoginPage {
    login_csrf: String,
    next: String,
    email: String,
}

impl Page for LoginPage {
    const TEMPLATE: &'static str = "login.html";
}

/// The first account's page: the form's CSRF token, the email and organization as typed.
#[derive(Serialize)]
struct SetupPage {
    login_csrf: String,
    email: String,
    organization: String,
}

impl Page for SetupPage {
    const TEMPLATE: &'static str = "setup.html";
}

/// A sign-in form (`page` of its CSRF token) showing `errors`, with a fresh CSRF token,
/// signed with the server's secret, in a cookie and in the form (there is no session yet).
fn with_login_cookie<P: Page>(
    req: &HttpRequest,
    state: &AppState,
    errors: Vec<String>,
    page: impl FnOnce(String) -> P,
) -> PageResult {
    let token = login_token(&state.secrets, chrono::Utc::now().timestamp());
    let refused = !errors.is_empty();
    let frame = Frame::anonymous().with_errors(errors);
    let body = render_string(&frame, &page(token.clone()))?;
    let mut response = html(body);
    if refused {
        *response.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    if let Ok(value) = set_cookie(req, LOGIN_COOKIE, &token, LOGIN_TOKEN_SECS).parse() {
        response
            .headers_mut()
            .append(actix_web::http::header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The sign-in form's token must be the cookie's and signed by this server (a pair a client
/// made up itself is refused).
fn check_login_csrf(req: &HttpRequest, state: &AppState, sent: &str) -> Result<(), PageError> {
    let now = chrono::Utc::now().timestamp();
    match read_cookie(req, LOGIN_COOKIE) {
        Some(cookie) if login_token_ok(&state.secrets, &cookie, sent, now) => Ok(()),
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
    with_login_cookie(&req, &state, vec![], |login_csrf| LoginPage {
        login_csrf,
        next,
        email: String::new(),
    })
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
    throttle: web::Data<SignInThrottle>,
    form: web::Form<LoginForm>,
) -> PageResult {
    check_login_csrf(&req, &state, &form.csrf)?;
    let next = safe_next(form.next.as_deref());
    let address = throttle.client_address(&req);
    // Checked before the password, which is then not looked at: a refused attempt costs no
    // hash and tells nothing.
    if let Some(wait) = throttle.wait(&form.email, address, std::time::Instant::now()) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::warn!(
            wait_secs = secs,
            "web sign-in refused: too many failed attempts"
        );
        let message = format!(
            "Too many failed sign-ins for this account or from this address. Wait {} and try \
             again.",
            in_words(secs)
        );
        let mut response =
            with_login_cookie(&req, &state, vec![message], |login_csrf| LoginPage {
                login_csrf,
                next,
                email: form.email.clone(),
            })?;
        *response.status_mut() = actix_web::http::StatusCode::TOO_MANY_REQUESTS;
        if let Ok(value) = secs.to_string().parse() {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let Some(user) = web_accounts::check_sign_in(&state.db, &form.email, &form.password).await?
    else {
        throttle.failed(&form.email, address, std::time::Instant::now());
        tracing::info!("web sign-in refused");
        let errors = vec!["The email or the password is wrong.".to_string()];
        let mut response = with_login_cookie(&req, &state, errors, |login_csrf| LoginPage {
            login_csrf,
            next,
            email: form.email.clone(),
        })?;
        *response.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        return Ok(response);
    };
    throttle.succeeded(&form.email);
    sign_in(&req, &state, user.id, &next).await
}

/// A wait in words: "1 second", "40 seconds", "3 minutes".
fn in_words(secs: u64) -> String {
    match secs {
        0 | 1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
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
    with_login_cookie(&req, &state, vec![], |login_csrf| SetupPage {
        login_csrf,
        email: String::new(),
        organization: String::new(),
    })
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
    check_login_csrf(&req, &state, &form.csrf)?;
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
        Err(e) => with_login_cookie(&req, &state, vec![e.to_string()], |login_csrf| SetupPage {
            login_csrf,
            email: form.email.clone(),
            organization: organization.to_string(),
        }),
    }
}

async fn logout(req: HttpRequest, state: web::Data<AppState>, form: Form<NoFields>) -> PageResult {
    web_accounts::close_session(&state.db, form.visitor.0.id).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("location", "/login"))
        .append_header(("set-cookie", set_cookie(&req, COOKIE, "", 0)))
        .finish())
}

/// The profile: the organization's name, the caller's tokens and a token just made.
#[derive(Serialize)]
struct ProfilePage {
    organization: String,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

impl Page for ProfilePage {
    const TEMPLATE: &'static str = "profile.html";
}

/// An API token as the profile lists it (RFC 3339 times).
#[derive(Serialize)]
struct TokenRow {
    created_at: String,
    last_used_at: Option<String>,
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
    let tokens = tokens
        .iter()
        .map(|t| TokenRow {
            created_at: t.created_at.to_rfc3339(),
            last_used_at: t.last_used_at.map(|d| d.to_rfc3339()),
        })
        .collect();
    let page = ProfilePage {
        organization,
        tokens,
        new_token,
    };
    render(Frame::of(visitor, "profile"), &page)
}

/// What a flash of a new API token is called.
const NEW_TOKEN: &str = "new_token";

/// The profile, with the token *Make a new token* just made, once: the form redirects here
/// (post, redirect, get), so reloading the page shows the tokens and makes none.
async fn profile(state: web::Data<AppState>, visitor: Visitor) -> PageResult {
    let new_token =
        web_accounts::take_flash(&state.db, &state.secrets, visitor.0.id, NEW_TOKEN).await?;
    profile_page(&state, &visitor, new_token).await
}

async fn rotate_token(state: web::Data<AppState>, form: Form<NoFields>) -> PageResult {
    let token = web_accounts::rotate_token(&state.db, form.visitor.caller()).await?;
    state.auth_cache.clear();
    tracing::info!(
        user = form.visitor.caller().user.id,
        "API token rotated from the web app"
    );
    web_accounts::put_flash(
        &state.db,
        &state.secrets,
        form.visitor.0.id,
        NEW_TOKEN,
        &token,
    )
    .await?;
    Ok(redirect("/profile"))
}

use sea_orm::EntityTrait;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_words() {
        assert_eq!(in_words(1), "1 second");
        assert_eq!(in_words(45), "45 seconds");
        assert_eq!(in_words(900), "15 minutes");
        assert_eq!(in_words(121), "3 minutes");
    }
}
