//! One table of what each provider and model family accepts, and the settings a call sends
//! once the table has been applied to a version's [`ModelParams`].
//!
//! | provider | family (model id, after any `provider/` or `ft:` prefix) | temperature | top_p | seed | reasoning effort | sent when unset |
//! |---|---|---|---|---|---|---|
//! | OpenAI, Azure, Custom | reasoning: `gpt-5*`, `o1*`, `o3*`, `o4*` | no | no | as given | yes (`reasoning_effort`) | — |
//! | OpenAI, Azure, Custom | chat: `gpt-4*`, `gpt-3.5*`, `chatgpt-*` | yes | yes | yes | no | temperature 0 |
//! | OpenAI, Azure | any other model | as given | as given | as given | as given | nothing |
//! | Custom | any other model (vLLM, Ollama, llama.cpp, ...) | yes | as given | as given | as given | temperature 0 |
//! | Anthropic | `claude-3*`, `claude-2*` | yes | yes | no | no | temperature 0, max_tokens 4096 |
//! | Anthropic | Claude 4 up to `claude-opus-4-6`, `claude-sonnet-4-6` | yes | yes, not with temperature | no | `output_config.effort` on Opus 4.5+ and Sonnet 4.6 | temperature 0, max_tokens 4096 |
//! | Anthropic | `claude-opus-4-7`, `claude-opus-4-8`, `claude-sonnet-5`, `claude-fable-5`, `claude-mythos-5` | no | no | no | `output_config.effort` | max_tokens 4096 |
//! | Anthropic | any other model | as given | as given | no | as given | max_tokens 4096 |
//! | Gemini | `gemini-1*`, `gemini-2.0*` | yes | yes | yes | no | temperature 0 |
//! | Gemini | `gemini-2.5*` (thinking) | yes | yes | yes | `thinkingConfig.thinkingBudget` | temperature 0 |
//! | Gemini | `gemini-3*` and any other model (thinking) | yes | yes | yes | `thinkingConfig.thinkingLevel` | nothing (Google advises keeping the default 1.0) |
//!
//! "as given" sends a value the version sets and nothing otherwise: for a model the table does
//! not know, Prompter neither invents a value nor drops the user's; a parameter the provider then
//! refuses is dropped by one retry (see `llm::refusals`). A value the table knows the model
//! refuses is not sent, and the call's notes say so. `max_tokens` is sent as
//! `max_completion_tokens` (OpenAI, never the deprecated `max_tokens`), `max_tokens` (Anthropic,
//! which requires it) or `maxOutputTokens` (Gemini).
//!
//! Why Custom models get temperature 0 and unknown OpenAI models do not: every open-weight
//! server speaking OpenAI's protocol takes `temperature`, and without it they sample at 0.7 to
//! 1.0, so the same task gets different labels from run to run; OpenAI's own new models are
//! reasoning models more often than not, and those refuse it. Either way a refusal costs one
//! retry, once per model.
//!
//! Token log-probabilities (`logprobs: true, top_logprobs: 5`, the source of a prediction's
//! score) are asked of OpenAI chat models, unknown OpenAI models and OpenAI-compatible servers,
//! and (`responseLogprobs: true, logprobs: 5`) of Gemini 1.5 and 2.0 models; never of reasoning
//! models or Gemini's thinking models, which refuse them; Anthropic has none.
//!
//! `extra` is merged into the request body as it is (objects key by key, so
//! `{"generationConfig": {"topK": 40}}` adds to Gemini's settings; a `null` removes a field
//! Prompter would send).
use super::ModelParams;
use crate::Provider;
use serde_json::{Map, Value};

/// Whether a model takes a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// It does: sent when set, and the rule's default is sent when unset.
    Takes,
    /// It does not: never sent (a set value is dropped with a note).
    Refuses,
    /// Not known: sent when set, nothing when unset.
    AsGiven,
}

/// How a model family spells the reasoning effort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// OpenAI's `reasoning_effort` (also Custom servers).
    ReasoningEffort,
    /// Anthropic's `output_config.effort`.
    OutputConfig,
    /// Gemini 2.5's `thinkingConfig.thinkingBudget` (tokens).
    ThinkingBudget,
    /// Gemini 3's `thinkingConfig.thinkingLevel`.
    ThinkingLevel,
}

