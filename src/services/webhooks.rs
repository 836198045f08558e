//! Outbound webhooks: an organization's endpoints (managed by Owners and Administrators, with
//! the audit log's record), the events Prompter emits to them ([`emit`], in the transaction of
//! the change that is the event, so an event exists exactly when its change does), and their
//! deliveries' rows. Sending a delivery is the `webhook_delivery` job's business, in the
//! background layer; this module writes and reads rows.
use crate::auth::{Admin, AuthUser};
use crate::crypto::Secrets;
use crate::error::{ApiError, ApiResult};
use crate::limits::check_chars;
use crate::pagination::{Page, PageRequest};
use crate::services::audit;
use crate::services::jobs::{self as job_rows, NewJob};
use crate::views::webhooks::WebhookEndpointInput;
use chrono::{DateTime, Utc};
use entity::enums::{AuditObject, DeliveryStatus, JobKind, RunStatus, WebhookEvent};
use entity::webhook_delivery as delivery;
use entity::{model_provider_connection as connection, model_run, model_version, webhook};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use serde::Serialize;
use serde_json::Value;

/// Endpoints an organization may have.
pub const MAX_WEBHOOKS: u64 = 50;
/// Longest endpoint URL.
pub const MAX_URL_CHARS: usize = 2048;
/// Shortest signing secret.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest signing secret.
pub const MAX_SECRET_CHARS: usize = 256;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Attempts of a delivery before it is given up: with the default backoff (30 s doubling to
/// 2 hours), about a day.
pub const ATTEMPTS: i32 = 20;
/// The job subject of a delivery (`webhook_deliveries.id`).
pub const SUBJECT: &str = "webhook_delivery";

/// The events endpoint `w` receives (unknown names, from a newer server, left out).
pub fn events_of(w: &webhook::Model) -> Vec<WebhookEvent> {
    match &w.events {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(WebhookEvent::parse)
            .collect(),
        _ => Vec::new(),
    }
}

fn check_url(url: &str) -> ApiResult<String> {
    check_chars("url", url, MAX_URL_CHARS)?;
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::field(
            "url",
            "Enter an http:// or https:// URL without spaces.",
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|_| ApiError::field("url", "Enter a valid URL (https://host/path)."))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::field(
            "url",
            "Enter an http or https URL with a host.",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::field(
            "url",
            "A webhook URL may not carry a user name or password: the signature authenticates \
             deliveries.",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(ApiError::field(
            "url",
            "A webhook URL may not have a #fragment.",
        ));
    }
    Ok(url.to_string())
}

fn check_secret(raw: &str) -> ApiResult<&str> {
    let n = raw.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&n) {
        return Err(ApiError::field(
            "secret",
            format!("A secret has {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters."),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(ApiError::field(
            "secret",
            "A secret may not contain control characters.",
        ));
    }
    Ok(raw)
}

fn check_events(events: &[WebhookEvent]) -> ApiResult<Value> {
    if events.is_empty() {
        return Err(ApiError::field("events", "Choose at least one event."));
    }
    if events.len() > WebhookEvent::ALL.len() {
        return Err(ApiError::field(
            "events",
            format!(
                "List each event once: there are {} events.",
                WebhookEvent::ALL.len()
            ),
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for e in events {
        if !names.contains(&e.as_str()) {
            names.push(e.as_str());
        }
    }
    Ok(Value::from(names))
}

/// The endpoint `id` of the caller's organization, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    id: i64,
) -> ApiResult<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .filter(webhook::Column::OrganizationId.eq(caller.organization_id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// The caller organization's endpoints, oldest first, one page of them, with the count.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &Admin,
    request: PageRequest,
) -> ApiResult<(Vec<webhook::Model>, u64, Page)> {
    let query = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(caller.organization_id))
        .order_by_asc(webhook::Column::Id);
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let items = query.offset(page.offset).limit(page.size).all(db).await?;
    Ok((items, total, page))
}

/// An endpoint as the audit log names it.
fn object(w: &webhook::Model) -> audit::Object {
    audit::Object::new(AuditObject::Webhook, w.id, format!("Webhook {}", w.url))
}

/// Creates an endpoint (`url` and `secret` required; every event when `events` is absent),
/// its secret sealed; recorded in the audit log (the secret as "set").
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    secrets: &Secrets,
    caller: &Admin,
    input: WebhookEndpointInput,
) -> ApiResult<webhook::Model> {
    let url = check_url(
        input
            .url
            .as_deref()
            .ok_or_else(|| ApiError::field("url", "This field is required."))?,
    )?;
    let secret = check_secret(
        input
            .secret
            .as_deref()
            .ok_or_else(|| ApiError::field("secret", "This field is required."))?,
    )?;
    let events = check_events(input.events.as_deref().unwrap_or(WebhookEvent::ALL))?;
    let description = input.description.unwrap_or_default();
    check_chars("description", &description, MAX_DESCRIPTION_CHARS)?;
    let txn = crate::db::begin_write(db).await?;
    let existing = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(caller.organization_id))
        .count(&txn)
        .await?;
    if existing >= MAX_WEBHOOKS {
        return Err(ApiError::field(
            "url",
            format!("An organization has at most {MAX_WEBHOOKS} webhook endpoints."),
        ));
    }
    let now = crate::util::now();
    let created = webhook::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        url: Set(url),
        secret_enc: Set(secrets.seal(secret)),
        events: Set(events),
        is_active: Set(input.is_active.unwrap_or(true)),
        description: Set(description),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    tracing::info!(
        webhook = created.id,
        organization = created.organization_id,
        "created a webhook endpoint"
    );
    Ok(created)
}

/// Changes an endpoint's fields given in `input`; recorded in the audit log (a new secret as
/// "changed"). Disabling it fails its pending deliveries at their next attempt.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    secrets: &Secrets,
    caller: &Admin,
    id: i64,
    input: WebhookEndpointInput,
) -> ApiResult<webhook::Model> {
    let url = input.url.as_deref().map(check_url).transpose()?;
    let secret = input.secret.as_deref().map(check_secret).transpose()?;
    let events = input.events.as_deref().map(check_events).transpose()?;
    if let Some(d) = &input.description {
        check_chars("description", d, MAX_DESCRIPTION_CHARS)?;
    }
    let txn = crate::db::begin_write(db).await?;
    let before = get(&txn, caller, id).await?;
    let mut model = before.clone().into_active_model();
    if let Some(url) = url {
        model.url = Set(url);
    }
    if let Some(secret) = secret {
        model.secret_enc = Set(secrets.seal(secret));
    }
    if let Some(events) = events {
        model.events = Set(events);
    }
    if let Some(active) = input.is_active {
        model.is_active = Set(active);
    }
    if let Some(d) = input.description {
        model.description = Set(d);
    }
    model.updated_at = Set(crate::util::now());
    let after = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&after), &before, &after).await?;
    txn.commit().await?;
    Ok(after)
}

