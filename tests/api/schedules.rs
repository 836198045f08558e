//! Schedules read cron as Unix does (issue 19): weekday 0 and 7 are Sunday and 1 Monday, names
//! in any case, messages that name the field and what it allows; the preview endpoint and the
//! web form's next three firings; a next firing stored under the earlier reading (1 = Sunday)
//! is recomputed rather than fired.
use crate::helpers::browser::Browser;
use crate::helpers::fixtures::fixture;
use crate::helpers::web::{PASSWORD, WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp, field_errors};
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use prompter::error::ErrorCode;
use prompter::services::schedules;
use prompter::views::registry::{SchedulePreviewView, ScheduleView};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde::Deserialize;
use serde_json::json;

/// A server whose schedules never fire on their own: the tests fire them at chosen instants.
async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.engine.schedule_poll_ms = 0).await
}

fn preview_path(cron: &str, timezone: &str) -> String {
    let query = serde_urlencoded::to_string([("cron", cron), ("timezone", timezone)]).unwrap();
    format!("/api/schedules/preview?{query}")
}

/// What the schedule form's script reads from `/app/schedule-preview` (the web front end's
/// own JSON, built ad hoc: no view type): the firings, or the message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormPreview {
    ok: bool,
    firings: Option<Vec<String>>,
    message: Option<String>,
}

/// Asserts that each of `firings` is on `weekday` at 03:00 in `zone`.
fn all_at_three(firings: &[DateTime<Utc>], zone: Tz, weekday: Weekday) {
    assert_eq!(firings.len(), 3, "{firings:?}");
    for f in firings {
        let local = f.with_timezone(&zone);
        assert_eq!(
            (local.weekday(), local.hour(), local.minute()),
            (weekday, 3, 0),
            "{local}"
        );
    }
}

