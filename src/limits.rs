//! Every limit on what a client writes, in one place (the README's limits table lists them).
//!
//! A value over its limit is refused with a 400 that names the field, before anything is
//! written; checks are linear and run outside write transactions.

/// The largest `max_tokens` a version's or a connection's model parameters may ask for (no
/// provider's model writes more output tokens in one answer).
pub const MAX_OUTPUT_TOKENS: u32 = 1_000_000;
