//! Pacing shared by every process (issue 24, item 3): the leases in the database say how many
//! processes share a connection's limits and hold them all after one meets a 429; three
//! `prompter worker` processes on one database each take their share and run a rate-limited
//! run with no failure.
use crate::helpers::engine::{fake, finished_by_other_processes, setup, start, worker_command};
use crate::helpers::fixtures::ground_truth;
use crate::helpers::{CLS, TestApp, choice};
use entity::pacing_lease;
use prompter::fake_llm::FakeLlmConfig;
use prompter::services::pacing;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::time::Duration;

#[actix_web::test]
async fn shares_follow_the_live_leases_and_a_backoff_holds_everyone() {
    let app = TestApp::spawn().await;
    let llm = fake(FakeLlmConfig::default()).await;
    let s = setup(&app, &llm, CLS, &["a"], "Text: {text}").await;
    let db = &app.db;
    let now = chrono::Utc::now();
    let live = now + chrono::Duration::seconds(4);
    let one = pacing::renew(db, s.connection, "gpt-4o-mini", "p1", now, live, None)
        .await
        .expect("renew");
    assert_eq!((one.holders, one.share()), (1, 1.0));
    pacing::renew(db, s.connection, "gpt-4o-mini", "p2", now, live, None)
        .await
        .expect("renew");
    let backoff = now + chrono::Duration::seconds(30);
    let three = pacing::renew(
        db,
        s.connection,
        "gpt-4o-mini",
        "p3",
        now,
        live,
        Some(backoff),
    )
    .await
    .expect("renew");
    assert_eq!(three.holders, 3);
    assert!((three.share() - 1.0 / 3.0).abs() < 1e-12);
    // Another model of the same connection is paced apart.
    let other = pacing::renew(db, s.connection, "gpt-4o", "p1", now, live, None)
        .await
        .expect("renew");
    assert_eq!(other.holders, 1);
    // The backoff one process published holds the others, and renewing keeps one row each.
    let p1 = pacing::renew(db, s.connection, "gpt-4o-mini", "p1", now, live, None)
        .await
        .expect("renew");
    assert_eq!(p1.holders, 3);
    assert_eq!(
        p1.backoff_until.map(|b| b.timestamp()),
        Some(backoff.timestamp())
    );
    // Later, p2 and p3 stopped renewing: their leases lapsed, p1 has it all.
    let later = now + chrono::Duration::seconds(10);
    let alone = pacing::renew(
        db,
        s.connection,
        "gpt-4o-mini",
        "p1",
        later,
        later + chrono::Duration::seconds(4),
        None,
    )
    .await
    .expect("renew");
    assert_eq!(alone.holders, 1);
    // A process that gives its leases up leaves none behind; lapsed ones are pruned.
    pacing::release(db, "p1", None).await.expect("release");
    assert_eq!(pacing::prune(db, later).await.expect("prune"), 2);
    let left = pacing_lease::Entity::find()
        .filter(pacing_lease::Column::ConnectionId.eq(s.connection))
        .all(db)
        .await
        .expect("read");
    assert!(left.is_empty(), "{left:?}");
}

#[actix_web::test]
async fn three_worker_processes_share_a_connections_limits() {
    let app = TestApp::spawn_with(|c| {
        c.engine.workers = 0;
        c.engine.job_workers = 0;
    })
    .await;
    let llm = fake(FakeLlmConfig {
        latency_ms: 20,
        rpm: Some(6000),
        ..Default::default()
    })
    .await;
    // Six slices of 100 tasks (a worker claims its next slice ahead): work for every worker.
    let texts: Vec<String> = (0..600).map(|i| format!("Great product {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let s = setup(&app, &llm, CLS, &refs, "Text: {text}").await;
    for t in s.tasks.iter().take(3) {
        ground_truth(&app, *t, choice("Positive")).await;
    }
    let (status, body) = app
        .patch(
            &format!("/api/model-provider-connections/{}/", s.connection),
            json!({"rpm_limit": 6000}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut workers: Vec<std::process::Child> = (0..3)
        .map(|_| {
            worker_command(&app, 8)
                .spawn()
                .expect("start prompter worker")
        })
        .collect();
    let began = std::time::Instant::now();
    let run = start(&app, &s, json!({"project_subset": "All", "cache": false})).await;
    // While the run goes, the three processes hold a lease each on the connection.
    let mut most = 0;
    for _ in 0..200 {
        let now = chrono::Utc::now();
        let live = pacing_lease::Entity::find()
            .filter(pacing_lease::Column::ConnectionId.eq(s.connection))
            .filter(pacing_lease::Column::ExpiresAt.gt(now))
            .all(&app.db)
            .await
            .expect("read")
            .len();
        most = most.max(live);
        if most == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = finished_by_other_processes(&app, &s, run).await;
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    eprintln!(
        "three workers: {} tasks in {:.1} s; fake {:?}; patched {body}",
        state["total_predictions"],
        began.elapsed().as_secs_f64(),
        llm.stats()
    );
    assert_eq!(most, 3, "each worker process took a share");
    assert_eq!(state["status"], "Completed", "{state}");
    assert_eq!(state["total_failed_predictions"], 0, "{state}");
    assert_eq!(state["total_predictions"], 600);
    let stats = llm.stats();
    assert!(
        stats.rate_limited * 50 <= stats.requests,
        "at most 2% answered 429: {} of {}",
        stats.rate_limited,
        stats.requests
    );
}
