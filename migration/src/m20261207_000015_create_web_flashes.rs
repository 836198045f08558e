//! The web app's flashes: a value a form leaves for the page it redirects to (post, redirect,
//! get), kept for its session a few minutes and shown once. A new API token is one: the page
//! after *Make a new token* shows it, and reloading that page does not make another.
use crate::builders::{create_all, drop_all, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `web_flashes`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_all(
            manager,
            vec![(
                Table::create()
                    .table("web_flashes")
                    .col(big_pk_auto("id"))
                    .col(big_integer("session_id"))
                    .col(string_len("kind", 32))
                    .col(text("sealed_value"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk(
                        "web_flashes",
                        "session_id",
                        "web_sessions",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
                vec![
                    index("web_flashes", &["session_id", "kind"], false),
                    index("web_flashes", &["expires_at"], false),
                ],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["web_flashes"]).await
    }
}
