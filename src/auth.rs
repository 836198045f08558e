//! Authentication (`Authorization: Token <t>` or `Bearer <t>`, tokens stored hashed) and the
//! caller's organization and role, which scope every query. Label Studio Enterprise's
//! permission matrix is held by types that only a role check makes: a caller who may change
//! prompts, versions, runs and projects is a [`Manager`], one who may set provider keys and
//! manage members an [`Admin`]. Handlers and services that change data take one, so none can
//! be reached without the check. (The HTTP extractors are in `extract`.) A deactivated
//! membership authenticates nowhere in its organization.
use crate::crypto::hash_token;
use crate::error::{ApiError, ApiResult};
use chrono::{Duration, Utc};
use entity::{api_token, user};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, FromQueryResult};

/// A member's role in an organization, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Role {
    /// Created the organization.
    Owner,
    /// Manages the organization.
    Administrator,
    /// Manages projects and prompts.
    Manager,
    /// Reviews annotations.
    Reviewer,
    /// Annotates tasks.
    Annotator,
}

impl Role {
    /// Every role, as stored.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Administrator,
        Role::Manager,
        Role::Reviewer,
        Role::Annotator,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Administrator => "Administrator",
            Role::Manager => "Manager",
            Role::Reviewer => "Reviewer",
            Role::Annotator => "Annotator",
        }
    }

    /// Parses a stored or typed name (case-insensitive).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The user.
    pub user: user::Model,
    /// The active organization; every query is scoped to it.
    pub organization_id: i64,
    /// The user's role there.
    pub role: Role,
}

impl AuthUser {
    /// The caller as a [`Manager`] when it is an Owner, Administrator or Manager (who may
    /// change projects, tasks, predictions, prompts, versions, runs and provider connections);
    /// 403 otherwise.
    pub fn manager(self) -> ApiResult<Manager> {
        if self.role <= Role::Manager {
            Ok(Manager(self))
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// The caller as an [`Admin`] when it is an Owner or Administrator (who may also set
    /// provider keys and manage the organization's members); 403 otherwise.
    pub fn admin(self) -> ApiResult<Admin> {
        if self.role <= Role::Administrator {
            Ok(Admin(self))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// An authenticated Owner or Administrator. Made only by [`AuthUser::admin`]; it reads as the
/// [`AuthUser`] it wraps, and may do all a [`Manager`] may ([`Admin::as_manager`]).
#[derive(Debug, Clone)]
pub struct Admin(AuthUser);

impl Admin {
    /// The same caller as a [`Manager`] (an Owner or Administrator is one).
    pub fn as_manager(&self) -> Manager {
        Manager(self.0.clone())
    }
}

impl std::ops::Deref for Admin {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

/// An authenticated caller whose role allows changes (Owner, Administrator or Manager). Made
/// only by [`AuthUser::manager`]; it reads as the [`AuthUser`] it wraps.
#[derive(Debug, Clone)]
pub struct Manager(AuthUser);

impl std::ops::Deref for Manager {
    type Target = AuthUser;

    fn deref(&self) -> &AuthUser {
        &self.0
    }
}

/// Reads the token of an `Authorization` header value (`Token <t>` or `Bearer <t>`).
pub fn token_of(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    (known && !token.is_empty()).then_some(token)
}

#[derive(Debug, FromQueryResult)]
struct TokenRow {
    token_id: i64,
    last_used_at: Option<chrono::DateTime<Utc>>,
    role: String,
    organization_id: i64,
}

/// The row of `table` (API tokens or web sessions: both have `user_id` and `token_hash`) whose
/// hash is `hash`, with its active user's `user_id`, `role` and `organization_id` in the user's
/// active organization, where the membership must be active.
fn credential_query(table: &'static str, hash: &str) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr_as(Expr::col(("organization_members", "role")), "role")
        .expr_as(
            Expr::col(("organization_members", "organization_id")),
            "organization_id",
        )
        .expr_as(Expr::col((table, "user_id")), "user_id")
        .from(table)
        .inner_join(
            "users",
            Expr::col(("users", "id")).equals((table, "user_id")),
        )
        .inner_join(
            "organization_members",
            Expr::col(("organization_members", "user_id"))
                .equals(("users", "id"))
                .and(
                    Expr::col(("organization_members", "organization_id"))
                        .equals(("users", "active_organization_id")),
                ),
        )
        .and_where(Expr::col((table, "token_hash")).eq(hash))
        .and_where(Expr::col(("users", "is_active")).eq(true))
        .and_where(Expr::col(("organization_members", "is_active")).eq(true))
        .to_owned()
}

/// Finds the caller of `token`: an active user with a membership in its active organization.
pub async fn authenticate(db: &impl ConnectionTrait, token: &str) -> ApiResult<AuthUser> {
    let query = credential_query("api_tokens", &hash_token(token))
        .expr_as(Expr::col(("api_tokens", "id")), "token_id")
        .expr_as(Expr::col(("api_tokens", "last_used_at")), "last_used_at")
        .to_owned();
    let row = db.query_one(&query).await?.ok_or(ApiError::InvalidToken)?;
    let found = TokenRow::from_query_result(&row, "")?;
    let user_id: i64 = row.try_get("", "user_id")?;
    let user = user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let role = Role::parse(&found.role).unwrap_or(Role::Annotator);
    // Recording use is best-effort and at most once a minute per token, to keep reads cheap.
    if found
        .last_used_at
        .is_none_or(|t| Utc::now() - t > Duration::minutes(1))
    {
        let touch = api_token::ActiveModel {
            id: Set(found.token_id),
            last_used_at: Set(Some(Utc::now())),
            ..Default::default()
        };
        if let Err(err) = touch.update(db).await {
            tracing::warn!(error = %err, "could not record token use");
        }
    }
    Ok(AuthUser {
        user,
        organization_id: found.organization_id,
        role,
    })
}

/// A signed-in browser session of the web app: who, and the CSRF token its forms post back.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session row's id.
    pub id: i64,
    /// The signed-in user, scoped like an API caller.
    pub user: AuthUser,
    /// The value every state-changing request of the session must carry.
    pub csrf_token: String,
}

/// Finds the session of the cookie value `cookie`: unexpired, of an active user with a
/// membership in its active organization. `None` when there is none (signed out).
pub async fn authenticate_session(
    db: &impl ConnectionTrait,
    cookie: &str,
) -> ApiResult<Option<Session>> {
    let query = credential_query("web_sessions", &hash_token(cookie))
        .expr_as(Expr::col(("web_sessions", "id")), "session_id")
        .expr_as(Expr::col(("web_sessions", "csrf_token")), "csrf_token")
        .and_where(Expr::col(("web_sessions", "expires_at")).gt(Utc::now()))
        .to_owned();
    let Some(row) = db.query_one(&query).await? else {
        return Ok(None);
    };
    let session_id: i64 = row.try_get("", "session_id")?;
    let csrf_token: String = row.try_get("", "csrf_token")?;
    let role: String = row.try_get("", "role")?;
    let organization_id: i64 = row.try_get("", "organization_id")?;
    let user_id: i64 = row.try_get("", "user_id")?;
    let Some(user) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: session_id,
        user: AuthUser {
            user,
            organization_id,
            role: Role::parse(&role).unwrap_or(Role::Annotator),
        },
        csrf_token,
    }))
}

/// Recently authenticated tokens, so that a client's stream of requests costs one lookup per
/// token every [`AuthCache::TTL`] rather than two queries per request. Keyed by the token's
/// hash; bounded in size.
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, AuthUser)>>,
}

