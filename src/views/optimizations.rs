//! Prompt optimization: the request with its settings and budgets, the estimate, and the
//! optimization view with its candidates, the held-out test and the accuracy/cost front.
use chrono::{DateTime, Utc};
use entity::enums::{CandidateOrigin, CandidateStatus, OptimizationStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A request to optimize a version: the project and teacher (required), then settings and
/// budgets (each optional, with the defaults and bounds given).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"project_id": 1, "teacher_model_name": "gpt-4o", "teacher_model_provider_connection_id": 1, "max_cost": 2.5}))]
pub struct OptimizationInput {
    /// The project whose ground-truth tasks are split into train and held-out; in the
    /// caller's organization.
    #[schema(value_type = i64, required = true)]
    pub project_id: Option<i64>,
    /// The teacher model that proposes candidates, e.g. `gpt-4o`.
    #[schema(value_type = String, required = true)]
    pub teacher_model_name: Option<String>,
    /// The provider connection of the caller's organization the teacher is called through.
    #[schema(value_type = i64, required = true)]
    pub teacher_model_provider_connection_id: Option<i64>,
    #[serde(flatten)]
    /// Settings and budgets.
    pub settings: SettingsInput,
}

/// Settings and budgets as asked (absent: the default).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct SettingsInput {
    /// Seed of the split and of every draw (default 1).
    #[schema(minimum = 0, maximum = 2147483647)]
    pub seed: Option<i64>,
    /// Share of the ground-truth tasks held out (default 0.4; 0.1 to 0.8).
    #[schema(minimum = 0.1, maximum = 0.8)]
    pub held_out_fraction: Option<f64>,
    /// Ground-truth tasks used at most, drawn by the seed when there are more (default 400;
    /// 10 to 2,000).
    #[schema(minimum = 10, maximum = 2000)]
    pub max_tasks: Option<i64>,
    /// Search rounds (default 2; 1 to 5). Round 1 rewrites from clustered failures; each later
    /// round mutates the best candidate so far from its failures.
    #[schema(minimum = 1, maximum = 5)]
    pub rounds: Option<i64>,
    /// Teacher rewrites in the first round, one per failure cluster (default 3; 1 to 8).
    #[schema(minimum = 1, maximum = 8)]
    pub candidates: Option<i64>,
    /// Train tasks of the first successive-halving rung (default 16; 4 to 200; each rung
    /// doubles it and keeps the better half).
    #[schema(minimum = 4, maximum = 200)]
    pub minibatch: Option<i64>,
    /// Candidates scored on the held-out tasks at most (default 2; 1 to 4). The level of each
    /// test is `alpha` divided by the finalists tested (Bonferroni).
    #[schema(minimum = 1, maximum = 4)]
    pub finalists: Option<i64>,
    /// Worked examples from the train tasks in a few-shot candidate (default 4; 0 to 10; 0:
    /// no few-shot candidates).
    #[schema(minimum = 0, maximum = 10)]
    pub few_shot: Option<i64>,
    /// Significance level of McNemar's test against the parent (default 0.05; above 0, at
    /// most 0.5).
    #[schema(exclusive_minimum = 0.0, maximum = 0.5)]
    pub alpha: Option<f64>,
    /// Budget: USD at most for every call (labeling and teacher); none: no limit.
    #[schema(exclusive_minimum = 0.0, maximum = 1000000.0)]
    pub max_cost: Option<f64>,
    /// Budget: model calls at most; none: no limit.
    #[schema(minimum = 1)]
    pub max_calls: Option<i64>,
    /// Budget: seconds of work at most; none: no limit.
    #[schema(minimum = 1)]
    pub max_seconds: Option<i64>,
}

/// The settings an optimization runs with (stored on it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OptimizationSettings {
    /// Seed of the split and of every draw.
    pub seed: i64,
    /// Share of the ground-truth tasks held out.
    pub held_out_fraction: f64,
    /// Ground-truth tasks used at most.
    pub max_tasks: i64,
    /// Search rounds.
    pub rounds: i64,
    /// Teacher rewrites in the first round.
    pub candidates: i64,
    /// Train tasks of the first rung.
    pub minibatch: i64,
    /// Candidates scored on the held-out tasks at most.
    pub finalists: i64,
    /// Worked examples in a few-shot candidate (0: none).
    pub few_shot: i64,
    /// Significance level of the held-out test.
    pub alpha: f64,
    /// USD at most.
    pub max_cost: Option<f64>,
    /// Model calls at most.
    pub max_calls: Option<i64>,
    /// Seconds of work at most.
    pub max_seconds: Option<i64>,
}

/// What an optimization may cost, before it starts: the calls its schedule makes when no
/// budget stops it and no candidate is dropped early, priced at the models' prices (a few-shot
/// candidate's longer prompt included). Budgets cap the actual spend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OptimizationEstimate {
    /// Ground-truth tasks used.
    pub tasks: i64,
    /// Of those, train tasks.
    pub train_tasks: i64,
    /// Of those, held-out tasks.
    pub held_out_tasks: i64,
    /// Labeling calls at most.
    pub labeling_calls: i64,
    /// Teacher calls at most.
    pub teacher_calls: i64,
    /// Labeling and teacher calls at most.
    pub calls: i64,
    /// USD at most; null when a model has no known price.
    pub cost: Option<f64>,
    /// What one labeling call costs on average, USD (null without a price).
    pub cost_per_labeling_call: Option<f64>,
    /// What a single rewrite (`refine`) costs: one teacher call, USD (null without a price).
    pub single_rewrite_cost: Option<f64>,
    /// Why it cannot run as asked (too few ground-truth tasks...), null when it can.
    pub problem: Option<String>,
}

