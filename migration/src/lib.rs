//! Prompter's schema migrations (sea-orm-migration), identical on SQLite and PostgreSQL, and the
//! admin commands (`up`, `down`, `status`, `fresh`) shared by `prompter migrate` and this crate's
//! own `migration` binary.

pub use sea_orm_migration::prelude::*;

mod builders;
mod cli;
mod m20261122_000001_create_accounts;
mod m20261122_000002_create_projects;
mod m20261122_000003_create_prompts;
mod m20261122_000004_create_predictions;
mod m20261122_000005_create_annotations;
mod m20261122_000006_create_run_slices;
mod m20261122_000007_create_model_refinements;
mod m20261129_000008_create_label_studio_links;
mod m20261201_000009_add_model_params_and_budget_alerts;
mod m20261201_000010_create_web_sessions;
mod m20261201_000011_create_registry;
mod m20261205_000012_create_form_submissions;
mod m20261205_000013_add_import_hash_and_refinement_lease;
mod m20261206_000014_add_scored_counters;
mod m20261207_000015_create_web_flashes;
mod m20261207_000016_create_run_replacements;
mod m20261208_000017_create_jobs;
mod m20261208_000018_add_member_active;
mod m20261208_000019_create_audit_log;
mod m20261209_000020_create_webhooks;
mod m20261210_000021_add_prediction_scores;
mod m20261210_000022_add_version_calibration;
mod m20261211_000023_add_version_jury;
mod m20261212_000024_create_version_labels;
mod m20261214_000025_create_optimizations;
mod m20261215_000026_create_llm_cache;
mod m20261216_000027_create_pacing_leases;
mod m20261217_000028_create_provider_batches;

pub use cli::{MigrateCommand, run_command};

/// The ordered list of Prompter's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_accounts::Migration),
            Box::new(m20261122_000002_create_projects::Migration),
            Box::new(m20261122_000003_create_prompts::Migration),
            Box::new(m20261122_000004_create_predictions::Migration),
            Box::new(m20261122_000005_create_annotations::Migration),
            Box::new(m20261122_000006_create_run_slices::Migration),
            Box::new(m20261122_000007_create_model_refinements::Migration),
            Box::new(m20261129_000008_create_label_studio_links::Migration),
            Box::new(m20261201_000009_add_model_params_and_budget_alerts::Migration),
            Box::new(m20261201_000010_create_web_sessions::Migration),
            Box::new(m20261201_000011_create_registry::Migration),
            Box::new(m20261205_000012_create_form_submissions::Migration),
            Box::new(m20261205_000013_add_import_hash_and_refinement_lease::Migration),
            Box::new(m20261206_000014_add_scored_counters::Migration),
            Box::new(m20261207_000015_create_web_flashes::Migration),
            Box::new(m20261207_000016_create_run_replacements::Migration),
            Box::new(m20261208_000017_create_jobs::Migration),
            Box::new(m20261208_000018_add_member_active::Migration),
            Box::new(m20261208_000019_create_audit_log::Migration),
            Box::new(m20261209_000020_create_webhooks::Migration),
            Box::new(m20261210_000021_add_prediction_scores::Migration),
            Box::new(m20261210_000022_add_version_calibration::Migration),
            Box::new(m20261211_000023_add_version_jury::Migration),
            Box::new(m20261212_000024_create_version_labels::Migration),
            Box::new(m20261214_000025_create_optimizations::Migration),
            Box::new(m20261215_000026_create_llm_cache::Migration),
            Box::new(m20261216_000027_create_pacing_leases::Migration),
            Box::new(m20261217_000028_create_provider_batches::Migration),
        ]
    }
}
