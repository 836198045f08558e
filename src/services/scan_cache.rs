//! Results of whole-run scans (a run's evaluation, the task ids a results filter matches),
//! kept in memory and keyed by a watermark of what they were computed from: the run's result
//! counters and last write, and the count and latest change of its project's annotations. Any
//! new result, or any annotation added, changed or removed, changes the watermark, so a cached
//! answer is never stale; each process keeps its own.
use crate::error::ApiResult;
use chrono::{DateTime, Utc};
use entity::{annotation, model_run};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Entries kept per cache; past it the cache starts over.
const MAX_ENTRIES: usize = 64;

/// What a scan of a run read, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Watermark {
    run: i64,
    predictions: i64,
    failed: i64,
    correct: i64,
    written: Option<DateTime<Utc>>,
    annotations: i64,
    annotated: Option<DateTime<Utc>>,
}

/// The watermark of `run` now.
pub async fn watermark(db: &impl ConnectionTrait, run: &model_run::Model) -> ApiResult<Watermark> {
    let (annotations, annotated): (i64, Option<DateTime<Utc>>) = annotation::Entity::find()
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust("MAX(updated_at)"))
        .filter(annotation::Column::ProjectId.eq(run.project_id))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or((0, None));
    Ok(Watermark {
        run: run.id,
        predictions: run.total_predictions,
        failed: run.total_failed,
        correct: run.total_correct_predictions,
        written: run.predictions_updated_at,
        annotations,
        annotated,
    })
}

/// A small map of computed values.
pub struct Cache<K, V> {
    entries: Mutex<HashMap<K, Arc<V>>>,
}

impl<K: Eq + Hash, V> Cache<K, V> {
    /// An empty cache.
    pub fn new() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key`, if computed.
    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Keeps `value` for `key`.
    pub fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, value.clone());
        }
        value
    }
}

impl<K: Eq + Hash, V> Default for Cache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_and_bounds_entries() {
        let cache: Cache<u32, String> = Cache::new();
        assert!(cache.get(&1).is_none());
        cache.put(1, "one".into());
        assert_eq!(cache.get(&1).as_deref().map(String::as_str), Some("one"));
        for i in 0..(MAX_ENTRIES as u32 + 5) {
            cache.put(i + 10, String::new());
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
