//! Which Prompts skill a label config can serve (`GET /api/prompts/compatible-projects`).
//!
//! Prompter's rule (spec §2.1, decisions table): `project_type` picks the control type
//! (`Choices` for TextClassification, a `Labels`-family tag for NER); at least one control of
//! that type targets a `Text` or `HyperText` object (for TextClassification an `Image` too, as
//! LSE Prompts classifies images); no control of the other type is present. Annotations are
//! not required.

use super::{ControlKind, ControlTag, LabelConfig, TEXT_OBJECT_TAGS};

/// A Prompts skill (`skill_name` of a prompt, `project_type` of compatible-projects), stored in
/// the prompt row.
pub use entity::enums::Skill;

impl LabelConfig {
    /// Some `toName` of the control names a `Text`, `HyperText` or `Image` object.
    fn targets_text_or_image(&self, control: &ControlTag) -> bool {
        control.to_name.iter().any(|name| {
            self.object(name)
                .is_some_and(|o| TEXT_OBJECT_TAGS.contains(&o.tag.as_str()) || o.tag == "Image")
        })
    }

    /// The config can serve `skill`: TextClassification needs a `Choices` control targeting a
    /// `Text`/`HyperText`/`Image` object and no `Labels`-family control; NER needs a `Labels`-family
    /// control whose first `toName` is a `Text`/`HyperText` object (a span control, see
    /// [`LabelConfig::is_span_control`]) and no `Choices` control.
    pub fn is_compatible(&self, skill: Skill) -> bool {
        let has_choices = |c: &ControlTag| c.kind() == ControlKind::Choices;
        match skill {
            Skill::TextClassification => {
                self.controls
                    .iter()
                    .any(|c| has_choices(c) && self.targets_text_or_image(c))
                    && !self.controls.iter().any(ControlTag::is_labels_family)
            }
            Skill::NamedEntityRecognition => {
                self.controls.iter().any(|c| self.is_span_control(c))
                    && !self.controls.iter().any(has_choices)
            }
        }
    }
}
