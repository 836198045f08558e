//! The fake LLM's rate limits: a sliding one-minute window of requests and tokens, and the
//! rate-limit headers of each dialect.
use super::server::{Api, Inner};
use actix_web::HttpResponseBuilder;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The length of the sliding rate-limit window.
const WINDOW: Duration = Duration::from_secs(60);

/// What the rate limiter reports for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Quota {
    remaining_requests: u64,
    remaining_tokens: u64,
    reset_requests: Duration,
    reset_tokens: Duration,
}

impl Inner {
    /// Whether a requests or tokens limit is set.
    pub(super) fn limited(&self) -> bool {
        self.config.rpm.is_some() || self.config.tpm.is_some()
    }

    /// Admits a request of `tokens` tokens, or returns how long until it would fit.
    pub(super) fn admit(&self, tokens: u64) -> Result<Quota, (Duration, Quota)> {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        let until = |t: Instant| (t + WINDOW).saturating_duration_since(now);
        let used_requests = window.len() as u64;
        let used_tokens: u64 = window.iter().map(|(_, n)| n).sum();
        let mut wait: Option<Duration> = None;
        if let Some(rpm) = self.config.rpm {
            let rpm = u64::from(rpm);
            if used_requests + 1 > rpm {
                // The entry whose expiry frees the slot this request needs.
                let idx = (used_requests - rpm) as usize;
                let w = window.get(idx).map_or(WINDOW, |(t, _)| until(*t));
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        }
        if let Some(tpm) = self.config.tpm
            && used_tokens + tokens > tpm
            && !window.is_empty()
        {
            let need = used_tokens + tokens - tpm;
            let mut freed = 0;
            let mut w = Duration::ZERO;
            for (t, n) in window.iter() {
                freed += n;
                w = until(*t);
                if freed >= need {
                    break;
                }
            }
            wait = Some(wait.map_or(w, |x| x.max(w)));
        }
        let quota = |requests: u64, tokens_used: u64, window: &VecDeque<(Instant, u64)>| {
            let reset = window.front().map_or(Duration::ZERO, |(t, _)| until(*t));
            Quota {
                remaining_requests: self
                    .config
                    .rpm
                    .map_or(0, |r| u64::from(r).saturating_sub(requests)),
                remaining_tokens: self.config.tpm.map_or(0, |t| t.saturating_sub(tokens_used)),
                reset_requests: reset,
                reset_tokens: reset,
            }
        };
        match wait {
            Some(w) => Err((w, quota(used_requests, used_tokens, &window))),
            None => {
                window.push_back((now, tokens));
                Ok(quota(used_requests + 1, used_tokens + tokens, &window))
            }
        }
    }

    /// The quota without admitting anything (for answers that do not count).
    pub(super) fn quota(&self) -> Quota {
        let now = Instant::now();
        let window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let live: Vec<&(Instant, u64)> = window
            .iter()
            .filter(|(t, _)| now.duration_since(*t) < WINDOW)
            .collect();
        let reset = live.first().map_or(Duration::ZERO, |(t, _)| {
            (*t + WINDOW).saturating_duration_since(now)
        });
        let tokens: u64 = live.iter().map(|(_, n)| n).sum();
        Quota {
            remaining_requests: self
                .config
                .rpm
                .map_or(0, |r| u64::from(r).saturating_sub(live.len() as u64)),
            remaining_tokens: self.config.tpm.map_or(0, |t| t.saturating_sub(tokens)),
            reset_requests: reset,
            reset_tokens: reset,
        }
    }

    /// Adds the rate-limit headers of `api` when limits are set: OpenAI's `x-ratelimit-*`
    /// (OpenAI, Azure) or Anthropic's `anthropic-ratelimit-*`; Gemini sends none.
    pub(super) fn headers(&self, api: Api, builder: &mut HttpResponseBuilder, quota: Quota) {
        match api {
            Api::OpenAi | Api::Azure => self.openai_headers(builder, quota),
            Api::Anthropic => self.anthropic_headers(builder, quota),
            Api::Gemini => {}
        }
    }

    /// OpenAI's `x-ratelimit-*` headers.
    fn openai_headers(&self, builder: &mut HttpResponseBuilder, quota: Quota) {
        if let Some(rpm) = self.config.rpm {
            builder.insert_header(("x-ratelimit-limit-requests", rpm.to_string()));
            builder.insert_header((
                "x-ratelimit-remaining-requests",
                quota.remaining_requests.to_string(),
            ));
            builder.insert_header((
                "x-ratelimit-reset-requests",
                format!("{}ms", quota.reset_requests.as_millis()),
            ));
        }
        if let Some(tpm) = self.config.tpm {
            builder.insert_header(("x-ratelimit-limit-tokens", tpm.to_string()));
            builder.insert_header((
                "x-ratelimit-remaining-tokens",
                quota.remaining_tokens.to_string(),
            ));
            builder.insert_header((
                "x-ratelimit-reset-tokens",
                format!("{}ms", quota.reset_tokens.as_millis()),
            ));
        }
    }

    /// Anthropic's `anthropic-ratelimit-*` headers (resets are RFC 3339 instants).
    fn anthropic_headers(&self, builder: &mut HttpResponseBuilder, quota: Quota) {
        let at = |d: Duration| {
            let d = chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::zero());
            (chrono::Utc::now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        if let Some(rpm) = self.config.rpm {
            builder.insert_header(("anthropic-ratelimit-requests-limit", rpm.to_string()));
            builder.insert_header((
                "anthropic-ratelimit-requests-remaining",
                quota.remaining_requests.to_string(),
            ));
            builder.insert_header((
                "anthropic-ratelimit-requests-reset",
                at(quota.reset_requests),
            ));
        }
        if let Some(tpm) = self.config.tpm {
            builder.insert_header(("anthropic-ratelimit-tokens-limit", tpm.to_string()));
            builder.insert_header((
                "anthropic-ratelimit-tokens-remaining",
                quota.remaining_tokens.to_string(),
            ));
            builder.insert_header(("anthropic-ratelimit-tokens-reset", at(quota.reset_tokens)));
        }
    }
}
