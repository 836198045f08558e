//! Cost estimates of a version: the rendered prompt's tokens over the first associated
//! project's tasks, priced by the model's entry in the price table. A model with no known
//! price still gets its token counts (the estimate then says `UnknownModel` and has no cost).
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::label_config::{ControlKind, LabelConfig};
use crate::pricing::{PriceTable, count_tokens, usd};
use crate::services::{projects, prompts, versions};
use crate::views::versions::CostEstimateView;
use entity::task;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

/// Tasks whose prompts are tokenized; larger projects are extrapolated from them.
pub const SAMPLE: u64 = 1000;
/// Images whose size is read for an estimate; the others count as their mean.
pub const IMAGE_SAMPLE: usize = 20;
/// The size assumed of an image that cannot be read.
pub const ASSUMED_IMAGE: (u32, u32) = (1024, 1024);

/// Reads the size of the image a task value names (given by the engine, which can fetch it).
#[async_trait::async_trait]
pub trait ImageSizes: Send + Sync {
    /// `(width, height)` of the image `raw` names, or `None` when it cannot be read.
    async fn size(&self, raw: &str) -> Option<(u32, u32)>;
}

/// The estimate that could not be made, and why (`kind`: `NoProject`).
fn failed(kind: &str, message: String) -> CostEstimateView {
    CostEstimateView {
        is_error: true,
        error_type: Some(kind.into()),
        error_message: Some(message),
        ..Default::default()
    }
}

/// A typical answer for the config's controls: the longest label per single choice, every label
/// of a multiple choice, three spans per Labels control, one path per Taxonomy.
fn typical_output(config: &LabelConfig) -> Value {
    let mut out = serde_json::Map::new();
    for c in &config.controls {
        let longest = c
            .labels
            .iter()
            .max_by_key(|l| l.len())
            .cloned()
            .unwrap_or_default();
        let value = match c.kind() {
            ControlKind::Choices if c.multiple => json!(c.labels),
            ControlKind::Choices => json!(longest),
            ControlKind::Labels => Value::Array(vec![
                json!({"text": "a short span", "labels": [longest], "start": 100});
                3
            ]),
            ControlKind::TextArea => json!("a sentence of about ten words written by the model"),
            ControlKind::Rating | ControlKind::Number => json!(3),
            ControlKind::Pairwise => json!("right"),
            ControlKind::Taxonomy => json!([[longest]]),
            ControlKind::Other => continue,
        };
        out.insert(c.name.clone(), value);
    }
    Value::Object(out)
}

/// The answer an estimate assumes for each output field of a pipeline's earlier steps: about
/// sixty tokens of text.
const TYPICAL_STEP_ANSWER: &str = "A typical answer of an intermediate step of a pipeline is a sentence or two of plain text, about sixty tokens long, which the next step reads as one of its fields when it is rendered.";