/// What one provider's model family accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelRules {
    /// The family, in words, for notes ("an OpenAI reasoning model").
    pub family: &'static str,
    /// `temperature`.
    pub temperature: Support,
    /// `top_p`.
    pub top_p: Support,
    /// `seed`.
    pub seed: Support,
    /// The reasoning effort, and how it is spelled.
    pub reasoning_effort: Support,
    /// The field the effort goes into.
    pub effort: Effort,
    /// The temperature sent when the call sets none (only when `temperature` is `Takes`).
    pub default_temperature: Option<f64>,
    /// The output token limit sent when the call sets none (Anthropic requires one).
    pub default_max_tokens: Option<u32>,
    /// Whether `temperature` and `top_p` exclude each other (Claude 4): temperature is kept.
    pub temperature_or_top_p: bool,
    /// Whether the model spends reasoning ("thinking") tokens, billed as output.
    pub reasons: bool,
    /// Whether calls ask for token log-probabilities (OpenAI's `logprobs` and `top_logprobs`),
    /// the source of a prediction's score. Reasoning models refuse them; a server that refuses
    /// them anyway costs one retry, once per model (see `llm::refusals`).
    pub logprobs: bool,
}

/// The output token limit Anthropic calls get when the version sets none.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 4096;

impl ModelRules {
    /// Rules that send only what the call sets.
    const fn as_given(family: &'static str, effort: Effort) -> ModelRules {
        ModelRules {
            family,
            temperature: Support::AsGiven,
            top_p: Support::AsGiven,
            seed: Support::AsGiven,
            reasoning_effort: Support::AsGiven,
            effort,
            default_temperature: None,
            default_max_tokens: None,
            temperature_or_top_p: false,
            reasons: false,
            logprobs: false,
        }
    }
}

/// The model id the table matches: lowercase, without a fine-tune's `ft:`, a `provider/` path
/// (OpenRouter, LiteLLM, `models/` of Gemini) or a Bedrock `anthropic.` prefix.
pub fn base_name(model: &str) -> String {
    let lower = model.trim().to_lowercase();
    let lower = lower.strip_prefix("ft:").unwrap_or(&lower);
    let last = lower.rsplit('/').next().unwrap_or(lower);
    match last.find("anthropic.") {
        Some(i) => last[i + "anthropic.".len()..].to_string(),
        None => last.to_string(),
    }
}

/// The OpenAI family of a model id, if the table knows it: `Some(true)` for reasoning models.
fn openai_reasoning(name: &str) -> Option<bool> {
    if ["gpt-5", "o1", "o3", "o4"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Some(true)
    } else if ["gpt-4", "gpt-3.5", "chatgpt-"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        Some(false)
    } else {
        None
    }
}

/// OpenAI's rules for a known family.
fn openai_rules(reasoning: bool) -> ModelRules {
    if reasoning {
        ModelRules {
            family: "an OpenAI reasoning model",
            temperature: Support::Refuses,
            top_p: Support::Refuses,
            seed: Support::AsGiven,
            reasoning_effort: Support::Takes,
            effort: Effort::ReasoningEffort,
            default_temperature: None,
            default_max_tokens: None,
            temperature_or_top_p: false,
            reasons: true,
            logprobs: false,
        }
    } else {
        ModelRules {
            family: "an OpenAI chat model",
            temperature: Support::Takes,
            top_p: Support::Takes,
            seed: Support::Takes,
            reasoning_effort: Support::Refuses,
            effort: Effort::ReasoningEffort,
            default_temperature: Some(0.0),
            default_max_tokens: None,
            temperature_or_top_p: false,
            reasons: false,
            logprobs: true,
        }
    }
}

