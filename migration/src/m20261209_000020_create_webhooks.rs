//! Outbound webhooks: an organization's endpoints (URL, sealed secret, the events they want)
//! and their deliveries (the body as sent, the delivery id the receiver dedupes on, the
//! attempts). A delivery is sent by a `webhook_delivery` job.
use crate::builders::{create_all, drop_all, fk, index, timestamps};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates `webhooks` and `webhook_deliveries`.
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
                            .table("webhooks")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(text("url"))
                            .col(text("secret_enc"))
                            .col(json_binary("events"))
                            .col(boolean("is_active"))
                            .col(string_len("description", 500))
                            .col(big_integer_null("created_by_id"))
                            .foreign_key(&mut fk(
                                "webhooks",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk("webhooks", "created_by_id", "users", SetNull)),
                    )
                    .to_owned(),
                    vec![index("webhooks", &["organization_id"], false)],
                ),
                (
                    timestamps(
                        Table::create()
                            .table("webhook_deliveries")
                            .col(big_pk_auto("id"))
                            .col(big_integer("organization_id"))
                            .col(big_integer("webhook_id"))
                            .col(string_len("delivery_id", 36))
                            .col(string_len("event", 32))
                            .col(string_len_null("event_key", 128))
                            .col(text("body"))
                            .col(string_len("status", 16))
                            .col(integer("attempts"))
                            .col(integer_null("response_status"))
                            .col(text_null("last_error"))
                            .col(big_integer_null("job_id"))
                            .col(timestamp_with_time_zone_null("delivered_at"))
                            .foreign_key(&mut fk(
                                "webhook_deliveries",
                                "organization_id",
                                "organizations",
                                Cascade,
                            ))
                            .foreign_key(&mut fk(
                                "webhook_deliveries",
                                "webhook_id",
                                "webhooks",
                                Cascade,
                            )),
                    )
                    .to_owned(),
                    vec![
                        index("webhook_deliveries", &["delivery_id"], true),
                        index("webhook_deliveries", &["webhook_id", "event_key"], true),
                        index("webhook_deliveries", &["webhook_id", "created_at"], false),
                    ],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_all(manager, &["webhook_deliveries", "webhooks"]).await
    }
}
