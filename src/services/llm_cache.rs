//! The response cache: an identical call (the same connection, model, parameters, messages —
//! images included — and output schema) is answered from the organization's stored answer
//! instead of the provider, for `PROMPTER_CACHE_TTL_SECS`. At most
//! `PROMPTER_CACHE_MAX_ENTRIES` answers are kept per organization (the oldest go first).
//! The engine decides which calls may use it (never the samples drawn to measure agreement);
//! this module keys, reads, writes, prunes and clears.
use crate::auth::{Admin, AuthUser};
use crate::error::ApiResult;
use crate::llm::{ImageSource, LlmRequest, Part, Role};
use chrono::{DateTime, Utc};
use entity::llm_cache;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the cache holds of an organization.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Answers kept.
    pub entries: u64,
    /// Calls answered from them so far.
    pub hits: i64,
    /// When the oldest was stored.
    pub oldest: Option<DateTime<Utc>>,
    /// Seconds an answer is used for (0: the cache is off).
    pub ttl_seconds: u64,
    /// Answers kept at most.
    pub max_entries: u64,
}

/// What clearing removed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Answers deleted.
    pub deleted: u64,
}

/// A cached answer.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The answer object.
    pub output: Value,
    /// Its token log-probabilities, when the call that was cached had them.
    pub logprobs: Option<Vec<crate::llm::TokenLogprob>>,
}

