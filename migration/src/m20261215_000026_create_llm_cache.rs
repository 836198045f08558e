//! The response cache: an identical call (the same connection, model, parameters, messages and
//! output schema) is answered from here instead of the provider, within an organization and
//! for a configurable time. Runs may opt out (`use_cache`); cached predictions are counted
//! apart on the run.
use crate::builders::{add_columns, create_all, drop_all, drop_columns, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `llm_cache`; adds `model_runs.use_cache` and `model_runs.total_cached_predictions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns added to runs.
fn run_columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("model_runs", boolean("use_cache").default(true).to_owned()),
        (
            "model_runs",
            big_integer("total_cached_predictions")
                .default(0)
                .to_owned(),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::Cascade;
        let t = "llm_cache";
        create_all(
            manager,
            vec![(
                Table::create()
                    .table(t)
                    .col(big_pk_auto("id"))
                    .col(big_integer("organization_id"))
                    .col(string_len("key", 64))
                    .col(string_len("model", 255))
                    .col(json_binary("output"))
                    .col(json_binary_null("logprobs"))
                    .col(big_integer("prompt_tokens"))
                    .col(big_integer("completion_tokens"))
                    .col(big_integer("hits"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("last_hit_at"))
                    .foreign_key(&mut fk(t, "organization_id", "organizations", Cascade))
                    .to_owned(),
                vec![
                    index(t, &["organization_id", "key"], true),
                    index(t, &["organization_id", "created_at"], false),
                ],
            )],
        )
        .await?;
        add_columns(manager, run_columns()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, run_columns()).await?;
        drop_all(manager, &["llm_cache"]).await
    }
}
