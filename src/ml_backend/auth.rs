//! Who calls an ML backend: Label Studio sends HTTP Basic auth (any user name; the password is
//! a Prompter API token) on its ML API calls, and the `Authorization` header a user added to
//! the project webhook (`Token <token>` or `Bearer <token>`) on event webhooks. Both go through
//! the same token check and cache as the rest of the API.
use super::error::MlError;
use crate::auth::{AuthUser, Manager, token_of};
use crate::extract::authenticate_request;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures_util::future::LocalBoxFuture;

/// The authenticated caller of an ML backend route.
#[derive(Debug, Clone)]
pub struct MlCaller(pub AuthUser);

/// The caller of an ML backend route that predicts or changes data: authenticated, then an
/// Owner, Administrator or Manager (403 in the ML backend's envelope otherwise).
#[derive(Debug, Clone)]
pub struct MlManager(pub Manager);

/// The password of a `Basic base64(user:password)` header value.
fn basic_password(header: &str) -> Option<String> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (_, password) = decoded.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// The token an `Authorization` header value carries, in any of the accepted schemes.
pub fn token_in(header: &str) -> Option<String> {
    token_of(header)
        .map(str::to_owned)
        .or_else(|| basic_password(header))
}

impl FromRequest for MlCaller {
    type Error = MlError;
    type Future = LocalBoxFuture<'static, Result<Self, MlError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authenticate_request(req, token_in);
        Box::pin(async move { Ok(MlCaller(caller.await?)) })
    }
}

impl FromRequest for MlManager {
    type Error = MlError;
    type Future = LocalBoxFuture<'static, Result<Self, MlError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = MlCaller::from_request(req, payload);
        Box::pin(async move { Ok(MlManager(caller.await?.0.manager()?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_basic_token_and_bearer() {
        let basic = format!("Basic {}", B64.encode("anyone:tok:with:colons"));
        assert_eq!(token_in(&basic).as_deref(), Some("tok:with:colons"));
        assert_eq!(token_in("Token abc").as_deref(), Some("abc"));
        assert_eq!(token_in("bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_in(&format!("Basic {}", B64.encode("user:"))), None);
        assert_eq!(token_in("Basic !!!"), None);
        assert_eq!(token_in("Digest abc"), None);
    }
}
