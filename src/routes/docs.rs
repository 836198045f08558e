//! The OpenAPI document (generated from the handlers by utoipa) at `/openapi.json`, and an
//! offline Swagger UI at `/docs/`.
use super::{
    annotations, evaluation, health, label_studio, live, model_providers, predictions, projects,
    prompts, refine, registry, runs, tasks, users, version, versions,
};
use crate::ml_backend::routes as ml;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// The API description of Prompter.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Prompter",
        description = "Label Studio Prompts, open and self-hostable: the Label Studio Enterprise \
            Prompts API (prompts, versions, runs, indicators, provider connections) and the \
            Label Studio core API it runs on. Authenticate with \
            `Authorization: Token <token>` (or `Bearer <token>`).",
    ),
    paths(
        version::version, health::health, health::ready,
        users::whoami, users::current_user,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        projects::import, projects::validate_project_config, projects::validate_config,
        projects::delete_all_tasks,
        tasks::list, tasks::create, tasks::get, tasks::update, tasks::delete,
        annotations::list, annotations::create, annotations::get, annotations::update, annotations::delete,
        predictions::list, predictions::create, predictions::get, predictions::update, predictions::delete,
        prompts::list, prompts::create, prompts::get, prompts::update, prompts::delete, prompts::compatible_projects,
        versions::default_name, versions::list, versions::create, versions::get, versions::update, versions::delete,
        versions::cost_estimate, live::predict, refine::refine_prompt, refine::get_refined_prompt,
        runs::list, runs::create, runs::cancel, runs::batch_predictions, runs::batch_failed_predictions,
        evaluation::subsets, evaluation::subset_tasks, evaluation::indicators, evaluation::indicator,
        model_providers::list, model_providers::create, model_providers::provider_choices,
        model_providers::get, model_providers::update, model_providers::delete,
        label_studio::create, label_studio::get, label_studio::update, label_studio::delete,
        label_studio::sync, label_studio::push,
        registry::list_comments, registry::create_comment, registry::list_schedules,
        registry::create_schedule, registry::get_schedule, registry::update_schedule,
        registry::delete_schedule, registry::export, registry::import,
        ml::health, ml::setup, ml::predict, ml::webhook, ml::versions, ml::metrics,
    ),
    components(schemas(crate::error::ErrorBody, crate::ml_backend::error::MlErrorBody)),
    servers((url = "/", description = "The server that serves this document")),
    modifiers(&TokenAuth, &StandardResponses, &OperationIds),
    security(("Token" = [])),
    tags(
        (name = "ops", description = "Server version, liveness and readiness"),
        (name = "users", description = "The current user"),
        (name = "projects", description = "Labeling projects"),
        (name = "tasks", description = "Tasks of a project"),
        (name = "annotations", description = "Annotations of tasks"),
        (name = "predictions", description = "Predictions of tasks"),
        (name = "prompts", description = "Prompts: input fields and output classes over projects"),
        (name = "versions", description = "Prompt versions bound to a provider model"),
        (name = "runs", description = "Inference runs of a version over a project subset, and their results"),
        (name = "evaluation", description = "Subsets, per-task drill-down and indicators of runs"),
        (name = "model_providers", description = "LLM provider connections; keys are write-only and encrypted at rest"),
        (name = "registry", description = "The model registry: a prompt's comments, schedules, and export and import as a portable document (tags, domain, status, parameters and the deployed version are fields of the prompt)"),
        (name = "label_studio", description = "A project's link to a Label Studio instance: sync tasks and annotations in, push a run's predictions out"),
        (name = "ml_backend", description = "Each prompt as a Label Studio ML backend at `/ml/prompts/{id}`: HTTP Basic auth whose password is a Prompter token (or `Authorization: Token`); errors are `{\"status\", \"detail\", \"code\"}`"),
    )
)]
pub struct ApiDoc;

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "Token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <token>` or `Bearer <token>`",
            ))),
        );
        components.add_security_scheme(
            "Basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "ML backend routes: any user name, a Prompter API token as the password",
                    ))
                    .build(),
            ),
        );
    }
}

/// Documents the answers every operation can give by construction, so no handler has to
/// remember them: 401 wherever a token is required, 400 where query values or a body are read
/// (and 413/415 for bodies), 404 where a path names an object or a page is chosen. Responses
/// without a description get the status's reason.
struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::security::SecurityRequirement;
        for (path, item) in openapi.paths.paths.iter_mut() {
            let body = if path.starts_with("/ml/") {
                "MlErrorBody"
            } else {
                "ErrorBody"
            };
            for op in operations(item) {
                let params: Vec<(ParameterIn, String)> = op
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|p| match p {
                        RefOr::T(p) => Some((p.parameter_in.clone(), p.name.clone())),
                        RefOr::Ref(_) => None,
                    })
                    .collect();
                let has = |kind: ParameterIn| params.iter().any(|(k, _)| *k == kind);
                let paged = params.iter().any(|(_, name)| name == "page");
                let public = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.contains(&SecurityRequirement::default()));
                let mut wanted: Vec<(&str, &str)> = vec![];
                if !public {
                    wanted.push(("401", "No token, or a token that matches no active user."));
                }
                if has(ParameterIn::Query) {
                    wanted.push(("400", "A query value is invalid."));
                }
                if op.request_body.is_some() {
                    wanted.push(("400", "The body is not valid JSON, or a field is invalid."));
                    wanted.push(("413", "The body is larger than the server's limit."));
                    wanted.push(("415", "The body is not sent as `application/json`."));
                }
                if has(ParameterIn::Path) {
                    wanted.push(("404", "No such object in the caller's organization."));
                } else if paged {
                    wanted.push(("404", "Invalid page."));
                }
                for (code, why) in wanted {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| error_response(why, body));
                }
                for (code, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(response) = response
                        && response.description.is_empty()
                    {
                        response.description = reason(code).to_string();
                    }
                }
            }
        }
    }
}

/// Names every operation `<tag>_<handler>` (`projects_list`, `versions_cost_estimate`,
/// `ml_backend_predict`): unique as long as handler names are unique within a tag, which the
/// OpenAPI test checks. Generated clients name their functions after these ids.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
                if let (Some(tag), Some(name)) = (tag, op.operation_id.as_mut())
                    && !name.starts_with(&format!("{tag}_"))
                {
                    *name = format!("{tag}_{name}");
                }
            }
        }
    }
}

/// The operations of a path item.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// An error response whose body is the `schema` component.
fn error_response(
    description: &str,
    schema: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
        .into()
}

/// The reason phrase of a status code, for responses documented without a description.
fn reason(code: &str) -> &'static str {
    code.parse::<u16>()
        .ok()
        .and_then(|c| actix_web::http::StatusCode::from_u16(c).ok())
        .and_then(|c| c.canonical_reason())
        .unwrap_or("Response")
}

/// The OpenAPI document as pretty JSON, as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

/// Registers `/openapi.json`, `/docs/` and the `/docs` redirect.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header(("Location", "/docs/"))
                    .finish()
            }),
        );
}
