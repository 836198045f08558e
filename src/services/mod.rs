//! Domain logic as plain async functions over a database connection; no HTTP types here.

pub mod accounts;
pub mod annotations;
pub mod counters;
pub mod predictions;
pub mod projects;
pub mod tasks;
