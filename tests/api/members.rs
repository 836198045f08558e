//! Members and roles through the API: `/api/organizations/{id}` and its `memberships`. Adding
//! by email, changing a role, deactivating and reactivating (in force from the very next
//! request, for API tokens and web sessions), the last Owner, Owner-only changes, other
//! organizations and the limits.
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{Reply, TestApp, bad_field};
use prompter::auth::Role;
use prompter::error::ErrorCode;
use prompter::services::accounts;
use prompter::views::Paginated;
use prompter::views::members::{MemberView, OrganizationView};
use prompter::views::users::WhoAmIView;
use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::json;

/// The main organization's id.
async fn main_org(app: &TestApp) -> i64 {
    app.get("/api/current-user")
        .await
        .good::<WhoAmIView>()
        .active_organization
}

/// Makes a member of the main organization with `role`; returns their user id and token.
async fn member(app: &TestApp, email: &str, role: Role) -> (i64, String) {
    let (user, token) = accounts::create_user(&app.db, email, "Main", role, None)
        .await
        .expect("member");
    (user.id, token)
}

fn memberships(org: i64) -> String {
    format!("/api/organizations/{org}/memberships")
}

fn membership(org: i64, user: i64) -> String {
    format!("/api/organizations/{org}/memberships/{user}")
}

#[tokio::test]
async fn an_admin_lists_adds_and_changes_members() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let (_, admin_token) = member(&app, "administrator@example.com", Role::Administrator).await;
    let admin = Some(admin_token.as_str());

    // The organization itself: any member reads it.
    let read: OrganizationView = app
        .send(
            Method::GET,
            &format!("/api/organizations/{org}"),
            Some(&app.annotator_token),
            None,
        )
        .await
        .good();
    assert_eq!((read.id, read.title.as_str()), (org, "Main"));

    let listed: Paginated<MemberView> = app.get(&memberships(org)).await.good();
    assert_eq!(
        listed.count, 3,
        "the Owner, the annotator and the administrator"
    );
    let emails: Vec<&str> = listed
        .results
        .iter()
        .map(|m| m.user.email.as_str())
        .collect();
    assert_eq!(
        emails,
        [
            "admin@example.com",
            "annotator@example.com",
            "administrator@example.com"
        ]
    );
    assert!(
        listed
            .results
            .iter()
            .all(|m| m.active && m.organization == org)
    );
    assert_eq!(listed.results[0].role, "Owner");

    // A new email becomes a user without a password, an Annotator unless told otherwise.
    let added: MemberView = app
        .send(
            Method::POST,
            &memberships(org),
            admin,
            Some(&json!({"email": " New.Person@Example.com ", "first_name": "New", "last_name": "Person"})),
        )
        .await
        .created();
    assert_eq!(added.user.email, "new.person@example.com");
    assert_eq!(
        (added.user.first_name.as_str(), added.role.as_str()),
        ("New", "Annotator")
    );
    assert!(added.active && !added.can_sign_in, "no password yet");
    let row = entity::user::Entity::find_by_id(added.user.id)
        .one(&app.db)
        .await
        .expect("read")
        .expect("the user");
    assert!(row.password_hash.is_none());
    assert_eq!(row.active_organization_id, Some(org));
    assert_eq!(
        app.rows("api_tokens").await,
        4,
        "no token was made for them"
    );

    // An existing user of another organization joins, keeping their active organization.
    let joined: MemberView = app
        .send(
            Method::POST,
            &memberships(org),
            admin,
            Some(&json!({"email": "other@example.com", "role": "reviewer"})),
        )
        .await
        .created();
    assert_eq!(joined.role, "Reviewer");
    assert!(
        !joined.can_sign_in,
        "other@example.com has no password in these tests"
    );
    let (status, _) = app
        .send(Method::GET, "/api/projects/", Some(&app.other_token), None)
        .await;
    assert_eq!(status, 200, "they still work in their own organization");

    // Twice is refused, as are unknown roles and bad emails.
    bad_field(
        app.send(
            Method::POST,
            &memberships(org),
            admin,
            Some(&json!({"email": "NEW.person@example.com"})),
        )
        .await,
        "email",
    );
    bad_field(
        app.send(
            Method::POST,
            &memberships(org),
            admin,
            Some(&json!({"email": "x@example.com", "role": "King"})),
        )
        .await,
        "role",
    );
    for email in ["", "no-at-sign", "two words@example.com", "@example.com"] {
        bad_field(
            app.send(
                Method::POST,
                &memberships(org),
                admin,
                Some(&json!({"email": email})),
            )
            .await,
            "email",
        );
    }

    // A role change.
    let changed: MemberView = app
        .send(
            Method::PATCH,
            &membership(org, added.user.id),
            admin,
            Some(&json!({"role": "Manager"})),
        )
        .await
        .good();
    assert_eq!(changed.role, "Manager");
    bad_field(
        app.send(
            Method::PATCH,
            &membership(org, added.user.id),
            admin,
            Some(&json!({"role": ""})),
        )
        .await,
        "role",
    );

    // Pages.
    let first: Paginated<MemberView> = app
        .get(&format!("{}?page_size=2", memberships(org)))
        .await
        .good();
    assert_eq!((first.count, first.results.len()), (5, 2));
    assert!(first.next.is_some() && first.previous.is_none());
    let last: Paginated<MemberView> = app
        .get(&format!("{}?page_size=2&page=3", memberships(org)))
        .await
        .good();
    assert_eq!(last.results.len(), 1);
    assert_eq!(last.results[0].user.email, "other@example.com");
}

