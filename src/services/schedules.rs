//! Schedules of a prompt: a cron expression in a time zone starts runs of a version (by
//! default the deployed one) over a project's subset, by default only of the tasks without a
//! prediction of that version yet. A slot fires once across every process that shares the
//! database: the process whose conditional update moves `next_run_at` past the slot owns the
//! firing, and creates the run in the same transaction. After downtime at most one missed slot
//! fires; a slot whose previous run is still going, or whose prompt is paused or archived, is
//! skipped (and logged).
use crate::auth::{AuthUser, Role};
use crate::error::{ApiError, ApiResult};
use crate::limits::{
    CRON_FIRINGS_CHECKED, CRON_HORIZON_DAYS, MAX_CRON_CHARS, MAX_SCHEDULES_PER_PROMPT,
    MAX_TIMEZONE_CHARS, check_chars,
};
use crate::services::audit;
use crate::services::cron::{self, Cron};
use crate::services::{labels, projects, prompts, runs, versions};
use crate::views::registry::ScheduleInput;
use crate::views::runs::RunInput;
use chrono::{DateTime, Utc};
use entity::enums::{PromptStatus, ScheduleStatus, Subset};
use entity::{model_interface, model_run, organization_member, prompt_schedule as schedule, user};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};
use std::collections::HashMap;

/// Parses a cron expression as Unix writes it (see [`cron`]): five fields (minute hour
/// day-of-month month weekday, 0 and 7 Sunday), or six with seconds first; `@daily`-style
/// shortcuts too.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    cron::parse(expression)
}

/// Parses an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("\"{name}\" is not an IANA time zone (e.g. Europe/Paris, UTC)"))
}

/// The first slot of `expression` in `timezone` strictly after `after`.
pub fn next_after(
    expression: &Cron,
    timezone: chrono_tz::Tz,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    expression.next_after(timezone, after, CRON_HORIZON_DAYS)
}

/// The slot to fire for a schedule due at `due` (`<= now`): the latest slot not after `now`
/// (at most one missed slot fires), and the next slot after `now`.
pub fn catch_up(
    expression: &Cron,
    timezone: chrono_tz::Tz,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let mut slot = due;
    let mut next = next_after(expression, timezone, due);
    // Bounded: a schedule every second down for a day walks 86,400 slots at most once.
    let mut steps = 0;
    while let Some(n) = next.filter(|n| *n <= now) {
        slot = n;
        next = next_after(expression, timezone, n);
        steps += 1;
        if steps > 1_000_000 {
            next = next_after(expression, timezone, now);
            break;
        }
    }
    (slot, next)
}

/// Why `expression` in `timezone` cannot be a schedule, from `now`: it never fires within
/// [`CRON_HORIZON_DAYS`], or two of its next [`CRON_FIRINGS_CHECKED`] firings are less than
/// `min_interval_secs` apart.
pub fn check_firings(
    expression: &Cron,
    timezone: chrono_tz::Tz,
    now: DateTime<Utc>,
    min_interval_secs: u64,
) -> Result<(), String> {
    let mut firings = expression
        .firings(timezone, now, CRON_HORIZON_DAYS)
        .take(CRON_FIRINGS_CHECKED);
    let Some(mut previous) = firings.next() else {
        return Err(format!(
            "it never fires (no firing in the next {} years)",
            CRON_HORIZON_DAYS / 366
        ));
    };
    let min = chrono::Duration::seconds(i64::try_from(min_interval_secs).unwrap_or(i64::MAX));
    for next in firings {
        if next - previous < min {
            return Err(format!(
                "it fires more often than once every {min_interval_secs} seconds (at {previous} \
                 and {next})"
            ));
        }
        previous = next;
    }
    Ok(())
}

fn check(
    input_cron: &str,
    timezone: &str,
    min_interval_secs: u64,
) -> ApiResult<(Cron, chrono_tz::Tz)> {
    check_at(input_cron, timezone, crate::util::now(), min_interval_secs)
}

