//! The audit log: one row per change (create, update, delete, run start and cancel, deploy,
//! key set or rotated, sign-in...), written in the transaction of the change, with who did it,
//! when, in which organization, on what object, and the fields that changed (secrets only as
//! "set"/"changed"/"removed"). Rows are pruned by age.
use crate::builders::{create_all, drop_all, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `audit_log`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_all(
            manager,
            vec![(
                Table::create()
                    .table("audit_log")
                    .col(big_pk_auto("id"))
                    .col(big_integer("organization_id"))
                    // "user", "system" or "schedule"; a user's id and email as they were.
                    .col(string_len("actor_type", 16))
                    .col(big_integer_null("actor_id"))
                    .col(string_len_null("actor_email", 254))
                    .col(string_len("action", 32))
                    .col(string_len("object_type", 32))
                    .col(big_integer_null("object_id"))
                    .col(string_len("object_title", 200))
                    .col(json_binary("changes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "audit_log",
                        "organization_id",
                        "organizations",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
                vec![
                    index("audit_log", &["organization_id", "created_at"], false),
                    index(
                        "audit_log",
                        &["organization_id", "object_type", "object_id"],
                        false,
                    ),
                    index("audit_log", &["created_at"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["audit_log"]).await
    }
}
