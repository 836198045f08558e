//! Presenters: what the front ends show, built once below them. Each builder turns rows from
//! the services into the wire views of [`crate::views`] (with what a page adds beside them,
//! such as an accuracy's failures), so the API (`routes`) and the web app (`web`) show the same
//! figures from the same code and never reach into one another.
pub mod acceptance;
pub mod jobs;
pub mod model_providers;
pub mod optimizations;
pub mod projects;
pub mod prompts;
pub mod registry;
pub mod runs;
pub mod versions;
pub mod words;
