//! The providers' batch APIs, what their dialects share: the files and batches kept in memory,
//! a batch's life (in progress for `--batch-completion-ms` after its creation, its items done
//! linearly over that time in a shuffled order, answered once when it ends at the first look
//! after that time, or canceled), and the routes. Each dialect's endpoints and shapes are in
//! `batch_openai` (OpenAI and Azure), `batch_anthropic` and `batch_gemini`.
//!
//! An item goes through the live path's `prepare` and `render` (the realistic mode and the
//! prompt cache apply; the limits, the latency and the live faults do not). It fails with a
//! server error when its user text holds [`crate::BATCH_FAIL`] or by the draw of
//! `--batch-failure-rate`, and with the live 400 when the live path refuses it.
use super::call::BadRequest;
use super::faults::Fault;
use super::respond::{Prepared, bad_body, header_refusal, key_refusal, prepare, render};
use super::server::{Api, Inner};
use super::{add, batch_anthropic, batch_gemini, batch_openai};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// A batch's requests: `(custom_id, body)` (the custom_id empty for Gemini).
pub(super) type Requests = Vec<(String, Value)>;

/// A file of the OpenAI files API: uploaded, or a batch's output or errors.
#[derive(Debug, Clone)]
pub(super) struct File {
    /// `file-<n>`.
    pub(super) id: String,
    /// Its name.
    pub(super) filename: String,
    /// `batch`, `batch_output`.
    pub(super) purpose: String,
    /// Unix seconds.
    pub(super) created_at: i64,
    /// Its content.
    pub(super) bytes: Vec<u8>,
}

/// What an item will be answered, decided when the batch is created.
#[derive(Debug)]
enum Plan {
    /// The live answer.
    Answer(Box<Prepared>),
    /// A server error.
    Fail,
    /// The live 400.
    Refuse(BadRequest),
}

/// How an item ended.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    /// Answered: the live answer body in the batch's dialect.
    Answered(Value),
    /// A server error.
    Failed,
    /// Refused as the live endpoint refuses it.
    Refused(BadRequest),
    /// Not done when the batch was canceled.
    Canceled,
}

/// One request of a batch.
#[derive(Debug)]
pub(super) struct Item {
    /// Its `custom_id` (empty for Gemini).
    pub(super) custom_id: String,
    plan: Plan,
    /// A number unique among every batch's items, given when the batch ends.
    pub(super) seq: u64,
    /// Set when the batch ends.
    pub(super) outcome: Option<Outcome>,
}

/// Where a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Its items are being done.
    Running,
    /// Canceled; it ends at the next look.
    Canceling,
    /// Every item done.
    Completed,
    /// Ended by a cancel.
    Cancelled,
    /// Its input was refused (OpenAI's file validation).
    Failed,
}

/// Counts of a batch's items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    /// Every item.
    pub(super) total: u64,
    /// Answered.
    pub(super) succeeded: u64,
    /// Failed or refused.
    pub(super) failed: u64,
    /// Canceled.
    pub(super) canceled: u64,
    /// Not done yet.
    pub(super) pending: u64,
}

/// A batch of any dialect.
#[derive(Debug)]
pub(super) struct Batch {
    /// Its dialect.
    pub(super) api: Api,
    /// `batch_<n>`, `msgbatch_<n>`, `batches/<n>`.
    pub(super) id: String,
    /// When it was created.
    pub(super) created: DateTime<Utc>,
    start: Instant,
    duration: Duration,
    /// Its items, in input order.
    pub(super) items: Vec<Item>,
    /// The order the items are done in (indices into `items`): shuffled.
    pub(super) order: Vec<usize>,
    /// Where it is.
    pub(super) state: State,
    /// Whether it was looked at since its creation.
    pub(super) seen: bool,
    /// When a cancel was asked.
    pub(super) cancel_at: Option<DateTime<Utc>>,
    /// Items done when the cancel was asked.
    cancel_done: Option<usize>,
    /// When it ended.
    pub(super) ended_at: Option<DateTime<Utc>>,
    /// OpenAI: the errors of the input file (the batch fails at its first look).
    pub(super) errors: Option<Value>,
    /// OpenAI: `endpoint`; Gemini: the model.
    pub(super) endpoint: String,
    /// OpenAI: `input_file_id`; Gemini: the display name.
    pub(super) input: String,
    /// OpenAI: `metadata`.
    pub(super) metadata: Value,
    /// OpenAI: the files written when it ended.
    pub(super) output_file: Option<String>,
    /// OpenAI: the error file written when it ended.
    pub(super) error_file: Option<String>,
}

