//! Label Studio tasks and annotations kept in a Prompter project: one upsert for the two ways
//! they arrive, a sync's pages (snapshots of the Label Studio project) and the ML backend's
//! webhook events (one change at a time, possibly out of order), and the deletion events ask
//! for.
//!
//! Tasks are matched by `ls_task_id` and annotations by `ls_annotation_id` within the project.
//! An upsert writes in one transaction: stored tasks that changed, new tasks (through the same
//! insert as imports, then tagged with their Label Studio id), stored annotations, new
//! annotations; then it recounts the tasks whose annotations it wrote. The rules in which a
//! sync and events differ are [`Source`]'s; everything else is shared.
use super::client::{LsAnnotation, LsTask};
use super::set_ids;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::services::{counters, scored, tasks};
use crate::views::label_studio::GroundTruthMode;
use chrono::{DateTime, Utc};
use entity::{annotation, project, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Where the rows come from, which decides the rules in which a sync and events differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A page of a sync, a snapshot of the Label Studio project. Ground truth by the mode.
    /// Rows are stamped with this server's time. A stored task takes the data and meta given
    /// (a `null` meta reads as `{}`) when either changed; a stored annotation takes the result,
    /// cancellation, ground truth and lead time given (marked updated by the caller) when one of
    /// the first three changed, and stays on its task.
    Sync(GroundTruthMode),
    /// The ML backend's webhook events, possibly applied out of order. Every non-cancelled
    /// annotation is ground truth. Annotations keep Label Studio's timestamps (this server's
    /// time where Label Studio sent none): an update older than the stored row is skipped, any
    /// other is written and moves the row to the task it is listed under. A task's data is
    /// taken only when it is an object (a new task without one is not created, and its
    /// annotations are skipped); its meta (an object, else `{}`) only when it is created.
    Events,
}

/// What an upsert wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Tasks created.
    pub tasks_created: u64,
    /// Stored tasks changed.
    pub tasks_updated: u64,
    /// Annotations created.
    pub annotations_created: u64,
    /// Stored annotations changed.
    pub annotations_updated: u64,
}

impl std::ops::AddAssign for Written {
    fn add_assign(&mut self, other: Written) {
        self.tasks_created += other.tasks_created;
        self.tasks_updated += other.tasks_updated;
        self.annotations_created += other.annotations_created;
        self.annotations_updated += other.annotations_updated;
    }
}

/// A task as `source` takes it.
struct Incoming<'a> {
    ls_id: i64,
    /// The data to store; `None` keeps a stored task's data and creates no task.
    data: Option<&'a Value>,
    /// The meta a stored task takes; `None` keeps its own.
    meta: Option<Value>,
    /// The meta of a new task.
    new_meta: Value,
}

impl Source {
    fn incoming(self, t: &LsTask) -> Incoming<'_> {
        match self {
            Source::Sync(_) => {
                let meta = t.meta.clone().filter(|m| !m.is_null());
                let meta = meta.unwrap_or_else(|| json!({}));
                Incoming {
                    ls_id: t.id,
                    data: Some(&t.data),
                    meta: Some(meta.clone()),
                    new_meta: meta,
                }
            }
            Source::Events => Incoming {
                ls_id: t.id,
                data: Some(&t.data).filter(|d| d.is_object()),
                meta: None,
                new_meta: t
                    .meta
                    .clone()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({})),
            },
        }
    }

    fn ground_truth(self, a: &LsAnnotation) -> bool {
        match self {
            Source::Sync(GroundTruthMode::Flagged) => a.ground_truth,
            Source::Sync(GroundTruthMode::All) | Source::Events => !a.was_cancelled,
        }
    }

    /// (created_at, updated_at) of an annotation written at `now`.
    fn stamps(self, a: &LsAnnotation, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Source::Sync(_) => (now, now),
            Source::Events => {
                let updated = a.updated_at.unwrap_or(now);
                (a.created_at.unwrap_or(updated), updated)
            }
        }
    }
}

