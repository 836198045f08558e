//! The audit log page: who changed what and when, newest first, filtered in plain words (who,
//! what happened, on what, between which days), each entry's object linked to its page where
//! it has one and its changed fields in words. Owners, Administrators and Managers, as in the
//! API.
use crate::services::audit;
use crate::state::AppState;
use crate::views::audit::{AuditChangeView, AuditEntryView, AuditLogQuery};
use crate::web::page::{Frame, Page, PageResult, render};
use crate::web::pages::{Pager, page_request};
use crate::web::problems::{Input, problems};
use crate::web::{PageError, Visitor};
use actix_web::web;
use entity::enums::{AuditAction, AuditActor, AuditObject};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Registers `/audit-log`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit-log", web::get().to(page));
}

/// The filter form as typed (every field text, empty when not used), and the page number.
#[derive(Debug, Default, Deserialize, Serialize)]
struct FilterForm {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object_type: String,
    #[serde(default)]
    object_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default, skip_serializing)]
    page: Option<String>,
}

impl FilterForm {
    fn query(&self) -> AuditLogQuery {
        let given = |s: &String| Some(s.clone()).filter(|s| !s.trim().is_empty());
        AuditLogQuery {
            actor: given(&self.actor),
            action: given(&self.action),
            object_type: given(&self.object_type),
            object_id: given(&self.object_id),
            since: given(&self.since),
            until: given(&self.until),
        }
    }

    /// The page's own URL with these filters, ready for `page=`.
    fn base(&self) -> String {
        let mut url = "/audit-log?".to_string();
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object_type", &self.object_type),
            ("object_id", &self.object_id),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.trim().is_empty() {
                url.push_str(name);
                url.push('=');
                url.push_str(&crate::util::url::encode(
                    value.trim(),
                    crate::util::url::Part::QueryValue,
                ));
                url.push('&');
            }
        }
        url
    }
}

/// One choice of a filter's select.
#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
}

/// An entry as the page shows it.
#[derive(Serialize)]
struct Row {
    id: i64,
    created_at: String,
    who: String,
    what: String,
    object: String,
    object_id: i64,
    page: &'static str,
    changes: Vec<String>,
}

#[derive(Serialize)]
struct AuditPage {
    rows: Vec<Row>,
    count: u64,
    #[serde(flatten)]
    pager: Pager,
    form: FilterForm,
    actors: Vec<Choice>,
    actions: Vec<Choice>,
    objects: Vec<Choice>,
}

impl Page for AuditPage {
    const TEMPLATE: &'static str = "audit.html";
}

/// An action in words.
fn action_words(a: AuditAction) -> &'static str {
    match a {
        AuditAction::Create => "created",
        AuditAction::Update => "changed",
        AuditAction::Delete => "deleted",
        AuditAction::Import => "imported into",
        AuditAction::RunStart => "started",
        AuditAction::RunCancel => "canceled",
        AuditAction::RefineStart => "started",
        AuditAction::OptimizeStart => "started",
        AuditAction::Deploy => "deployed a version of",
        AuditAction::LabelMove => "moved a label of",
        AuditAction::KeySet => "set the key of",
        AuditAction::KeyRotated => "replaced the key of",
        AuditAction::KeyRemoved => "removed the key of",
        AuditAction::MemberRoleChanged => "changed the role of",
        AuditAction::TokenCreate => "created",
        AuditAction::TokenRevoke => "revoked",
        AuditAction::SyncStart => "started a sync of",
        AuditAction::PushStart => "started a push of",
        AuditAction::SignIn => "signed in",
        AuditAction::SignInFailed => "failed to sign in",
    }
}

/// An action as the filter offers it.
fn action_choice(a: AuditAction) -> &'static str {
    match a {
        AuditAction::Create => "Created something",
        AuditAction::Update => "Changed something",
        AuditAction::Delete => "Deleted something",
        AuditAction::Import => "Imported",
        AuditAction::RunStart => "Started a run",
        AuditAction::RunCancel => "Canceled a run",
        AuditAction::RefineStart => "Started a refinement",
        AuditAction::OptimizeStart => "Started an optimization",
        AuditAction::Deploy => "Deployed a version",
        AuditAction::LabelMove => "Moved a label",
        AuditAction::KeySet => "Set a provider key",
        AuditAction::KeyRotated => "Replaced a provider key",
        AuditAction::KeyRemoved => "Removed a provider key",
        AuditAction::MemberRoleChanged => "Changed a member's role",
        AuditAction::TokenCreate => "Created an API token",
        AuditAction::TokenRevoke => "Revoked an API token",
        AuditAction::SyncStart => "Started a Label Studio sync",
        AuditAction::PushStart => "Started a Label Studio push",
        AuditAction::SignIn => "Signed in",
        AuditAction::SignInFailed => "Failed to sign in",
    }
}

