//! Budget gates: before each LLM call the engine asks the gate of the call's provider
//! connection whether the call could cross the connection's `budget_limit`, counting what was
//! spent in the period, what calls in flight may still cost and what this call may cost.
//!
//! One gate per connection per process. The spending is read from the database at most every
//! [`REFRESH`], so other processes' spending shows within that time; in between, the gate adds
//! the costs of its own calls as they finish. With several processes on one database a limit
//! can thus be passed by at most what the others spend in one refresh interval.
use crate::services::budgets;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a read of the database's spending is trusted.
pub const REFRESH: Duration = Duration::from_secs(2);

/// Calls settled before the gate estimates a call from what calls really cost.
const LEARNED_AFTER: u64 = 3;

/// What a gate knows.
#[derive(Debug, Default)]
struct State {
    limit: Option<f64>,
    spent: f64,
    in_flight: f64,
    in_flight_calls: u64,
    read_at: Option<Instant>,
    settled_calls: u64,
    settled_cost: f64,
}

impl State {
    /// What a call is expected to cost: twice the mean of the calls settled so far, once there
    /// are a few, else the caller's conservative `estimate`.
    fn expected(&self, estimate: f64) -> f64 {
        if self.settled_calls >= LEARNED_AFTER {
            (2.0 * self.settled_cost / self.settled_calls as f64).min(estimate.max(0.0))
        } else {
            estimate.max(0.0)
        }
    }
}

/// The budget gate of one provider connection.
#[derive(Debug)]
pub struct Gate {
    connection_id: i64,
    state: Mutex<State>,
    settled: tokio::sync::Notify,
}

/// A call admitted by a gate, holding its estimated cost until it is settled.
#[must_use = "settle the ticket with the call's real cost"]
#[derive(Debug)]
pub struct Ticket {
    estimate: f64,
}

impl Gate {
    fn new(connection_id: i64) -> Self {
        Gate {
            connection_id,
            state: Mutex::default(),
            settled: tokio::sync::Notify::new(),
        }
    }

    /// Admits a call that may cost up to `estimate` (USD), or says why not. A call is admitted
    /// when the spending of the period, plus what the calls in flight may cost, plus what this
    /// one is expected to cost stays within the limit; when it would not but calls are in
    /// flight, it waits for them to finish (they may cost less than feared) and asks again.
    pub async fn admit(&self, db: &DatabaseConnection, estimate: f64) -> Result<Ticket, String> {
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            self.refresh(db).await;
            let mut refused = None;
            {
                let mut s = self
                    .state
                    .lock()
                    .map_err(|_| "the budget gate is unavailable".to_string())?;
                let expected = s.expected(estimate);
                match s.limit {
                    Some(limit) if s.spent + s.in_flight + expected > limit => {
                        if s.in_flight_calls == 0 {
                            refused = Some((limit, s.spent, expected));
                        }
                    }
                    _ => {
                        s.in_flight += expected;
                        s.in_flight_calls += 1;
                        return Ok(Ticket { estimate: expected });
                    }
                }
            }
            if let Some((limit, spent, expected)) = refused {
                // Told once per period and endpoint; a failure to tell does not change the
                // refusal.
                if let Err(e) =
                    crate::services::webhooks::budget_exceeded(db, self.connection_id, spent, limit)
                        .await
                {
                    tracing::warn!(connection = self.connection_id, error = %e, "could not emit budget.exceeded");
                }
                return Err(format!(
                    "Stopped before crossing the budget limit of ${limit:.4} of model provider \
                     connection {}: ${spent:.4} spent this period, and the next call may cost \
                     ${expected:.4}.",
                    self.connection_id
                ));
            }
            settled.await;
        }
    }

    /// Reads the spending from the database when the last read is older than [`REFRESH`].
    async fn refresh(&self, db: &DatabaseConnection) {
        let stale = self
            .state
            .lock()
            .map(|s| s.read_at.is_none_or(|t| t.elapsed() >= REFRESH))
            .unwrap_or(true);
        if !stale {
            return;
        }
        let read = budgets::state(db, self.connection_id).await;
        if let (Ok(Some(budget)), Ok(mut s)) = (read, self.state.lock()) {
            s.limit = budget.limit;
            // Our own finished calls may not be written yet: never go below them.
            s.spent = s.spent.max(budget.spent);
            s.read_at = Some(Instant::now());
        }
    }

    /// The call of `ticket` finished and cost `cost` (USD).
    pub fn settle(&self, ticket: Ticket, cost: f64) {
        if let Ok(mut s) = self.state.lock() {
            let cost = cost.max(0.0);
            s.in_flight_calls = s.in_flight_calls.saturating_sub(1);
            // Sums of floats drift: with nothing in flight, nothing is.
            s.in_flight = if s.in_flight_calls == 0 {
                0.0
            } else {
                (s.in_flight - ticket.estimate).max(0.0)
            };
            s.spent += cost;
            s.settled_calls += 1;
            s.settled_cost += cost;
        }
        self.settled.notify_waiters();
    }
}

/// The gates of a process, by connection.
#[derive(Debug, Default)]
pub struct Gates {
    gates: Mutex<HashMap<i64, Arc<Gate>>>,
}

impl Gates {
    /// The gate of connection `id`.
    pub fn get(&self, id: i64) -> Arc<Gate> {
        match self.gates.lock() {
            Ok(mut gates) => gates
                .entry(id)
                .or_insert_with(|| Arc::new(Gate::new(id)))
                .clone(),
            Err(_) => Arc::new(Gate::new(id)),
        }
    }

    /// Makes every gate read the spending and limit from the database at its next call
    /// instead of trusting its last read for up to [`REFRESH`] (a limit just changed; tests
    /// use it rather than wait the interval out).
    pub fn expire_reads(&self) {
        if let Ok(gates) = self.gates.lock() {
            for gate in gates.values() {
                if let Ok(mut s) = gate.state.lock() {
                    s.read_at = None;
                }
            }
        }
    }
}
