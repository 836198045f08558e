//! Label configs with a typo (issue 20, item 7): a tag Label Studio does not know is refused by
//! the API (project create, update and validate, with Label Studio's error body) and by the web
//! app (the check as you type and the create form), naming the nearest known tag; an unknown
//! attribute is accepted, as Label Studio accepts it, and shown as a warning in the web app; a
//! config stored before the check still reads.
use crate::helpers::reply::{bad_field, field_errors};
use crate::helpers::web::{WebClient, set_password};
use crate::helpers::{CLS, Reply, TestApp};
use prompter::error::ErrorCode;
use prompter::views::Paginated;
use prompter::views::projects::ProjectView;
use serde::Deserialize;
use serde_json::json;

/// The config of the issue: a `<Choise>` where a `<Choice>` was meant.
const TYPO: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choise value="Neutral"/>
  </Choices>
</View>"#;

const TYPO_MESSAGE: &str = "line 6, column 5: unknown tag <Choise>: did you mean Choice?";

/// Valid, with an attribute Label Studio does not know (`choise` for `choice`).
const ODD_ATTRIBUTE: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choise="multiple">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
</View>"#;

/// The page script's config check, as far as these tests read it.
#[derive(Debug, Deserialize)]
struct ConfigCheck {
    ok: bool,
    message: Option<String>,
    line: Option<u64>,
    column: Option<u64>,
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    warnings: Vec<Warning>,
}

#[derive(Debug, Deserialize)]
struct Warning {
    message: String,
    line: Option<u64>,
}

async fn projects(app: &TestApp) -> u64 {
    app.get("/api/projects/")
        .await
        .good::<Paginated<ProjectView>>()
        .count
}

#[tokio::test]
async fn the_api_refuses_an_unknown_tag_with_label_studios_error_body() {
    let app = TestApp::spawn().await;
    // Create: 400, Label Studio's body, the stable code, the field and the nearest tag.
    let (status, raw) = app
        .post(
            "/api/projects/",
            json!({"title": "Typo", "label_config": TYPO}),
        )
        .await;
    assert_eq!(status, 400, "{raw}");
    for key in ["id", "status_code", "version", "detail", "exc_info", "code"] {
        assert!(raw.get(key).is_some(), "{key} missing from {raw}");
    }
    let error = bad_field((status, raw), "label_config");
    assert_eq!(error.code, ErrorCode::ValidationError);
    assert_eq!(error.detail, "Validation error");
    assert_eq!(field_errors(&error, "label_config"), [TYPO_MESSAGE]);
    assert_eq!(projects(&app).await, 0, "nothing was created");

    // Update: 400, and the stored config is unchanged.
    let id = app.project(CLS).await;
    let error = bad_field(
        app.patch(
            &format!("/api/projects/{id}/"),
            json!({"label_config": TYPO}),
        )
        .await,
        "label_config",
    );
    assert_eq!(field_errors(&error, "label_config"), [TYPO_MESSAGE]);
    let project: ProjectView = app.get(&format!("/api/projects/{id}/")).await.good();
    assert_eq!(project.label_config, CLS);

    // Label Studio's validate endpoints say the same.
    for path in [
        "/api/projects/validate/".to_string(),
        format!("/api/projects/{id}/validate/"),
    ] {
        let error = bad_field(
            app.post(&path, json!({"label_config": TYPO})).await,
            "label_config",
        );
        assert_eq!(
            field_errors(&error, "label_config"),
            [TYPO_MESSAGE],
            "{path}"
        );
    }

    // An attribute Label Studio does not know is accepted, as Label Studio accepts it.
    let created: ProjectView = app
        .post(
            "/api/projects/",
            json!({"title": "Odd", "label_config": ODD_ATTRIBUTE}),
        )
        .await
        .created();
    assert_eq!(
        created.parsed_label_config["sentiment"]["labels"],
        json!(["Positive", "Negative"])
    );
}

#[tokio::test]
async fn a_config_stored_before_the_check_still_reads() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = TestApp::spawn().await;
    let id = app.project(CLS).await;
    // Written straight to the database, as a config saved before unknown tags were refused.
    let stored = r#"<View><Text name="text" value="$text"/><CustomViewer name="v" value="$v"/><Choices name="sentiment" toName="text"><Choice value="Positive"/><Choice value="Negative"/></Choices></View>"#;
    let row = entity::project::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: entity::project::ActiveModel = row.into();
    row.label_config = Set(stored.to_string());
    row.update(&app.db).await.unwrap();
    let project: ProjectView = app.get(&format!("/api/projects/{id}/")).await.good();
    assert_eq!(
        project.parsed_label_config["sentiment"]["labels"],
        json!(["Positive", "Negative"])
    );
    // The web app's project page says what is wrong with it.
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    let page = web.get(&format!("/projects/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"config-warnings\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("unknown tag &lt;CustomViewer&gt;"));
}

#[tokio::test]
async fn the_web_app_names_the_typo_as_you_type_and_keeps_the_form() {
    let app = TestApp::spawn().await;
    set_password(&app, "admin@example.com").await;
    let mut web = WebClient::new(&app);
    web.sign_in("admin@example.com").await;
    web.get("/projects").await;
    let check = |config: &str| json!({ "label_config": config }).to_string().into_bytes();

    // As you type: invalid, at line 6, column 5, with the nearest tag.
    let answer = web.script("/app/validate-config", check(TYPO), true).await;
    assert_eq!(answer.status, 200);
    let body: ConfigCheck = serde_json::from_str(&answer.body).unwrap();
    assert!(!body.ok, "{body:?}");
    assert_eq!(
        body.message.as_deref(),
        Some("unknown tag <Choise>: did you mean Choice?")
    );
    assert_eq!((body.line, body.column), (Some(6), Some(5)));

    // An unknown attribute: valid, with a warning naming the attribute meant.
    let answer = web
        .script("/app/validate-config", check(ODD_ATTRIBUTE), true)
        .await;
    let body: ConfigCheck = serde_json::from_str(&answer.body).unwrap();
    assert!(body.ok, "{body:?}");
    assert_eq!(body.classes, vec!["Positive", "Negative"]);
    assert_eq!(body.warnings.len(), 1, "{body:?}");
    assert_eq!(body.warnings[0].line, Some(3));
    assert!(
        body.warnings[0]
            .message
            .contains(r#"unknown attribute "choise": did you mean "choice"?"#),
        "{body:?}"
    );

    // Sent anyway: the page comes back with the error and the config as typed; nothing made.
    let sent = web
        .post("/projects", &[("title", "Typo"), ("label_config", TYPO)])
        .await;
    assert_eq!(sent.status, 422, "{}", sent.body);
    assert!(
        sent.body
            .contains("unknown tag &lt;Choise&gt;: did you mean Choice?"),
        "{}",
        sent.body
    );
    assert!(
        sent.body.contains("&lt;Choise value=&quot;Neutral&quot;"),
        "the config typed is kept"
    );
    assert!(
        sent.body.contains("value=\"Typo\""),
        "the title typed is kept"
    );
    assert_eq!(projects(&app).await, 0);
}
