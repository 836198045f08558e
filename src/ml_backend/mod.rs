//! Prompts as Label Studio ML backends (shared/spec/ml-backend.md). Every prompt answers the ML
//! backend protocol under `/ml/prompts/{id}`: Label Studio connects to that URL with HTTP Basic
//! auth whose password is a Prompter API token; `/setup` reports the deployed version's
//! `model_version` and mirrors each Label Studio project into a Prompter project; `/predict`
//! answers through the run engine's plan and scheduler within Label Studio's time budget; and
//! annotation webhooks keep the mirror's ground truth, the prompt's few-shot examples, current.
mod auth;
pub mod error;
pub mod projects;
pub mod protocol;
pub mod routes;

pub use auth::MlCaller;
pub use routes::configure;
