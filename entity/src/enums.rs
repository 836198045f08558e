//! The vocabularies of the tables: run, slice, refinement and link statuses, run subsets, the
//! scopes and budget periods of provider connections, LLM providers, prompt skills and the
//! kinds of failures, stored as the strings Label Studio uses and typed everywhere else.
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

mod failure;
mod lists;

pub use failure::FailureKind;
pub use lists::StringList;

/// Defines a string-valued enum stored in a column, with serde and OpenAPI names equal to the
/// stored ones, `as_str`, `ALL` and `parse`. A name that is not one of the values does not
/// deserialize; the message names the allowed ones (`"x" is not a valid choice: one of a, b.`),
/// which a JSON body's 400 then shows under the field's name.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize,
            utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[sea_orm(string_value = $value)]
                #[serde(rename = $value)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)+
                }
            }

            /// The value of an exact stored or wire name.
            pub fn parse(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }

            /// The message for a name that is none of the values, naming the allowed ones.
            pub fn invalid_choice(name: &str) -> String {
                let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("\"{name}\" is not a valid choice: one of {}.", allowed.join(", "))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = String::deserialize(deserializer)?;
                $name::parse(&name)
                    .ok_or_else(|| serde::de::Error::custom($name::invalid_choice(&name)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

// After the macro, which it uses.
mod audit;
pub use audit::{AuditAction, AuditActor, AuditObject};

vocabulary!(
    /// A run's state (Label Studio's `ModelRunStatusEnum`).
    RunStatus {
        /// Created, not started.
        Pending = "Pending",
        /// Being executed.
        InProgress = "InProgress",
        /// Every task has a prediction or a failure.
        Completed = "Completed",
        /// Stopped by a failure of the whole run.
        Failed = "Failed",
        /// Stopped by a user.
        Canceled = "Canceled",
    }
);

impl RunStatus {
    /// Pending or InProgress: the run still takes results.
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::InProgress)
    }
}

vocabulary!(
    /// How a prediction's score was found.
    ScoreMethod {
        /// The probability the model gave its labels, from the answer's token log-probabilities.
        Logprobs = "logprobs",
        /// The share of several answers (samples or models) that agreed with the prediction.
        Agreement = "agreement",
    }
);

vocabulary!(
    /// The tasks a run covers (Label Studio's `ProjectSubsetEnum`, plus `Custom`).
    Subset {
        /// Every task of the project.
        All = "All",
        /// Tasks with a ground-truth annotation.
        HasGT = "HasGT",
        /// The first `sample_subset_size` tasks.
        Sample = "Sample",
        /// Prompter extension: the tasks of `task_ids`.
        Custom = "Custom",
    }
);

vocabulary!(
    /// A slice of a run's tasks in the work queue.
    SliceStatus {
        /// Waiting for a worker.
        Pending = "pending",
        /// Leased by a worker until its lease expires.
        Leased = "leased",
        /// Every task has a result.
        Done = "done",
    }
);

vocabulary!(
    /// A prompt refinement's state.
    RefinementStatus {
        /// Created, not started.
        Pending = "Pending",
        /// The teacher model is working.
        InProgress = "InProgress",
        /// A new version was made (or the refined prompt was rejected, see its message).
        Completed = "Completed",
        /// The refinement could not be made.
        Failed = "Failed",
    }
);

vocabulary!(
    /// A Label Studio link's job state.
    LinkStatus {
        /// No job running.
        Idle = "idle",
        /// A sync or push is running.
        Running = "running",
        /// The last job failed (see `last_error`).
        Failed = "failed",
    }
);

vocabulary!(
    /// When a connection's spending starts over (Label Studio's `BudgetResetPeriodEnum`).
    BudgetResetPeriod {
        /// On the first of each month (UTC).
        Monthly = "Monthly",
        /// On the first of January (UTC).
        Yearly = "Yearly",
    }
);

vocabulary!(
    /// Who a connection is for (Label Studio's `ScopeEnum`).
    ConnectionScope {
        /// The whole organization (the default).
        Organization = "Organization",
        /// One user.
        User = "User",
        /// One model.
        Model = "Model",
    }
);

vocabulary!(
    /// Where a prompt is in its life (the registry's status).
    PromptStatus {
        /// Being written; not in use (the default).
        Draft = "draft",
        /// In use: its deployed version answers the ML backend and its schedules fire.
        Deployed = "deployed",
        /// Held: its schedules do not fire.
        Paused = "paused",
        /// Retired: hidden from lists by default; its schedules do not fire.
        Archived = "archived",
    }
);

vocabulary!(
    /// What a comment of a prompt records.
    CommentKind {
        /// A note someone wrote.
        Comment = "comment",
        /// The deployed version changed; the text holds the reason.
        Deployment = "deployment",
        /// The status changed; the text holds the reason.
        Status = "status",
        /// Tags were added or removed; the text holds the reason.
        Tags = "tags",
        /// The domain changed; the text holds the reason.
        Domain = "domain",
        /// A deployment label other than `production` was set, moved or removed; the text
        /// holds the reason.
        Label = "label",
    }
);

vocabulary!(
    /// Whether a schedule fires.
    ScheduleStatus {
        /// Fires at each slot of its cron expression.
        Active = "active",
        /// Does not fire.
        Paused = "paused",
    }
);

vocabulary!(
    /// An LLM provider (Label Studio's `ProviderEnum`), in Label Studio's order (the order of
    /// `provider-choices`).
    Provider {
        /// OpenAI.
        OpenAI = "OpenAI",
        /// Azure OpenAI; `endpoint` and `deployment_name` name the deployment.
        AzureOpenAI = "AzureOpenAI",
        /// Azure AI Foundry.
        AzureAIFoundry = "AzureAIFoundry",
        /// Google Vertex AI; uses the `google_*` fields.
        VertexAI = "VertexAI",
        /// Google Gemini.
        Gemini = "Gemini",
        /// Anthropic.
        Anthropic = "Anthropic",
        /// Any OpenAI-compatible server at `endpoint`.
        Custom = "Custom",
    }
);

impl Provider {
    /// Whether `endpoint`, when given, must be an http(s) URL: it is the base URL of every
    /// provider's API (Custom and Azure OpenAI need one; it overrides the others' default),
    /// except Vertex AI's, which names a region.
    pub fn needs_url_endpoint(self) -> bool {
        !matches!(self, Provider::VertexAI)
    }
}

vocabulary!(
    /// A Prompts skill (Label Studio's `SkillNameEnum`: `skill_name` of a prompt,
    /// `project_type` of compatible-projects).
    Skill {
        /// `Choices` over text (or an image).
        TextClassification = "TextClassification",
        /// `Labels` spans over text.
        NamedEntityRecognition = "NamedEntityRecognition",
    }
);

vocabulary!(
    /// A job's state in the job queue.
    JobStatus {
        /// Waiting for a worker (or for its next attempt, at `run_at`).
        Queued = "queued",
        /// Claimed by a worker under a lease.
        Running = "running",
        /// Done.
        Succeeded = "succeeded",
        /// Given up (see `last_error`).
        Failed = "failed",
        /// Stopped by a user.
        Canceled = "canceled",
    }
);

vocabulary!(
    /// An event an outbound webhook endpoint can subscribe to.
    WebhookEvent {
        /// A run finished with every task answered or failed.
        RunCompleted = "run.completed",
        /// A run stopped on an error that ended it (a provider refusing every call, a budget).
        RunFailed = "run.failed",
        /// A run was canceled (by a person, or replaced by a newer run).
        RunCanceled = "run.canceled",
        /// A connection's spending crossed its alert threshold (once per budget period).
        BudgetAlert = "budget.alert",
        /// A call was refused because it would cross a connection's budget limit (once per
        /// budget period).
        BudgetExceeded = "budget.exceeded",
        /// A refinement ended (with a new version, or with why not).
        RefineCompleted = "refine.completed",
        /// A Label Studio sync finished.
        SyncCompleted = "sync.completed",
        /// A schedule fired (started a run, or skipped its slot).
        ScheduleFired = "schedule.fired",
        /// A prompt's deployed version changed.
        PromptDeployed = "prompt.deployed",
        /// A test event sent from the endpoint's page or `POST /api/webhooks/{id}/test`.
        Test = "webhook.test",
    }
);

vocabulary!(
    /// Where a webhook delivery stands.
    DeliveryStatus {
        /// Not delivered yet: waiting for its first or next attempt.
        Pending = "pending",
        /// The endpoint answered 2xx.
        Delivered = "delivered",
        /// Given up: every attempt failed for a day, the address was refused, or the endpoint
        /// was deleted or disabled.
        Failed = "failed",
    }
);

impl JobStatus {
    /// Queued or running: the job has not ended.
    pub fn is_open(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

vocabulary!(
    /// What a job does.
    JobKind {
        /// An inference run (executed by the run engine's slices; its row mirrors the run).
        InferenceRun = "inference_run",
        /// A prompt refinement by a teacher model.
        Refine = "refine",
        /// Importing a linked Label Studio project's tasks and annotations.
        LsSync = "ls_sync",
        /// Writing a run's predictions to the linked Label Studio project.
        LsPush = "ls_push",
        /// Label Studio's "Start Training": link the ML backend's mirror project and sync it.
        MlTrain = "ml_train",
        /// A Label Studio annotation event sent to the ML backend.
        MlEvent = "ml_event",
        /// Adding the token header to the webhook Label Studio made for the ML backend.
        LsWebhookAuth = "ls_webhook_auth",
        /// A schedule's firing (the run it started is its subject).
        ScheduleFire = "schedule_fire",
        /// Delivering an outbound webhook.
        WebhookDelivery = "webhook_delivery",
        /// A prompt optimization: candidates searched on train, proven on held-out tasks.
        Optimize = "optimize",
        /// A run executed through its provider's batch API: submits its batches, polls them
        /// and writes their results.
        BatchRun = "batch_run",
    }
);

vocabulary!(
    /// How a run's calls are made.
    RunExecution {
        /// One call per task as workers take them, paced to the connection's limits.
        Online = "online",
        /// Through the provider's batch API: submitted in batches, answered within a day at
        /// the provider's batch price (half the online price at OpenAI, Anthropic and Google).
        Batch = "batch",
    }
);

vocabulary!(
    /// Where one provider batch of a run stands.
    ProviderBatchStatus {
        /// Written; being submitted to the provider.
        Submitting = "submitting",
        /// At the provider, not finished.
        Running = "running",
        /// Finished; its results are written.
        Collected = "collected",
        /// Canceled with its run; the results it had are written.
        Canceled = "canceled",
        /// Refused as a whole by the provider; its tasks were asked online.
        Failed = "failed",
    }
);

vocabulary!(
    /// The state of a prompt optimization.
    OptimizationStatus {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker is searching.
        Running = "running",
        /// Ended: a better version was promoted, nothing better was found, or a budget
        /// stopped the search (its `result` says which).
        Completed = "completed",
        /// Ended by an error.
        Failed = "failed",
        /// Stopped by a user.
        Canceled = "canceled",
    }
);

impl OptimizationStatus {
    /// Queued or running: the optimization has not ended.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OptimizationStatus::Queued | OptimizationStatus::Running
        )
    }
}

vocabulary!(
    /// Where a candidate prompt of an optimization comes from.
    CandidateOrigin {
        /// The version's own prompt, the baseline every candidate is tested against.
        Parent = "parent",
        /// A teacher's rewrite that addresses one cluster of failures on the train tasks.
        Rewrite = "rewrite",
        /// A teacher's reflective mutation of the best candidate so far, from its failures.
        Mutation = "mutation",
        /// A candidate's prompt with worked examples from the train tasks written into it.
        FewShot = "few_shot",
    }
);

vocabulary!(
    /// Where a candidate stands in an optimization.
    CandidateStatus {
        /// Still in the search.
        Active = "active",
        /// Dropped by successive halving on the train tasks.
        Eliminated = "eliminated",
        /// Scored on the held-out tasks.
        Finalist = "finalist",
        /// Significantly better than the parent on the held-out tasks: promoted.
        Winner = "winner",
    }
);
