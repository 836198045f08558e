//! The `webhook_delivery` job: posts one delivery's body to its endpoint through the outbound
//! policy, signed with the endpoint's secret, and records the attempt. A 2xx answer delivers
//! it (recorded only while this worker holds the job); any other answer, or no answer, is
//! retried on [`retry_delay`]'s schedule for about a day; an address the policy refuses, a
//! deleted or disabled endpoint, or an unreadable secret fail it at once. The receiver dedupes
//! on the delivery id: a worker that dies after the endpoint accepted but before recording it
//! makes the next worker send it again, with the same id.
use super::{BackgroundJob, JobContext, JobError};
use crate::outbound::OutboundError;
use crate::services::webhooks as service;
use entity::enums::{DeliveryStatus, JobKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long an endpoint may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (and thrown away) before the connection is let go.
const ANSWER_BYTES: usize = 64 * 1024;
/// The longest wait between attempts, in first backoffs (2 hours at the default 30 s).
const CAP_FACTOR: u32 = 240;

/// A delivery to send.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryJob {
    /// The delivery row (`webhook_deliveries.id`).
    pub delivery_id: i64,
}

impl BackgroundJob for DeliveryJob {
    const KIND: JobKind = JobKind::WebhookDelivery;
    const MAX_ATTEMPTS: i32 = service::ATTEMPTS;

    async fn run(&self, cx: &JobContext) -> Result<String, JobError> {
        deliver(cx, self.delivery_id).await
    }

    async fn ended(&self, cx: &JobContext, error: &str) -> Result<(), JobError> {
        service::give_up(cx.db(), self.delivery_id, error).await?;
        Ok(())
    }
}

/// The wait before the attempt after attempt `attempts`: `base_ms` doubled per attempt up to
/// [`CAP_FACTOR`] times it, less up to a tenth at random (so that a receiver back from an
/// outage is not hit by every delivery at once).
pub fn retry_delay(base_ms: u64, attempts: i32) -> Duration {
    let base = Duration::from_millis(base_ms.max(1));
    super::queue::capped_backoff(base, attempts, base.saturating_mul(CAP_FACTOR), 0.9)
}

/// One attempt of delivery `id`.
async fn deliver(cx: &JobContext, id: i64) -> Result<String, JobError> {
    let db = cx.db();
    let Some((d, endpoint)) = service::for_sending(db, id).await? else {
        return Err(JobError::Permanent(
            "The delivery was deleted with its endpoint.".into(),
        ));
    };
    if d.status != DeliveryStatus::Pending {
        return Ok(format!(
            "delivery {} was already {}",
            d.delivery_id, d.status
        ));
    }
    let Some(w) = endpoint else {
        return Err(JobError::Permanent("The endpoint was deleted.".into()));
    };
    if !w.is_active && d.event != entity::enums::WebhookEvent::Test {
        return Err(JobError::Permanent(
            "The endpoint is disabled; the delivery was not sent.".into(),
        ));
    }
    let secret = cx.engine.secrets().open(&w.secret_enc).map_err(|_| {
        JobError::Permanent(
            "The endpoint's secret cannot be read (the server's secrets key changed): set a \
             new secret."
                .into(),
        )
    })?;
    let timestamp = crate::util::now().timestamp();
    let http = cx.engine.http();
    let request = http
        .client()
        .post(&w.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::USER_AGENT,
            concat!("Prompter-Webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .header("Prompter-Delivery", d.delivery_id.as_str())
        .header("Prompter-Event", d.event.as_str())
        .header("Prompter-Timestamp", timestamp.to_string())
        .header(
            "Prompter-Signature",
            service::signature(&secret, timestamp, &d.body),
        )
        .timeout(TIMEOUT)
        .body(d.body.clone());
    let attempt = cx.job.attempts;
    // A cancel or a takeover stops this attempt where it waits (the worker's select).
    let answered = http.send(request).await;
    let (status, failure) = match answered {
        Ok(response) => {
            let status = response.status().as_u16();
            // The answer's body is never shown to anyone: read a little so the connection can
            // be reused, and drop it.
            let _ = crate::outbound::read_at_most(response, ANSWER_BYTES).await;
            if (200..300).contains(&status) {
                (Some(status), None)
            } else {
                (
                    Some(status),
                    Some(JobError::Transient(format!(
                        "The endpoint answered HTTP {status}."
                    ))),
                )
            }
        }
        Err(e @ (OutboundError::Denied(_) | OutboundError::BadUrl)) => (
            None,
            Some(JobError::Permanent(format!(
                "The endpoint's address is refused: {e}. An operator can allow it with \
                 PROMPTER_OUTBOUND_ALLOW."
            ))),
        ),
        Err(e) => (
            None,
            Some(JobError::Transient(format!(
                "The endpoint could not be reached: {e}."
            ))),
        ),
    };
    match failure {
        None => {
            let txn = crate::db::begin_write(db).await?;
            if !cx.holds(&txn).await? {
                return Err(JobError::Lost);
            }
            service::record_attempt(&txn, d.id, attempt, status, Ok(())).await?;
            txn.commit().await?;
            Ok(format!(
                "delivered {} ({}) to webhook {}: HTTP {}",
                d.delivery_id,
                d.event,
                w.id,
                status.unwrap_or_default()
            ))
        }
        Some(error) => {
            let reason = match &error {
                JobError::Transient(r) | JobError::Permanent(r) => r.as_str(),
                _ => "",
            };
            service::record_attempt(db, d.id, attempt, status, Err(reason)).await?;
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_two_hours_for_about_a_day() {
        let base = 30_000;
        let ceilings: Vec<u64> = (1..service::ATTEMPTS)
            .map(|a| {
                let d = retry_delay(base, a).as_millis() as u64;
                let ceiling = (base << (a - 1).min(20)).min(base * 240);
                assert!(d <= ceiling && d * 10 >= ceiling * 9, "attempt {a}: {d}");
                ceiling
            })
            .collect();
        assert_eq!(ceilings[0], 30_000);
        assert_eq!(*ceilings.last().unwrap_or(&0), 7_200_000);
        let total_hours = ceilings.iter().sum::<u64>() as f64 / 3_600_000.0;
        assert!((23.0..26.0).contains(&total_hours), "{total_hours} h");
    }
}
