//! Input tokens of an image, by the providers' published rules, for cost estimates.
//!
//! - OpenAI (and Azure OpenAI, and Custom servers named after OpenAI models), two schemes:
//!   *patches* for `gpt-4.1-mini`, `gpt-4.1-nano`, `o4-mini`, `gpt-5-mini` and `gpt-5-nano`:
//!   32×32-pixel patches (the image scaled down to at most 1,536 of them) times the model's
//!   multiplier; *tiles* for the others: the image fitted into 2048×2048, its short side
//!   scaled to 768, then a base plus a cost per 512×512 tile (85 + 170 for `gpt-4o`,
//!   `gpt-4.1` and unknown models; 2,833 + 5,667 for `gpt-4o-mini`; 75 + 150 for `o1`/`o3`;
//!   70 + 140 for `gpt-5`).
//! - Anthropic: the image scaled to at most 1,568 pixels on its long side and 1.15 megapixels,
//!   then width × height / 750.
//! - Gemini: 258 tokens for an image of at most 384×384 pixels, else 258 per 768×768 tile;
//!   Gemini 3 models bill an image at their default (high) media resolution, 1,120 tokens.
//!
//! Images are sent at the providers' default detail (`auto`, which is `high` for these sizes).
use entity::enums::Provider;

/// Tokens of a `width` × `height` image for `model` at `provider`.
pub fn image_tokens(provider: Provider, model: &str, width: u32, height: u32) -> u64 {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    match provider {
        Provider::Anthropic => anthropic(w, h),
        Provider::Gemini | Provider::VertexAI => gemini(model, w, h),
        Provider::OpenAI | Provider::AzureOpenAI | Provider::AzureAIFoundry | Provider::Custom => {
            openai(model, w, h)
        }
    }
}

fn anthropic(w: f64, h: f64) -> u64 {
    let long = 1568.0 / w.max(h);
    let area = (1_150_000.0 / (w * h)).sqrt();
    let scale = long.min(area).min(1.0);
    ((w * scale).round() * (h * scale).round() / 750.0).ceil() as u64
}

fn gemini(model: &str, w: f64, h: f64) -> u64 {
    if model.starts_with("gemini-3") {
        return 1120;
    }
    if w <= 384.0 && h <= 384.0 {
        return 258;
    }
    ((w / 768.0).ceil() * (h / 768.0).ceil()) as u64 * 258
}

/// OpenAI's patch multipliers, by model prefix (longest prefixes first).
const PATCH_MODELS: [(&str, f64); 5] = [
    ("gpt-4.1-mini", 1.62),
    ("gpt-4.1-nano", 2.46),
    ("gpt-5-mini", 1.62),
    ("gpt-5-nano", 2.46),
    ("o4-mini", 1.72),
];

/// OpenAI's tile costs (base, per tile), by model prefix (longest prefixes first).
const TILE_MODELS: [(&str, u64, u64); 5] = [
    ("gpt-4o-mini", 2833, 5667),
    ("gpt-5", 70, 140),
    ("o1", 75, 150),
    ("o3", 75, 150),
    ("gpt-4", 85, 170),
];

fn openai(model: &str, w: f64, h: f64) -> u64 {
    let model = model.rsplit('/').next().unwrap_or(model);
    if let Some((_, multiplier)) = PATCH_MODELS.iter().find(|(p, _)| model.starts_with(p)) {
        let patches = |w: f64, h: f64| (w / 32.0).ceil() * (h / 32.0).ceil();
        let (mut w, mut h) = (w, h);
        if patches(w, h) > 1536.0 {
            let shrink = (1536.0 * 32.0 * 32.0 / (w * h)).sqrt();
            let fit = |side: f64| ((side * shrink / 32.0).floor() * 32.0).max(32.0);
            (w, h) = (fit(w), fit(h));
        }
        return (patches(w, h).min(1536.0) * multiplier).ceil() as u64;
    }
    let (base, per_tile) = TILE_MODELS
        .iter()
        .find(|(p, _, _)| model.starts_with(p))
        .map_or((85, 170), |(_, b, t)| (*b, *t));
    let fit = (2048.0 / w.max(h)).min(1.0);
    let (w, h) = (w * fit, h * fit);
    let short = (768.0 / w.min(h)).min(1.0);
    let (w, h) = (w * short, h * short);
    let tiles = ((w / 512.0).ceil() * (h / 512.0).ceil()) as u64;
    base + per_tile * tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_examples_from_its_docs() {
        // 1024×1024 on gpt-4o: scaled to 768×768, 4 tiles: 85 + 4 × 170.
        assert_eq!(image_tokens(Provider::OpenAI, "gpt-4o", 1024, 1024), 765);
        // 2048×4096: fitted to 1024×2048, then 768×1536: 6 tiles.
        assert_eq!(image_tokens(Provider::OpenAI, "gpt-4o", 2048, 4096), 1105);
        assert_eq!(
            image_tokens(Provider::AzureOpenAI, "gpt-4o-mini", 1024, 1024),
            2833 + 4 * 5667
        );
        // Patches: 1024×1024 is 1024 patches; gpt-5-mini multiplies by 1.62.
        assert_eq!(
            image_tokens(Provider::OpenAI, "gpt-5-mini", 1024, 1024),
            1659
        );
        // 1800×2400 is over 1,536 patches: scaled down to fit.
        assert!(
            image_tokens(Provider::OpenAI, "gpt-4.1-mini", 1800, 2400)
                <= (1536.0f64 * 1.62).ceil() as u64
        );
    }

    #[test]
    fn anthropic_and_gemini_rules() {
        // 1000×1000: 1,333 tokens (1,000,000 / 750).
        assert_eq!(
            image_tokens(Provider::Anthropic, "claude-sonnet-4-5", 1000, 1000),
            1334
        );
        // Large images are scaled to about 1.15 megapixels first (at most ~1,600 tokens).
        assert!(image_tokens(Provider::Anthropic, "claude-sonnet-4-5", 4000, 3000) <= 1600);
        assert_eq!(
            image_tokens(Provider::Gemini, "gemini-2.5-flash", 300, 300),
            258
        );
        assert_eq!(
            image_tokens(Provider::Gemini, "gemini-2.5-flash", 1024, 1024),
            4 * 258
        );
        assert_eq!(
            image_tokens(Provider::Gemini, "gemini-3-pro-preview", 1024, 1024),
            1120
        );
    }
}
