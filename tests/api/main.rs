//! Prompter's integration tests: one binary, a real server per test on a loopback port, a fresh
//! SQLite database (or PostgreSQL with `TEST_DATABASE_URL`).
// Tests and benchmarks are clients of Prompter itself, not requests made on a user's behalf.
#![allow(clippy::disallowed_methods)]

mod helpers;

mod accuracy;
mod annotations;
mod audit;
mod auth;
mod browser;
mod browser_import;
mod browser_mistakes;
mod browser_pages;
mod browser_runs;
mod browser_trust;
mod budgets;
mod confidence;
mod config_checks;
mod derive;
mod engine;
mod evaluation;
mod fake_llm;
mod first_contact;
mod hardening;
mod history_import;
mod job_crashes;
mod jobs;
mod label_studio;
mod limits;
mod members;
mod metrics;
mod migrations;
mod ml_backend;
mod model_providers;
mod openapi;
mod ops;
mod outbound;
mod outputs;
mod predictions;
mod progress;
mod projects;
mod prompts;
mod providers;
mod realistic;
mod refine;
mod registry;
mod registry_races;
mod request_ids;
mod roles;
mod runs;
mod schedules;
mod scores;
mod spec;
mod tasks;
mod trust;
mod versions;
mod vision;
mod web;
mod web_hardening;
mod web_import;
mod web_members;
mod web_mistakes;
mod web_pages;
mod web_runs;
mod web_webhooks;
mod webhooks;