/// Checks `input_cron` in `timezone` as a schedule's expression from `now`; errors name the
/// field (`cron` or `timezone`) with a message for people.
fn check_at(
    input_cron: &str,
    timezone: &str,
    now: DateTime<Utc>,
    min_interval_secs: u64,
) -> ApiResult<(Cron, chrono_tz::Tz)> {
    check_chars("cron", input_cron, MAX_CRON_CHARS)?;
    check_chars("timezone", timezone, MAX_TIMEZONE_CHARS)?;
    let expression = parse_cron(input_cron)
        .map_err(|e| ApiError::field("cron", format!("{input_cron:?}: {e}")))?;
    let tz = parse_timezone(timezone).map_err(|e| ApiError::field("timezone", e))?;
    check_firings(&expression, tz, now, min_interval_secs)
        .map_err(|e| ApiError::field("cron", format!("{input_cron:?}: {e}")))?;
    Ok((expression, tz))
}

/// How many firings a preview shows.
pub const PREVIEW_FIRINGS: usize = 3;

/// The next [`PREVIEW_FIRINGS`] firings of `input_cron` in `timezone` after `now`, with the
/// zone; refused (400 on `cron` or `timezone`) exactly as saving the schedule would be.
pub fn preview(
    input_cron: &str,
    timezone: &str,
    now: DateTime<Utc>,
    min_interval_secs: u64,
) -> ApiResult<(chrono_tz::Tz, Vec<DateTime<Utc>>)> {
    let timezone = match timezone.trim() {
        "" => "UTC",
        name => name,
    };
    let (expression, tz) = check_at(input_cron, timezone, now, min_interval_secs)?;
    let firings = expression
        .firings(tz, now, CRON_HORIZON_DAYS)
        .take(PREVIEW_FIRINGS)
        .collect();
    Ok((tz, firings))
}

/// Moves every active schedule's future `next_run_at` that its expression does not give (one
/// computed under an earlier reading of cron, where weekday 1 was Sunday) to the expression's
/// next firing after `now`. Returns how many moved. Run by each schedule ticker as it starts;
/// the update is conditional, so processes starting together agree.
pub async fn realign(db: &impl ConnectionTrait, now: DateTime<Utc>) -> ApiResult<u64> {
    let active = schedule::Entity::find()
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active))
        .filter(schedule::Column::NextRunAt.gt(now))
        .all(db)
        .await?;
    let mut moved = 0;
    for s in active {
        let (Ok(expression), Ok(tz)) = (parse_cron(&s.cron), parse_timezone(&s.timezone)) else {
            continue;
        };
        let expected = next_after(&expression, tz, now);
        if expected != s.next_run_at {
            moved += move_next(db, &s, expected, now).await?;
        }
    }
    Ok(moved)
}

/// Sets schedule `s`'s `next_run_at` to `next` if nobody changed it meanwhile.
async fn move_next(
    db: &impl ConnectionTrait,
    s: &schedule::Model,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> ApiResult<u64> {
    let moved = schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, Expr::value(next))
        .col_expr(schedule::Column::UpdatedAt, Expr::value(now))
        .filter(schedule::Column::Id.eq(s.id))
        .filter(schedule::Column::NextRunAt.eq(s.next_run_at))
        .exec(db)
        .await?;
    if moved.rows_affected == 1 {
        tracing::info!(schedule = s.id, cron = %s.cron, next = ?next, "schedule's next firing recomputed");
    }
    Ok(moved.rows_affected)
}

async fn check_version(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version: Option<i64>,
) -> ApiResult<()> {
    if let Some(v) = version {
        versions::get(db, caller, prompt_id, v)
            .await
            .map_err(|e| e.not_found_as_field("version", v))?;
    }
    Ok(())
}

/// Checks what a schedule runs: a version, or a label of prompt `prompt_id` that is set (each
/// firing then runs the version the label points at), not both. Returns the label's name.
async fn check_label(
    db: &impl ConnectionTrait,
    prompt_id: i64,
    version: Option<i64>,
    label: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(label) = label else {
        return Ok(None);
    };
    let name = labels::check_name(label)
        .map_err(|_| ApiError::field("label", format!("{label:?} is not a label's name.")))?;
    if version.is_some() {
        return Err(ApiError::field(
            "label",
            "A schedule runs a version or follows a label, not both.",
        ));
    }
    if labels::find(db, prompt_id, &name).await?.is_none() {
        return Err(ApiError::field(
            "label",
            format!("The prompt has no label {name}; set it on a version first."),
        ));
    }
    Ok(Some(name))
}