#[tokio::test]
async fn members_are_managed_by_owners_and_administrators_only() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let (_, manager) = member(&app, "manager@example.com", Role::Manager).await;
    let (_, reviewer) = member(&app, "reviewer@example.com", Role::Reviewer).await;
    let annotator = app.annotator_token.clone();
    for token in [manager.as_str(), reviewer.as_str(), annotator.as_str()] {
        for (method, path, body) in [
            (Method::GET, memberships(org), None),
            (
                Method::POST,
                memberships(org),
                Some(json!({"email": "x@example.com"})),
            ),
            (
                Method::PATCH,
                membership(org, 1),
                Some(json!({"role": "Owner"})),
            ),
            (Method::DELETE, membership(org, 1), None),
        ] {
            let err = app
                .send(method.clone(), &path, Some(token), body.as_ref())
                .await
                .bad();
            assert_eq!(err.status_code, 403, "{method} {path}: {err:?}");
            assert_eq!(err.code, ErrorCode::PermissionDenied);
        }
    }
    let (status, _) = app.send(Method::GET, &memberships(org), None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_role_change_or_a_deactivation_holds_from_the_next_request() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let (id, token) = member(&app, "manager@example.com", Role::Manager).await;
    let t = Some(token.as_str());
    set_password(&app, "manager@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("manager@example.com").await;
    let project = json!({"title": "P", "label_config": crate::helpers::CLS});

    // Cached as a Manager by these requests...
    let (status, body) = app
        .send(Method::POST, "/api/projects/", t, Some(&project))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(web.get("/projects").await.status, 200);
    // ...and an Annotator at the very next one.
    let changed: MemberView = app
        .patch(&membership(org, id), json!({"role": "Annotator"}))
        .await
        .good();
    assert_eq!(changed.role, "Annotator");
    let err = app
        .send(Method::POST, "/api/projects/", t, Some(&project))
        .await
        .bad();
    assert_eq!(err.code, ErrorCode::PermissionDenied);
    let me: WhoAmIView = app
        .send(Method::GET, "/api/current-user", t, None)
        .await
        .good();
    assert_eq!(me.organization_membership.role, "Annotator");

    // Deactivated: neither the token nor the web session works, at once.
    let (status, _) = app.delete(&membership(org, id)).await;
    assert_eq!(status, 204);
    let err = app.send(Method::GET, "/api/projects/", t, None).await.bad();
    assert_eq!(
        (err.status_code, err.code),
        (401, ErrorCode::AuthenticationFailed)
    );
    let page = web.get("/projects").await;
    assert_eq!(page.status, 303, "signed out");
    assert!(page.location.as_deref().unwrap_or("").starts_with("/login"));
    let mut again = WebClient::new(&app);
    let login = again.get("/login").await;
    assert_eq!(login.status, 200);
    let refused = again
        .post(
            "/login",
            &[
                ("email", "manager@example.com"),
                ("password", crate::helpers::web::PASSWORD),
            ],
        )
        .await;
    assert_ne!(
        refused.status, 303,
        "a deactivated member cannot sign in to the organization"
    );
    let listed: Paginated<MemberView> = app.get(&memberships(org)).await.good();
    let row = listed
        .results
        .iter()
        .find(|m| m.user.id == id)
        .expect("kept");
    assert!(!row.active, "deactivated, not removed");
    // Deactivating twice changes nothing.
    assert_eq!(app.delete(&membership(org, id)).await.0, 204);

    // Reactivated, and in force at once.
    let back: MemberView = app
        .patch(&membership(org, id), json!({"active": true}))
        .await
        .good();
    assert!(back.active);
    let (status, _) = app.send(Method::GET, "/api/projects/", t, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_last_owner_stays_and_only_an_owner_makes_or_unmakes_one() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let me: WhoAmIView = app.get("/api/current-user").await.good();
    let owner = me.id;
    let (admin_id, admin_token) =
        member(&app, "administrator@example.com", Role::Administrator).await;
    let admin = Some(admin_token.as_str());

    // The only Owner can be neither demoted nor deactivated, even by themselves.
    for (method, body) in [
        (Method::PATCH, Some(json!({"role": "Administrator"}))),
        (Method::PATCH, Some(json!({"active": false}))),
        (Method::DELETE, None),
    ] {
        let err = app
            .send(
                method.clone(),
                &membership(org, owner),
                Some(&app.token),
                body.as_ref(),
            )
            .await
            .bad();
        assert_eq!(
            (err.status_code, err.code),
            (400, ErrorCode::LastOwner),
            "{method}"
        );
    }
    // An Administrator may not touch an Owner, nor make one.
    for (method, path, body) in [
        (
            Method::PATCH,
            membership(org, owner),
            Some(json!({"role": "Manager"})),
        ),
        (Method::DELETE, membership(org, owner), None),
        (
            Method::PATCH,
            membership(org, admin_id),
            Some(json!({"role": "Owner"})),
        ),
        (
            Method::POST,
            memberships(org),
            Some(json!({"email": "boss@example.com", "role": "Owner"})),
        ),
    ] {
        let err = app
            .send(method.clone(), &path, admin, body.as_ref())
            .await
            .bad();
        assert_eq!(err.status_code, 403, "{method} {path}: {err:?}");
    }
    assert_eq!(
        app.rows("users").await,
        4,
        "no user was made by the refused add"
    );
    // An Owner makes another Owner; then the first may step down.
    let promoted: MemberView = app
        .patch(&membership(org, admin_id), json!({"role": "Owner"}))
        .await
        .good();
    assert_eq!(promoted.role, "Owner");
    let stepped: MemberView = app
        .patch(&membership(org, owner), json!({"role": "Manager"}))
        .await
        .good();
    assert_eq!(stepped.role, "Manager");
    // The new Owner is now the last one: the old one, a Manager, cannot manage members.
    let err = app.delete(&membership(org, admin_id)).await.bad();
    assert_eq!(err.status_code, 403);
    let err = app
        .send(Method::DELETE, &membership(org, admin_id), admin, None)
        .await
        .bad();
    assert_eq!(err.code, ErrorCode::LastOwner);
    // A deactivated Owner does not count.
    let (status, _) = app
        .send(
            Method::PATCH,
            &membership(org, owner),
            admin,
            Some(&json!({"role": "Owner", "active": false})),
        )
        .await;
    assert_eq!(status, 200);
    let err = app
        .send(
            Method::PATCH,
            &membership(org, admin_id),
            admin,
            Some(&json!({"role": "Manager"})),
        )
        .await
        .bad();
    assert_eq!(err.code, ErrorCode::LastOwner);
}

#[tokio::test]
async fn another_organizations_members_are_not_found() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let other: WhoAmIView = app
        .send(
            Method::GET,
            "/api/current-user",
            Some(&app.other_token),
            None,
        )
        .await
        .good();
    let annotator: WhoAmIView = app
        .send(
            Method::GET,
            "/api/current-user",
            Some(&app.annotator_token),
            None,
        )
        .await
        .good();
    let theirs = other.active_organization;
    let other_token = Some(app.other_token.as_str());
    // Their Owner reaches nothing of ours...
    for (method, path, body) in [
        (Method::GET, format!("/api/organizations/{org}"), None),
        (Method::GET, memberships(org), None),
        (
            Method::POST,
            memberships(org),
            Some(json!({"email": "x@example.com"})),
        ),
        (
            Method::PATCH,
            membership(org, annotator.id),
            Some(json!({"role": "Manager"})),
        ),
        (Method::DELETE, membership(org, annotator.id), None),
    ] {
        let err = app
            .send(method.clone(), &path, other_token, body.as_ref())
            .await
            .bad();
        assert_eq!(err.status_code, 404, "{method} {path}: {err:?}");
    }
    // ...and ours nothing of theirs, nor their users through our organization.
    for (method, path, body) in [
        (Method::GET, format!("/api/organizations/{theirs}"), None),
        (Method::GET, memberships(theirs), None),
        (Method::DELETE, membership(theirs, other.id), None),
        (
            Method::PATCH,
            membership(org, other.id),
            Some(json!({"role": "Manager"})),
        ),
        (Method::DELETE, membership(org, other.id), None),
        (
            Method::PATCH,
            membership(org, 999_999),
            Some(json!({"role": "Manager"})),
        ),
    ] {
        let err = app
            .send(method.clone(), &path, Some(&app.token), body.as_ref())
            .await
            .bad();
        assert_eq!(err.status_code, 404, "{method} {path}: {err:?}");
    }
    let (status, _) = app
        .send(Method::GET, "/api/current-user", other_token, None)
        .await;
    assert_eq!(status, 200, "untouched");
}

#[tokio::test]
async fn what_a_member_is_added_with_has_limits() {
    let app = TestApp::spawn().await;
    let org = main_org(&app).await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    bad_field(
        app.post(&memberships(org), json!({"email": long_email}))
            .await,
        "email",
    );
    let long_name = "n".repeat(151);
    for field in ["first_name", "last_name"] {
        bad_field(
            app.post(
                &memberships(org),
                json!({"email": "x@example.com", field: long_name}),
            )
            .await,
            field,
        );
    }
    let fine = "n".repeat(150);
    let added: MemberView = app
        .post(
            &memberships(org),
            json!({"email": "x@example.com", "first_name": fine}),
        )
        .await
        .created();
    assert_eq!(added.user.first_name.chars().count(), 150);
    assert_eq!(
        prompter::limits::MAX_MEMBERS_PER_ORGANIZATION,
        10_000,
        "the README's limits table says so"
    );
}
