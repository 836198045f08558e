//! The OpenAPI document (generated from the handlers by utoipa) at `/openapi.json`, and an
//! offline Swagger UI at `/docs/`.
use super::{annotations, predictions, projects, tasks, users, version};
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

/// The API description of Prompter.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Prompter",
        description = "Label Studio Prompts, open and self-hostable: the Label Studio Enterprise \
            Prompts API and the Label Studio core API it runs on. Authenticate with \
            `Authorization: Token <token>` (or `Bearer <token>`).",
    ),
    paths(
        version::version,
        users::whoami, users::current_user,
        projects::list, projects::create, projects::get, projects::update, projects::delete,
        projects::import, projects::validate_project_config, projects::validate_config,
        projects::delete_all_tasks,
        tasks::list, tasks::create, tasks::get, tasks::update, tasks::delete,
        annotations::list, annotations::create, annotations::get, annotations::update, annotations::delete,
        predictions::list, predictions::create, predictions::get, predictions::update, predictions::delete,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&TokenAuth),
    security(("Token" = [])),
    tags(
        (name = "version", description = "Server version"),
        (name = "users", description = "The current user"),
        (name = "projects", description = "Labeling projects"),
        (name = "tasks", description = "Tasks of a project"),
        (name = "annotations", description = "Annotations of tasks"),
        (name = "predictions", description = "Predictions of tasks"),
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
    }
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