/// Deletes an endpoint and its delivery log; its pending deliveries' jobs end at their next
/// attempt. Recorded in the audit log.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Admin,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let found = get(&txn, caller, id).await?;
    delivery::Entity::delete_many()
        .filter(delivery::Column::WebhookId.eq(found.id))
        .exec(&txn)
        .await?;
    webhook::Entity::delete_by_id(found.id).exec(&txn).await?;
    audit::deleted(&txn, caller, object(&found)).await?;
    txn.commit().await?;
    Ok(())
}

/// The envelope every delivery posts: the delivery id, the event, when it happened, the
/// organization and the event's data.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    event: WebhookEvent,
    created_at: DateTime<Utc>,
    organization: i64,
    data: &'a Value,
}

/// Writes one delivery of `event` to endpoint `w` and the job that sends it, in `db` (the
/// caller's transaction). With `once`, an endpoint gets at most one delivery of that key
/// (a budget alert once per period): a second is not written. Returns the delivery written.
async fn deliver_to(
    db: &impl ConnectionTrait,
    w: &webhook::Model,
    event: WebhookEvent,
    data: &Value,
    once: Option<&str>,
    created_by: Option<i64>,
) -> Result<Option<delivery::Model>, DbErr> {
    let now = crate::util::now();
    let delivery_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_string(&Envelope {
        id: &delivery_id,
        event,
        created_at: now,
        organization: w.organization_id,
        data,
    })
    .map_err(|e| DbErr::Custom(format!("a webhook body cannot be written: {e}")))?;
    let row = delivery::ActiveModel {
        id: NotSet,
        organization_id: Set(w.organization_id),
        webhook_id: Set(w.id),
        delivery_id: Set(delivery_id.clone()),
        event: Set(event),
        event_key: Set(once.map(str::to_string)),
        body: Set(body),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        response_status: Set(None),
        last_error: Set(None),
        job_id: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // A concurrent writer of the same once-key loses quietly (no error aborts the caller's
    // transaction): the conflict inserts nothing.
    let inserted = delivery::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([delivery::Column::WebhookId, delivery::Column::EventKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    let Some(written) = delivery::Entity::find()
        .filter(delivery::Column::DeliveryId.eq(delivery_id.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut new = NewJob::new(
        JobKind::WebhookDelivery,
        Some(w.organization_id),
        serde_json::json!({"delivery_id": written.id}),
    )
    .about(SUBJECT, written.id);
    new.max_attempts = ATTEMPTS;
    new.created_by = created_by;
    let job = job_rows::enqueue(db, new)
        .await
        .map_err(|e| DbErr::Custom(format!("a webhook job cannot be queued: {e}")))?
        .job();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::JobId, Expr::value(job.id))
        .filter(delivery::Column::Id.eq(written.id))
        .exec(db)
        .await?;
    Ok(Some(delivery::Model {
        job_id: Some(job.id),
        ..written
    }))
}

/// The active endpoints of organization `organization_id` that want `event`.
async fn subscribers(
    db: &impl ConnectionTrait,
    organization_id: i64,
    event: WebhookEvent,
) -> Result<Vec<webhook::Model>, DbErr> {
    let mut endpoints = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .filter(webhook::Column::IsActive.eq(true))
        .all(db)
        .await?;
    endpoints.retain(|w| events_of(w).contains(&event));
    Ok(endpoints)
}

/// Writes a delivery of `event` with `data` to each of `endpoints`; returns how many.
async fn emit_to(
    db: &impl ConnectionTrait,
    endpoints: &[webhook::Model],
    event: WebhookEvent,
    data: &Value,
    once: Option<&str>,
) -> Result<usize, DbErr> {
    let mut written = 0;
    for w in endpoints {
        if deliver_to(db, w, event, data, once, None).await?.is_some() {
            written += 1;
        }
    }
    if let (true, Some(w)) = (written > 0, endpoints.first()) {
        tracing::info!(organization = w.organization_id, %event, deliveries = written, "webhook event emitted");
    }
    Ok(written)
}

/// Emits `event` with `data` to every active endpoint of organization `organization_id` that
/// wants it, in `db` (the transaction of the change that is the event). With `once`, each
/// endpoint gets the event at most once for that key. Returns the deliveries written.
pub async fn emit(
    db: &impl ConnectionTrait,
    organization_id: i64,
    event: WebhookEvent,
    data: Value,
    once: Option<String>,
) -> Result<usize, DbErr> {
    let endpoints = subscribers(db, organization_id, event).await?;
    emit_to(db, &endpoints, event, &data, once.as_deref()).await
}

/// Sends a `webhook.test` event to endpoint `id` (whatever events it wants, active or not:
/// a test is asked for). Returns the delivery, queued.
pub async fn send_test<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &Admin,
    id: i64,
) -> ApiResult<delivery::Model> {
    let txn = crate::db::begin_write(db).await?;
    let w = get(&txn, caller, id).await?;
    let data = serde_json::json!({
        "webhook": w.id,
        "message": "A test event from Prompter: this endpoint receives its deliveries.",
        "requested_by": caller.user.email,
    });
    let written = deliver_to(
        &txn,
        &w,
        WebhookEvent::Test,
        &data,
        None,
        Some(caller.user.id),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    txn.commit().await?;
    Ok(written)
}

/// The deliveries of endpoint `id` of the caller's organization (404 otherwise), newest
/// first, one page of them, with the count.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    caller: &Admin,
    id: i64,
    request: PageRequest,
) -> ApiResult<(Vec<delivery::Model>, u64, Page)> {
    let w = get(db, caller, id).await?;
    let query = delivery::Entity::find()
        .filter(delivery::Column::WebhookId.eq(w.id))
        .order_by_desc(delivery::Column::Id);
    let total = query.clone().count(db).await?;
    let page = request.locate(total);
    let items = query.offset(page.offset).limit(page.size).all(db).await?;
    Ok((items, total, page))
}

/// A delivery and its endpoint (gone when the endpoint was deleted), for its job.
pub async fn for_sending(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<(delivery::Model, Option<webhook::Model>)>, DbErr> {
    let Some(d) = delivery::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let w = webhook::Entity::find_by_id(d.webhook_id).one(db).await?;
    Ok(Some((d, w)))
}

/// Records an attempt of delivery `id`: its number, the answer's status if one came, and
/// either why it failed or that it was delivered.
pub async fn record_attempt(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    response_status: Option<u16>,
    outcome: Result<(), &str>,
) -> Result<(), DbErr> {
    let now = crate::util::now();
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(
            delivery::Column::ResponseStatus,
            Expr::value(response_status.map(i32::from)),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending));
    update = match outcome {
        Ok(()) => update
            .col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::Delivered),
            )
            .col_expr(delivery::Column::DeliveredAt, Expr::value(now))
            .col_expr(
                delivery::Column::LastError,
                Expr::value(Option::<String>::None),
            ),
        Err(reason) => update.col_expr(delivery::Column::LastError, Expr::value(reason)),
    };
    update.exec(db).await?;
    Ok(())
}

/// Ends delivery `id` as failed with `reason` (its job gave up, or was canceled).
pub async fn give_up(db: &impl ConnectionTrait, id: i64, reason: &str) -> Result<(), DbErr> {
    let reason: String = reason.chars().take(2000).collect();
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Status,
            Expr::value(DeliveryStatus::Failed),
        )
        .col_expr(delivery::Column::LastError, Expr::value(reason))
        .col_expr(delivery::Column::UpdatedAt, Expr::value(crate::util::now()))
        .filter(delivery::Column::Id.eq(id))
        .filter(delivery::Column::Status.eq(DeliveryStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// The `Prompter-Signature` of a delivery: `v1=` and the hex HMAC-SHA256, keyed with the
/// endpoint's secret, of the `Prompter-Timestamp` value, a dot and the body as sent.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let message = format!("{timestamp}.{body}");
    let mac = crate::crypto::hmac_sha256(secret.as_bytes(), message.as_bytes());
    format!("v1={}", hex::encode(mac))
}

/// Emits the end of run `run_id` (`run.completed`, `run.failed` or `run.canceled` by
/// `status`) with the run's ids, counts and cost, in `db` (the transaction that ended it).
pub async fn run_ended(
    db: &impl ConnectionTrait,
    run_id: i64,
    status: RunStatus,
    message: Option<&str>,
) -> Result<(), DbErr> {
    let event = match status {
        RunStatus::Completed => WebhookEvent::RunCompleted,
        RunStatus::Failed => WebhookEvent::RunFailed,
        RunStatus::Canceled => WebhookEvent::RunCanceled,
        RunStatus::Pending | RunStatus::InProgress => return Ok(()),
    };
    let Some(run) = model_run::Entity::find_by_id(run_id).one(db).await? else {
        return Ok(());
    };
    // Most organizations have no endpoint: the event's data is then not gathered.
    let endpoints = subscribers(db, run.organization_id, event).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let prompt = model_version::Entity::find_by_id(run.model_version_id)
        .one(db)
        .await?
        .map(|v| v.parent_model_id);
    let data = serde_json::json!({
        "run": {
            "id": run.id,
            "status": status,
            "project": run.project_id,
            "prompt": prompt,
            "version": run.model_version_id,
            "project_subset": run.project_subset,
            "total_tasks": run.total_tasks,
            "total_predictions": run.total_predictions,
            "total_failed": run.total_failed,
            "total_cost_usd": run.total_cost,
            "error": message,
        }
    });
    emit_to(db, &endpoints, event, &data, None).await?;
    Ok(())
}

/// Emits `budget.exceeded` for connection `connection_id` (a call was refused: it would have
/// crossed the limit), at most once per endpoint and budget period.
pub async fn budget_exceeded(
    db: &impl ConnectionTrait,
    connection_id: i64,
    spent: f64,
    limit: f64,
) -> Result<(), DbErr> {
    let Some(c) = connection::Entity::find_by_id(connection_id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let period = crate::services::budgets::period_start(c.budget_reset_period, crate::util::now());
    let data = serde_json::json!({
        "connection": {"id": c.id, "provider": c.provider},
        "spent_usd": spent,
        "limit_usd": limit,
        "period_start": period,
    });
    let once = format!(
        "budget.exceeded:{}:{}",
        c.id,
        period.map_or(0, |p| p.timestamp())
    );
    emit(
        db,
        c.organization_id,
        WebhookEvent::BudgetExceeded,
        data,
        Some(once),
    )
    .await?;
    Ok(())
}

/// Emits `schedule.fired` for schedule `s`'s `slot`: the run it started, or why it was
/// skipped, in `db` (the firing's transaction).
pub async fn schedule_fired(
    db: &impl ConnectionTrait,
    s: &entity::prompt_schedule::Model,
    slot: DateTime<Utc>,
    run: Option<i64>,
    skipped: Option<&str>,
) -> Result<(), DbErr> {
    let data = serde_json::json!({
        "schedule": {"id": s.id, "prompt": s.prompt_id, "project": s.project_id},
        "slot": slot,
        "run": run,
        "skipped": skipped,
    });
    emit(
        db,
        s.organization_id,
        WebhookEvent::ScheduleFired,
        data,
        None,
    )
    .await?;
    Ok(())
}

/// Emits `refine.completed` for refinement `r`, which has just ended (with a new version or
/// with why not), in `db` (the transaction that ended it).
pub async fn refinement_ended(
    db: &impl ConnectionTrait,
    r: &entity::model_refinement::Model,
) -> Result<(), DbErr> {
    let data = serde_json::json!({
        "refinement": {
            "id": r.id,
            "status": r.status,
            "prompt": r.prompt_id,
            "version": r.previous_version_id,
            "new_version": r.new_version_id,
            "error": r.error_message,
        }
    });
    emit(
        db,
        r.organization_id,
        WebhookEvent::RefineCompleted,
        data,
        None,
    )
    .await?;
    Ok(())
}
