//! The wire types: every struct that crosses the wire — request bodies, query parameters and
//! responses, anything deriving `ToSchema` or `IntoParams` — lives here, one file per area.
//!
//! **The rule.**
//! - A type that crosses the wire is defined in `views/<area>.rs`, nowhere else; routes,
//!   services, the engine, the Label Studio connector and the ML backend take their `*Input`
//!   and `*Query` types from here and build their `*View` types here. Each shape exists once:
//!   two wire types of one shape are one type (the service returns it, as the cost estimate
//!   does), and two views of one object share its common fields with `#[serde(flatten)]` (as
//!   `PromptView` and `PromptDetailView` share `PromptFields`).
//! - **Exception: vocabularies.** An enum of wire names (a status, a subset, a provider, an
//!   error code) stays beside the type that owns it and derives `ToSchema` there:
//!   `entity::enums` for stored ones, `llm::Provider`, `error::ErrorCode`; one that only a
//!   request option uses lives beside that request type here.
//! - **Exception: error bodies.** An error envelope stays with its error type
//!   (`error::ErrorBody`, `ml_backend::error::MlErrorBody`), which renders it.
//! - Views sit in the building-blocks layer: they name entities and the blocks beside them
//!   (`llm`, `label_config`, `pricing`, `pagination`, `auth`, `error`, `util`, ...) and nothing
//!   above (`services`, `engine`, `routes`, `label_studio`, `ml_backend`, `state`, ...).
//!   They hold shapes and pure conversions from entities; queries and domain rules stay in the
//!   services. Entities never go on the wire: each view is built from them here.
use crate::error::ApiError;
use crate::pagination::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub mod annotations;
pub mod audit;
pub mod evaluation;
pub mod jobs;
pub mod label_studio;
pub mod live;
pub mod members;
pub mod ml_backend;
pub mod model_providers;
pub mod ops;
pub mod optimizations;
pub mod predictions;
pub mod projects;
pub mod prompts;
pub mod refine;
pub mod registry;
pub mod runs;
pub mod tasks;
pub mod users;
pub mod versions;
pub mod webhooks;

/// A page of a DRF-paginated list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    /// Items matching the query, over all pages.
    pub count: u64,
    /// URL of the next page, or null.
    pub next: Option<String>,
    /// URL of the previous page, or null.
    pub previous: Option<String>,
    /// The items of this page.
    pub results: Vec<T>,
}

/// DRF page-number pagination parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PageParams {
    /// 1-based page number, or `last`.
    #[param(schema_with = page_schema)]
    pub page: Option<String>,
    /// Items per page: a positive integer; a value over the list's maximum is clamped to it,
    /// as in Label Studio (DRF's `max_page_size`), so any size is accepted.
    #[param(schema_with = page_size_schema)]
    pub page_size: Option<String>,
}

/// `page_size`: any positive integer (no upper bound: larger sizes are clamped, not refused).
fn page_size_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .minimum(Some(1))
        .build()
        .into()
}

/// `page`: a positive integer, `"last"`, or empty (the first page: DRF reads `page or 1`).
fn page_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(1)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .enum_values(Some(["last", ""])),
        )
        .build()
        .into()
}

impl PageParams {
    /// The validated page request: `default_size` items unless `page_size` says otherwise (at
    /// most `max_size`); an invalid page answers 404 "Invalid page." as DRF does.
    pub fn resolve(&self, default_size: u64, max_size: u64) -> Result<PageRequest, ApiError> {
        PageRequest::parse(
            self.page.as_deref(),
            self.page_size.as_deref(),
            default_size,
            max_size,
        )
    }
}