impl Batch {
    /// A batch of `api` created now from `(custom_id, body)` items, each prepared as the live
    /// path prepares it (`target`: the Azure deployment or Gemini model). The failures are
    /// drawn and the order shuffled with the seeded RNG.
    pub(super) fn new(
        inner: &Inner,
        api: Api,
        id: String,
        target: Option<&str>,
        requests: Requests,
    ) -> Batch {
        let rate = inner.config.batch_failure_rate;
        let mut items = Vec::with_capacity(requests.len());
        for (custom_id, body) in requests {
            let prepared = prepare(inner, api, target, &body);
            let drawn = rate > 0.0 && {
                let mut rng = inner.rng.lock().unwrap_or_else(|p| p.into_inner());
                rng.r#gen::<f64>() < rate
            };
            let plan = match prepared {
                Err(bad) => Plan::Refuse(bad),
                Ok(p) if p.batch_fail || drawn => Plan::Fail,
                Ok(p) => Plan::Answer(Box::new(p)),
            };
            items.push(Item {
                custom_id,
                plan,
                seq: 0,
                outcome: None,
            });
        }
        let mut order: Vec<usize> = (0..items.len()).collect();
        {
            let mut rng = inner.rng.lock().unwrap_or_else(|p| p.into_inner());
            order.shuffle(&mut *rng);
        }
        Batch {
            api,
            id,
            created: Utc::now(),
            start: Instant::now(),
            duration: Duration::from_millis(inner.config.batch_completion_ms),
            items,
            order,
            state: State::Running,
            seen: false,
            cancel_at: None,
            cancel_done: None,
            ended_at: None,
            errors: None,
            endpoint: String::new(),
            input: String::new(),
            metadata: Value::Null,
            output_file: None,
            error_file: None,
        }
    }

    /// Whether it has ended.
    pub(super) fn ended(&self) -> bool {
        matches!(
            self.state,
            State::Completed | State::Cancelled | State::Failed
        )
    }

    /// Items done by `now`: a share of them growing linearly until the completion time.
    fn done(&self, now: Instant) -> usize {
        if let Some(k) = self.cancel_done {
            return k;
        }
        let total = self.items.len();
        let ms = self.duration.as_millis();
        if ms == 0 {
            return total;
        }
        let elapsed = now.saturating_duration_since(self.start).as_millis();
        (total as u128 * elapsed / ms).min(total as u128) as usize
    }

    /// The counts of its items now.
    pub(super) fn counts(&self) -> Counts {
        let mut counts = Counts {
            total: self.items.len() as u64,
            ..Counts::default()
        };
        if self.ended() {
            for item in &self.items {
                match item.outcome {
                    Some(Outcome::Answered(_)) => counts.succeeded += 1,
                    Some(Outcome::Failed | Outcome::Refused(_)) => counts.failed += 1,
                    Some(Outcome::Canceled) => counts.canceled += 1,
                    None => counts.pending += 1,
                }
            }
            return counts;
        }
        // A batch just created has done nothing yet.
        let done = if self.seen {
            self.done(Instant::now())
        } else {
            0
        };
        for &i in &self.order[..done] {
            match self.items[i].plan {
                Plan::Answer(_) => counts.succeeded += 1,
                Plan::Fail | Plan::Refuse(_) => counts.failed += 1,
            }
        }
        counts.pending = counts.total - done as u64;
        counts
    }

    /// Asks for a cancel: the items done by now stay done, the others are canceled when the
    /// batch ends, at the next look. Only a running batch is canceled (and counted).
    pub(super) fn cancel(&mut self, inner: &Inner) {
        if self.state == State::Running {
            add(&inner.counters.batches_canceled, 1);
            self.cancel_done = Some(self.done(Instant::now()));
            self.cancel_at = Some(Utc::now());
            self.state = State::Canceling;
        }
    }

