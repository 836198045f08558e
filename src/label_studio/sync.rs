//! The sync of a link: imports the Label Studio project's tasks and annotations page by page.
use super::client::{LsClient, LsTask, PAGE_SIZE};
use super::jobs::{claim, describe, finish, open_token, progress};
use super::link::{get, reconcile_config};
use super::{GroundTruthMode, SyncInput, job, set_ids};
use crate::auth::AuthUser;
use crate::crypto::Secrets;
use crate::error::ApiResult;
use crate::services::{counters, tasks};
use entity::{annotation, label_studio_link as link, project, task};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Starts a sync in the background and returns the link, now running.
pub async fn start_sync(
    db: &DatabaseConnection,
    secrets: &Secrets,
    caller: &AuthUser,
    project_id: i64,
    input: SyncInput,
) -> ApiResult<link::Model> {
    let existing = get(db, caller, project_id).await?;
    let token = open_token(secrets, &existing)?;
    let claimed = claim(db, existing.id, job::SYNC).await?;
    let mode = input.ground_truth.unwrap_or_default();
    let (db, caller, l) = (db.clone(), caller.clone(), claimed.clone());
    tokio::spawn(async move {
        let outcome = sync(&db, &caller, &l, &token, mode).await;
        finish(&db, &l, job::SYNC, outcome).await;
    });
    Ok(claimed)
}

/// What a page of a sync wrote.
#[derive(Debug, Default)]
struct SyncStats {
    tasks_read: u64,
    tasks_created: u64,
    tasks_updated: u64,
    annotations_created: u64,
    annotations_updated: u64,
}

