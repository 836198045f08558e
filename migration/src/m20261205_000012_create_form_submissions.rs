//! The web app's sent forms: one row per form nonce (unique), so that a form sent twice (a
//! double click, a resent page) does its work once; pruned by age.
use crate::builders::{create_all, drop_all, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `form_submissions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_all(
            manager,
            vec![(
                Table::create()
                    .table("form_submissions")
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("nonce", 64))
                    .col(big_integer("session_id"))
                    .col(string_len_null("outcome", 2048))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk(
                        "form_submissions",
                        "session_id",
                        "web_sessions",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
                vec![
                    index("form_submissions", &["created_at"], false),
                    index("form_submissions", &["session_id"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["form_submissions"]).await
    }
}
