//! The OpenAPI document (generated from the handlers by utoipa) at `/openapi.json`, and an
//! offline Swagger UI at `/docs/`. It describes both HTTP front ends, the API ([`crate::routes`])
//! and the ML backend protocol ([`crate::ml_backend`]), so it sits above them, beside `startup`.
use crate::error::ErrorCode;
use crate::ml_backend::routes as ml;
use crate::routes::{
    annotations, audit, evaluation, health, jobs, label_studio, live, llm_cache, members, metrics,
    model_providers, optimizations, predictions, projects, prompts, refine, registry, runs, tasks,
    users, version, versions, webhooks,
};
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
        version::version, health::health, health::ready, metrics::metrics,
        users::whoami, users::current_user,
        members::get_organization, members::list, members::add, members::update, members::deactivate,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        projects::import, projects::validate_project_config, projects::validate_config,
        projects::delete_all_tasks,
        tasks::list, tasks::create, tasks::get, tasks::update, tasks::delete,
        annotations::list, annotations::create, annotations::get, annotations::update, annotations::delete,
        predictions::list, predictions::create, predictions::get, predictions::update, predictions::delete,
        prompts::list, prompts::create, prompts::get, prompts::update, prompts::delete, prompts::compatible_projects,
        versions::default_name, versions::list, versions::create, versions::get, versions::update, versions::delete,
        versions::cost_estimate, versions::calibrate, versions::uncalibrate,
        live::predict, refine::refine_prompt, refine::get_refined_prompt,
        optimizations::create_optimization, optimizations::estimate_optimization,
        optimizations::list_optimizations, optimizations::get_optimization,
        optimizations::cancel_optimization,
        runs::list, runs::create, runs::cancel, runs::batch_predictions, runs::batch_failed_predictions,
        evaluation::subsets, evaluation::subset_tasks, evaluation::indicators, evaluation::indicator,
        evaluation::acceptance, evaluation::accept,
        model_providers::list, model_providers::create, model_providers::provider_choices,
        model_providers::get, model_providers::update, model_providers::delete,
        llm_cache::get_llm_cache, llm_cache::clear_llm_cache,
        label_studio::create, label_studio::get, label_studio::update, label_studio::delete,
        label_studio::sync, label_studio::push,
        registry::list_comments, registry::create_comment, registry::list_schedules,
        registry::create_schedule, registry::get_schedule, registry::update_schedule,
        registry::delete_schedule, registry::preview_schedule, registry::export, registry::import,
        registry::list_labels, registry::set_label, registry::delete_label, registry::labeled_version,
        jobs::list, jobs::get, jobs::cancel,
        audit::list,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::test, webhooks::deliveries,
        ml::health, ml::setup, ml::predict, ml::webhook, ml::versions, ml::metrics,
    ),
    components(schemas(crate::error::ErrorBody, crate::ml_backend::error::MlErrorBody)),
    servers((url = "/", description = "The server that serves this document")),
    modifiers(
        &TokenAuth,
        &StandardResponses,
        &OperationIds,
        &CreateBodies,
        &QueryValues,
        &DropUnused
    ),
    security(("Token" = [])),
    tags(
        (name = "ops", description = "Server version, liveness, readiness and metrics"),
        (name = "users", description = "The current user"),
        (name = "organizations", description = "The organization and its members (Owner or Administrator)"),
        (name = "projects", description = "Labeling projects"),
        (name = "tasks", description = "Tasks of a project"),
        (name = "annotations", description = "Annotations of tasks"),
        (name = "predictions", description = "Predictions of tasks"),
        (name = "prompts", description = "Prompts: input fields and output classes over projects"),
        (name = "versions", description = "Prompt versions bound to a provider model"),
        (name = "runs", description = "Inference runs of a version over a project subset, and their results"),
        (name = "evaluation", description = "Subsets, per-task drill-down and indicators of runs"),
        (name = "model_providers", description = "LLM provider connections; keys are write-only and encrypted at rest"),
        (name = "registry", description = "The model registry: a prompt's comments, schedules, deployment labels (`production` is the deployed version), and export and import as a portable document (tags, domain, status, parameters and the deployed version are fields of the prompt)"),
        (name = "label_studio", description = "A project's link to a Label Studio instance: sync tasks and annotations in, push a run's predictions out"),
        (name = "jobs", description = "The job queue: every piece of background work (inference runs, refinements, Label Studio syncs and pushes, ML-backend events, schedule firings, webhook deliveries), claimed under a lease by any worker, retried with backoff, taken over when its worker dies"),
        (name = "audit", description = "The audit log: who changed what and when, in the caller's organization (secrets only as set/changed/removed)"),
        (name = "webhooks", description = "Outbound webhooks (Owner or Administrator): endpoints that receive signed events (runs ending, budgets, refinements, syncs, schedule firings, deployments), retried for a day, with their delivery log"),
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
                // Each error an operation can meet, documented under its code's status.
                let mut wanted: Vec<(ErrorCode, &str)> = vec![];
                if !public {
                    wanted.push((
                        ErrorCode::NotAuthenticated,
                        "No token, or a token that matches no active user.",
                    ));
                }
                if has(ParameterIn::Query) {
                    wanted.push((ErrorCode::InvalidQuery, "A query value is invalid."));
                }
                if op.request_body.is_some() {
                    wanted.push((
                        ErrorCode::ValidationError,
                        "The body is not valid JSON, or a field is invalid.",
                    ));
                    wanted.push((
                        ErrorCode::PayloadTooLarge,
                        "The body is larger than the server's limit.",
                    ));
                    wanted.push((
                        ErrorCode::UnsupportedMediaType,
                        "The body is not sent as `application/json`.",
                    ));
                }
                if has(ParameterIn::Path) {
                    wanted.push((
                        ErrorCode::NotFound,
                        "No such object in the caller's organization.",
                    ));
                } else if paged {
                    wanted.push((ErrorCode::InvalidPage, "Invalid page."));
                }
                for (code, why) in wanted {
                    op.responses
                        .responses
                        .entry(code.status().as_str().to_string())
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

/// Create operations whose body type is shared with the PATCH of the same object but which
/// require some of its fields (as Label Studio's serializers do): (path, shared schema, the
/// create schema documented instead, the fields it requires, non-null).
const CREATE_REQUIRES: &[(&str, &str, &str, &[&str])] = &[
    (
        "/api/prompts/",
        "PromptInput",
        "PromptCreateInput",
        &["title"],
    ),
    (
        "/api/predictions/",
        "PredictionInput",
        "PredictionCreateInput",
        &["task"],
    ),
    (
        "/api/prompts/{id}/schedules",
        "ScheduleInput",
        "ScheduleCreateInput",
        &["cron", "project"],
    ),
];

/// Drops the component schemas nothing refers to (a view only ever inlined, as the items of a
/// page are), so the document has no unused component (redocly's `no-unused-components`).
struct DropUnused;

impl Modify for DropUnused {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        loop {
            let Ok(text) = serde_json::to_string(&*openapi) else {
                return;
            };
            let Some(components) = openapi.components.as_mut() else {
                return;
            };
            let unused: Vec<String> = components
                .schemas
                .keys()
                .filter(|name| !text.contains(&format!("\"#/components/schemas/{name}\"")))
                .cloned()
                .collect();
            if unused.is_empty() {
                return;
            }
            for name in unused {
                components.schemas.remove(&name);
            }
        }
    }
}

/// Documents the create bodies of [`CREATE_REQUIRES`]: a copy of the shared schema whose
/// required fields are required and not nullable, so the document says what the server
/// enforces on create while PATCH keeps every field optional.
struct CreateBodies;

impl Modify for CreateBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{Schema, SchemaType, Type};
        use utoipa::openapi::{Ref, RefOr};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (path, shared, create, required) in CREATE_REQUIRES {
            let Some(RefOr::T(Schema::Object(mut object))) =
                components.schemas.get(*shared).cloned()
            else {
                continue;
            };
            for field in *required {
                if !object.required.iter().any(|r| r == field) {
                    object.required.push(field.to_string());
                }
                if let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(*field)
                    && let SchemaType::Array(types) = &property.schema_type
                {
                    let mut kept: Vec<Type> = types
                        .iter()
                        .filter(|t| **t != Type::Null)
                        .cloned()
                        .collect();
                    property.schema_type = if kept.len() == 1 {
                        SchemaType::Type(kept.remove(0))
                    } else {
                        SchemaType::Array(kept)
                    };
                }
            }
            components
                .schemas
                .insert(create.to_string(), RefOr::T(Schema::Object(object)));
            let body = openapi
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
                .and_then(|op| op.request_body.as_mut());
            if let Some(RefOr::T(body)) = body {
                for content in body.content.values_mut() {
                    let RefOr::T(content) = content else {
                        continue;
                    };
                    content.schema = Some(RefOr::Ref(Ref::from_schema_name(*create)));
                }
            }
        }
    }
}

