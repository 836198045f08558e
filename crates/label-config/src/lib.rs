//! Label Studio label configs (XML): parsing, validation and Label Studio's `parsed_label_config`.
//!
//! A label config is an XML document rooted at `<View>`. It holds *object tags* (`<Text>`,
//! `<Image>`, …) that show task data read from `$keys`, and *control tags* (`<Choices>`,
//! `<Labels>`, `<TextArea>`, …) whose results annotate those objects. [`parse`] reads a config,
//! checks it the way Label Studio would reject a broken project config, and returns a
//! [`LabelConfig`]. The module is pure: no I/O, no global state.
//!
//! Labels of `<Choice>`/`<Label>` children are the strings that annotation results carry: the
//! child's `alias` when it has one, else its `value` (Label Studio and its SDK do the same).
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod compat;
mod hypertext;
mod known;
mod output;
mod parse;
mod parsed;
mod regions;
mod schema;
mod spans;
mod taxonomy;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_budget;
#[cfg(test)]
mod tests_controls;
#[cfg(test)]
mod tests_hypertext;
#[cfg(test)]
mod tests_known;
#[cfg(test)]
mod tests_output;
#[cfg(test)]
mod tests_spans;

pub use compat::Skill;
pub use hypertext::{HtmlText, TextNode};
pub use regions::{Converted, DroppedSpan, Origin, RegionError};
pub use spans::{Occurrence, SpanLocator};

use std::collections::BTreeMap;
use std::fmt;

/// Object tags Label Studio knows. Any other tag with `name` and `value` (and no `toName`) is
/// also treated as an object tag.
pub const OBJECT_TAGS: &[&str] = &[
    "Text",
    "HyperText",
    "Paragraphs",
    "Image",
    "Audio",
    "AudioPlus",
    "Video",
    "Table",
    "TimeSeries",
    "Pdf",
    "List",
    "Ranker",
    "Chat",
    "Markdown",
];

/// Control tags Label Studio knows. Every tag whose name ends in `Labels` and every tag with a
/// `toName` attribute (layout tags aside) is a control tag too.
pub const CONTROL_TAGS: &[&str] = &[
    "Choices",
    "Labels",
    "TextArea",
    "Rating",
    "Number",
    "DateTime",
    "Taxonomy",
    "Relations",
    "Pairwise",
    "Rectangle",
    "Polygon",
    "KeyPoint",
    "Ellipse",
    "Brush",
    "MagicWand",
    "Vector",
    "VideoRectangle",
    "VideoVector",
    "ChatMessage",
    "ReactCode",
];

/// Layout and visual tags: they are neither objects nor controls, but their children are read.
pub const LAYOUT_TAGS: &[&str] = &[
    "View", "Header", "Style", "Filter", "Collapse", "Panel", "Repeater", "Shortcut",
];

/// Object tags whose data is text that spans (start/end character offsets) point into, and that
/// Prompts' TextClassification and NER skills accept as input.
pub const TEXT_OBJECT_TAGS: &[&str] = &["Text", "HyperText"];

/// Child tags that give a control its labels (`<Choice>`, `<Label>`, `<Relation>`).
pub const LABEL_TAGS: &[&str] = &["Choice", "Label", "Relation"];

/// Control tags that need neither `name` nor `toName` (`<Relations>` labels relations
/// between regions, not an object).
pub const UNBOUND_CONTROL_TAGS: &[&str] = &["Relations"];

/// The largest label config accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;
/// The most tags (elements) a label config may have.
pub const MAX_ELEMENTS: usize = 20_000;
/// The deepest tags may be nested.
pub const MAX_DEPTH: usize = 100;
/// The most attributes one tag may have.
pub const MAX_ATTRIBUTES: usize = 64;
/// The most `<Choice>`/`<Label>`/`<Relation>` children over all controls.
pub const MAX_LABELS: usize = 10_000;
/// The most object and control tags together.
pub const MAX_CONTROLS_AND_OBJECTS: usize = 1_000;
/// The most warnings a parse reports (the first ones in the document).
pub const MAX_WARNINGS: usize = 20;

/// Parses and validates a label config.
///
/// A config is refused beyond a budget that keeps parsing cheap for any input: at most
/// [`MAX_CONFIG_BYTES`], [`MAX_ELEMENTS`] tags nested at most [`MAX_DEPTH`] deep with at most
/// [`MAX_ATTRIBUTES`] attributes each, [`MAX_LABELS`] labels and [`MAX_CONTROLS_AND_OBJECTS`]
/// object and control tags, and no XML namespaces. The work is linear in the config's size.
///
/// Errors name the line and column (1-based) of the offending element, or of the XML syntax
/// error. `<View></View>` (no objects, no controls) is valid.
///
/// A tag Label Studio does not know is an error naming the nearest known one
/// (`unknown tag <Choise>: did you mean Choice?`), as Label Studio refuses such a config. What
/// does not stop the config from working but is likely a mistake (an attribute Label Studio
/// does not know, one Prompter reads only in its exact case, a `<Choice>` outside any control)
/// is a warning in [`LabelConfig::warnings`].
pub fn parse(xml: &str) -> Result<LabelConfig, LabelConfigError> {
    parse::parse_config(xml, parse::UnknownTags::Refuse)
}

