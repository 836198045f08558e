//! The web app: server-rendered pages over the same services as the API, served by the same
//! binary at `/`. Templates (minijinja), the stylesheet and the small script are embedded;
//! charts are SVG drawn here. Signing in opens a browser session (an `HttpOnly`,
//! `SameSite=Lax` cookie); every form and every script request carries the session's CSRF
//! token. Roles apply as in the API: pages take a [`Visitor`], changes need
//! [`Visitor::manager`], and templates offer edit controls only when `can_edit` is true.
//!
//! Hardening (issue 18): every response carries the security headers ([`security_headers`]);
//! every form carries a nonce accepted once ([`settle_sent_forms`]); sign-in goes back only to
//! a local path, its CSRF token is signed with the server's secret, and failed sign-ins are
//! rate limited per account and per address ([`SignInThrottle`]).
//!
//! Mistakes (issue 20): a form refused re-renders in its page with what was typed and each
//! problem next to its input in people's words (`problems`); every error a browser meets is a
//! page in the app's frame with a way on ([`error_pages`]), while programs keep JSON.
use actix_web::web;

mod assets;
mod diff;
mod errors;
mod forms;
pub mod guard;
mod headers;
mod page;
mod pages;
mod problems;
mod session;
pub mod svg;
mod throttle;

pub use errors::error_pages;
pub use forms::settle_sent_forms;
pub use headers::security_headers;
pub use page::PageError;
pub use session::Visitor;
pub use throttle::{SignInThrottle, ThrottleConfig};

/// Registers the pages, the page scripts' JSON endpoints and the static assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    assets::configure(cfg);
    pages::configure(cfg);
}
