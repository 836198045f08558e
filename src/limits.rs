//! Every limit on what a client writes, in one place (the README's limits table lists them).
//!
//! A value over its limit is refused with a 400 that names the field, before anything is
//! written; checks are linear and run outside write transactions.

/// The longest form nonce (the `nonce` field every web form sends) accepted; a longer one is
/// refused like a missing one (403, reload the page).
pub const FORM_NONCE_MAX_LEN: usize = 64;

/// Steps of one version's pipeline (a version's `steps`, also in an import document).
pub const MAX_PIPELINE_STEPS: usize = 10;

/// Versions an import document carries (`versions`).
pub const MAX_IMPORT_VERSIONS: usize = 500;

/// Few-shot examples an import document carries (`examples`).
pub const MAX_IMPORT_EXAMPLES: usize = 1_000;

/// Schedules an import document carries (`schedules`).
pub const MAX_IMPORT_SCHEDULES: usize = 100;

/// Bytes of an import document, as compact JSON (`document`).
pub const MAX_IMPORT_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;
