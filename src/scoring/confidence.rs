//! How sure a prediction is: its regions' scores and its own, from the model's token
//! log-probabilities ([`from_logprobs`]) or from the agreement of several answers (see
//! `engine::plan`'s samples).
//!
//! A region's score is the probability of its labels: the product, over the values under its
//! [`Origin`] in the model's answer (a choice, each label of a span, a rating), of the
//! probability the model gave each value, normalized over the values the control allows (see
//! `llm::confidence`). Free text (`TextArea`) gets none. The prediction's score is the mean over
//! its controls of the mean of their regions' scores, as a task's accuracy is the mean over its
//! controls (see the module above): for one `Choices` control, the probability of the choice.
use crate::label_config::{Converted, Origin};
use crate::llm::TokenLogprob;
use crate::llm::confidence::Answer;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The scores of a prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// The prediction's score.
    pub task: f64,
    /// Each region's score, in the order of the regions (`None`: not scored).
    pub regions: Vec<Option<f64>>,
}

/// Whether `pointer` is `origin` or under it.
fn under(pointer: &str, origin: &str) -> bool {
    pointer
        .strip_prefix(origin)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The scores of converted regions from the answer's tokens; `None` when no region could be
/// scored (no log-probabilities, or none of the labels found in them).
pub fn from_logprobs(converted: &Converted, tokens: &[TokenLogprob]) -> Option<Scores> {
    if tokens.is_empty() {
        return None;
    }
    let answer = Answer::new(tokens);
    let region = |origin: &Origin| -> Option<f64> {
        let mut product = None;
        for leaf in answer
            .leaves()
            .iter()
            .filter(|l| under(&l.pointer, &origin.pointer))
        {
            let p = answer.probability(leaf, &origin.allowed)?;
            product = Some(product.unwrap_or(1.0) * p);
        }
        product
    };
    let regions: Vec<Option<f64>> = converted
        .origins
        .iter()
        .map(|o| o.as_ref().and_then(region))
        .collect();
    let controls = converted
        .origins
        .iter()
        .zip(&regions)
        .filter_map(|(o, s)| Some((o.as_ref()?.control.as_str(), (*s)?)));
    let task = mean_of_controls(controls)?;
    Some(Scores { task, regions })
}

/// The mean over controls of the mean of each control's region scores.
pub fn mean_of_controls<'a>(scores: impl Iterator<Item = (&'a str, f64)>) -> Option<f64> {
    let mut by_control: BTreeMap<&str, (f64, u32)> = BTreeMap::new();
    for (control, score) in scores {
        let entry = by_control.entry(control).or_default();
        entry.0 += score;
        entry.1 += 1;
    }
    if by_control.is_empty() {
        return None;
    }
    let sum: f64 = by_control
        .values()
        .map(|(sum, n)| sum / f64::from(*n))
        .sum();
    Some(sum / by_control.len() as f64)
}

/// Writes each region's score into it (Label Studio's region `score`, shown beside the region).
pub fn stamp(regions: &mut [Value], scores: &[Option<f64>]) {
    for (region, score) in regions.iter_mut().zip(scores) {
        if let (Some(map), Some(score)) = (region.as_object_mut(), score) {
            map.insert("score".into(), json!(score));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(text: &str, p: f64, top: &[(&str, f64)]) -> TokenLogprob {
        TokenLogprob::of_text(text, p, top)
    }

    #[test]
    fn regions_and_the_task_are_scored_from_their_labels() {
        let config = crate::label_config::parse(
            r#"<View><Text name="text" value="$text"/>
            <Choices name="s" toName="text"><Choice value="Pos"/><Choice value="Neg"/></Choices>
            <Labels name="e" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
            <TextArea name="note" toName="text"/></View>"#,
        );
        let config = match config {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        };
        let output = json!({"s": "Pos", "e": [{"text": "Ann", "labels": ["PER"]},
            {"text": "Acme", "labels": ["ORG"]}], "note": "hi"});
        let data = json!({"text": "Ann works at Acme"});
        let converted = config.convert(&output, &data).unwrap_or_default();
        assert_eq!(converted.regions.len(), 4);
        let tokens = [
            token(r#"{"e":[{"labels":[""#, 1.0, &[]),
            token("PER", 0.9, &[("PER", 0.9), ("ORG", 0.1)]),
            token(r#""],"text":"Ann"},{"labels":[""#, 1.0, &[]),
            token("ORG", 0.5, &[("ORG", 0.5), ("PER", 0.3)]),
            token(r#""],"text":"Acme"}],"note":"hi","s":""#, 1.0, &[]),
            token("Pos", 0.8, &[("Pos", 0.8), ("Neg", 0.2)]),
            token(r#""}"#, 1.0, &[]),
        ];
        let scores = from_logprobs(&converted, &tokens).unwrap_or(Scores {
            task: -1.0,
            regions: vec![],
        });
        let by_name: Vec<(String, Option<f64>)> = converted
            .regions
            .iter()
            .zip(&scores.regions)
            .map(|(r, s)| (r["from_name"].as_str().unwrap_or("").to_string(), *s))
            .collect();
        let get = |name: &str, nth: usize| {
            by_name
                .iter()
                .filter(|(n, _)| n == name)
                .nth(nth)
                .and_then(|(_, s)| *s)
        };
        assert_eq!(get("note", 0), None);
        assert!((get("s", 0).unwrap_or_default() - 0.8).abs() < 1e-9);
        assert!((get("e", 0).unwrap_or_default() - 0.9).abs() < 1e-9);
        assert!((get("e", 1).unwrap_or_default() - 0.5 / 0.8).abs() < 1e-9);
        let spans = (0.9 + 0.5 / 0.8) / 2.0;
        assert!((scores.task - (0.8 + spans) / 2.0).abs() < 1e-9);
    }

    #[test]
    fn no_tokens_no_scores() {
        assert_eq!(from_logprobs(&Converted::default(), &[]), None);
    }
}
