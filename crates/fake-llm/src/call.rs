//! What the fake reads from a request whatever its dialect ([`Call`]), why it refuses one
//! ([`BadRequest`]), and what it answers ([`Reply`]) before the dialect shapes it.
use serde_json::Value;

/// Prompt tokens an image counts for (Gemini's figure for an image up to 384 pixels).
pub(super) const IMAGE_TOKENS: u64 = 258;

/// Fewest prompt tokens a provider caches (OpenAI's threshold; Anthropic's for Sonnet 4).
pub(super) const MIN_CACHED_TOKENS: u64 = 1024;

/// An estimate of tokens: a quarter of the characters, at least one.
pub(super) fn tokens(text_chars: usize) -> u64 {
    (text_chars as u64).div_ceil(4).max(1)
}

/// FNV-1a of `bytes` from `seed`: a hash that stays the same across Rust versions, so a
/// seeded choice is reproducible.
pub(super) fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The prefix of a prompt a provider may serve from its cache.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prefix {
    /// Its hash.
    pub(super) hash: u64,
    /// Its characters.
    pub(super) chars: usize,
    /// Whether the request asked for caching (Anthropic's `cache_control`): the first call
    /// writes the cache and says so; otherwise caching is implicit and only hits are reported.
    pub(super) explicit: bool,
    /// Cached tokens are counted in steps of this many (OpenAI: 128).
    pub(super) step: u64,
}

/// What the shared code path needs from a request, whatever its dialect.
#[derive(Debug)]
pub(super) struct Call {
    /// The model named by the request (or its path).
    pub(super) model: String,
    /// Characters of every message, the system prompt included.
    pub(super) prompt_chars: usize,
    /// The text of the last user message.
    pub(super) user_text: String,
    /// The JSON schema the answer must fit.
    pub(super) schema: Option<Value>,
    /// The tool the answer is a call of (Anthropic).
    pub(super) tool: Option<String>,
    /// Images in the request.
    pub(super) images: u64,
    /// The output token limit (reasoning included), when the request sets one.
    pub(super) max_output: Option<u64>,
    /// Reasoning tokens the model spends before it answers.
    pub(super) reasoning: u64,
    /// The cacheable prefix, when the provider caches this request's prompts.
    pub(super) prefix: Option<Prefix>,
    /// A hash of the request: the realistic mode's choice for it.
    pub(super) key: u64,
    /// The request's sampling seed.
    pub(super) seed: Option<i64>,
    /// The alternatives per token, when the request asks for token log-probabilities.
    pub(super) logprobs: Option<u64>,
    /// The probability the model gives each value it chooses (see `logprobs`).
    pub(super) confidence: f64,
}

impl Call {
    /// A call of `model` over `prompt_chars` characters answering `user_text`, with nothing
    /// else set.
    pub(super) fn new(model: String, prompt_chars: usize, user_text: String) -> Call {
        Call {
            model,
            prompt_chars,
            user_text,
            schema: None,
            tool: None,
            images: 0,
            max_output: None,
            reasoning: 0,
            prefix: None,
            key: 0,
            seed: None,
            logprobs: None,
            confidence: 1.0,
        }
    }

    /// Prompt tokens: the text's and the images'.
    pub(super) fn prompt_tokens(&self) -> u64 {
        tokens(self.prompt_chars) + self.images * IMAGE_TOKENS
    }
}

/// Why a request is refused with a 400, in each dialect's shape.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BadRequest {
    /// The provider's words.
    pub(super) message: String,
    /// The parameter at fault (OpenAI's `param`, Google's field violation).
    pub(super) param: Option<String>,
    /// OpenAI's error `code`.
    pub(super) code: Option<&'static str>,
}

impl BadRequest {
    /// A refusal naming no parameter.
    pub(super) fn new(message: impl Into<String>) -> BadRequest {
        BadRequest {
            message: message.into(),
            param: None,
            code: None,
        }
    }

    /// A refusal naming `param`, with OpenAI's `code`.
    pub(super) fn param(
        message: impl Into<String>,
        param: impl Into<String>,
        code: &'static str,
    ) -> BadRequest {
        BadRequest {
            message: message.into(),
            param: Some(param.into()),
            code: Some(code),
        }
    }
}