/// The parts of an annotation the project stores, as `source` reads them.
struct Fields {
    result: Value,
    was_cancelled: bool,
    ground_truth: bool,
    lead_time: Option<f64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Fields {
    fn of(source: Source, a: &LsAnnotation, now: DateTime<Utc>) -> Self {
        let (created_at, updated_at) = source.stamps(a, now);
        Fields {
            result: match &a.result {
                Some(v @ Value::Array(_)) => v.clone(),
                _ => json!([]),
            },
            was_cancelled: a.was_cancelled,
            ground_truth: source.ground_truth(a),
            lead_time: a.lead_time,
            created_at,
            updated_at,
        }
    }

    /// Whether `source` writes these fields over `row`.
    fn overwrite(&self, source: Source, row: &annotation::Model) -> bool {
        match source {
            Source::Sync(_) => {
                !same_json(&row.result, &self.result)
                    || row.was_cancelled != self.was_cancelled
                    || row.ground_truth != self.ground_truth
            }
            Source::Events => row.updated_at <= self.updated_at,
        }
    }
}

/// Upserts Label Studio tasks and their annotations into `project` in one transaction, by the
/// rules of `source`, and recounts the tasks whose annotations were written. A task (or an
/// annotation) listed more than once is written once: its last listing, or for
/// [`Source::Events`] its newest annotation.
pub async fn upsert(
    db: &DatabaseConnection,
    caller: &AuthUser,
    project: &project::Model,
    source: Source,
    listed: &[LsTask],
) -> ApiResult<Written> {
    let txn = crate::db::begin_write(db).await?;
    let mut upsert = Upsert {
        db: &txn,
        caller,
        project,
        source,
        now: crate::util::now(),
        written: Written::default(),
        touched: vec![],
    };
    let task_of = upsert.tasks(listed).await?;
    let ids: Vec<i64> = task_of.values().copied().collect();
    let scores = scored::before(&txn, &ids).await?;
    upsert.annotations(listed, &task_of).await?;
    counters::recount_tasks(&txn, &upsert.touched).await?;
    scores.apply(&txn).await?;
    let written = upsert.written;
    txn.commit().await?;
    Ok(written)
}

/// The state of one upsert.
struct Upsert<'a, C> {
    db: &'a C,
    caller: &'a AuthUser,
    project: &'a project::Model,
    source: Source,
    now: DateTime<Utc>,
    written: Written,
    /// Tasks whose annotations changed, to recount.
    touched: Vec<i64>,
}