/// [`parse`] for a config already stored, which may predate the check of tags: an unknown tag
/// is a warning, and a tag with `name` and `value` is read as an object tag, as before.
pub fn parse_tolerant(xml: &str) -> Result<LabelConfig, LabelConfigError> {
    parse::parse_config(xml, parse::UnknownTags::Warn)
}

/// Something in a valid label config that is likely a mistake, and where (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConfigWarning {
    /// What looks wrong, in words.
    pub message: String,
    /// 1-based line of the element or attribute.
    pub line: Option<u32>,
    /// 1-based column (in characters) on that line.
    pub column: Option<u32>,
}

impl fmt::Display for LabelConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "line {line}, column {column}: {}", self.message)
            }
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// Why a label config was rejected, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConfigError {
    /// What is wrong, in words.
    pub message: String,
    /// 1-based line of the offending element or syntax error, when known.
    pub line: Option<u32>,
    /// 1-based column (in characters) on that line, when known.
    pub column: Option<u32>,
}

impl LabelConfigError {
    /// An error with no position (e.g. an empty config).
    pub fn new(message: impl Into<String>) -> Self {
        LabelConfigError {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// An error at a 1-based line and column.
    pub fn at(message: impl Into<String>, line: u32, column: u32) -> Self {
        LabelConfigError {
            message: message.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for LabelConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "line {line}, column {column}: {}", self.message)
            }
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for LabelConfigError {}

/// A parsed, valid label config.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelConfig {
    /// Object tags, in document order.
    pub objects: Vec<ObjectTag>,
    /// Control tags, in document order.
    pub controls: Vec<ControlTag>,
    /// `indexFlag` values of `<Repeater>` tags (e.g. `{{idx}}`), in document order.
    pub index_flags: Vec<String>,
    /// Likely mistakes that do not make the config invalid, in document order (at most
    /// [`MAX_WARNINGS`]).
    pub warnings: Vec<LabelConfigWarning>,
}

/// An object tag: shows task data, e.g. `<Text name="text" value="$text"/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectTag {
    /// The `name` attribute.
    pub name: String,
    /// The tag as written, e.g. `Text`, `HyperText`, `Image`.
    pub tag: String,
    /// The `value` attribute (e.g. `$text`); the `valueList` attribute when `value` is absent.
    pub value: String,
    /// All attributes of the tag.
    pub attrs: BTreeMap<String, String>,
}

impl ObjectTag {
    /// The task data key this object reads, as Label Studio derives it: `text` for `$text`;
    /// for a value not starting with `$`, the first `$word` inside it; `None` when there is none.
    pub fn data_key(&self) -> Option<&str> {
        let value = self.value.as_str();
        if let Some(rest) = value.strip_prefix('$') {
            return (!rest.is_empty()).then_some(rest);
        }
        let mut search = value;
        while let Some(at) = search.find('$') {
            let rest = &search[at + 1..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                return Some(&rest[..end]);
            }
            search = rest;
        }
        None
    }
}

/// A label child of a control: `<Choice value="Positive"/>`, `<Label value="PER"/>`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelTag {
    /// The tag as written: `Choice`, `Label` or `Relation`.
    pub tag: String,
    /// The label results carry: the `alias` attribute if set, else `value`.
    pub value: String,
    /// All attributes, in document order.
    pub attrs: Vec<(String, String)>,
    /// The index in the control's `children` of the label this one is nested in (a `<Choice>`
    /// inside a `<Choice>` of a `<Taxonomy>`), or `None` at the top level.
    pub parent: Option<usize>,
}

/// A control tag: produces results, e.g. `<Choices name="sentiment" toName="text">`.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlTag {
    /// The `name` attribute (results' `from_name`). Empty only for an unnamed `<Relations>`.
    pub name: String,
    /// The tag as written: `Choices`, `Labels`, `TextArea`, `RectangleLabels`, …
    pub tag: String,
    /// The `toName` attribute split on `,` (empty for `<Relations>` without `toName`).
    pub to_name: Vec<String>,
    /// Labels of the `<Choice>`/`<Label>`/`<Relation>` children, deduplicated, in order.
    pub labels: Vec<String>,
    /// `choice="multiple"` is set (multi-select `<Choices>`).
    pub multiple: bool,
    /// All attributes of the tag.
    pub attrs: BTreeMap<String, String>,
    /// The label children themselves, in document order (depth first: a nested `<Choice>` of
    /// a `<Taxonomy>` follows its parent; see [`LabelTag::parent`]).
    pub children: Vec<LabelTag>,
}

/// The control types Prompter treats specially.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlKind {
    /// `<Choices>`: classification.
    Choices,
    /// `<Labels>`: text spans (NER).
    Labels,
    /// `<TextArea>`: free text.
    TextArea,
    /// `<Rating>`: stars.
    Rating,
    /// `<Number>`: a number.
    Number,
    /// `<Pairwise>`: left or right of two objects.
    Pairwise,
    /// `<Taxonomy>`: paths in a tree of `<Choice>`s.
    Taxonomy,
    /// Any other control (`RectangleLabels`, `DateTime`, …).
    Other,
}

