//! Pacing shared by every process: each process that calls a (connection, model) with known
//! limits holds a short lease on it, renewed every second; the live leases say how many share
//! the limits, and the latest `backoff_until` among them holds every process after a 429.
use crate::builders::{create_all, drop_all, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `pacing_leases`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        let t = "pacing_leases";
        create_all(
            manager,
            vec![(
                Table::create()
                    .table(t)
                    .col(big_pk_auto("id"))
                    .col(big_integer("connection_id"))
                    .col(string_len("model", 255))
                    .col(string_len("holder", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("backoff_until"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk(
                        t,
                        "connection_id",
                        "model_provider_connections",
                        Cascade,
                    ))
                    .to_owned(),
                vec![index(t, &["connection_id", "model", "holder"], true)],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["pacing_leases"]).await
    }
}