/// The Claude generation of a model id: 3 (or older), 4 (both sampling parameters, not
/// together), 5 (no sampling parameters: Opus 4.7 and later, Sonnet 5, Fable, Mythos), or
/// `None` when unknown.
fn claude_generation(name: &str) -> Option<u8> {
    if name.starts_with("claude-3") || name.starts_with("claude-2") || name.starts_with("claude-i")
    {
        return Some(3);
    }
    for family in ["claude-opus-4", "claude-sonnet-4", "claude-haiku-4"] {
        if let Some(rest) = name.strip_prefix(family) {
            // `claude-opus-4-7` is a minor version; `claude-opus-4-20250514` a date.
            let minor: u32 = rest
                .trim_start_matches('-')
                .split('-')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            return Some(if family == "claude-opus-4" && (7..100).contains(&minor) {
                5
            } else {
                4
            });
        }
    }
    let sampling_free = [
        "claude-sonnet-5",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-opus-5",
    ];
    sampling_free
        .iter()
        .any(|p| name.starts_with(p))
        .then_some(5)
}

/// Anthropic's rules for a model id.
fn anthropic_rules(name: &str) -> ModelRules {
    let base = ModelRules {
        default_max_tokens: Some(ANTHROPIC_DEFAULT_MAX_TOKENS),
        seed: Support::Refuses,
        ..ModelRules::as_given("a Claude model", Effort::OutputConfig)
    };
    match claude_generation(name) {
        Some(3) => ModelRules {
            family: "a Claude 3 model",
            temperature: Support::Takes,
            top_p: Support::Takes,
            reasoning_effort: Support::Refuses,
            default_temperature: Some(0.0),
            ..base
        },
        Some(4) => {
            let effort = ["claude-opus-4-5", "claude-opus-4-6", "claude-sonnet-4-6"]
                .iter()
                .any(|p| name.starts_with(p));
            let no_effort = ["claude-opus-4-0", "claude-opus-4-1", "claude-sonnet-4-0"]
                .iter()
                .any(|p| name.starts_with(p))
                || name.starts_with("claude-opus-4-2025")
                || name.starts_with("claude-sonnet-4-2025")
                || name == "claude-opus-4"
                || name == "claude-sonnet-4";
            ModelRules {
                family: "a Claude 4 model",
                temperature: Support::Takes,
                top_p: Support::Takes,
                reasoning_effort: if effort {
                    Support::Takes
                } else if no_effort {
                    Support::Refuses
                } else {
                    Support::AsGiven
                },
                default_temperature: Some(0.0),
                temperature_or_top_p: true,
                ..base
            }
        }
        Some(_) => ModelRules {
            family: "a Claude model without sampling parameters",
            temperature: Support::Refuses,
            top_p: Support::Refuses,
            reasoning_effort: Support::Takes,
            reasons: true,
            ..base
        },
        None => base,
    }
}

/// Gemini's rules for a model id.
fn gemini_rules(name: &str) -> ModelRules {
    let name = name.strip_prefix("models/").unwrap_or(name);
    let takes = ModelRules {
        temperature: Support::Takes,
        top_p: Support::Takes,
        seed: Support::Takes,
        ..ModelRules::as_given("a Gemini model", Effort::ThinkingLevel)
    };
    if name.starts_with("gemini-1") || name.starts_with("gemini-2.0") {
        ModelRules {
            reasoning_effort: Support::Refuses,
            default_temperature: Some(0.0),
            logprobs: true,
            ..takes
        }
    } else if name.starts_with("gemini-2.5") {
        ModelRules {
            family: "a Gemini 2.5 thinking model",
            reasoning_effort: Support::Takes,
            effort: Effort::ThinkingBudget,
            default_temperature: Some(0.0),
            reasons: true,
            ..takes
        }
    } else {
        ModelRules {
            family: "a Gemini thinking model",
            reasoning_effort: if name.starts_with("gemini-3") {
                Support::Takes
            } else {
                Support::AsGiven
            },
            reasons: name.starts_with("gemini-"),
            ..takes
        }
    }
}

