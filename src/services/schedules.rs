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

mod firing;
pub use firing::{Fired, fire_due};

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
