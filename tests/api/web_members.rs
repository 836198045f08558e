//! The Members page: Owners and Administrators list members, add one, change a role,
//! deactivate and reactivate; refused forms come back with the problem next to the input and
//! what was typed kept (422); other roles see no link and get a 403 page, forged forms included.
use crate::helpers::TestApp;
use crate::helpers::web::{WebClient, make_reviewer, set_password};
use prompter::auth::Role;
use prompter::services::accounts;
use reqwest::Method;
use serde_json::Value;

async fn members_of(app: &TestApp) -> Vec<Value> {
    let me: Value = app.get("/api/current-user").await.1;
    let org = me["active_organization"].as_i64().expect("organization");
    let (status, body) = app
        .get(&format!("/api/organizations/{org}/memberships"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["results"].as_array().expect("results").clone()
}

fn find<'a>(members: &'a [Value], email: &str) -> &'a Value {
    members
        .iter()
        .find(|m| m["user"]["email"] == email)
        .expect("a member")
}

#[tokio::test]
async fn an_owner_manages_members_in_the_page() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let prompts = web.get("/prompts").await;
    assert!(
        prompts.body.contains("href=\"/members\""),
        "the menu links it"
    );
    let page = web.get("/members").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("annotator@example.com"));
    assert!(
        page.body.contains("<option value=\"Owner\""),
        "an Owner may make Owners"
    );

    // A mistake: the page again, 422, the problem at the input and what was typed kept.
    let refused = web
        .post(
            "/members",
            &[
                ("email", "not an email"),
                ("role", "Manager"),
                ("first_name", "Kept"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"email-error\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"not an email\""));
    assert!(refused.body.contains("value=\"Kept\""));
    assert!(refused.body.contains("<option value=\"Manager\" selected"));
    assert!(
        !refused.body.contains("validation_error"),
        "no wire words in the page"
    );

    // Added: a new person, without a password yet, which the page says.
    let added = web
        .post(
            "/members",
            &[("email", "new@example.com"), ("role", "Manager")],
        )
        .await;
    assert_eq!(
        (added.status, added.location.as_deref()),
        (303, Some("/members"))
    );
    let page = web.get("/members").await;
    assert!(page.body.contains("new@example.com"));
    assert!(page.body.contains("no password yet"));
    let new = find(&members_of(&app).await, "new@example.com").clone();
    assert_eq!(new["role"], "Manager");
    let id = new["user"]["id"].as_i64().expect("id");

    // A role change.
    let changed = web
        .post(&format!("/members/{id}/role"), &[("role", "Reviewer")])
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_eq!(
        find(&members_of(&app).await, "new@example.com")["role"],
        "Reviewer"
    );

    // Deactivated, then reactivated.
    web.get("/members").await;
    let off = web
        .post(&format!("/members/{id}/active"), &[("active", "false")])
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(
        find(&members_of(&app).await, "new@example.com")["active"],
        false
    );
    let page = web.get("/members").await;
    assert!(page.body.contains("deactivated") && page.body.contains("class=\"reactivate\""));
    let on = web
        .post(&format!("/members/{id}/active"), &[("active", "true")])
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(
        find(&members_of(&app).await, "new@example.com")["active"],
        true
    );

    // The last Owner: refused in the page, in words.
    let owner = find(&members_of(&app).await, "admin@example.com")["user"]["id"]
        .as_i64()
        .expect("owner");
    web.get("/members").await;
    let last = web
        .post(&format!("/members/{owner}/active"), &[("active", "false")])
        .await;
    assert_eq!(last.status, 422, "{}", last.body);
    assert!(last.body.contains("last active Owner"), "{}", last.body);
    let demote = web
        .post(&format!("/members/{owner}/role"), &[("role", "Manager")])
        .await;
    assert_eq!(demote.status, 422);
    assert_eq!(
        find(&members_of(&app).await, "admin@example.com")["role"],
        "Owner"
    );
}

#[tokio::test]
async fn other_roles_get_no_members_page_and_administrators_no_owner_controls() {
    let app = TestApp::spawn().await;
    make_reviewer(&app).await;
    let mut reviewer = WebClient::new(&app);
    reviewer.sign_in("reviewer@example.com").await;
    let prompts = reviewer.get("/prompts").await;
    assert!(!prompts.body.contains("href=\"/members\""));
    assert_eq!(reviewer.get("/members").await.status, 403);
    let forged = reviewer
        .post("/members", &[("email", "x@example.com"), ("role", "Owner")])
        .await;
    assert_eq!(forged.status, 403);
    let forged = reviewer.post("/members/1/role", &[("role", "Owner")]).await;
    assert_eq!(forged.status, 403);
    let forged = reviewer
        .post("/members/1/active", &[("active", "false")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(members_of(&app).await.len(), 3, "nothing was added");

    accounts::create_user(
        &app.db,
        "administrator@example.com",
        "Main",
        Role::Administrator,
        None,
    )
    .await
    .expect("administrator");
    set_password(&app, "administrator@example.com").await;
    let mut admin = WebClient::new(&app);
    admin.sign_in("administrator@example.com").await;
    let page = admin.get("/members").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("<option value=\"Owner\""),
        "only an Owner makes Owners"
    );
    let owner = find(&members_of(&app).await, "admin@example.com")["user"]["id"]
        .as_i64()
        .expect("owner");
    assert!(
        !page.body.contains(&format!("/members/{owner}/")),
        "no control over the Owner"
    );
    let forged = admin
        .post(&format!("/members/{owner}/role"), &[("role", "Annotator")])
        .await;
    assert_eq!(forged.status, 403);
    let me = find(&members_of(&app).await, "administrator@example.com")["user"]["id"]
        .as_i64()
        .expect("me");
    let forged = admin
        .post(&format!("/members/{me}/role"), &[("role", "Owner")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        find(&members_of(&app).await, "administrator@example.com")["role"],
        "Administrator"
    );
    // Connections: an Administrator adds them.
    let connections = admin.get("/connections").await;
    assert!(connections.body.contains("id=\"add-connection\""));
    let (status, _) = app.send(Method::GET, "/api/current-user", None, None).await;
    assert_eq!(status, 401);
}