/// Creates a schedule of prompt `prompt_id` whose firings are at least `min_interval_secs`
/// apart; a prompt has at most [`MAX_SCHEDULES_PER_PROMPT`].
pub async fn create_with<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    input: ScheduleInput,
    min_interval_secs: u64,
) -> ApiResult<schedule::Model> {
    let cron_text = input
        .cron
        .clone()
        .ok_or_else(|| ApiError::field("cron", "This field is required."))?;
    let timezone = input.timezone.clone().unwrap_or_else(|| "UTC".into());
    let (expression, tz) = check(&cron_text, &timezone, min_interval_secs)?;
    let prompt = prompts::get(db, caller, prompt_id).await?;
    let existing = schedule::Entity::find()
        .filter(schedule::Column::PromptId.eq(prompt.id))
        .count(db)
        .await?;
    if existing >= MAX_SCHEDULES_PER_PROMPT {
        return Err(ApiError::field(
            "schedules",
            format!("A prompt has at most {MAX_SCHEDULES_PER_PROMPT} schedules."),
        ));
    }
    let project_id = input
        .project
        .ok_or_else(|| ApiError::field("project", "This field is required."))?;
    let project = projects::get_for_field(db, caller, project_id, "project").await?;
    let version = input.version.flatten();
    check_version(db, caller, prompt.id, version).await?;
    let label = input.label.clone().flatten();
    let label = check_label(db, prompt.id, version, label.as_deref()).await?;
    let subset = input.project_subset.unwrap_or(Subset::All);
    if subset == Subset::Custom {
        return Err(ApiError::field(
            "project_subset",
            "A schedule runs All, HasGT or Sample.",
        ));
    }
    let status = input.status.unwrap_or(ScheduleStatus::Active);
    let now = crate::util::now();
    let txn = crate::db::begin_write(db).await?;
    let created = schedule::ActiveModel {
        id: NotSet,
        organization_id: Set(caller.organization_id),
        prompt_id: Set(prompt.id),
        version_id: Set(version),
        label: Set(label),
        project_id: Set(project.id),
        project_subset: Set(subset),
        only_missing_predictions: Set(input.only_missing_predictions.unwrap_or(true)),
        cron: Set(cron_text.trim().to_string()),
        timezone: Set(tz.name().to_string()),
        status: Set(status),
        next_run_at: Set(match status {
            ScheduleStatus::Active => next_after(&expression, tz, now),
            ScheduleStatus::Paused => None,
        }),
        last_run_at: Set(None),
        last_run_id: Set(None),
        created_by_id: Set(Some(caller.user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::created(&txn, caller, object(&created), &created).await?;
    txn.commit().await?;
    Ok(created)
}

/// A schedule as the audit log names it.
fn object(s: &schedule::Model) -> audit::Object {
    let title = format!("Schedule {} ({} {})", s.id, s.cron, s.timezone);
    audit::Object::new(entity::enums::AuditObject::Schedule, s.id, title)
}

/// The schedules of prompt `prompt_id`, by id.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
) -> ApiResult<Vec<schedule::Model>> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    Ok(schedule::Entity::find()
        .filter(schedule::Column::PromptId.eq(prompt.id))
        .order_by_asc(schedule::Column::Id)
        .all(db)
        .await?)
}

/// Schedule `id` of prompt `prompt_id`, or 404.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    id: i64,
) -> ApiResult<schedule::Model> {
    let prompt = prompts::get(db, caller, prompt_id).await?;
    schedule::Entity::find_by_id(id)
        .filter(schedule::Column::PromptId.eq(prompt.id))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Changes a schedule; a new expression, time zone or status sets the next firing anew. A new
/// expression or time zone must fire at most once every `min_interval_secs`.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    id: i64,
    input: ScheduleInput,
    min_interval_secs: u64,
) -> ApiResult<schedule::Model> {
    if let Some(cron) = &input.cron {
        check_chars("cron", cron, MAX_CRON_CHARS)?;
    }
    if let Some(timezone) = &input.timezone {
        check_chars("timezone", timezone, MAX_TIMEZONE_CHARS)?;
    }
    let existing = get(db, caller, prompt_id, id).await?;
    let cron_text = input.cron.clone().unwrap_or_else(|| existing.cron.clone());
    let timezone = input
        .timezone
        .clone()
        .unwrap_or_else(|| existing.timezone.clone());
    let (expression, tz) = if input.cron.is_some() || input.timezone.is_some() {
        check(&cron_text, &timezone, min_interval_secs)?
    } else {
        // An unchanged expression is not judged again by today's setting.
        let expression = parse_cron(&cron_text)
            .map_err(|e| ApiError::field("cron", format!("{cron_text:?}: {e}")))?;
        let tz = parse_timezone(&timezone).map_err(|e| ApiError::field("timezone", e))?;
        (expression, tz)
    };
    if let Some(version) = input.version {
        check_version(db, caller, prompt_id, version).await?;
    }
    let version_after = input.version.unwrap_or(existing.version_id);
    let label_after = input.label.clone().unwrap_or(existing.label.clone());
    let label_after = check_label(db, prompt_id, version_after, label_after.as_deref()).await?;
    if input.project_subset == Some(Subset::Custom) {
        return Err(ApiError::field(
            "project_subset",
            "A schedule runs All, HasGT or Sample.",
        ));
    }
    let mut model: schedule::ActiveModel = existing.clone().into();
    if let Some(project) = input.project {
        let project = projects::get_for_field(db, caller, project, "project").await?;
        model.project_id = Set(project.id);
    }
    if let Some(version) = input.version {
        model.version_id = Set(version);
    }
    model.label = Set(label_after);
    if let Some(subset) = input.project_subset {
        model.project_subset = Set(subset);
    }
    if let Some(only) = input.only_missing_predictions {
        model.only_missing_predictions = Set(only);
    }
    let status = input.status.unwrap_or(existing.status);
    let timing_changed =
        input.cron.is_some() || input.timezone.is_some() || status != existing.status;
    model.cron = Set(cron_text.trim().to_string());
    model.timezone = Set(tz.name().to_string());
    model.status = Set(status);
    if timing_changed {
        model.next_run_at = Set(match status {
            ScheduleStatus::Active => next_after(&expression, tz, crate::util::now()),
            ScheduleStatus::Paused => None,
        });
    }
    model.updated_at = Set(crate::util::now());
    let txn = crate::db::begin_write(db).await?;
    let updated = model.update(&txn).await?;
    audit::updated(&txn, caller, object(&updated), &existing, &updated).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a schedule (its runs stay).
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    caller: &AuthUser,
    prompt_id: i64,
    id: i64,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let existing = get(&txn, caller, prompt_id, id).await?;
    schedule::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    audit::deleted(&txn, caller, object(&existing)).await?;
    txn.commit().await?;
    Ok(())
}

