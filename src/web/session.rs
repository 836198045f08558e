//! Who is signed in: the session cookie, the [`Visitor`] extractor (a redirect to `/login`
//! when nobody is), and the CSRF checks of forms and script requests.
use super::page::PageError;
use crate::auth::{Admin, AuthUser, Manager, Session, authenticate_session};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

/// The session cookie's name.
pub const COOKIE: &str = "prompter_session";

/// The cookie of the sign-in form's CSRF token (there is no session yet).
pub const LOGIN_COOKIE: &str = "prompter_login";

/// The header a page script sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in visitor: the session and the caller it acts as.
#[derive(Debug, Clone)]
pub struct Visitor(pub Session);

impl Visitor {
    /// The caller, scoped to the active organization like an API caller.
    pub fn caller(&self) -> &AuthUser {
        &self.0.user
    }

    /// The caller as a [`Manager`]; a 403 page for roles that may not change things.
    pub fn manager(&self) -> Result<Manager, PageError> {
        Ok(self.0.user.clone().manager()?)
    }

    /// The caller as an [`Admin`]; a 403 page for roles that may not set provider keys or
    /// manage members.
    pub fn admin(&self) -> Result<Admin, PageError> {
        Ok(self.0.user.clone().admin()?)
    }

    /// Whether the role may change projects, prompts, versions and runs.
    pub fn can_edit(&self) -> bool {
        self.0.user.clone().manager().is_ok()
    }

    /// Whether the role may set provider keys and manage members (Owner, Administrator).
    pub fn can_admin(&self) -> bool {
        self.0.user.clone().admin().is_ok()
    }

    /// Checks a CSRF token sent back by a form or a script.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        match sent {
            Some(sent) if same(sent, &self.0.csrf_token) => Ok(()),
            _ => Err(PageError::Csrf),
        }
    }
}

/// Compares two tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequest for Visitor {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = read_cookie(req, COOKIE);
        let next = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{q}", req.path()),
        };
        Box::pin(async move {
            let state = state.ok_or(PageError::SignIn { next: next.clone() })?;
            let Some(cookie) = cookie else {
                return Err(PageError::SignIn { next });
            };
            match authenticate_session(&state.db, &cookie).await? {
                Some(session) => Ok(Visitor(session)),
                None => Err(PageError::SignIn { next }),
            }
        })
    }
}

/// Whether the request came over TLS (directly or through a proxy that says so).
pub fn is_secure(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The value of the cookie `name` the request sent.
pub fn read_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// A `Set-Cookie` value of the app: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure` over TLS;
/// `max_age` 0 removes the cookie.
pub fn set_cookie(req: &HttpRequest, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if is_secure(req) { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_tokens() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
        let req = actix_web::test::TestRequest::default()
            .insert_header(("cookie", "a=1; prompter_session=abc; b=2"))
            .to_http_request();
        assert_eq!(read_cookie(&req, COOKIE).as_deref(), Some("abc"));
        assert_eq!(read_cookie(&req, "c"), None);
        let set = set_cookie(&req, COOKIE, "v", 60);
        assert_eq!(
            set,
            "prompter_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
    }
}
