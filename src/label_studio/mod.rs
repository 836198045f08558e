//! Label Studio instances Prompter talks to: the HTTP client of their API.
pub mod client;
pub mod link;