/// The runs each of `schedule_ids` created, newest first (20 each at most).
pub async fn runs_of(
    db: &impl ConnectionTrait,
    schedule_ids: &[i64],
) -> ApiResult<HashMap<i64, Vec<i64>>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    if schedule_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i64, Option<i64>)> = model_run::Entity::find()
        .select_only()
        .columns([model_run::Column::Id, model_run::Column::ScheduleId])
        .filter(model_run::Column::ScheduleId.is_in(schedule_ids.to_vec()))
        .order_by_desc(model_run::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    for (run, sid) in rows {
        if let Some(sid) = sid {
            let list = out.entry(sid).or_default();
            if list.len() < 20 {
                list.push(run);
            }
        }
    }
    Ok(out)
}

/// What happened to a due slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Fired {
    /// A run was created.
    Run {
        /// The schedule.
        schedule: i64,
        /// The slot.
        slot: DateTime<Utc>,
        /// The run.
        run: i64,
    },
    /// The slot was passed over, for the reason given.
    Skipped {
        /// The schedule.
        schedule: i64,
        /// The slot.
        slot: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

/// The caller a schedule acts as: its creator, with the role they have now (a Manager or
/// above, with an active membership: a schedule of someone who lost that role, or was
/// deactivated, does not fire).
async fn acting_caller(
    db: &impl ConnectionTrait,
    s: &schedule::Model,
) -> ApiResult<Option<AuthUser>> {
    let Some(user_id) = s.created_by_id else {
        return Ok(None);
    };
    let Some(found) = user::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let role = organization_member::Entity::find()
        .filter(organization_member::Column::UserId.eq(user_id))
        .filter(organization_member::Column::OrganizationId.eq(s.organization_id))
        .one(db)
        .await?
        .filter(|m| m.is_active)
        .and_then(|m| Role::parse(&m.role));
    Ok(role
        .filter(|r| *r <= Role::Manager && found.is_active)
        .map(|role| AuthUser {
            user: found,
            organization_id: s.organization_id,
            role,
        }))
}

/// Writes the `schedule_fire` job of a firing, born succeeded (the firing itself is the
/// conditional update above, exactly once), so that firings show in the job list: its subject
/// is the run it started (the schedule when the slot was skipped).
async fn record_firing(
    txn: &impl ConnectionTrait,
    s: &schedule::Model,
    slot: DateTime<Utc>,
    outcome: &Fired,
) -> ApiResult<()> {
    use crate::services::jobs::{self as job_rows, NewJob};
    use entity::enums::{JobKind, JobStatus};
    let (subject, summary, run) = match outcome {
        Fired::Run { run, .. } => (
            (job_rows::subject::RUN, *run),
            format!("schedule {} fired for {slot}: run {run}", s.id),
            Some(*run),
        ),
        Fired::Skipped { reason, .. } => (
            (job_rows::subject::SCHEDULE, s.id),
            format!("schedule {} skipped the slot {slot}: {reason}", s.id),
            None,
        ),
    };
    let mut new = NewJob::new(
        JobKind::ScheduleFire,
        Some(s.organization_id),
        serde_json::json!({"schedule_id": s.id, "prompt_id": s.prompt_id, "slot": slot, "run_id": run}),
    )
    .dedupe(format!("schedule:{}:{}", s.id, slot.timestamp()))
    .about(subject.0, subject.1);
    new.status = JobStatus::Succeeded;
    new.result = Some(summary);
    new.created_by = s.created_by_id;
    job_rows::enqueue(txn, new).await?;
    let skipped = match outcome {
        Fired::Skipped { reason, .. } => Some(reason.as_str()),
        Fired::Run { .. } => None,
    };
    crate::services::webhooks::schedule_fired(txn, s, slot, run, skipped).await?;
    Ok(())
}

/// Fires the schedules due at `now`: each due slot is claimed by one process and either
/// creates a run or is skipped. Returns what happened to the slots this process claimed.
/// A `Sample` run gets the configured Sample size (`sample_size`), as API and web runs do.
pub async fn fire_due<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    sample_size: u64,
) -> ApiResult<Vec<Fired>> {
    let due = schedule::Entity::find()
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active))
        .filter(schedule::Column::NextRunAt.lte(now))
        .order_by_asc(schedule::Column::NextRunAt)
        .limit(100)
        .all(db)
        .await?;
    let mut out = vec![];
    for s in due {
        if let Some(fired) = fire_one(db, &s, now, sample_size).await? {
            out.push(fired);
        }
    }
    Ok(out)
}

