//! The fake LLM's injected faults: a seeded draw per request of a server error, a timeout, a
//! malformed or an invalid answer, and the latency jitter.
use super::server::Inner;
use rand::Rng;
use std::time::Duration;

/// The outcome a random draw picked for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    None,
    ServerError,
    Timeout,
    Malformed,
    Invalid,
}

impl Inner {
    /// Draws the fault and the jitter of one request.
    pub(super) fn draw(&self) -> (Fault, Duration) {
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let r: f64 = rng.r#gen();
        let jitter = if self.config.jitter_ms > 0 {
            rng.gen_range(0..self.config.jitter_ms)
        } else {
            0
        };
        let c = &self.config;
        let mut edge = c.error_rate;
        let fault = if r < edge {
            Fault::ServerError
        } else if r < {
            edge += c.timeout_rate;
            edge
        } {
            Fault::Timeout
        } else if r < {
            edge += c.malformed_rate;
            edge
        } {
            Fault::Malformed
        } else if r < edge + c.invalid_rate {
            Fault::Invalid
        } else {
            Fault::None
        };
        (fault, Duration::from_millis(jitter))
    }
}
