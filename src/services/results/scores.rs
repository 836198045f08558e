//! How sure a result is: what the engine knows of it ([`Confidence`]) and the score a
//! prediction gets from it ([`score_regions`]), through the version's calibration map.
use entity::enums::ScoreMethod;

/// What a result knows of how sure the model was of it.
#[derive(Debug, Clone, Default)]
pub enum Confidence {
    /// Nothing: the prediction gets Label Studio's constant score 1.0.
    #[default]
    Unknown,
    /// The answer's token log-probabilities: its regions and itself are scored from them
    /// (`scoring::confidence`).
    Logprobs(Vec<crate::llm::TokenLogprob>),
    /// The share of several answers that agreed with this one.
    Agreement(f64),
}

/// A prediction's score, how it was found, and the raw score when a calibration map changed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictionScore {
    /// The score (calibrated when the version has a map).
    pub score: f64,
    /// How it was found; `None`: nothing known, Label Studio's constant 1.0.
    pub method: Option<ScoreMethod>,
    /// The score before the version's calibration map, when there is one.
    pub raw: Option<f64>,
}

/// The score of a prediction and how it was found, its regions scored in place: from the
/// answer's log-probabilities, the agreement of several answers, or Label Studio's constant 1.0
/// when nothing is known; through the version's calibration `map` when it has one.
pub fn score_regions(
    converted: &mut crate::label_config::Converted,
    confidence: &Confidence,
    map: Option<&crate::stats::calibration::CalibrationMap>,
) -> PredictionScore {
    use crate::scoring::confidence as scores;
    let (task, regions, method) = match confidence {
        Confidence::Logprobs(tokens) => match scores::from_logprobs(converted, tokens) {
            Some(found) => (found.task, found.regions, ScoreMethod::Logprobs),
            None => {
                return PredictionScore {
                    score: 1.0,
                    method: None,
                    raw: None,
                };
            }
        },
        Confidence::Agreement(share) => (
            *share,
            vec![Some(*share); converted.regions.len()],
            ScoreMethod::Agreement,
        ),
        Confidence::Unknown => {
            return PredictionScore {
                score: 1.0,
                method: None,
                raw: None,
            };
        }
    };
    let through = |s: f64| map.map_or(s, |m| m.apply(s));
    let regions: Vec<Option<f64>> = regions.into_iter().map(|r| r.map(through)).collect();
    scores::stamp(&mut converted.regions, &regions);
    PredictionScore {
        score: through(task),
        method: Some(method),
        raw: map.map(|_| task),
    }
}
