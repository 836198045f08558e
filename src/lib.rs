//! Prompter: Label Studio Enterprise's Prompts, open and self-hostable. The library holds the
//! whole service; `main.rs` only parses the command line.
//!
//! # Layers
//! Modules form layers that read top to bottom; a module uses its own layer and the layers
//! below it, never one above (`tests/layers.rs` fails the build's tests when one does, and
//! `LAYERS_GRAPH=1 cargo test --test layers -- --nocapture` prints the graph):
//!
//! 1. **Entry points**: `main`, [`cli`], [`startup`], [`openapi`] (the document of both HTTP
//!    front ends), [`fake_llm`]: parse flags, wire the server, the workers and the
//!    command-line front ends together.
//! 2. **Front ends**: [`routes`] (the HTTP API, thin handlers), [`web`] (the web app's pages
//!    over the same services), [`ml_backend`] (Label Studio's ML backend protocol), [`extract`]
//!    (request extractors: the caller and its role as a type, strict JSON), [`telemetry`]. The
//!    front ends (and [`cli`]) never name one another.
//! 3. **Presenters**: [`presenters`] (what the front ends show, built once: views with their
//!    creators, scores and accuracy) and [`state`].
//! 4. **Background work**: [`engine`] (run queue, workers, pacing, refinement, live
//!    predictions), [`jobs`] (the durable job queue every other piece of background work goes
//!    through) and [`label_studio`] (link, sync and push with a real Label Studio).
//! 5. **Domain services**: [`services`]: plain functions over a database connection that
//!    read and write rows, scoped to the caller's organization.
//! 6. **Building blocks**: [`views`] (every wire type), [`llm`] (providers, credentials,
//!    dialects), [`label_config`], [`scoring`], [`stats`], [`template`], [`pricing`],
//!    [`image_tokens`], [`pagination`], [`auth`].
//! 7. **Foundation**: [`error`] (the one error type and its stable codes), [`config`],
//!    [`crypto`], [`util`], [`db`], [`limits`], [`outbound`] (every request made on a user's
//!    behalf), [`metrics`] (the process's Prometheus registry, fed from every layer) and
//!    [`request_id`] (the id of the request being served); and the `entity` crate below
//!    everything.
//!
//! [`llm`], [`label_config`], [`outbound`] and [`fake_llm`] are crates of their own under
//! `crates/`, re-exported here so that `crate::llm::…` paths read as before: the compiler keeps
//! them from naming this crate, and Cargo builds them side by side.
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
pub use fake_llm;
pub mod image_tokens;
pub mod jobs;
pub use label_config;
pub mod label_studio;
pub mod limits;
pub use llm;
pub mod metrics;
pub mod ml_backend;
pub mod openapi;
pub use outbound;
pub mod pagination;
pub mod presenters;
pub mod pricing;
pub mod request_id;
pub mod respond;
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
pub mod web;