async fn sync(
    db: &DatabaseConnection,
    caller: &AuthUser,
    l: &link::Model,
    token: &str,
    mode: GroundTruthMode,
) -> Result<String, String> {
    let client = LsClient::new(&l.url, token);
    let ls = client
        .project(l.ls_project_id)
        .await
        .map_err(|e| describe(e, l.ls_project_id))?;
    let find_project = || async {
        project::Entity::find_by_id(l.project_id)
            .one(db)
            .await
            .map_err(|e| format!("database error: {e}"))?
            .ok_or_else(|| "the project was deleted".to_string())
    };
    reconcile_config(db, caller, &find_project().await?, &ls).await?;
    // Read again: adopting a config touched the row.
    let project = find_project().await?;
    let mut stats = SyncStats::default();
    let mut page = 1u64;
    loop {
        let Some(found) = client
            .tasks_page(l.ls_project_id, page, PAGE_SIZE)
            .await
            .map_err(|e| describe(e, l.ls_project_id))?
        else {
            break;
        };
        let count = found.tasks.len() as u64;
        if count == 0 {
            break;
        }
        apply_page(db, caller, &project, found.tasks, mode, &mut stats)
            .await
            .map_err(|e| format!("the page {page} of tasks could not be written: {e}"))?;
        stats.tasks_read += count;
        let total = found.total.unwrap_or(0).max(stats.tasks_read);
        progress(db, l.id, stats.tasks_read as i64, total as i64).await?;
        if stats.tasks_read >= total || count < PAGE_SIZE {
            break;
        }
        page += 1;
    }
    progress(db, l.id, stats.tasks_read as i64, stats.tasks_read as i64).await?;
    Ok(format!(
        "sync: {} tasks read; {} tasks created, {} updated; {} annotations created, {} updated",
        stats.tasks_read,
        stats.tasks_created,
        stats.tasks_updated,
        stats.annotations_created,
        stats.annotations_updated
    ))
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

/// Writes one page of Label Studio tasks in one transaction: new tasks and annotations are
/// inserted, changed ones updated, unchanged ones left alone; touched tasks are recounted.
async fn apply_page(
    db: &DatabaseConnection,
    caller: &AuthUser,
    project: &project::Model,
    page: Vec<LsTask>,
    mode: GroundTruthMode,
    stats: &mut SyncStats,
) -> ApiResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let ls_ids: Vec<i64> = page.iter().map(|t| t.id).collect();
    let existing: HashMap<i64, task::Model> = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .filter(task::Column::LsTaskId.is_in(ls_ids))
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|t| Some((t.ls_task_id?, t)))
        .collect();
    let now = crate::util::now();
    let mut task_of: HashMap<i64, i64> = HashMap::new();
    let (mut new_tasks, mut new_ls_ids) = (vec![], vec![]);
    for t in &page {
        let meta = t
            .meta
            .clone()
            .filter(|m| !m.is_null())
            .unwrap_or_else(|| json!({}));
        match existing.get(&t.id) {
            Some(row) => {
                task_of.insert(t.id, row.id);
                if !same_json(&row.data, &t.data) || !same_json(&row.meta, &meta) {
                    let mut model: task::ActiveModel = row.clone().into();
                    model.data = Set(t.data.clone());
                    model.meta = Set(meta);
                    model.updated_at = Set(now);
                    model.update(&txn).await?;
                    stats.tasks_updated += 1;
                }
            }
            None => {
                new_tasks.push(tasks::NewTask::plain(t.data.clone(), meta));
                new_ls_ids.push(t.id);
            }
        }
    }
    if !new_tasks.is_empty() {
        let outcome = tasks::insert_many(&txn, caller, project, new_tasks).await?;
        let pairs: Vec<(i64, i64)> = outcome.task_ids.into_iter().zip(new_ls_ids).collect();
        set_ids(&txn, "tasks", "ls_task_id", &pairs).await?;
        stats.tasks_created += pairs.len() as u64;
        task_of.extend(pairs.into_iter().map(|(id, ls)| (ls, id)));
    }
    let ls_annotation_ids: Vec<i64> = page
        .iter()
        .flat_map(|t| t.annotations.iter().map(|a| a.id))
        .collect();
    let mut existing: HashMap<i64, annotation::Model> = HashMap::new();
    for chunk in ls_annotation_ids.chunks(500) {
        for a in annotation::Entity::find()
            .filter(annotation::Column::ProjectId.eq(project.id))
            .filter(annotation::Column::LsAnnotationId.is_in(chunk.to_vec()))
            .all(&txn)
            .await?
        {
            if let Some(ls) = a.ls_annotation_id {
                existing.insert(ls, a);
            }
        }
    }
    let mut touched = vec![];
    let mut new_rows = vec![];
    for t in &page {
        let Some(&task_id) = task_of.get(&t.id) else {
            continue;
        };
        for a in &t.annotations {
            let result = match &a.result {
                Some(v @ Value::Array(_)) => v.clone(),
                _ => json!([]),
            };
            let ground_truth = match mode {
                GroundTruthMode::All => !a.was_cancelled,
                GroundTruthMode::Flagged => a.ground_truth,
            };
            match existing.get(&a.id) {
                Some(row) => {
                    if !same_json(&row.result, &result)
                        || row.was_cancelled != a.was_cancelled
                        || row.ground_truth != ground_truth
                    {
                        let mut model: annotation::ActiveModel = row.clone().into();
                        model.result = Set(result);
                        model.was_cancelled = Set(a.was_cancelled);
                        model.ground_truth = Set(ground_truth);
                        model.lead_time = Set(a.lead_time);
                        model.last_action = Set(Some("updated".into()));
                        model.updated_by_id = Set(Some(caller.user.id));
                        model.updated_at = Set(now);
                        model.update(&txn).await?;
                        touched.push(row.task_id);
                        stats.annotations_updated += 1;
                    }
                }
                None => {
                    new_rows.push(annotation::ActiveModel {
                        id: NotSet,
                        task_id: Set(task_id),
                        project_id: Set(project.id),
                        result: Set(result),
                        was_cancelled: Set(a.was_cancelled),
                        ground_truth: Set(ground_truth),
                        lead_time: Set(a.lead_time),
                        completed_by_id: Set(Some(caller.user.id)),
                        updated_by_id: Set(Some(caller.user.id)),
                        parent_prediction_id: Set(None),
                        parent_annotation_id: Set(None),
                        last_action: Set(Some("imported".into())),
                        ls_annotation_id: Set(Some(a.id)),
                        created_at: Set(now),
                        updated_at: Set(now),
                    });
                    touched.push(task_id);
                }
            }
        }
    }
    stats.annotations_created += new_rows.len() as u64;
    for chunk in crate::util::chunked(new_rows, 500) {
        annotation::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    counters::recount_tasks(&txn, &touched).await?;
    txn.commit().await?;
    Ok(())
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
}