impl AuthCache {
    /// How long an authentication is reused.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(10);
    const MAX: usize = 10_000;

    /// Forgets every cached authentication (after tokens were revoked, or a member's role or
    /// active flag changed), so the change holds from the next request on.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    fn get(&self, key: &str) -> Option<AuthUser> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, user)| user.clone())
    }

    fn put(&self, key: String, user: AuthUser) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX {
                entries.retain(|_, (at, _)| at.elapsed() < Self::TTL);
                if entries.len() >= Self::MAX {
                    entries.clear();
                }
            }
            entries.insert(key, (std::time::Instant::now(), user));
        }
    }
}

/// The caller of `token`: a recent authentication from `cache`, else [`authenticate`] (then
/// cached). Every way of presenting a token goes through here.
pub async fn authenticate_cached(
    cache: &AuthCache,
    db: &impl ConnectionTrait,
    token: &str,
) -> ApiResult<AuthUser> {
    let key = hash_token(token);
    if let Some(user) = cache.get(&key) {
        return Ok(user);
    }
    let user = authenticate(db, token).await?;
    cache.put(key, user.clone());
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_token_and_bearer_headers() {
        assert_eq!(token_of("Token abc"), Some("abc"));
        assert_eq!(token_of("Bearer  abc "), Some("abc"));
        assert_eq!(token_of("token abc"), Some("abc"));
        assert_eq!(token_of("Basic abc"), None);
        assert_eq!(token_of("Token "), None);
        assert_eq!(token_of("abc"), None);
        assert!(Role::Manager < Role::Reviewer && Role::Owner < Role::Manager);
        assert_eq!(Role::parse("owner"), Some(Role::Owner));
    }
}