    /// Moves it on at a look: a batch past its completion time (or canceled) ends, its items
    /// answered then; returns whether it ended now. `seq` numbers the items.
    fn advance(&mut self, inner: &Inner, seq: &mut u64) -> bool {
        self.seen = true;
        let now = Instant::now();
        let end = match self.state {
            State::Running if self.errors.is_some() => {
                self.state = State::Failed;
                self.ended_at = Some(Utc::now());
                return true;
            }
            State::Running if now >= self.start + self.duration => State::Completed,
            State::Canceling => State::Cancelled,
            _ => return false,
        };
        let done = self.done(now);
        for (rank, &i) in self.order.iter().enumerate() {
            *seq += 1;
            let item = &mut self.items[i];
            item.seq = *seq;
            let plan = std::mem::replace(&mut item.plan, Plan::Fail);
            item.outcome = Some(if rank >= done {
                Outcome::Canceled
            } else {
                add(&inner.counters.batch_items, 1);
                match plan {
                    Plan::Answer(p) => {
                        Outcome::Answered(render(inner, self.api, &p, Fault::None, *seq))
                    }
                    Plan::Fail => Outcome::Failed,
                    Plan::Refuse(bad) => Outcome::Refused(bad),
                }
            });
        }
        self.state = end;
        self.ended_at = Some(Utc::now());
        true
    }

    /// The items in the order they were done, with their outcomes (ended batches only).
    pub(super) fn done_items(&self) -> impl Iterator<Item = (&Item, &Outcome)> {
        self.order.iter().filter_map(|&i| {
            let item = &self.items[i];
            item.outcome.as_ref().map(|o| (item, o))
        })
    }
}

/// The files and batches of the server.
#[derive(Debug, Default)]
pub(super) struct Store {
    /// Files by id.
    pub(super) files: HashMap<String, File>,
    /// Batches by id.
    batches: HashMap<String, Batch>,
    next_file: u64,
    next_batch: u64,
    next_item: u64,
}

impl Store {
    /// Keeps a new file; returns it.
    pub(super) fn add_file(&mut self, filename: String, purpose: &str, bytes: Vec<u8>) -> File {
        self.next_file += 1;
        let file = File {
            id: format!("file-{}", self.next_file),
            filename,
            purpose: purpose.to_string(),
            created_at: Utc::now().timestamp(),
            bytes,
        };
        self.files.insert(file.id.clone(), file.clone());
        file
    }

    /// The number of the next batch.
    pub(super) fn next_batch(&mut self) -> u64 {
        self.next_batch += 1;
        self.next_batch
    }

    /// Keeps a new batch; counts it.
    pub(super) fn insert(&mut self, inner: &Inner, batch: Batch) {
        add(&inner.counters.batches, 1);
        self.batches.insert(batch.id.clone(), batch);
    }

    /// The batch `id` of a dialect of `api`, moved on as a look moves it (see
    /// [`Batch::advance`]); an OpenAI batch that ends now gets its files.
    pub(super) fn look(&mut self, inner: &Inner, api: Api, id: &str) -> Option<&mut Batch> {
        let family = |a: Api| matches!(a, Api::OpenAi | Api::Azure);
        let batch = self.batches.get_mut(id)?;
        if batch.api != api && !(family(batch.api) && family(api)) {
            return None;
        }
        let ended = batch.advance(inner, &mut self.next_item);
        if ended && family(api) && batch.state != State::Failed {
            let (output, errors) = batch_openai::result_files(batch);
            let name = batch.id.clone();
            let output =
                output.map(|b| self.add_file(format!("{name}_output.jsonl"), "batch_output", b));
            let errors =
                errors.map(|b| self.add_file(format!("{name}_error.jsonl"), "batch_output", b));
            let batch = self.batches.get_mut(id)?;
            batch.output_file = output.map(|f| f.id);
            batch.error_file = errors.map(|f| f.id);
            return Some(batch);
        }
        self.batches.get_mut(id)
    }
}

impl Inner {
    /// The files and batches, locked.
    pub(super) fn store(&self) -> MutexGuard<'_, Store> {
        self.batches.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The refusal of a batch request without the key or header of its dialect (as live, but
/// counted in no counter).
pub(super) fn guard(inner: &Inner, api: Api, req: &HttpRequest) -> Option<HttpResponse> {
    if let Some(refusal) = key_refusal(inner, api, req) {
        return Some(refusal);
    }
    header_refusal(api, req).map(|bad| HttpResponse::BadRequest().json(bad_body(api, &bad)))
}

/// An instant as RFC 3339 in UTC (`Z`), as Anthropic and Google write them.
pub(super) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The batch routes of every dialect.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    batch_openai::routes(cfg);
    batch_anthropic::routes(cfg);
    batch_gemini::routes(cfg);
}
