//! Model parameters as versions and provider connections take them: checked on the way in
//! (stored with [`ModelParams::to_stored`], read back with [`ModelParams::from_stored`]).
use crate::error::{ApiError, ApiResult};
use crate::llm::ModelParams;

pub use crate::llm::REASONING_EFFORTS;

/// Checks the bounds of `params`, naming `field.<key>` in the 400.
pub fn check(field: &str, params: &ModelParams) -> ApiResult<()> {
    crate::limits::check_json_bytes(field, params, crate::limits::MAX_MODEL_PARAMS_BYTES)?;
    let err = |key: &str, message: &str| ApiError::field(&format!("{field}.{key}"), message);
    if let Some(t) = params.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(err("temperature", "Ensure this value is between 0 and 2."));
    }
    if let Some(p) = params.top_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(err("top_p", "Ensure this value is between 0 and 1."));
    }
    if params.max_tokens == Some(0) {
        return Err(err(
            "max_tokens",
            "Ensure this value is greater than or equal to 1.",
        ));
    }
    if params
        .max_tokens
        .is_some_and(|t| t > crate::limits::MAX_OUTPUT_TOKENS)
    {
        return Err(err(
            "max_tokens",
            &format!(
                "Ensure this value is less than or equal to {}.",
                crate::limits::MAX_OUTPUT_TOKENS
            ),
        ));
    }
    if let Some(effort) = &params.reasoning_effort
        && !REASONING_EFFORTS.contains(&effort.as_str())
    {
        return Err(err(
            "reasoning_effort",
            &format!(
                "\"{effort}\" is not a valid choice ({}).",
                REASONING_EFFORTS.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_and_round_trip() {
        let ok = ModelParams {
            temperature: Some(0.2),
            max_tokens: Some(100),
            reasoning_effort: Some("low".into()),
            ..Default::default()
        };
        assert!(check("model_params", &ok).is_ok());
        assert_eq!(ModelParams::from_stored(Some(&ok.to_stored())), ok);
        let bad = ModelParams {
            temperature: Some(3.0),
            ..Default::default()
        };
        assert!(check("model_params", &bad).is_err());
        let bad = ModelParams {
            reasoning_effort: Some("extreme".into()),
            ..Default::default()
        };
        assert!(check("model_params", &bad).is_err());
        assert_eq!(
            ModelParams::from_stored(Some(&serde_json::json!({"bogus": 1}))),
            ModelParams::default()
        );
    }
}