impl<C: ConnectionTrait> Upsert<'_, C> {
    /// Updates the stored tasks that changed and creates the new ones; returns the project's
    /// task id of each Label Studio task id (none for a task not created).
    async fn tasks(&mut self, listed: &[LsTask]) -> ApiResult<HashMap<i64, i64>> {
        // Each task once, in the order of first listing, as last listed.
        let mut order: Vec<i64> = vec![];
        let mut last: HashMap<i64, &LsTask> = HashMap::new();
        for t in listed {
            if last.insert(t.id, t).is_none() {
                order.push(t.id);
            }
        }
        let mut stored: HashMap<i64, task::Model> = HashMap::new();
        for chunk in order.chunks(500) {
            for t in task::Entity::find()
                .filter(task::Column::ProjectId.eq(self.project.id))
                .filter(task::Column::LsTaskId.is_in(chunk.to_vec()))
                .all(self.db)
                .await?
            {
                if let Some(ls) = t.ls_task_id {
                    stored.insert(ls, t);
                }
            }
        }
        let mut task_of: HashMap<i64, i64> = HashMap::new();
        let (mut new_tasks, mut new_ls_ids) = (vec![], vec![]);
        for t in order.iter().filter_map(|id| last.get(id)) {
            let t = self.source.incoming(t);
            match stored.get(&t.ls_id) {
                Some(row) => {
                    task_of.insert(t.ls_id, row.id);
                    self.update_task(row, &t).await?;
                }
                None => {
                    if let Some(data) = t.data {
                        new_tasks.push(tasks::NewTask::plain(data.clone(), t.new_meta));
                        new_ls_ids.push(t.ls_id);
                    }
                }
            }
        }
        if !new_tasks.is_empty() {
            let outcome = tasks::insert_many(self.db, self.caller, self.project, new_tasks).await?;
            let pairs: Vec<(i64, i64)> = outcome.task_ids.into_iter().zip(new_ls_ids).collect();
            set_ids(self.db, "tasks", "ls_task_id", &pairs).await?;
            self.written.tasks_created += pairs.len() as u64;
            task_of.extend(pairs.into_iter().map(|(id, ls)| (ls, id)));
        }
        Ok(task_of)
    }

    /// Writes what changed of a stored task (nothing when nothing did).
    async fn update_task(&mut self, row: &task::Model, t: &Incoming<'_>) -> ApiResult<()> {
        let data_changed = t.data.is_some_and(|d| !same_json(&row.data, d));
        let meta_changed = t.meta.as_ref().is_some_and(|m| !same_json(&row.meta, m));
        if !data_changed && !meta_changed {
            return Ok(());
        }
        let mut update = task::Entity::update_many()
            .col_expr(task::Column::UpdatedAt, Expr::value(self.now))
            .filter(task::Column::Id.eq(row.id));
        if let Some(data) = t.data {
            update = update.col_expr(task::Column::Data, Expr::value(data.clone()));
        }
        if let Some(meta) = &t.meta {
            update = update.col_expr(task::Column::Meta, Expr::value(meta.clone()));
        }
        update.exec(self.db).await?;
        self.written.tasks_updated += 1;
        Ok(())
    }

    /// Updates the stored annotations `source` overwrites and inserts the new ones, each on the
    /// project's task of the Label Studio task it is listed under.
    async fn annotations(
        &mut self,
        listed: &[LsTask],
        task_of: &HashMap<i64, i64>,
    ) -> ApiResult<()> {
        let entries = once_each(listed, self.source);
        let ls_ids: Vec<i64> = entries.iter().map(|(_, a)| a.id).collect();
        let mut stored: HashMap<i64, annotation::Model> = HashMap::new();
        for chunk in ls_ids.chunks(500) {
            for a in annotation::Entity::find()
                .filter(annotation::Column::ProjectId.eq(self.project.id))
                .filter(annotation::Column::LsAnnotationId.is_in(chunk.to_vec()))
                .all(self.db)
                .await?
            {
                if let Some(ls) = a.ls_annotation_id {
                    stored.insert(ls, a);
                }
            }
        }
        let mut new_rows = vec![];
        for (ls_task, a) in entries {
            let Some(&task_id) = task_of.get(&ls_task) else {
                continue;
            };
            let fields = Fields::of(self.source, a, self.now);
            match stored.remove(&a.id) {
                Some(row) => self.update_annotation(row, task_id, fields).await?,
                None => {
                    new_rows.push(self.new_annotation(task_id, a.id, fields));
                    self.touched.push(task_id);
                }
            }
        }
        self.written.annotations_created += new_rows.len() as u64;
        for chunk in crate::util::chunked(new_rows, 500) {
            annotation::Entity::insert_many(chunk)
                .exec_without_returning(self.db)
                .await?;
        }
        Ok(())
    }

    /// Writes `fields` over a stored annotation when `source` says so.
    async fn update_annotation(
        &mut self,
        row: annotation::Model,
        task_id: i64,
        fields: Fields,
    ) -> ApiResult<()> {
        if !fields.overwrite(self.source, &row) {
            return Ok(());
        }
        self.touched.push(row.task_id);
        let mut model: annotation::ActiveModel = row.into();
        model.result = Set(fields.result);
        model.was_cancelled = Set(fields.was_cancelled);
        model.ground_truth = Set(fields.ground_truth);
        model.lead_time = Set(fields.lead_time);
        model.last_action = Set(Some("updated".into()));
        model.updated_at = Set(fields.updated_at);
        match self.source {
            Source::Sync(_) => model.updated_by_id = Set(Some(self.caller.user.id)),
            Source::Events => {
                model.task_id = Set(task_id);
                self.touched.push(task_id);
            }
        }
        model.update(self.db).await?;
        self.written.annotations_updated += 1;
        Ok(())
    }

    fn new_annotation(&self, task_id: i64, ls_id: i64, fields: Fields) -> annotation::ActiveModel {
        annotation::ActiveModel {
            id: NotSet,
            task_id: Set(task_id),
            project_id: Set(self.project.id),
            result: Set(fields.result),
            was_cancelled: Set(fields.was_cancelled),
            ground_truth: Set(fields.ground_truth),
            lead_time: Set(fields.lead_time),
            completed_by_id: Set(Some(self.caller.user.id)),
            updated_by_id: Set(Some(self.caller.user.id)),
            parent_prediction_id: Set(None),
            parent_annotation_id: Set(None),
            last_action: Set(Some("imported".into())),
            ls_annotation_id: Set(Some(ls_id)),
            created_at: Set(fields.created_at),
            updated_at: Set(fields.updated_at),
        }
    }
}