#[tokio::test]
async fn the_preview_reads_weekdays_as_unix_does() {
    let app = app().await;
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    for (cron, weekday) in [
        ("0 3 * * 1", Weekday::Mon),
        ("0 3 * * mon", Weekday::Mon),
        ("0 3 * * MON", Weekday::Mon),
        ("0 3 * * 0", Weekday::Sun),
        ("0 3 * * 7", Weekday::Sun),
        ("0 3 * * Sun", Weekday::Sun),
        ("0 3 * * 6", Weekday::Sat),
    ] {
        let body: SchedulePreviewView = app.get(&preview_path(cron, "Europe/Berlin")).await.good();
        assert_eq!(
            (body.cron.as_str(), body.timezone.as_str()),
            (cron, "Europe/Berlin")
        );
        all_at_three(&body.next_run_at, berlin, weekday);
        // The local times carry the zone's offset of their day.
        for local in &body.next_local {
            let t = DateTime::parse_from_rfc3339(local).unwrap();
            assert_eq!((t.hour(), t.minute()), (3, 0), "{body:?}");
        }
    }
    // Without a zone: UTC.
    let body: SchedulePreviewView = app
        .get("/api/schedules/preview?cron=0%203%20*%20*%20mon-fri")
        .await
        .good();
    assert_eq!(body.timezone, "UTC");
    let weekdays: Vec<Weekday> = body.next_run_at.iter().map(|t| t.weekday()).collect();
    assert!(
        weekdays
            .iter()
            .all(|d| !matches!(d, Weekday::Sat | Weekday::Sun)),
        "{weekdays:?}"
    );
    // Signed out: 401.
    let (status, _) = app
        .send(Method::GET, &preview_path("0 3 * * 1", "UTC"), None, None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn wrong_expressions_are_explained_field_by_field() {
    let app = app().await;
    for (cron, timezone, field, message) in [
        (
            "0 3 * * 8",
            "UTC",
            "cron",
            "weekday must be 0–7 or sun–sat; 0 and 7 are Sunday (got \"8\")",
        ),
        ("0 3 * * sunday", "UTC", "cron", "weekday must be 0–7"),
        ("61 3 * * *", "UTC", "cron", "minute must be 0–59"),
        ("0 25 * * *", "UTC", "cron", "hour must be 0–23"),
        ("0 3 32 * *", "UTC", "cron", "day of month must be 1–31"),
        ("0 3 * 13 *", "UTC", "cron", "month must be 1–12 or jan–dec"),
        ("0 3 * * fri-mon", "UTC", "cron", "goes backwards"),
        ("0 3 * *", "UTC", "cron", "expected 5 fields"),
        ("0 0 30 2 *", "UTC", "cron", "never fires"),
        (
            "0 3 * * 1",
            "Mars/Olympus",
            "timezone",
            "not an IANA time zone",
        ),
    ] {
        // `.bad()` checks that the body's `status_code` repeats the status.
        let error = app.get(&preview_path(cron, timezone)).await.bad();
        assert_eq!(error.status_code, 400, "{cron}: {error:?}");
        assert_eq!(error.code, ErrorCode::ValidationError, "{error:?}");
        let said = field_errors(&error, field)
            .first()
            .map_or("", String::as_str);
        assert!(said.contains(message), "{cron}: {error:?}");
        // Creating a schedule says the same.
        let f_body = json!({"cron": cron, "timezone": timezone, "project": 1});
        let created = app.post("/api/prompts/1/schedules", f_body).await.bad();
        assert!(!field_errors(&created, field).is_empty(), "{created:?}");
    }
    let error = app.get("/api/schedules/preview").await.bad();
    assert_eq!(
        (error.status_code, error.code),
        (400, ErrorCode::InvalidQuery),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_monday_schedule_fires_on_mondays_in_its_zone() {
    let app = app().await;
    let f = fixture(&app, CLS, &["I love it"]).await;
    let path = format!("/api/prompts/{}/schedules", f.prompt);
    let made: ScheduleView = app
        .post(
            &path,
            json!({"cron": "0 3 * * 1", "timezone": "Europe/Berlin", "project": f.project}),
        )
        .await
        .created();
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let next = made.next_run_at.expect("a next firing");
    let local = next.with_timezone(&berlin);
    assert_eq!(
        (local.weekday(), local.hour()),
        (Weekday::Mon, 3),
        "{made:?}"
    );
    // Sunday as 0, refused before, is a schedule now.
    let made: ScheduleView = app
        .post(&path, json!({"cron": "0 3 * * 0", "project": f.project}))
        .await
        .created();
    let next = made.next_run_at.expect("a next firing");
    assert_eq!(next.weekday(), Weekday::Sun);
    let receiver = crate::helpers::receiver::Receiver::start(|_, _| {
        crate::helpers::receiver::Answer::Status(200)
    })
    .await;
    let hook = crate::webhooks::endpoint(&app, &receiver.url, json!(["schedule.fired"])).await;
    // Its slot fires a run (the Monday schedule may be due by then too, depending on the day
    // the test runs).
    let fired = schedules::fire_due(&app.db, next, crate::helpers::sample_size())
        .await
        .unwrap();
    // One schedule.fired per firing, naming the run.
    let told = crate::webhooks::settled_deliveries(&app, hook, fired.len()).await;
    assert_eq!(told.len(), fired.len(), "{told:?}");
    assert!(
        told.iter()
            .any(|d| d["payload"]["data"]["schedule"]["id"] == made.id
                && d["payload"]["data"]["run"].is_i64()),
        "{told:?}"
    );
    assert!(
        fired
            .iter()
            .any(|f| matches!(f, schedules::Fired::Run { schedule, slot, .. }
            if *schedule == made.id && *slot == next)),
        "{fired:?}"
    );
}

/// Sets the stored next firing of schedule `id` as an earlier version of Prompter would have.
async fn store_next(app: &TestApp, id: i64, next: DateTime<Utc>) {
    let found = entity::prompt_schedule::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut model: entity::prompt_schedule::ActiveModel = found.into();
    model.next_run_at = Set(Some(next));
    model.update(&app.db).await.unwrap();
}

#[tokio::test]
async fn next_firings_stored_under_the_old_reading_are_recomputed() {
    let app = app().await;
    let f = fixture(&app, CLS, &["I love it"]).await;
    let path = format!("/api/prompts/{}/schedules", f.prompt);
    let made: ScheduleView = app
        .post(
            &path,
            json!({"cron": "0 3 * * 1", "timezone": "UTC", "project": f.project}),
        )
        .await
        .created();
    let sid = made.id;
    let monday = made.next_run_at.expect("a next firing");
    assert_eq!(monday.weekday(), Weekday::Mon);
    // The earlier reading put `1` on the Sunday before.
    let sunday = monday - Duration::days(1);
    store_next(&app, sid, sunday).await;
    // A ticker starting (before that Sunday, whatever day the test runs) moves it back to the
    // Monday.
    let start = sunday - Duration::hours(1);
    let moved = schedules::realign(&app.db, start).await.unwrap();
    assert_eq!(moved, 1);
    let one: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
    assert_eq!(one.next_run_at, made.next_run_at);
    assert_eq!(schedules::realign(&app.db, start).await.unwrap(), 0);
    // A wrong slot already due does not fire: it moves to the next Monday after now.
    let past_sunday = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
    store_next(&app, sid, past_sunday).await;
    let now = past_sunday + Duration::minutes(1);
    let fired = schedules::fire_due(&app.db, now, crate::helpers::sample_size())
        .await
        .unwrap();
    assert!(fired.is_empty(), "{fired:?}");
    let one: ScheduleView = app.get(&format!("{path}/{sid}")).await.good();
    assert_eq!(
        one.next_run_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 30, 3, 0, 0).unwrap()),
        "{one:?}"
    );
    assert_eq!(one.runs, Vec::<i64>::new());
}

#[tokio::test]
async fn the_form_previews_the_next_firings() {
    let app = app().await;
    let f = fixture(&app, CLS, &["I love it"]).await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    // Rendered with the page: the default expression's next three firings.
    let page = web.get(&format!("/prompts/{}", f.prompt)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let list = page
        .body
        .split("<ul id=\"schedule-firings\">")
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .unwrap_or_else(|| panic!("no preview: {}", page.body));
    assert_eq!(list.matches("<li>").count(), 3, "{list}");
    assert!(list.contains("02:00 UTC"), "{list}");
    // The script's endpoint: firings, or the message.
    let answer = web
        .get("/app/schedule-preview?cron=0+3+*+*+1&timezone=Europe/Berlin")
        .await;
    let body: FormPreview = serde_json::from_str(&answer.body).unwrap();
    assert!(body.ok, "{body:?}");
    let firings = body.firings.as_ref().expect("firings");
    assert_eq!(firings.len(), 3);
    assert!(
        firings
            .iter()
            .all(|f| f.starts_with("Mon ") && f.contains("03:00 CE")),
        "{body:?}"
    );
    let answer = web.get("/app/schedule-preview?cron=0+3+*+*+8").await;
    let body: FormPreview = serde_json::from_str(&answer.body).unwrap();
    assert!(!body.ok, "{body:?}");
    assert!(
        body.message
            .as_deref()
            .expect("a message")
            .contains("0 and 7 are Sunday"),
        "{body:?}"
    );

    // In a browser, the list follows what is typed.
    let Some(b) = Browser::start().await else {
        return;
    };
    b.open(&format!("{}/login", app.address)).await;
    b.fill("#email", "admin@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_url(|u| u.ends_with("/prompts")).await;
    b.open(&format!("{}/prompts/{}", app.address, f.prompt))
        .await;
    b.run("document.getElementById('schedule-form').closest('details').open = true; return true;")
        .await;
    b.wait_text("#schedule-firings", |t| t.contains("02:00 UTC"))
        .await;
    b.fill("#schedule-cron", "30 6 * * sat").await;
    b.fill("#schedule-tz", "Europe/Berlin").await;
    let shown = b
        .wait_text("#schedule-firings", |t| {
            t.lines().count() == 3
                && t.lines()
                    .all(|l| l.starts_with("Sat ") && l.contains("06:30 CE"))
        })
        .await;
    assert!(!shown.contains("UTC"), "{shown}");
    b.fill("#schedule-cron", "0 3 * * 9").await;
    b.wait_text("#schedule-preview", |t| t.contains("0 and 7 are Sunday"))
        .await;
}
