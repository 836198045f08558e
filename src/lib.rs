//! Prompter: Label Studio Enterprise's Prompts, open and self-hostable. The library holds the
//! whole service; `main.rs` only parses the command line.
//!
//! No `unwrap`/`expect` outside tests: a failure on a request path is an [`error::ApiError`],
//! never a panic (and a panic that still happens is answered by the request middleware in
//! [`telemetry`] with a 500).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fake_llm;
pub mod image_tokens;
pub mod label_config;
pub mod label_studio;
pub mod llm;
pub mod ml_backend;
pub mod pagination;
pub mod pricing;
pub mod routes;
pub mod scoring;
pub mod services;
pub mod startup;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod template;
pub mod util;
pub mod views;
