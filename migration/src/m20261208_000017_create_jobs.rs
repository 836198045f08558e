//! The durable job queue: every piece of background work but a run's slices (refinements,
//! Label Studio syncs and pushes, ML-backend events, schedule firings, webhook deliveries) is a
//! row here, claimed under a lease by any worker; an inference run has a row too (its status
//! mirrored from the run), so that one list shows all of them.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `jobs`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![(
                timestamps(
                    Table::create()
                        .table("jobs")
                        .col(big_pk_auto("id"))
                        .col(big_integer_null("organization_id"))
                        .col(string_len("kind", 32))
                        .col(string_len("status", 16))
                        .col(json_binary("payload"))
                        .col(string_len_null("dedupe_key", 128))
                        .col(string_len_null("subject_type", 32))
                        .col(big_integer_null("subject_id"))
                        .col(integer("attempts"))
                        .col(integer("max_attempts"))
                        .col(timestamp_with_time_zone("run_at"))
                        .col(string_len_null("lease_owner", 64))
                        .col(timestamp_with_time_zone_null("lease_expires_at"))
                        .col(timestamp_with_time_zone_null("heartbeat_at"))
                        .col(boolean("cancel_requested"))
                        .col(big_integer("progress_done"))
                        .col(big_integer("progress_total"))
                        .col(text_null("last_error"))
                        .col(text_null("result"))
                        .col(big_integer_null("created_by_id"))
                        .col(timestamp_with_time_zone_null("started_at"))
                        .col(timestamp_with_time_zone_null("finished_at"))
                        .foreign_key(&mut fk("jobs", "organization_id", "organizations", Cascade))
                        .foreign_key(&mut fk("jobs", "created_by_id", "users", SetNull)),
                )
                .to_owned(),
                vec![
                    index("jobs", &["dedupe_key"], true),
                    index("jobs", &["status", "run_at"], false),
                    index("jobs", &["status", "lease_expires_at"], false),
                    index("jobs", &["organization_id", "created_at"], false),
                    index("jobs", &["subject_type", "subject_id"], false),
                ],
            )],
        )
        .await?;
        // Work that ran before the job queue has no job to finish it: it ends as interrupted.
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE label_studio_links SET status = 'failed', \
             last_error = 'The job was interrupted (the server was upgraded). Start it again.' \
             WHERE status = 'running'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE model_refinements SET status = 'Failed', lease_expires_at = NULL, \
             error_message = 'The refinement was interrupted (the server was upgraded). Start it again.' \
             WHERE status IN ('Pending', 'InProgress')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["jobs"]).await
    }
}