/// Estimates the cost of running a version over its prompt's first associated project, every
/// step of a pipeline included.
pub async fn estimate(
    db: &impl ConnectionTrait,
    caller: &AuthUser,
    prompt_id: i64,
    version_id: i64,
    prices: &PriceTable,
    sizes: &dyn ImageSizes,
) -> ApiResult<CostEstimateView> {
    let version = versions::get(db, caller, prompt_id, version_id).await?;
    // The final call is made by the version's model and by each of its jury's, each at its
    // own price. Models with no known price: the tokens are still counted, the cost is not.
    let jury = crate::views::versions::Juror::of_stored(version.jury.as_ref());
    let mut unpriced: Vec<String> = Vec::new();
    let mut final_prices = vec![];
    for model in
        std::iter::once(&version.provider_model_id).chain(jury.iter().map(|j| &j.provider_model_id))
    {
        let price = prices.price(model);
        if price.is_none() {
            unpriced.push(format!("model \"{model}\""));
        }
        final_prices.push(price);
    }
    let linked = prompts::associations(db, &[prompt_id])
        .await?
        .remove(&prompt_id)
        .unwrap_or_default();
    let Some(project_id) = linked.first().copied() else {
        return Ok(failed(
            "NoProject",
            "The prompt has no associated project to estimate over.".into(),
        ));
    };
    let project = projects::get(db, caller, project_id).await?;
    let config = projects::config_of(&project);
    let total = task::Entity::find()
        .filter(task::Column::ProjectId.eq(project.id))
        .count(db)
        .await?;
    let sample: Vec<Value> = task::Entity::find()
        .select_only()
        .column(task::Column::Data)
        .filter(task::Column::ProjectId.eq(project.id))
        .order_by_asc(task::Column::Id)
        .limit(SAMPLE)
        .into_tuple()
        .all(db)
        .await?;
    let images = image_cost(
        &config,
        &sample,
        sizes,
        version.provider,
        &version.provider_model_id,
    )
    .await;
    let model = version.provider_model_id.clone();
    let template = version.prompt.clone();
    let schema = config.output_schema().to_string();
    let output = typical_output(&config).to_string();
    // A pipeline's earlier steps: their answers stand in the data as text of a typical
    // length, and each step is priced by its own model.
    let steps = crate::views::versions::Step::of_stored(version.steps.as_ref()).unwrap_or_default();
    let earlier: Vec<crate::views::versions::Step> = steps
        .iter()
        .take(steps.len().saturating_sub(1))
        .cloned()
        .collect();
    let mut step_prices = vec![];
    for step in &earlier {
        let step_model = step
            .provider_model_id
            .clone()
            .unwrap_or_else(|| version.provider_model_id.clone());
        let step_price = prices.price(&step_model);
        if step_price.is_none() {
            unpriced.push(format!("model \"{step_model}\" of step \"{}\"", step.name));
        }
        step_prices.push((step.clone(), step_model, step_price));
    }
    let sample: Vec<Value> = sample
        .into_iter()
        .map(|mut data| {
            if let Value::Object(map) = &mut data {
                for step in &earlier {
                    let answers: serde_json::Map<String, Value> = step
                        .outputs()
                        .into_iter()
                        .map(|f| (f, Value::String(TYPICAL_STEP_ANSWER.to_string())))
                        .collect();
                    map.insert(step.name.clone(), Value::Object(answers));
                }
            }
            data
        })
        .collect();
    // Tokenizing is CPU work: keep it off the async workers.
    let (prompt_sum, completion_each, step_costs) = tokio::task::spawn_blocking(move || {
        let fixed = count_tokens(&model, &schema);
        let render = |template: &str, data: &Value| {
            crate::template::render(template, data).unwrap_or_else(|_| template.to_string())
        };
        let sum: u64 = sample
            .iter()
            .map(|data| count_tokens(&model, &render(&template, data)) + fixed)
            .sum();
        // Per step: (prompt tokens over the sample, completion tokens per task, price).
        let step_costs: Vec<(u64, u64, Option<crate::pricing::Price>)> = step_prices
            .iter()
            .map(|(step, step_model, price)| {
                let schema_tokens = count_tokens(step_model, &step.outputs().join(","));
                let prompt: u64 = sample
                    .iter()
                    .map(|data| {
                        count_tokens(step_model, &render(&step.prompt, data)) + schema_tokens
                    })
                    .sum();
                let completion =
                    step.outputs().len() as u64 * count_tokens(step_model, TYPICAL_STEP_ANSWER);
                (prompt, completion, *price)
            })
            .collect();
        (sum, count_tokens(&model, &output), step_costs)
    })
    .await
    .map_err(|e| crate::error::ApiError::Internal(format!("token counting failed: {e}")))?;
    let sampled = total.min(SAMPLE);
    let scale = |n: u64| {
        if sampled == 0 {
            0
        } else {
            (n as f64 * total as f64 / sampled as f64).round() as u64
        }
    };
    // A version that asks several answers per task pays for each: its final call is made
    // `samples` times by each of its models (a pipeline's earlier steps once).
    let per_model = version.samples.max(1) as u64;
    let image_each = scale(images.tokens) * per_model;
    let prompt_each = scale(prompt_sum) * per_model + image_each;
    let completion_model = completion_each * total * per_model;
    let models = final_prices.len() as u64;
    let samples = per_model * models;
    let image_tokens = image_each * models;
    let mut prompt_tokens = prompt_each * models;
    let mut completion_tokens = completion_model * models;
    // The cost, while every model has a price.
    let mut cost = Some((0.0, 0.0));
    for price in final_prices {
        cost = cost.zip(price).map(|((p, c), price)| {
            let (mp, mc) = price.cost(prompt_each, completion_model);
            (p + mp, c + mc)
        });
    }
    for (step_prompt, step_completion, step_price) in step_costs {
        let (sp, sc) = (scale(step_prompt), step_completion * total);
        prompt_tokens += sp;
        completion_tokens += sc;
        cost = match (cost, step_price) {
            (Some((p, c)), Some(step_price)) => {
                let (cp, cc) = step_price.cost(sp, sc);
                Some((p + cp, c + cc))
            }
            _ => None,
        };
    }
    let unpriced_message = (!unpriced.is_empty()).then(|| {
        format!(
            "No price is known for {}; add it to the price file (PROMPTER_PRICES_FILE). The \
             token counts are estimated all the same.",
            unpriced.join(", nor for ")
        )
    });
    Ok(CostEstimateView {
        prompt_cost_usd: cost.map(|(p, _)| usd(p)),
        completion_cost_usd: cost.map(|(_, c)| usd(c)),
        total_cost_usd: cost.map(|(p, c)| usd(p + c)),
        is_error: unpriced_message.is_some(),
        error_type: unpriced_message
            .as_ref()
            .map(|_| "UnknownModel".to_string()),
        error_message: unpriced_message,
        prompt_tokens,
        completion_tokens,
        tasks: total,
        images: scale(images.count),
        image_tokens,
        images_assumed: images.assumed,
        samples,
    })
}

/// The images of the sampled tasks: how many, and their tokens (the mean of up to
/// [`IMAGE_SAMPLE`] read sizes for each).
#[derive(Debug, Default)]
struct SampleImages {
    count: u64,
    tokens: u64,
    assumed: u64,
}

async fn image_cost(
    config: &LabelConfig,
    sample: &[Value],
    sizes: &dyn ImageSizes,
    provider: crate::llm::Provider,
    model: &str,
) -> SampleImages {
    let keys = config.image_keys();
    if keys.is_empty() {
        return SampleImages::default();
    }
    let urls: Vec<String> = sample
        .iter()
        .flat_map(|data| keys.iter().filter_map(move |k| data.get(k)))
        .flat_map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => vec![],
        })
        .collect();
    let mut read = Vec::new();
    let mut assumed = 0;
    for url in urls.iter().take(IMAGE_SAMPLE) {
        let (w, h) = match sizes.size(url).await {
            Some(size) => size,
            None => {
                assumed += 1;
                ASSUMED_IMAGE
            }
        };
        read.push(crate::image_tokens::image_tokens(provider, model, w, h));
    }
    let mean = if read.is_empty() {
        0.0
    } else {
        read.iter().sum::<u64>() as f64 / read.len() as f64
    };
    SampleImages {
        count: urls.len() as u64,
        tokens: (mean * urls.len() as f64).round() as u64,
        assumed,
    }
}
