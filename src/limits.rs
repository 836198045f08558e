//! Every limit on what a client writes, in one place (the README's limits table lists them).
//!
//! A value over its limit is refused with a 400 that names the field, before anything is
//! written; checks are linear and run outside write transactions.

/// The longest form nonce (the `nonce` field every web form sends) accepted; a longer one is
/// refused like a missing one (403, reload the page).
pub const FORM_NONCE_MAX_LEN: usize = 64;
