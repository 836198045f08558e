//! The web app's sign-in: a password hash on users (argon2, PHC string; null until an admin
//! sets one) and the browser sessions, stored as the SHA-256 of the cookie value with the
//! session's CSRF token.
use crate::builders::{create_all, drop_all, fk, index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `users.password_hash` and creates `web_sessions`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(string_len_null("password_hash", 256))
                    .to_owned(),
            )
            .await?;
        create_all(
            manager,
            vec![(
                Table::create()
                    .table("web_sessions")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len("csrf_token", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk(
                        "web_sessions",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
                vec![index("web_sessions", &["user_id"], false)],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["web_sessions"]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .drop_column("password_hash")
                    .to_owned(),
            )
            .await
    }
}
