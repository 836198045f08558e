//! Organizations, users, memberships and API tokens.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the account tables.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, SetNull};
        create_all(
            manager,
            vec![
                (
                    timestamps(
                        Table::create()
                            .table("organizations")
                            .col(big_pk_auto("id"))
                            .col(string_len("title", 1000)),
                    )
                    .to_owned(),
                    vec![],
                ),
                (
                    timestamps(
                        Table::create()
                            .table("users")
                            .col(big_pk_auto("id"))
                            .col(string_len_uniq("email", 254))
                            .col(string_len("username", 256))
                            .col(string_len("first_name", 256))
                            .col(string_len("last_name", 256))
                            .col(big_integer_null("active_organization_id"))
                            .col(boolean("is_active"))
                            .foreign_key(&mut fk(
                                "users",
                                "active_organization_id",
                                "organizations",
                                SetNull,
                            )),
                    )
                    .to_owned(),
                    vec![],
                ),
                (
                    Table::create()
                        .table("organization_members")
                        .col(big_pk_auto("id"))
                        .col(big_integer("organization_id"))
                        .col(big_integer("user_id"))
                        .col(string_len("role", 32))
                        .col(timestamp_with_time_zone("created_at"))
                        .foreign_key(&mut fk(
                            "organization_members",
                            "organization_id",
                            "organizations",
                            Cascade,
                        ))
                        .foreign_key(&mut fk("organization_members", "user_id", "users", Cascade))
                        .to_owned(),
                    vec![
                        index(
                            "organization_members",
                            &["organization_id", "user_id"],
                            true,
                        ),
                        index("organization_members", &["user_id"], false),
                    ],
                ),
                (
                    Table::create()
                        .table("api_tokens")
                        .col(big_pk_auto("id"))
                        .col(big_integer("user_id"))
                        .col(string_len_uniq("token_hash", 64))
                        .col(timestamp_with_time_zone("created_at"))
                        .col(timestamp_with_time_zone_null("last_used_at"))
                        .foreign_key(&mut fk("api_tokens", "user_id", "users", Cascade))
                        .to_owned(),
                    vec![index("api_tokens", &["user_id"], false)],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(
            manager,
            &[
                "api_tokens",
                "organization_members",
                "users",
                "organizations",
            ],
        )
        .await
    }
}