/// Each annotation once, with the Label Studio task it is listed under: its last listing, or
/// for [`Source::Events`] its newest (the last of equally new ones).
fn once_each(listed: &[LsTask], source: Source) -> Vec<(i64, &LsAnnotation)> {
    let mut at: HashMap<i64, usize> = HashMap::new();
    let mut out: Vec<(i64, &LsAnnotation)> = vec![];
    for t in listed {
        for a in &t.annotations {
            match at.get(&a.id) {
                Some(&i) => {
                    let older = source == Source::Events && a.updated_at < out[i].1.updated_at;
                    if !older {
                        out[i] = (t.id, a);
                    }
                }
                None => {
                    at.insert(a.id, out.len());
                    out.push((t.id, a));
                }
            }
        }
    }
    out
}

/// Deletes the project's annotations with these Label Studio ids and recounts their tasks;
/// returns how many were deleted.
pub async fn delete_annotations(
    db: &DatabaseConnection,
    project_id: i64,
    ls_ids: &[i64],
) -> ApiResult<usize> {
    let txn = crate::db::begin_write(db).await?;
    let found: Vec<(i64, i64)> = crate::db::in_chunks(ls_ids, |chunk| {
        annotation::Entity::find()
            .select_only()
            .columns([annotation::Column::Id, annotation::Column::TaskId])
            .filter(annotation::Column::ProjectId.eq(project_id))
            .filter(annotation::Column::LsAnnotationId.is_in(chunk))
            .into_tuple()
            .all(&txn)
    })
    .await?;
    if !found.is_empty() {
        let tasks: Vec<i64> = found.iter().map(|(_, t)| *t).collect();
        let scores = scored::before(&txn, &tasks).await?;
        let ids: Vec<i64> = found.iter().map(|(id, _)| *id).collect();
        for chunk in ids.chunks(crate::db::MAX_BOUND_IDS) {
            annotation::Entity::delete_many()
                .filter(annotation::Column::Id.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
        counters::recount_tasks(&txn, &tasks).await?;
        scores.apply(&txn).await?;
    }
    txn.commit().await?;
    Ok(found.len())
}

/// Equality of JSON values with numbers compared by value (`1.0` equals `1`), as PostgreSQL's
/// `jsonb` may give numbers back in another form than they were sent.
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_equality_ignores_number_forms_and_key_order() {
        assert!(same_json(
            &json!({"a": 1, "b": [1.0]}),
            &json!({"b": [1], "a": 1.0})
        ));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 1, "b": null})));
        assert!(!same_json(&json!([1, 2]), &json!([2, 1])));
    }

    fn annotation(id: i64, updated_at: Option<&str>) -> LsAnnotation {
        LsAnnotation {
            id,
            result: None,
            was_cancelled: false,
            ground_truth: false,
            lead_time: None,
            created_at: None,
            updated_at: updated_at.and_then(|t| super::super::client::parse_time(&json!(t))),
        }
    }

    fn listed(id: i64, annotations: Vec<LsAnnotation>) -> LsTask {
        LsTask {
            id,
            data: json!({}),
            meta: None,
            annotations,
        }
    }

    #[test]
    fn an_annotation_listed_twice_counts_once() {
        let tasks = [
            listed(1, vec![annotation(7, Some("2026-01-02T00:00:00Z"))]),
            listed(2, vec![annotation(7, Some("2026-01-01T00:00:00Z"))]),
            listed(3, vec![annotation(8, None)]),
        ];
        let ids = |source| {
            once_each(&tasks, source)
                .iter()
                .map(|(t, a)| (*t, a.id))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Source::Events), [(1, 7), (3, 8)], "the newest");
        assert_eq!(
            ids(Source::Sync(GroundTruthMode::All)),
            [(2, 7), (3, 8)],
            "the last"
        );
    }

    #[test]
    fn ground_truth_follows_the_source() {
        let mut a = annotation(1, None);
        a.ground_truth = true;
        a.was_cancelled = true;
        assert!(Source::Sync(GroundTruthMode::Flagged).ground_truth(&a));
        assert!(!Source::Sync(GroundTruthMode::All).ground_truth(&a));
        assert!(!Source::Events.ground_truth(&a));
        a.was_cancelled = false;
        a.ground_truth = false;
        assert!(Source::Events.ground_truth(&a));
        assert!(!Source::Sync(GroundTruthMode::Flagged).ground_truth(&a));
    }
}
