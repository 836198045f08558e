//! Domain logic as plain async functions over a database connection; no HTTP types here.

pub mod accounts;
pub mod annotations;
pub mod assets;
pub mod budgets;
pub mod comments;
pub mod costs;
pub mod counters;
pub mod evaluation;
pub mod form_submissions;
pub mod indicators;
pub mod ls_access;
pub mod model_params;
pub mod model_providers;
pub mod predictions;
pub mod projects;
pub mod prompts;
pub mod results;
pub mod run_results;
pub mod run_scores;
pub mod runs;
pub mod scan_cache;
pub mod schedules;
pub mod task_files;
pub mod tasks;
pub mod versions;
pub mod web_accounts;