/// Feeds `bytes` with its length first, so two fields never run into each other.
fn feed(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The key of a call through connection `connection_id`: SHA-256 (hex) of the connection, the
/// model, the parameters, every message (role, text and images in order) and the schema.
pub fn key(connection_id: i64, request: &LlmRequest) -> String {
    let mut h = Sha256::new();
    feed(&mut h, b"prompter-llm-cache-v1");
    feed(&mut h, &connection_id.to_le_bytes());
    feed(&mut h, request.model.as_bytes());
    feed(&mut h, request.params.to_stored().to_string().as_bytes());
    feed(&mut h, request.schema.to_string().as_bytes());
    for m in &request.messages {
        let role: &[u8] = match m.role {
            Role::System => b"system",
            Role::User => b"user",
            Role::Assistant => b"assistant",
        };
        feed(&mut h, role);
        for part in &m.parts {
            match part {
                Part::Text(t) => {
                    feed(&mut h, b"text");
                    feed(&mut h, t.as_bytes());
                }
                Part::Image(ImageSource::Url(u)) => {
                    feed(&mut h, b"image-url");
                    feed(&mut h, u.as_bytes());
                }
                Part::Image(ImageSource::Inline { media_type, data }) => {
                    feed(&mut h, b"image-inline");
                    feed(&mut h, media_type.as_bytes());
                    feed(&mut h, data.as_bytes());
                }
            }
        }
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// The answer stored for `key` in the organization, when younger than `ttl_secs`; counts the
/// hit.
pub async fn lookup(
    db: &impl ConnectionTrait,
    organization_id: i64,
    key: &str,
    ttl_secs: u64,
    now: DateTime<Utc>,
) -> Result<Option<Hit>, sea_orm::DbErr> {
    let keys = [key.to_string()];
    Ok(lookup_many(db, organization_id, &keys, ttl_secs, now)
        .await?
        .remove(key))
}

/// The answers stored for `keys` in the organization, when younger than `ttl_secs`, by key;
/// counts their hits. One read and one update per 500 keys: what a worker asks for a whole
/// slice of tasks before their calls, instead of one [`lookup`] per call.
pub async fn lookup_many(
    db: &impl ConnectionTrait,
    organization_id: i64,
    keys: &[String],
    ttl_secs: u64,
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, Hit>, sea_orm::DbErr> {
    let mut found = std::collections::HashMap::new();
    if ttl_secs == 0 || keys.is_empty() {
        return Ok(found);
    }
    let since = now - chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
    let rows = crate::db::in_chunks(keys, |chunk| {
        llm_cache::Entity::find()
            .filter(llm_cache::Column::OrganizationId.eq(organization_id))
            .filter(llm_cache::Column::Key.is_in(chunk))
            .filter(llm_cache::Column::CreatedAt.gt(since))
            .all(db)
    })
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    for chunk in ids.chunks(500) {
        llm_cache::Entity::update_many()
            .col_expr(
                llm_cache::Column::Hits,
                Expr::col(llm_cache::Column::Hits).add(1),
            )
            .col_expr(llm_cache::Column::LastHitAt, Expr::value(now))
            .filter(llm_cache::Column::Id.is_in(chunk.to_vec()))
            .exec(db)
            .await?;
    }
    for row in rows {
        found.insert(
            row.key,
            Hit {
                output: row.output,
                logprobs: row.logprobs.and_then(|l| serde_json::from_value(l).ok()),
            },
        );
    }
    Ok(found)
}

/// Where a result's answer is kept in the cache: its key and the model that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    /// The call's key ([`key`]).
    pub key: String,
    /// The model that answered.
    pub model: String,
}

/// An answer to keep.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The model that answered.
    pub model: &'a str,
    /// The answer object.
    pub output: &'a Value,
    /// Its token log-probabilities, when the call asked for them.
    pub logprobs: Option<&'a [crate::llm::TokenLogprob]>,
    /// Prompt and completion tokens the call used.
    pub tokens: (i64, i64),
}

/// Stores the answer of `key` (replacing an older one).
pub async fn store(
    db: &impl ConnectionTrait,
    organization_id: i64,
    key: &str,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    llm_cache::Entity::insert(row(organization_id, key, entry, now))
        .on_conflict(refresh())
        .exec(db)
        .await?;
    Ok(())
}

/// The row of an answer to keep.
fn row(
    organization_id: i64,
    key: &str,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> llm_cache::ActiveModel {
    let Entry {
        model,
        output,
        logprobs,
        tokens,
    } = entry;
    llm_cache::ActiveModel {
        id: NotSet,
        organization_id: Set(organization_id),
        key: Set(key.to_string()),
        model: Set(model.chars().take(255).collect()),
        output: Set(output.clone()),
        logprobs: Set(logprobs
            .filter(|l| !l.is_empty())
            .and_then(|l| serde_json::to_value(l).ok())),
        prompt_tokens: Set(tokens.0),
        completion_tokens: Set(tokens.1),
        hits: Set(0),
        created_at: Set(now),
        last_hit_at: Set(None),
    }
}

/// A key answered again replaces what it held (and its time).
fn refresh() -> OnConflict {
    OnConflict::columns([llm_cache::Column::OrganizationId, llm_cache::Column::Key])
        .update_columns([
            llm_cache::Column::Output,
            llm_cache::Column::Logprobs,
            llm_cache::Column::Model,
            llm_cache::Column::PromptTokens,
            llm_cache::Column::CompletionTokens,
            llm_cache::Column::CreatedAt,
        ])
        .to_owned()
}

/// Rows of one statement of [`store_many`].
const STORE_CHUNK: usize = 25;

/// Keeps answers of organization `organization_id` under their keys, a few rows a statement
/// (a run's results, in their transaction): each `(key, entry)` as [`store`] would.
pub async fn store_many(
    db: &impl ConnectionTrait,
    organization_id: i64,
    entries: &[(&str, Entry<'_>)],
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    // A few rows a statement: an answer's log-probabilities make a large row, and one
    // statement of a whole results batch held that much more memory while it was built; and
    // no more bytes than a statement should carry (see `db::STATEMENT_BYTES`), judged by the
    // first row (a run's answers are alike).
    let row_bytes = entries.first().map_or(1, |(key, e)| {
        key.len()
            + e.model.len()
            + crate::util::json_len(e.output)
            + e.logprobs.map_or(0, crate::util::json_len)
            + 64
    });
    for chunk in entries.chunks(crate::db::rows_within(db, row_bytes, STORE_CHUNK)) {
        let rows = chunk
            .iter()
            .map(|(key, entry)| row(organization_id, key, *entry, now));
        llm_cache::Entity::insert_many(rows)
            .on_conflict(refresh())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Deletes answers older than `ttl_secs`, and in each organization the oldest beyond
/// `max_entries`; returns how many went.
pub async fn prune(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ttl_secs: u64,
    max_entries: u64,
) -> Result<u64, sea_orm::DbErr> {
    let since = now - chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2));
    let mut removed = llm_cache::Entity::delete_many()
        .filter(llm_cache::Column::CreatedAt.lte(since))
        .exec(db)
        .await?
        .rows_affected;
    let organizations: Vec<(i64, i64)> = llm_cache::Entity::find()
        .select_only()
        .column(llm_cache::Column::OrganizationId)
        .column_as(llm_cache::Column::Id.count(), "n")
        .group_by(llm_cache::Column::OrganizationId)
        .into_tuple()
        .all(db)
        .await?;
    for (organization, n) in organizations {
        let over = u64::try_from(n).unwrap_or(0).saturating_sub(max_entries);
        if over == 0 {
            continue;
        }
        // The newest `max_entries` stay: everything created before the oldest of them goes.
        let keep_from: Option<DateTime<Utc>> = llm_cache::Entity::find()
            .select_only()
            .column(llm_cache::Column::CreatedAt)
            .filter(llm_cache::Column::OrganizationId.eq(organization))
            .order_by_desc(llm_cache::Column::CreatedAt)
            .offset(max_entries.saturating_sub(1))
            .limit(1)
            .into_tuple()
            .one(db)
            .await?;
        if let Some(from) = keep_from {
            removed += llm_cache::Entity::delete_many()
                .filter(llm_cache::Column::OrganizationId.eq(organization))
                .filter(llm_cache::Column::CreatedAt.lt(from))
                .exec(db)
                .await?
                .rows_affected;
        }
    }
    Ok(removed)
}

/// What the cache holds of the caller's organization.
pub async fn stats(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    ttl_seconds: u64,
    max_entries: u64,
) -> ApiResult<CacheStats> {
    let of_org = || {
        llm_cache::Entity::find()
            .filter(llm_cache::Column::OrganizationId.eq(caller.organization_id))
    };
    let entries = of_org().count(db).await?;
    let hits: Option<i64> = of_org()
        .select_only()
        // PostgreSQL's SUM of a bigint is a numeric: cast back on both databases.
        .column_as(Expr::cust("CAST(SUM(hits) AS BIGINT)"), "hits")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten();
    let oldest: Option<DateTime<Utc>> = of_org()
        .select_only()
        .column(llm_cache::Column::CreatedAt)
        .order_by_asc(llm_cache::Column::CreatedAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(CacheStats {
        entries,
        hits: hits.unwrap_or(0),
        oldest,
        ttl_seconds,
        max_entries,
    })
}

/// Deletes every cached answer of the caller's organization.
pub async fn clear(db: &impl ConnectionTrait, caller: &Admin) -> ApiResult<Cleared> {
    let deleted = llm_cache::Entity::delete_many()
        .filter(llm_cache::Column::OrganizationId.eq(caller.organization_id))
        .exec(db)
        .await?
        .rows_affected;
    Ok(Cleared { deleted })
}

/// Whether a prediction's `extra` says it was answered from the cache.
pub fn is_cached(extra: Option<&Value>) -> bool {
    extra
        .and_then(|e| e.get("cached"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    fn request(text: &str) -> LlmRequest {
        LlmRequest {
            model: "gpt-4o-mini".into(),
            messages: vec![
                Message::new(Role::System, "Label it."),
                Message::new(Role::User, text),
            ],
            schema: serde_json::json!({"type": "object"}),
            params: Default::default(),
        }
    }

    #[test]
    fn identical_calls_share_a_key_and_any_difference_does_not() {
        let a = key(1, &request("Text: good"));
        assert_eq!(a.len(), 64);
        assert_eq!(a, key(1, &request("Text: good")));
        assert_ne!(a, key(2, &request("Text: good")), "another connection");
        assert_ne!(a, key(1, &request("Text: good ")), "another text");
        let mut other = request("Text: good");
        other.model = "gpt-4o".into();
        assert_ne!(a, key(1, &other), "another model");
        let mut other = request("Text: good");
        other.params.temperature = Some(0.5);
        assert_ne!(a, key(1, &other), "other parameters");
        let mut other = request("Text: good");
        other.schema = serde_json::json!({"type": "array"});
        assert_ne!(a, key(1, &other), "another schema");
        // Fields never run into each other: "ab" + "c" is not "a" + "bc".
        let mut split = request("Text: good");
        split.messages = vec![
            Message::new(Role::User, "ab"),
            Message::new(Role::User, "c"),
        ];
        let mut joined = request("Text: good");
        joined.messages = vec![
            Message::new(Role::User, "a"),
            Message::new(Role::User, "bc"),
        ];
        assert_ne!(key(1, &split), key(1, &joined));
    }
}
