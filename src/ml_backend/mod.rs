//! Prompts as Label Studio ML backends (shared/spec/ml-backend.md). Every prompt answers the ML
//! backend protocol under `/ml/prompts/{id}`: Label Studio connects to that URL with HTTP Basic
//! auth whose password is a Prompter API token; `/setup` reports the deployed version's
//! `model_version` and mirrors each Label Studio project into a Prompter project; `/predict`
//! answers through the run engine's plan and scheduler within Label Studio's time budget; and
//! annotation webhooks keep the mirror's ground truth, the prompt's few-shot examples, current.
//!
//! One module per concern: `projects` (the mirror project of each Label Studio project and the
//! version that answers, in [`crate::label_studio::ml_mirror`] so that jobs can use it),
//! [`setup`] and [`predict`] (what each protocol call does, without HTTP types), [`routes`]
//! (the HTTP front; webhook events become jobs of [`crate::label_studio::ml_jobs`]), `auth`
//! and [`error`]. The wire shapes are in [`crate::views::ml_backend`].
mod auth;
pub mod error;
pub mod predict;
pub mod routes;
pub mod setup;

use crate::label_studio::ml_mirror as projects;

pub use auth::MlCaller;
pub use routes::configure;

/// The `model_class` `/health` reports.
pub const MODEL_CLASS: &str = "Prompter";