/// Correct answers over scored tasks, with the 95% Wilson interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SplitScore {
    /// Tasks scored.
    pub scored: i64,
    /// Of those, answered right.
    pub correct: i64,
    /// `correct / scored`, null when none was scored.
    pub accuracy: Option<f64>,
    /// 95% Wilson interval `[low, high]`, null when none was scored.
    pub interval: Option<Vec<f64>>,
}

/// A candidate prompt and how it scored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateView {
    /// Candidate id.
    pub id: i64,
    /// Its order in the optimization.
    pub seq: i32,
    /// The search round that proposed it.
    pub round: i32,
    /// Where it comes from.
    pub origin: CandidateOrigin,
    /// The candidate it was made from.
    pub parent_candidate_id: Option<i64>,
    /// The prompt.
    pub prompt: String,
    /// What the teacher said of it, or how it was made.
    pub note: Option<String>,
    /// Where it stands.
    pub status: CandidateStatus,
    /// Its score on the train tasks it was scored on.
    pub train: SplitScore,
    /// Its score on the held-out tasks (finalists and the parent only).
    pub held_out: SplitScore,
    /// Labeling calls made for it.
    pub calls: i32,
    /// What they cost, USD.
    pub cost: f64,
    /// Cost per labeling call, USD (null before any call).
    pub cost_per_call: Option<f64>,
    /// On the accuracy/cost front: no other candidate is as accurate on train for less per
    /// call.
    pub on_front: bool,
}

/// McNemar's test of one finalist against the parent on the held-out tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeldOutTest {
    /// The finalist.
    pub candidate_id: i64,
    /// Held-out tasks both were scored on.
    pub tasks: i64,
    /// The finalist's accuracy on them.
    pub accuracy: f64,
    /// The parent's accuracy on them.
    pub parent_accuracy: f64,
    /// Tasks only the finalist answered right.
    pub only_candidate_correct: i64,
    /// Tasks only the parent answered right.
    pub only_parent_correct: i64,
    /// `exact_binomial` or `chi_square_continuity_corrected`.
    pub method: String,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Better than the parent at the per-test level.
    pub significant: bool,
}

/// How an optimization ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A candidate beat the parent on held-out tasks and became a new version.
    Promoted,
    /// No candidate was significantly better: nothing was promoted.
    NothingBetter,
    /// A budget stopped the search before the held-out test: nothing was promoted.
    BudgetReached,
}

/// The conclusion of an optimization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OptimizationResult {
    /// How it ended.
    pub outcome: Outcome,
    /// The conclusion in words.
    pub message: String,
    /// The budget that stopped it (`max_cost`, `max_calls`, `max_seconds`), if one did.
    pub budget: Option<String>,
    /// The level asked for.
    pub alpha: f64,
    /// The level of each test (`alpha` over the finalists tested).
    pub alpha_per_test: f64,
    /// One test per finalist.
    pub tests: Vec<HeldOutTest>,
    /// The finalist promoted.
    pub winner_candidate_id: Option<i64>,
}

/// Progress of the optimization's job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct OptimizationProgress {
    /// Calls made.
    pub done: i64,
    /// Calls the estimate allows for.
    pub total: i64,
}

/// A prompt optimization.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OptimizationView {
    /// Optimization id.
    pub id: i64,
    /// The prompt.
    pub prompt_id: i64,
    /// The version optimized.
    pub version_id: i64,
    /// The project scored on.
    pub project_id: i64,
    /// The teacher model.
    pub teacher_model_name: String,
    /// The teacher's connection.
    pub teacher_model_provider_connection_id: i64,
    /// Where it stands.
    pub status: OptimizationStatus,
    /// Its step: `split`, `baseline`, `search`, `held_out`, `done`.
    pub stage: String,
    /// The settings and budgets.
    pub settings: OptimizationSettings,
    /// The estimate made before it started.
    pub estimate: OptimizationEstimate,
    /// Calls made against the calls estimated.
    pub progress: OptimizationProgress,
    /// Train tasks of the stored split (0 before it is drawn).
    pub train_tasks: i64,
    /// Held-out tasks of the stored split.
    pub held_out_tasks: i64,
    /// Model calls made.
    pub calls: i32,
    /// USD spent.
    pub cost: f64,
    /// Seconds of work.
    pub elapsed_seconds: f64,
    /// The candidates, in order (the parent first).
    pub candidates: Vec<CandidateView>,
    /// Ids of the candidates on the accuracy/cost front.
    pub pareto_front: Vec<i64>,
    /// The conclusion, once ended.
    pub result: Option<OptimizationResult>,
    /// The version promoted.
    pub new_version_id: Option<i64>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Its job in the queue (`GET /api/jobs/{id}`, cancel there or here).
    pub job_id: Option<i64>,
    /// Who started it.
    pub created_by: Option<i64>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