impl From<&str> for BadRequest {
    fn from(message: &str) -> Self {
        BadRequest::new(message)
    }
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finish {
    /// The model finished.
    Stop,
    /// The output token limit cut it.
    Length,
    /// The model refused.
    Refusal,
}

/// Tokens of an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tokens {
    /// Prompt tokens, cached ones included.
    pub(super) prompt: u64,
    /// Visible output tokens.
    pub(super) output: u64,
    /// Reasoning tokens (output too, but not shown).
    pub(super) reasoning: u64,
    /// Prompt tokens read from the cache.
    pub(super) cached: u64,
    /// Prompt tokens written to the cache (Anthropic).
    pub(super) cache_written: u64,
}

/// An answer, before the dialect shapes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    /// The visible text.
    pub(super) text: String,
    /// Whether the text is the answer object itself (Anthropic answers it as the tool call).
    pub(super) json: bool,
    /// How it ended.
    pub(super) finish: Finish,
    /// Its tokens.
    pub(super) tokens: Tokens,
}

impl Reply {
    /// Cuts the answer at `max` output tokens (reasoning first), as providers do.
    pub(super) fn limit(&mut self, max: Option<u64>) {
        let Some(max) = max else { return };
        let t = &mut self.tokens;
        if t.output + t.reasoning <= max {
            return;
        }
        t.reasoning = t.reasoning.min(max);
        t.output = max - t.reasoning;
        let chars = (t.output * 4) as usize;
        self.text = self.text.chars().take(chars).collect();
        self.json = false;
        self.finish = Finish::Length;
    }
}

/// The text of a message's content: a string or an array of parts (or Anthropic blocks; a
/// `tool_result` block's `content` is read the same way).
pub(super) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p
                    .get("text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| p.get("content").map(content_text)),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The user text and prompt size of a list of messages: `(role, text)` pairs.
pub(super) fn conversation(
    messages: impl Iterator<Item = (Option<String>, String)>,
) -> (usize, String) {
    let mut chars = 0;
    let mut user_text = None;
    let mut last = None;
    for (role, text) in messages {
        chars += text.chars().count();
        if role.as_deref() == Some("user") {
            user_text = Some(text.clone());
        }
        last = Some(text);
    }
    (chars, user_text.or(last).unwrap_or_default())
}

/// The prefix of a conversation that a provider caches: `head` (system prompt, tools, ...)
/// and every message but the last, as `(hash, characters)`.
pub(super) fn prefix_of(head: &str, messages: &[(Option<String>, String)]) -> (u64, usize) {
    let mut hash = fnv(0, head.as_bytes());
    let mut chars = head.chars().count();
    for (role, text) in messages.iter().take(messages.len().saturating_sub(1)) {
        hash = fnv(hash, role.as_deref().unwrap_or("").as_bytes());
        hash = fnv(hash, text.as_bytes());
        chars += text.chars().count();
    }
    (hash, chars)
}

/// Whether `data` is standard base64 (padded or not).
pub(super) fn is_base64(data: &str) -> bool {
    use base64::Engine;
    let engine = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::general_purpose::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    !data.is_empty() && engine.decode(data.trim()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_cuts_reasoning_first() {
        let mut reply = Reply {
            text: "x".repeat(400),
            json: true,
            finish: Finish::Stop,
            tokens: Tokens {
                output: 100,
                reasoning: 50,
                ..Tokens::default()
            },
        };
        reply.limit(Some(200));
        assert_eq!(reply.finish, Finish::Stop);
        reply.limit(Some(60));
        assert_eq!((reply.tokens.reasoning, reply.tokens.output), (50, 10));
        assert_eq!(reply.text.len(), 40);
        assert_eq!(reply.finish, Finish::Length);
        reply.limit(Some(20));
        assert_eq!((reply.tokens.reasoning, reply.tokens.output), (20, 0));
        assert!(reply.text.is_empty());
    }

    #[test]
    fn base64_and_hashes() {
        assert!(is_base64("aGVsbG8="));
        assert!(is_base64("aGVsbG8"));
        assert!(!is_base64("not base64!"));
        assert!(!is_base64(""));
        assert_eq!(fnv(1, b"a"), fnv(1, b"a"));
        assert_ne!(fnv(1, b"a"), fnv(2, b"a"));
    }
}