/// The rules of `model` on `provider`. Azure and Custom follow OpenAI's rules by the model id,
/// else by `deployment` (an Azure deployment is often named after its model).
pub fn rules(provider: Provider, model: &str, deployment: Option<&str>) -> ModelRules {
    let name = base_name(model);
    match provider {
        Provider::Anthropic => anthropic_rules(&name),
        Provider::Gemini | Provider::VertexAI => gemini_rules(&name),
        Provider::OpenAI | Provider::AzureOpenAI | Provider::Custom | Provider::AzureAIFoundry => {
            let known = openai_reasoning(&name)
                .or_else(|| deployment.and_then(|d| openai_reasoning(&base_name(d))));
            match (known, provider) {
                (Some(reasoning), _) => openai_rules(reasoning),
                (None, Provider::Custom) => ModelRules {
                    temperature: Support::Takes,
                    default_temperature: Some(0.0),
                    logprobs: true,
                    ..ModelRules::as_given(
                        "a model of an OpenAI-compatible server",
                        Effort::ReasoningEffort,
                    )
                },
                (None, _) => ModelRules {
                    logprobs: true,
                    ..ModelRules::as_given("an OpenAI model", Effort::ReasoningEffort)
                },
            }
        }
    }
}

/// What a call sends, once the rules have been applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Seed.
    pub seed: Option<i64>,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Reasoning effort, as the version spelled it.
    pub reasoning_effort: Option<String>,
    /// Fields merged into the body as they are.
    pub extra: Map<String, Value>,
    /// Whether to ask for token log-probabilities.
    pub logprobs: bool,
    /// What the rules changed, in words (for the response's notes).
    pub notes: Vec<String>,
}

/// The settings of a call of `model` with `params` under `rules`.
pub fn settings(rules: &ModelRules, model: &str, params: &ModelParams) -> Settings {
    let mut notes = Vec::new();
    let mut pick = |name: &str, support: Support, given: bool| -> bool {
        if given && support == Support::Refuses {
            notes.push(format!(
                "{name} not sent: {model} is {} and takes none",
                rules.family
            ));
            return false;
        }
        given
    };
    let mut temperature = if pick(
        "temperature",
        rules.temperature,
        params.temperature.is_some(),
    ) {
        params.temperature
    } else if rules.temperature == Support::Takes && params.temperature.is_none() {
        rules.default_temperature
    } else {
        None
    };
    let mut top_p = params
        .top_p
        .filter(|_| pick("top_p", rules.top_p, params.top_p.is_some()));
    let seed = params
        .seed
        .filter(|_| pick("seed", rules.seed, params.seed.is_some()));
    let reasoning_effort = params.reasoning_effort.clone().filter(|_| {
        pick(
            "reasoning_effort",
            rules.reasoning_effort,
            params.reasoning_effort.is_some(),
        )
    });
    if rules.temperature_or_top_p && top_p.is_some() {
        if params.temperature.is_some() {
            top_p = None;
            notes.push(format!(
                "top_p not sent: {model} takes temperature or top_p, not both"
            ));
        } else {
            // The version chose top_p: the default temperature gives way to it.
            temperature = None;
        }
    }
    Settings {
        temperature,
        top_p,
        seed,
        max_tokens: params.max_tokens.or(rules.default_max_tokens),
        reasoning_effort,
        extra: params.extra.clone().unwrap_or_default(),
        logprobs: rules.logprobs,
        notes,
    }
}

/// Merges `extra` into `body`: objects key by key (recursively), a `null` removes the key,
/// anything else replaces it.
pub fn merge_extra(body: &mut Value, extra: &Map<String, Value>) {
    let Some(target) = body.as_object_mut() else {
        return;
    };
    for (key, value) in extra {
        match (value, target.get_mut(key)) {
            (Value::Null, _) => {
                target.remove(key);
            }
            (Value::Object(inner), Some(existing @ Value::Object(_))) => {
                merge_extra(existing, inner);
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Gemini 2.5's thinking budget (tokens) for an effort, as Google's OpenAI compatibility maps
/// it; `pro` models cannot stop thinking, so their least budget is 128.
pub fn thinking_budget(effort: &str, pro: bool) -> Option<i64> {
    match effort.to_lowercase().as_str() {
        "none" | "minimal" => Some(if pro { 128 } else { 0 }),
        "low" => Some(1024),
        "medium" => Some(8192),
        "high" | "xhigh" | "max" => Some(24576),
        _ => None,
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