async fn fire_one<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    s: &schedule::Model,
    now: DateTime<Utc>,
    sample_size: u64,
) -> ApiResult<Option<Fired>> {
    let Some(due) = s.next_run_at else {
        return Ok(None);
    };
    let (Ok(expression), Ok(tz)) = (parse_cron(&s.cron), parse_timezone(&s.timezone)) else {
        return Ok(None);
    };
    if next_after(&expression, tz, due - chrono::Duration::seconds(1)) != Some(due) {
        // A slot the expression does not give (stored under an earlier reading of cron) does
        // not fire: the schedule moves to its next real firing.
        move_next(db, s, next_after(&expression, tz, now), now).await?;
        return Ok(None);
    }
    let (slot, next) = catch_up(&expression, tz, due, now);
    let txn = crate::db::begin_write(db).await?;
    // The claim: only the process whose update still sees the due slot fires it.
    let claimed = schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, Expr::value(next))
        .col_expr(schedule::Column::LastRunAt, Expr::value(Some(slot)))
        .col_expr(schedule::Column::UpdatedAt, Expr::value(now))
        .filter(schedule::Column::Id.eq(s.id))
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active))
        .filter(schedule::Column::NextRunAt.eq(due))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let skip = |reason: String| Fired::Skipped {
        schedule: s.id,
        slot,
        reason,
    };
    let outcome = match plan(&txn, s).await? {
        Err(reason) => skip(reason),
        Ok((caller, version)) => {
            let input = RunInput {
                project: Some(s.project_id),
                project_subset: Some(s.project_subset),
                only_missing_predictions: Some(s.only_missing_predictions),
                sample_subset_size: None,
                filters_json: None,
                task_ids: None,
            };
            let actor = audit::Actor::schedule(s.organization_id, s.id);
            let made = runs::create_by(
                &txn,
                &caller,
                &actor,
                s.prompt_id,
                version,
                input,
                sample_size,
            );
            match made.await {
                Ok(run) => {
                    let mut model: model_run::ActiveModel = run.into();
                    model.schedule_id = Set(Some(s.id));
                    model.scheduled_for = Set(Some(slot));
                    let run = model.update(&txn).await?;
                    schedule::Entity::update_many()
                        .col_expr(schedule::Column::LastRunId, Expr::value(Some(run.id)))
                        .filter(schedule::Column::Id.eq(s.id))
                        .exec(&txn)
                        .await?;
                    Fired::Run {
                        schedule: s.id,
                        slot,
                        run: run.id,
                    }
                }
                Err(ApiError::Database(e)) => return Err(ApiError::Database(e)),
                Err(e) => skip(format!("the run could not be created: {e}")),
            }
        }
    };
    record_firing(&txn, s, slot, &outcome).await?;
    txn.commit().await?;
    match &outcome {
        Fired::Run { run, .. } => {
            tracing::info!(schedule = s.id, prompt = s.prompt_id, run, slot = %slot, "schedule fired")
        }
        Fired::Skipped { reason, .. } => {
            tracing::info!(schedule = s.id, prompt = s.prompt_id, slot = %slot, reason = %reason, "schedule slot skipped")
        }
    }
    Ok(Some(outcome))
}