/// Query values are strings on the wire, never JSON's `null`: the document's query
/// parameters drop the `null` that optional Rust fields give their type, and `page_size`
/// says how the server treats large values.
struct QueryValues;

impl Modify for QueryValues {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::{Schema, SchemaType, Type};
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                for parameter in op.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    if parameter.parameter_in != ParameterIn::Query {
                        continue;
                    }
                    if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
                        && let SchemaType::Array(types) = &object.schema_type
                    {
                        let mut kept: Vec<Type> = types
                            .iter()
                            .filter(|t| **t != Type::Null)
                            .cloned()
                            .collect();
                        object.schema_type = if kept.len() == 1 {
                            SchemaType::Type(kept.remove(0))
                        } else {
                            SchemaType::Array(kept)
                        };
                    }
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

/// Each documented path template (split into segments, `None` for a `{parameter}`) and the
/// methods the document gives it, as an `Allow` header value (`GET, PATCH, DELETE`). Built
/// once from the document itself, so a 405's `Allow` and the document cannot disagree.
static ALLOWED: std::sync::LazyLock<Vec<(Vec<Option<String>>, String)>> =
    std::sync::LazyLock::new(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, served)| served.then_some(name))
                .collect::<Vec<_>>()
                .join(", ");
                let segments = segments(template)
                    .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                    .collect();
                (segments, methods)
            })
            .collect()
    });

