//! The Webhooks pages: an Owner adds an endpoint with the secret the page offers (a mistake
//! comes back with the problem at its input and what was typed kept), changes it, sends a test
//! event and sees it in the delivery log, and deletes it; other roles get no link and a 403
//! page, forged forms included.
use crate::helpers::TestApp;
use crate::helpers::receiver::{Answer, Receiver};
use crate::helpers::web::{WebClient, make_reviewer, set_password};
use std::time::Duration;

#[tokio::test]
async fn an_owner_manages_an_endpoint_in_the_pages() {
    let receiver = Receiver::start(|_, _| Answer::Status(200)).await;
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let prompts = web.get("/prompts").await;
    assert!(
        prompts.body.contains("href=\"/webhooks\""),
        "the menu links it"
    );
    let page = web.get("/webhooks").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No endpoint yet"));
    assert!(page.body.contains("name=\"event.run.completed\" checked"));

    let refused = web
        .post(
            "/webhooks",
            &[
                ("url", "ftp://nowhere"),
                ("secret", "a-secret-typed-by-hand-1234"),
                ("description", "Kept"),
                ("event.run.failed", "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"url-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"Kept\""));
    assert!(
        refused
            .body
            .contains("value=\"a-secret-typed-by-hand-1234\"")
    );
    assert!(refused.body.contains("name=\"event.run.failed\" checked"));
    assert!(
        !refused
            .body
            .contains("name=\"event.run.completed\" checked")
    );
    assert!(!refused.body.contains("validation_error"));

    let added = web
        .post(
            "/webhooks",
            &[
                ("url", receiver.url.as_str()),
                ("secret", "a-secret-typed-by-hand-1234"),
                ("description", "Ops channel"),
                ("event.run.failed", "on"),
                ("event.webhook.test", "on"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let at = added.location.clone().expect("a location");
    assert!(at.starts_with("/webhooks/"), "{at}");
    let page = web.get(&at).await;
    let host = receiver
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/hook");
    assert!(page.body.contains(host), "{}", page.body);
    assert!(page.body.contains("No delivery yet"));
    assert!(
        !page.body.contains("a-secret-typed-by-hand"),
        "the secret is never shown"
    );

    let sent = web.post(&format!("{at}/test"), &[]).await;
    assert_eq!(
        (sent.status, sent.location.as_deref()),
        (303, Some(at.as_str()))
    );
    let mut delivered = false;
    for _ in 0..200 {
        let page = web.get(&at).await;
        if page.body.contains("webhook.test") && page.body.contains(">delivered") {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "the test event shows as delivered in the log");
    assert_eq!(receiver.seen().len(), 1);

    // Disabled, with the events and description changed; an empty secret keeps the secret.
    let changed = web
        .post(
            &at,
            &[
                ("url", receiver.url.as_str()),
                ("secret", ""),
                ("description", "Muted"),
                ("event.run.completed", "on"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let (_, listed) = app.get("/api/webhooks/").await;
    let hook = &listed["results"][0];
    assert_eq!(hook["is_active"], false, "{hook}");
    assert_eq!(hook["description"], "Muted");
    assert_eq!(hook["events"], serde_json::json!(["run.completed"]));
    let list = web.get("/webhooks").await;
    assert!(list.body.contains("disabled"));

    let gone = web.post(&format!("{at}/delete"), &[]).await;
    assert_eq!(
        (gone.status, gone.location.as_deref()),
        (303, Some("/webhooks"))
    );
    assert_eq!(web.get(&at).await.status, 404);
}

#[tokio::test]
async fn other_roles_get_no_webhooks_page() {
    let app = TestApp::spawn().await;
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let prompts = reviewer.get("/prompts").await;
    assert!(!prompts.body.contains("href=\"/webhooks\""));
    assert_eq!(reviewer.get("/webhooks").await.status, 403);
    let forged = reviewer
        .post(
            "/webhooks",
            &[
                ("url", "http://127.0.0.1:9/x"),
                ("secret", "0123456789abcdef0"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.rows("webhooks").await, 0);
}