impl ControlTag {
    /// The kind of this control, from its exact tag name.
    pub fn kind(&self) -> ControlKind {
        match self.tag.as_str() {
            "Choices" => ControlKind::Choices,
            "Labels" => ControlKind::Labels,
            "TextArea" => ControlKind::TextArea,
            "Rating" => ControlKind::Rating,
            "Number" => ControlKind::Number,
            "Pairwise" => ControlKind::Pairwise,
            "Taxonomy" => ControlKind::Taxonomy,
            _ => ControlKind::Other,
        }
    }

    /// The `type` of this control's results: the tag lowercased, e.g. `choices`.
    pub fn result_type(&self) -> String {
        self.tag.to_lowercase()
    }

    /// The first `toName` entry (results' `to_name`), if any.
    pub fn first_to_name(&self) -> Option<&str> {
        self.to_name.first().map(String::as_str)
    }

    /// The tag is `Labels` or ends in `Labels` (`RectangleLabels`, `HyperTextLabels`, …).
    pub fn is_labels_family(&self) -> bool {
        self.tag.ends_with("Labels")
    }

    /// The labels come from task data (`value="$options"`) or an `apiUrl`, not only children.
    pub fn is_dynamic(&self) -> bool {
        self.attrs.get("value").is_some_and(|v| !v.is_empty())
            || self.attrs.get("apiUrl").is_some_and(|v| !v.is_empty())
    }
}

impl LabelConfig {
    /// The control tag with this `name`.
    pub fn control(&self, name: &str) -> Option<&ControlTag> {
        self.controls.iter().find(|c| c.name == name)
    }

    /// The object tag with this `name`.
    pub fn object(&self, name: &str) -> Option<&ObjectTag> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// The object tag a control's results point at: the one its first `toName` names.
    pub fn target_object(&self, control: &ControlTag) -> Option<&ObjectTag> {
        control.first_to_name().and_then(|name| self.object(name))
    }

    /// The control is a text-span control: a `Labels`-family tag (`Labels`,
    /// `HyperTextLabels`, …) whose first `toName` is a `Text` or `HyperText` object. Over a
    /// `Text` its results are `{"start", "end", "<tag lowercased>": [labels]}` with offsets in
    /// Unicode code points into the object's data; over a `HyperText` they carry Label Studio's
    /// XPath range (see [`HtmlText`]). Other `Labels`-family controls (`RectangleLabels`, …)
    /// are not spans.
    pub fn is_span_control(&self, control: &ControlTag) -> bool {
        control.is_labels_family()
            && self
                .target_object(control)
                .is_some_and(|o| TEXT_OBJECT_TAGS.contains(&o.tag.as_str()))
    }

    /// Controls of one kind, in document order.
    pub fn controls_of_kind(&self, kind: ControlKind) -> impl Iterator<Item = &ControlTag> {
        self.controls.iter().filter(move |c| c.kind() == kind)
    }

    /// The target object of a span control is a `HyperText` (its data is HTML).
    pub fn is_hypertext_target(&self, control: &ControlTag) -> bool {
        self.target_object(control)
            .is_some_and(|o| o.tag == "HyperText")
    }

    /// Data keys read by object tags (`$text` → `text`), deduplicated, in document order.
    pub fn input_fields(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.objects
            .iter()
            .filter_map(ObjectTag::data_key)
            .filter(|key| seen.insert(*key))
            .map(str::to_string)
            .collect()
    }

    /// Data keys read by `<Image>` objects (`value` or `valueList`), deduplicated, in document
    /// order: the fields a call shows the model as images.
    pub fn image_keys(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.objects
            .iter()
            .filter(|o| o.tag == "Image")
            .filter_map(ObjectTag::data_key)
            .filter(|key| seen.insert(*key))
            .map(str::to_string)
            .collect()
    }

    /// All labels of all controls (their `<Choice>`/`<Label>` children), deduplicated, in
    /// document order. Relation types of `<Relations>` are not classes and are left out.
    pub fn output_classes(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.controls
            .iter()
            .filter(|c| c.tag != "Relations")
            .flat_map(|c| &c.labels)
            .filter(|label| seen.insert(label.as_str()))
            .cloned()
            .collect()
    }

    /// Label Studio's `parsed_label_config` JSON, as its API returns it for a project:
    /// `{"<control name>": {"type": "Choices", "to_name": ["text"], "inputs": [{"type": "Text",
    /// "valueType": null, "value": "text"}], "labels": [...], "labels_attrs": {...}}}`.
    ///
    /// Only controls with both `name` and `toName` appear. Optional keys follow Label Studio:
    /// `regex` (Repeater index flags found in `toName`), `conditionals` (`perRegion="true"`
    /// with `whenTagName`/`whenLabelValue`/`whenChoiceValue`) and `dynamic_labels`
    /// (`value="$var"` or `apiUrl`).
    pub fn parsed_label_config(&self) -> serde_json::Value {
        parsed::parsed_label_config(self)
    }
}