/// Who fires schedule `s` and which version, or why the slot is skipped.
async fn plan(
    db: &impl ConnectionTrait,
    s: &schedule::Model,
) -> ApiResult<Result<(AuthUser, i64), String>> {
    let Some(prompt) = model_interface::Entity::find_by_id(s.prompt_id)
        .one(db)
        .await?
    else {
        return Ok(Err("the prompt is gone".into()));
    };
    if matches!(prompt.status, PromptStatus::Paused | PromptStatus::Archived) {
        return Ok(Err(format!("the prompt is {}", prompt.status)));
    }
    if let Some(previous) = s.last_run_id
        && let Some(run) = model_run::Entity::find_by_id(previous).one(db).await?
        && run.status.is_active()
    {
        return Ok(Err(format!(
            "its previous run {} is still {}",
            run.id, run.status
        )));
    }
    let Some(caller) = acting_caller(db, s).await? else {
        return Ok(Err(
            "its creator is no longer a Manager (or above) of the organization".into(),
        ));
    };
    let version = match (&s.label, s.version_id) {
        (Some(label), _) => match labels::find(db, prompt.id, label).await? {
            Some(l) => Some(l.version_id),
            None => return Ok(Err(format!("its label {label} is not set on any version"))),
        },
        (None, Some(v)) => Some(v),
        (None, None) => prompts::answering_version(db, &prompt).await?.map(|v| v.id),
    };
    Ok(match version {
        Some(v) => Ok((caller, v)),
        None => Err("the prompt has no version to run".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn reads_cron_expressions_and_zones() {
        assert!(parse_cron("0 2 * * *").is_ok());
        assert!(parse_cron("*/2 * * * * *").is_ok());
        assert!(parse_cron("@daily").is_ok());
        assert!(parse_cron("0 2 * *").unwrap_err().contains("got 4"));
        assert!(parse_cron("99 * * * *").is_err());
        assert!(parse_timezone("Europe/Paris").is_ok());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn nightly_in_a_time_zone() {
        let nightly = parse_cron("0 2 * * *").unwrap();
        let paris = parse_timezone("Europe/Paris").unwrap();
        // 1 December 2026, 12:00 UTC: the next 02:00 in Paris (UTC+1 in winter) is 01:00 UTC.
        let noon = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let next = next_after(&nightly, paris, noon).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 2, 1, 0, 0).unwrap());
    }

    #[test]
    fn catches_up_one_slot_at_most() {
        let hourly = parse_cron("0 * * * *").unwrap();
        let utc = parse_timezone("UTC").unwrap();
        let due = Utc.with_ymd_and_hms(2026, 12, 1, 1, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 5, 30, 0).unwrap();
        let (slot, next) = catch_up(&hourly, utc, due, now);
        assert_eq!(slot, Utc.with_ymd_and_hms(2026, 12, 1, 5, 0, 0).unwrap());
        assert_eq!(
            next,
            Some(Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap())
        );
        let (slot, _) = catch_up(&hourly, utc, due, due);
        assert_eq!(slot, due);
    }
}