/// A kind of object in words.
fn object_words(o: AuditObject) -> &'static str {
    match o {
        AuditObject::Project => "project",
        AuditObject::Task => "task",
        AuditObject::Annotation => "annotation",
        AuditObject::Prediction => "prediction",
        AuditObject::Prompt => "prompt",
        AuditObject::Version => "version",
        AuditObject::Run => "run",
        AuditObject::Refinement => "refinement",
        AuditObject::Optimization => "optimization",
        AuditObject::Schedule => "schedule",
        AuditObject::Comment => "comment",
        AuditObject::Connection => "provider connection",
        AuditObject::LabelStudioLink => "Label Studio link",
        AuditObject::Token => "API token",
        AuditObject::User => "account",
        AuditObject::Member => "member",
        AuditObject::Webhook => "webhook endpoint",
    }
}

/// Which page an object has, where it has one (and still exists as far as the entry knows):
/// the template builds the link from it and the object's id.
fn page_of(e: &AuditEntryView) -> &'static str {
    if e.action == AuditAction::Delete || e.object_id.is_none() {
        return "";
    }
    match e.object_type {
        AuditObject::Project => "project",
        AuditObject::Prompt => "prompt",
        AuditObject::Run => "run",
        AuditObject::Connection => "connections",
        AuditObject::LabelStudioLink => "label-studio",
        AuditObject::Webhook => "webhook",
        _ => "",
    }
}

/// A field name in words: `max_few_shot_examples` → "max few shot examples".
fn field_words(name: &str) -> String {
    name.trim_end_matches("_id").replace('_', " ")
}

/// A value in words: text as is, nothing as "nothing", lists joined.
fn value_words(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) if s.is_empty() => "nothing".into(),
        Value::String(s) => format!("“{s}”"),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(value_words).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A changed field in words.
fn change_words(c: &AuditChangeView) -> String {
    let field = field_words(&c.field);
    if let Some(state) = &c.secret {
        return format!("{field} {state} (the value is never recorded)");
    }
    match (&c.old, &c.new) {
        (Some(old), Some(new)) => {
            format!("{field}: {} → {}", value_words(old), value_words(new))
        }
        (None, Some(new)) => format!("{field}: {}", value_words(new)),
        (Some(old), None) => format!("{field}: was {}", value_words(old)),
        (None, None) => field,
    }
}

fn row(e: AuditEntryView) -> Row {
    let who = match e.actor_type {
        AuditActor::User => e.actor_email.clone().unwrap_or_else(|| "someone".into()),
        AuditActor::System => "Prompter".into(),
        AuditActor::Schedule => "a schedule".into(),
    };
    let object = match e.object_type {
        AuditObject::User => String::new(),
        kind => format!("{} “{}”", object_words(kind), e.object_title),
    };
    Row {
        id: e.id,
        created_at: e.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        who,
        what: action_words(e.action).to_string(),
        page: page_of(&e),
        object_id: e.object_id.unwrap_or_default(),
        object,
        changes: e.changes.iter().map(change_words).collect(),
    }
}

/// The filter form's inputs, by the names errors give them.
fn inputs() -> Vec<Input> {
    vec![
        Input::choice(&["actor"], "actor", "Who"),
        Input::choice(&["action"], "action", "What happened"),
        Input::choice(&["object_type"], "object_type", "On what"),
        Input::text(&["object_id"], "object_id", "Object number"),
        Input::text(&["since"], "since", "From"),
        Input::text(&["until"], "until", "Until"),
    ]
}

async fn page(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<FilterForm>,
) -> PageResult {
    let caller = visitor.admin()?;
    let form = q.into_inner();
    let request = page_request(form.page.as_deref());
    let (rows, count, number, errors) = match audit::Filter::parse(&form.query()) {
        Ok(filter) => {
            let (found, count, located) = audit::list(&state.db, &caller, &filter, request).await?;
            let rows = found.into_iter().map(|m| row(m.into())).collect();
            (rows, count, located.number, vec![])
        }
        Err(err) => {
            let errors = problems(PageError::from(err), &inputs())?;
            (vec![], 0, 1, errors)
        }
    };
    let actors = audit::actors(&state.db, &caller)
        .await?
        .into_iter()
        .map(|(id, email)| Choice {
            value: id.to_string(),
            label: email,
        })
        .collect();
    let page = AuditPage {
        rows,
        count,
        pager: Pager::new(number, count, form.base()),
        actors,
        actions: AuditAction::ALL
            .iter()
            .map(|a| Choice {
                value: a.as_str().into(),
                label: action_choice(*a).into(),
            })
            .collect(),
        objects: AuditObject::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str().into(),
                label: object_words(*o).into(),
            })
            .collect(),
        form,
    };
    render(
        Frame::of(&visitor, "audit-log").with_problems(errors),
        &page,
    )
}
