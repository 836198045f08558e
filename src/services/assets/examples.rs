//! An import's few-shot examples put into a project as ground truth, idempotently: an example
//! whose data a task of the project already has reuses that task, so importing the same
//! examples again never adds them twice (accuracy would count them twice).
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::services::{annotations, projects};
use crate::views::annotations::AnnotationInput;
use entity::{annotation, project, task};
use sea_orm::sea_query::LockType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::{Value, json};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

/// Tasks read per statement while looking for the examples' data in the project.
const PAGE: u64 = 1000;

/// Ids per `IN (...)` statement (far below SQLite's variable limit).
const CHUNK: usize = 500;

/// What putting the examples did.
#[derive(Debug, Default)]
pub struct Placed {
    /// Examples added as new tasks with a ground-truth annotation.
    pub added: usize,
    /// Examples whose data a task already had, which then got a ground-truth annotation.
    pub annotated: usize,
    /// Examples whose task already had ground truth (or that repeat another example of the
    /// document): nothing added.
    pub present: usize,
}

/// Puts `examples` (`{"data", "result"}`) into project `project_id` as ground truth. Runs in
/// the caller's write transaction; the project's row lock (PostgreSQL `FOR NO KEY UPDATE`,
/// which inserts referencing the project do not wait for, nor deadlock with) serializes
/// concurrent imports into one project, as SQLite's single writer does.
pub async fn put<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    caller: &AuthUser,
    project_id: i64,
    examples: &[Value],
) -> ApiResult<Placed> {
    project::Entity::find_by_id(project_id)
        .filter(project::Column::OrganizationId.eq(caller.organization_id))
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "project",
                format!("Invalid pk \"{project_id}\" - object does not exist."),
            )
        })?;
    let mut placed = Placed::default();
    // The first example of each distinct data, by the data's canonical hash.
    let mut wanted: HashMap<String, usize> = HashMap::new();
    let mut order = vec![];
    for (i, e) in examples.iter().enumerate() {
        match wanted.entry(super::canonical_hash(&e["data"])) {
            Entry::Vacant(slot) => {
                slot.insert(i);
                order.push(i);
            }
            Entry::Occupied(_) => placed.present += 1,
        }
    }
    let found = tasks_with_data(txn, project_id, &wanted).await?;
    let ids: Vec<i64> = found.values().copied().collect();
    let truth = with_ground_truth(txn, &ids).await?;
    let mut new_tasks = vec![];
    for i in order {
        let e = &examples[i];
        match found.get(&i) {
            Some(task) if truth.contains(task) => placed.present += 1,
            Some(task) => {
                annotations::create(
                    txn,
                    caller,
                    *task,
                    AnnotationInput {
                        result: Some(Some(e["result"].clone())),
                        ground_truth: Some(true),
                        ..Default::default()
                    },
                )
                .await?;
                placed.annotated += 1;
            }
            None => new_tasks.push(json!({"data": e["data"],
                "annotations": [{"result": e["result"], "ground_truth": true}]})),
        }
    }
    if !new_tasks.is_empty() {
        placed.added = new_tasks.len();
        projects::import(txn, caller, project_id, Value::Array(new_tasks), true, true).await?;
    }
    Ok(placed)
}

/// The task of the project holding each wanted data (by the example's index), read a page at
/// a time so memory stays bounded whatever the project's size.
async fn tasks_with_data(
    db: &impl ConnectionTrait,
    project_id: i64,
    wanted: &HashMap<String, usize>,
) -> ApiResult<HashMap<usize, i64>> {
    let mut found = HashMap::new();
    let mut after = 0i64;
    loop {
        let page: Vec<(i64, Value)> = task::Entity::find()
            .select_only()
            .columns([task::Column::Id, task::Column::Data])
            .filter(task::Column::ProjectId.eq(project_id))
            .filter(task::Column::Id.gt(after))
            .order_by_asc(task::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(db)
            .await?;
        for (id, data) in &page {
            if let Some(&i) = wanted.get(&super::canonical_hash(data)) {
                found.entry(i).or_insert(*id);
            }
        }
        match page.last() {
            Some((id, _)) if page.len() as u64 == PAGE && found.len() < wanted.len() => {
                after = *id;
            }
            _ => return Ok(found),
        }
    }
}

/// Which of `tasks` have a ground-truth annotation that was not cancelled.
async fn with_ground_truth(db: &impl ConnectionTrait, tasks: &[i64]) -> ApiResult<HashSet<i64>> {
    let mut out = HashSet::new();
    for chunk in tasks.chunks(CHUNK) {
        let ids: Vec<i64> = annotation::Entity::find()
            .select_only()
            .column(annotation::Column::TaskId)
            .filter(annotation::Column::TaskId.is_in(chunk.to_vec()))
            .filter(annotation::Column::GroundTruth.eq(true))
            .filter(annotation::Column::WasCancelled.eq(false))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(ids);
    }
    Ok(out)
}
