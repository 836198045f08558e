//! Members: the organization's people with their roles, adding one by email, changing a role,
//! deactivating and reactivating. Owners and Administrators only, as in the API; only an Owner
//! is offered the Owner role and controls over Owners.
use super::{Pager, page_request};
use crate::auth::{Admin, Role};
use crate::services::members as service;
use crate::state::AppState;
use crate::views::members::{MemberInput, MemberUpdate};
use crate::web::Visitor;
use crate::web::forms::Form;
use crate::web::page::{Frame, Page, PageResult, redirect, render};
use crate::web::problems::{Input, Problem, problems};
use actix_web::web;
use serde::{Deserialize, Serialize};

/// Registers `/members`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/members", web::get().to(list))
        .route("/members", web::post().to(add))
        .route("/members/{user_id}/role", web::post().to(change_role))
        .route("/members/{user_id}/active", web::post().to(set_active));
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

/// The add form, as typed (kept after an error).
#[derive(Debug, Default, Deserialize, Serialize)]
struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

#[derive(Deserialize)]
struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// A member as the table shows them.
#[derive(Serialize)]
struct MemberRow {
    user_id: i64,
    email: String,
    name: String,
    role: String,
    active: bool,
    can_sign_in: bool,
    /// Whether the visitor may change this member (an Owner's row only for an Owner).
    changeable: bool,
    /// The visitor's own row.
    me: bool,
}

/// The members page: a page of members, the roles the visitor may give and the add form.
#[derive(Serialize)]
struct MembersPage {
    members: Vec<MemberRow>,
    #[serde(flatten)]
    pager: Pager,
    roles: Vec<&'static str>,
    form: AddForm,
}

impl Page for MembersPage {
    const TEMPLATE: &'static str = "members.html";
}

/// The roles `caller` may give: all but Owner, which only an Owner gives.
fn roles_for(caller: &Admin) -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Owner || caller.role == Role::Owner)
        .map(Role::as_str)
        .collect()
}

async fn page(
    state: &AppState,
    visitor: &Visitor,
    page: Option<&str>,
    form: AddForm,
    errors: Vec<Problem>,
) -> PageResult {
    let caller = visitor.admin()?;
    let request = page_request(page);
    let (found, count, located) =
        service::list(&state.db, &caller, caller.organization_id, request).await?;
    let owner = caller.role == Role::Owner;
    let members = found
        .into_iter()
        .map(|(m, u)| MemberRow {
            user_id: u.id,
            name: format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_string(),
            changeable: owner || m.role != Role::Owner.as_str(),
            me: u.id == caller.user.id,
            can_sign_in: u.password_hash.is_some() && u.is_active,
            email: u.email,
            role: m.role,
            active: m.is_active,
        })
        .collect();
    let page = MembersPage {
        members,
        pager: Pager::new(located.number, count, "/members?"),
        roles: roles_for(&caller),
        form,
    };
    render(Frame::of(visitor, "members").with_problems(errors), &page)
}

async fn list(
    state: web::Data<AppState>,
    visitor: Visitor,
    q: web::Query<PageQuery>,
) -> PageResult {
    page(
        &state,
        &visitor,
        q.page.as_deref(),
        AddForm::default(),
        vec![],
    )
    .await
}

fn add_inputs() -> Vec<Input> {
    vec![
        Input::text(&["email"], "email", "Email"),
        Input::choice(&["role"], "role", "Role"),
        Input::text(&["first_name"], "first_name", "First name"),
        Input::text(&["last_name"], "last_name", "Last name"),
    ]
}

fn typed(raw: &str) -> Option<String> {
    Some(raw.trim().to_string()).filter(|s| !s.is_empty())
}

async fn add(state: web::Data<AppState>, form: Form<AddForm>) -> PageResult {
    let caller = form.visitor.admin()?;
    let input = MemberInput {
        email: form.data.email.clone(),
        role: typed(&form.data.role),
        first_name: typed(&form.data.first_name),
        last_name: typed(&form.data.last_name),
    };
    let added = service::add(
        &state.db,
        &state.auth_cache,
        &caller,
        caller.organization_id,
        input,
    )
    .await;
    match added {
        Ok(_) => Ok(redirect("/members")),
        Err(e) => {
            let errors = problems(e.into(), &add_inputs())?;
            page(&state, &form.visitor, None, form.data, errors).await
        }
    }
}

/// Applies `change` to member `user_id`, or shows the page again with why not.
async fn change(
    state: &AppState,
    visitor: &Visitor,
    user_id: i64,
    change: MemberUpdate,
) -> PageResult {
    let caller = visitor.admin()?;
    let done = service::update(
        &state.db,
        &state.auth_cache,
        &caller,
        caller.organization_id,
        user_id,
        change,
    )
    .await;
    match done {
        Ok(_) => Ok(redirect("/members")),
        Err(e) => {
            let inputs = [Input::choice(&["role"], format!("role-{user_id}"), "Role")];
            let errors = problems(e.into(), &inputs)?;
            page(state, visitor, None, AddForm::default(), errors).await
        }
    }
}

async fn change_role(
    state: web::Data<AppState>,
    user_id: web::Path<i64>,
    form: Form<RoleForm>,
) -> PageResult {
    let update = MemberUpdate {
        role: Some(form.data.role.clone()),
        active: None,
    };
    change(&state, &form.visitor, *user_id, update).await
}

async fn set_active(
    state: web::Data<AppState>,
    user_id: web::Path<i64>,
    form: Form<ActiveForm>,
) -> PageResult {
    let active = match form.data.active.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            let error =
                crate::error::ApiError::field("active", "Choose to deactivate or reactivate.");
            let errors = problems(error.into(), &[])?;
            return page(&state, &form.visitor, None, AddForm::default(), errors).await;
        }
    };
    let update = MemberUpdate {
        role: None,
        active: Some(active),
    };
    change(&state, &form.visitor, *user_id, update).await
}