/// The segments of a path, ignoring a trailing slash (the server serves both forms).
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_suffix('/').unwrap_or(path).split('/')
}

/// The methods the document gives the path template that `path` matches, as an `Allow`
/// header value; where two templates match (`/api/prompts/compatible-projects` and
/// `/api/prompts/{id}/`), the one with more literal segments wins, as in the router.
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    let wanted: Vec<&str> = segments(path).collect();
    ALLOWED
        .iter()
        .filter(|(template, _)| {
            template.len() == wanted.len()
                && template.iter().zip(&wanted).all(|(t, w)| match t {
                    Some(literal) => literal == w,
                    None => !w.is_empty(),
                })
        })
        .max_by_key(|(template, _)| template.iter().filter(|t| t.is_some()).count())
        .map(|(_, methods)| methods.as_str())
}

/// Middleware: a 405 answer gets the `Allow` header RFC 9110 requires, listing the methods
/// the document gives the path (looked up only on that answer's path).
pub async fn allow_on_405(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{ALLOW, HeaderValue};
    let mut res = next.call(req).await?;
    if res.status() == actix_web::http::StatusCode::METHOD_NOT_ALLOWED
        && !res.headers().contains_key(ALLOW)
        && let Some(methods) = allowed_methods(res.request().path())
    {
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(methods));
    }
    Ok(res)
}

/// The document as `/openapi.json` serves it (compact JSON), built at its first request and
/// kept as bytes only: the document's own structures, held by every HTTP worker since start-up,
/// were about 12 MB of an idle server's 18 MB of heap (massif).
static DOCUMENT: std::sync::LazyLock<web::Bytes> = std::sync::LazyLock::new(|| {
    serde_json::to_vec(&ApiDoc::openapi())
        .unwrap_or_default()
        .into()
});

/// Registers `/openapi.json`, `/docs/` (Swagger UI, reading `/openapi.json`) and the `/docs`
/// redirect.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/openapi.json",
        web::get().to(|| async {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(DOCUMENT.clone())
        }),
    )
    .service(
        SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
    )
    .route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn allow_names_the_documented_methods_of_the_matching_template() {
        assert_eq!(allowed_methods("/api/prompts/"), Some("GET, POST"));
        assert_eq!(allowed_methods("/api/prompts"), Some("GET, POST"));
        assert_eq!(
            allowed_methods("/api/prompts/7/"),
            Some("GET, PATCH, DELETE")
        );
        // The literal template wins over `/api/prompts/{id}/`.
        assert_eq!(
            allowed_methods("/api/prompts/compatible-projects"),
            Some("GET")
        );
        assert_eq!(allowed_methods("/api/nothing/here"), None);
        assert_eq!(allowed_methods("/api/prompts//"), None);
    }
}
