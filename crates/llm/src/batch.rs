//! The providers' batch APIs: many calls submitted at once, answered within a day at half the
//! price of the same calls made one by one. One [`BatchProvider`] per dialect:
//!
//! * OpenAI and Azure OpenAI ([`openai`]): the requests as a JSONL file uploaded with
//!   `purpose=batch`, a batch created over it on `/v1/chat/completions` with a 24 h window; the
//!   answers and the failures come back as two JSONL files, in any order;
//! * Anthropic Message Batches ([`anthropic`]): the requests in one JSON body; the results as
//!   JSONL, in any order;
//! * Gemini batch mode ([`gemini`]): the requests inline in a `batchGenerateContent` body; the
//!   answers inline in the finished operation, in the order of the requests (the request's key
//!   is not always given back).
//!
//! A request is encoded once ([`BatchProvider::encode`], the same body a single call sends,
//! named by a custom id), so the caller can fill a batch up to the provider's limits
//! ([`ChunkLimits`]) before it submits it. Everything goes through the outbound policy; what a
//! provider writes never reaches a user but as the typed errors of [`LlmError`].
use super::{LlmError, LlmRequest, LlmResponse, Provider};
use crate::Credentials;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

pub mod anthropic;
pub mod gemini;
pub mod openai;

/// The most a batch's result files are read up to: larger than a single answer's cap, since a
/// file holds every answer of the batch.
pub const RESULTS_MAX_BYTES: usize = 512 * 1024 * 1024;

/// How much one batch of a provider may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Requests.
    pub max_requests: usize,
    /// Bytes of the encoded requests.
    pub max_bytes: usize,
}

/// One request of a batch, named by an id unique in the batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// Letters, digits, `_` and `-`, at most 64 (Anthropic's rule, the strictest).
    pub custom_id: String,
    /// The call.
    pub request: LlmRequest,
}

/// A request encoded for a batch: its id and its entry in the provider's input (a JSONL line,
/// or a JSON element).
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The item's custom id.
    pub custom_id: String,
    /// Its entry, JSON text.
    pub entry: String,
}

/// Where a batch stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// Validating, queued or running: ask again later.
    Running,
    /// Finished: every item has a result.
    Ended,
    /// Canceled: the items done before have results, the others none.
    Canceled,
    /// Expired before it finished: the items done have results, the others none.
    Expired,
    /// Refused as a whole (an invalid input): no item has a result.
    Failed,
}

/// A batch's state and counts, as the provider reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchStatus {
    /// Its state.
    pub state: BatchState,
    /// Items in the batch.
    pub total: u64,
    /// Items answered so far.
    pub completed: u64,
    /// Items failed so far.
    pub failed: u64,
    /// Why a failed batch failed: the provider's error code, when it is a word.
    pub reason: Option<String>,
}

/// An item's result: an answer (its output, usage and log-probabilities; no rate-limit
/// headers), or why it failed.
pub type ItemResult = Result<LlmResponse, LlmError>;

/// A provider's batch API.
#[async_trait::async_trait]
pub trait BatchProvider: Send + Sync {
    /// How much one batch may hold.
    fn limits(&self) -> ChunkLimits;

    /// The entry of `item` in a batch.
    fn encode(&self, item: &BatchItem) -> Result<Encoded, LlmError>;

    /// Submits `items` (encoded by [`BatchProvider::encode`], all of `model`) as one batch named
    /// `name`; returns the provider's batch id.
    async fn submit(&self, model: &str, items: &[Encoded], name: &str) -> Result<String, LlmError>;

    /// The state of batch `id`.
    async fn status(&self, id: &str) -> Result<BatchStatus, LlmError>;

    /// The results of batch `id` (ended, canceled or expired) by custom id; `custom_ids` are
    /// the batch's items in the order they were submitted. An item the provider did not
    /// execute (canceled, expired) has no result.
    async fn results(
        &self,
        id: &str,
        custom_ids: &[String],
    ) -> Result<Vec<(String, ItemResult)>, LlmError>;

    /// Asks the provider to cancel batch `id` (it ends canceled a little later).
    async fn cancel(&self, id: &str) -> Result<(), LlmError>;
}

/// Whether Prompter can use the batch API of `provider`.
pub fn supports(provider: Provider) -> bool {
    matches!(
        provider,
        Provider::OpenAI | Provider::AzureOpenAI | Provider::Anthropic | Provider::Gemini
    )
}

/// The batch API of a connection.
pub fn batch_provider_for(
    credentials: &Credentials,
    http: &outbound::Outbound,
) -> Result<Arc<dyn BatchProvider>, LlmError> {
    match credentials.provider {
        Provider::OpenAI | Provider::AzureOpenAI => Ok(Arc::new(openai::OpenAiBatches::new(
            credentials,
            http.clone(),
        )?)),
        Provider::Anthropic => Ok(Arc::new(anthropic::AnthropicBatches::new(
            credentials,
            http.clone(),
        )?)),
        Provider::Gemini => Ok(Arc::new(gemini::GeminiBatches::new(
            credentials,
            http.clone(),
        )?)),
        other => Err(LlmError::Unsupported(format!(
            "Provider {} has no batch API Prompter can use; run this version online, or use \
             OpenAI, AzureOpenAI, Anthropic or Gemini for batch execution.",
            other.as_str()
        ))),
    }
}

/// Sends a request through the outbound policy; a 2xx answer's bytes (read up to
/// [`RESULTS_MAX_BYTES`]), or the typed error.
async fn send_bytes(
    http: &outbound::Outbound,
    request: reqwest::RequestBuilder,
) -> Result<Vec<u8>, LlmError> {
    let response = http.send(request).await.map_err(LlmError::from)?;
    let status = response.status().as_u16();
    let headers: HeaderMap = response.headers().clone();
    let bytes = outbound::read_at_most(response, RESULTS_MAX_BYTES)
        .await
        .map_err(LlmError::from)?;
    if !(200..300).contains(&status) {
        return Err(LlmError::from_status(
            status,
            &headers,
            &String::from_utf8_lossy(&bytes),
        ));
    }
    Ok(bytes)
}

/// The JSON lines of a JSONL file (blank lines skipped; an unreadable line is left out and
/// logged: its item then has no result and is asked again).
fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(target: "outbound", "an unreadable line in a batch's results: {e}");
                None
            }
        })
        .collect()
}

/// A count the provider wrote as a number or, as Google does for int64, a string.
fn count(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// An answer read from a batch's result, as a call's response (no rate-limit headers: a batch
/// has none per item).
fn response(output: Value, usage: super::Usage, logprobs: Vec<super::TokenLogprob>) -> LlmResponse {
    LlmResponse {
        output,
        usage,
        limits: Default::default(),
        notes: Vec::new(),
        logprobs,
    }
}

/// `entries` joined as the elements of a JSON array.
fn json_array(entries: &[Encoded]) -> String {
    let mut out =
        String::with_capacity(entries.iter().map(|e| e.entry.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.entry);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lines_are_read_as_providers_write_them() {
        assert_eq!(count(Some(&Value::from(3))), 3);
        assert_eq!(count(Some(&Value::from("12"))), 12);
        assert_eq!(count(None), 0);
        let lines = json_lines(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n");
        assert_eq!(lines.len(), 2);
        let entries = vec![
            Encoded {
                custom_id: "a".into(),
                entry: "{\"x\":1}".into(),
            },
            Encoded {
                custom_id: "b".into(),
                entry: "{\"y\":2}".into(),
            },
        ];
        assert_eq!(json_array(&entries), "[{\"x\":1},{\"y\":2}]");
    }
}
