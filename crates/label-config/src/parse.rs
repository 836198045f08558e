//! The XML walk that turns a label config into a [`LabelConfig`], and its validation rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use roxmltree::{Document, Node, NodeId};

use super::known;
use super::{
    CONTROL_TAGS, ControlTag, LABEL_TAGS, LAYOUT_TAGS, LabelConfig, LabelConfigError,
    LabelConfigWarning, LabelTag, MAX_ATTRIBUTES, MAX_CONFIG_BYTES, MAX_CONTROLS_AND_OBJECTS,
    MAX_DEPTH, MAX_ELEMENTS, MAX_LABELS, MAX_WARNINGS, OBJECT_TAGS, ObjectTag,
    UNBOUND_CONTROL_TAGS,
};

/// A non-empty attribute value (Label Studio treats `name=""` like a missing `name`).
fn attr<'a>(node: Node<'a, '_>, key: &str) -> Option<&'a str> {
    node.attribute(key).filter(|v| !v.is_empty())
}

/// All attributes of an element, in document order.
fn attrs_in_order(node: Node<'_, '_>) -> Vec<(String, String)> {
    node.attributes()
        .map(|a| (a.name().to_string(), a.value().to_string()))
        .collect()
}

/// How an element takes part in the config.
enum Role {
    Ignore,
    Label,
    Object,
    Control,
}

fn role(node: Node<'_, '_>) -> Role {
    let tag = node.tag_name().name();
    if LAYOUT_TAGS.contains(&tag) {
        Role::Ignore
    } else if LABEL_TAGS.contains(&tag) {
        Role::Label
    } else if node.has_attribute("toName") || CONTROL_TAGS.contains(&tag) || tag.ends_with("Labels")
    {
        Role::Control
    } else if OBJECT_TAGS.contains(&tag)
        || (attr(node, "name").is_some()
            && (attr(node, "value").is_some() || attr(node, "valueList").is_some()))
    {
        Role::Object
    } else {
        Role::Ignore
    }
}

/// Collects errors with their byte offsets so the earliest in the document is reported. Only
/// that one is given a line and column (finding a position reads the text up to it).
struct Errors<'d, 'i> {
    doc: &'d Document<'i>,
    found: Option<(usize, String)>,
}

impl Errors<'_, '_> {
    fn push(&mut self, node: Node<'_, '_>, message: String) {
        let offset = node.range().start;
        if self.found.as_ref().is_none_or(|(first, _)| offset < *first) {
            self.found = Some((offset, message));
        }
    }

    fn first(self) -> Option<LabelConfigError> {
        self.found.map(|(offset, message)| {
            let pos = self.doc.text_pos_at(offset);
            LabelConfigError::at(message, pos.row, pos.col)
        })
    }
}

/// Warnings with their byte offsets, at most [`MAX_WARNINGS`], given lines and columns in one
/// pass over the text at the end.
#[derive(Default)]
struct Warnings {
    found: Vec<(usize, String)>,
}

impl Warnings {
    /// Whether another warning would still be kept (so its words are worth making).
    fn room(&self) -> bool {
        self.found.len() < MAX_WARNINGS
    }

    fn push(&mut self, offset: usize, message: String) {
        if self.room() {
            self.found.push((offset, message));
        }
    }

    fn resolve(mut self, xml: &str, steps: &mut Steps) -> Vec<LabelConfigWarning> {
        self.found.sort_by_key(|(offset, _)| *offset);
        let mut out = Vec::with_capacity(self.found.len());
        let (mut line, mut column, mut at) = (1u32, 1u32, 0usize);
        for (offset, message) in self.found {
            let offset = offset.min(xml.len());
            if let Some(between) = xml.get(at..offset) {
                steps.tick(between.len());
                for c in between.chars() {
                    if c == '\n' {
                        line = line.saturating_add(1);
                        column = 1;
                    } else {
                        column = column.saturating_add(1);
                    }
                }
                at = offset;
            }
            out.push(LabelConfigWarning {
                message,
                line: Some(line),
                column: Some(column),
            });
        }
        out
    }
}

/// Whether a tag is one Label Studio knows, and else the words of the complaint: the nearest
/// known tag, when one is near.
fn unknown_tag(written: &str) -> Option<String> {
    if known::spec(written).is_some() {
        return None;
    }
    let tag = short(written);
    Some(match known::nearest(written, known::tag_names()) {
        Some(near) if near.eq_ignore_ascii_case(written) => {
            format!("unknown tag <{tag}>: did you mean {near}? (tag names are case-sensitive)")
        }
        Some(near) => format!("unknown tag <{tag}>: did you mean {near}?"),
        None => format!("unknown tag <{tag}>: Label Studio has no such tag"),
    })
}

/// `text` cut to its first 60 characters (with `…`), for a message.
fn short(text: &str) -> String {
    const SHOWN: usize = 60;
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// When `node` lacks `key` but has it in another case (`toname` for `toName`), the words that
/// say so, to end a message with; else nothing.
fn case_hint(node: Node<'_, '_>, key: &str) -> String {
    node.attributes()
        .find(|a| a.name() != key && a.name().eq_ignore_ascii_case(key))
        .map(|a| {
            format!(
                " (it has \"{}\": attribute names are case-sensitive, write \"{key}\")",
                a.name()
            )
        })
        .unwrap_or_default()
}

/// `<Choices name="x">` / `<Choices>` for messages.
fn describe(tag: &str, name: &str) -> String {
    if name.is_empty() {
        format!("<{tag}>")
    } else {
        format!("<{tag} name=\"{name}\">")
    }
}

/// Turns a roxmltree syntax error into a positioned [`LabelConfigError`].
fn syntax_error(err: &roxmltree::Error) -> LabelConfigError {
    if matches!(err, roxmltree::Error::NodesLimitReached) {
        return LabelConfigError::new(format!(
            "label config has more than {NODES_LIMIT} nodes (tags, texts and comments)"
        ));
    }
    let pos = err.pos();
    let full = err.to_string();
    let suffix = format!(" at {pos}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    LabelConfigError::at(format!("malformed XML: {message}"), pos.row, pos.col)
}

/// Nodes the XML parser may build: the tags the prescan allows, with room for the text and
/// comments between them.
const NODES_LIMIT: u32 = 4 * MAX_ELEMENTS as u32;

/// Counts the steps of a parse, so tests can check that the work grows linearly with the
/// input (no wall-clock timing).
#[derive(Debug, Default)]
pub(super) struct Steps(pub u64);

impl Steps {
    fn tick(&mut self, n: usize) {
        self.0 += n as u64;
    }
}

/// A 1-based line and column of byte `offset`, counted once for an error found before the
/// XML parser runs.
fn position(xml: &str, offset: usize) -> (u32, u32) {
    let before = &xml[..offset.min(xml.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// One linear pass over the text, before the XML parser, that enforces the budget the parser
/// itself does not: tags, nesting depth and attributes per tag, and no namespace declarations
/// (the XML parser's duplicate-attribute and namespace checks are quadratic in those counts,
/// and Label Studio configs use neither). Malformed text is left for the XML parser to report.
fn prescan(xml: &str, steps: &mut Steps) -> Result<(), LabelConfigError> {
    let bytes = xml.as_bytes();
    let fail = |offset: usize, message: String| {
        let (line, column) = position(xml, offset);
        Err(LabelConfigError::at(message, line, column))
    };
    // The end of the first `pattern` at or after `from` (the text's end when there is none).
    let skip_past = |from: usize, pattern: &str| {
        xml.get(from..)
            .and_then(|rest| rest.find(pattern))
            .map_or(bytes.len(), |at| from + at + pattern.len())
    };
    let (mut i, mut depth, mut elements) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        let Some(at) = xml[i..].find('<') else {
            steps.tick(bytes.len() - i);
            break;
        };
        steps.tick(at + 1);
        let open = i + at;
        let rest = &xml[open..];
        i = if rest.starts_with("<!--") {
            skip_past(open + 4, "-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_past(open + 9, "]]>")
        } else if rest.starts_with("<?") {
            skip_past(open + 2, "?>")
        } else if rest.starts_with("<!") {
            skip_past(open + 2, ">")
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            skip_past(open + 2, ">")
        } else {
            elements += 1;
            depth += 1;
            if elements > MAX_ELEMENTS {
                return fail(
                    open,
                    format!("label config has more than {MAX_ELEMENTS} tags"),
                );
            }
            if depth > MAX_DEPTH {
                return fail(open, format!("tags are nested more than {MAX_DEPTH} deep"));
            }
            let (end, attributes, closed) = scan_tag(bytes, open + 1);
            steps.tick(end - open);
            if attributes.len() > MAX_ATTRIBUTES {
                return fail(
                    open,
                    format!("a tag has more than {MAX_ATTRIBUTES} attributes"),
                );
            }
            if attributes
                .iter()
                .any(|name| *name == b"xmlns" || name.starts_with(b"xmlns:"))
            {
                return fail(
                    open,
                    "XML namespaces are not supported in label configs".into(),
                );
            }
            if closed {
                depth -= 1;
            }
            end
        };
    }
    Ok(())
}

/// Reads the tag that starts at `from` (just after its `<`): where it ends (after its `>`),
/// the names of its attributes, and whether it closes itself (`/>`). Quoted values are skipped
/// whole; an unterminated tag ends at the end of the text.
fn scan_tag(bytes: &[u8], from: usize) -> (usize, Vec<&[u8]>, bool) {
    let mut names = Vec::new();
    let mut name_start: Option<usize> = None;
    let mut last_name: &[u8] = &[];
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'>' => {
                let closed = i > from && bytes[i - 1] == b'/';
                return (i + 1, names, closed);
            }
            b'"' | b'\'' => {
                let close = bytes[i + 1..].iter().position(|c| *c == b);
                i = close.map_or(bytes.len(), |at| i + 1 + at + 1);
                name_start = None;
                continue;
            }
            b'=' => {
                if let Some(start) = name_start.take() {
                    last_name = &bytes[start..i];
                }
                names.push(last_name);
                last_name = &[];
            }
            c if c.is_ascii_whitespace() || c == b'/' => {
                if let Some(start) = name_start.take() {
                    last_name = &bytes[start..i];
                }
            }
            _ => {
                if name_start.is_none() {
                    name_start = Some(i);
                }
            }
        }
        i += 1;
    }
    (bytes.len(), names, false)
}

/// What an unknown tag is: an error (a config a client writes), or a warning (a config stored
/// before tags were checked, read as it was then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnknownTags {
    Refuse,
    Warn,
}

/// Parses and validates; see [`super::parse`] and [`super::parse_tolerant`].
pub(super) fn parse_config(
    xml: &str,
    unknown: UnknownTags,
) -> Result<LabelConfig, LabelConfigError> {
    parse_counted(xml, unknown, &mut Steps::default())
}

/// [`parse_config`], counting its steps in `steps`.
pub(super) fn parse_counted(
    xml: &str,
    unknown: UnknownTags,
    steps: &mut Steps,
) -> Result<LabelConfig, LabelConfigError> {
    if xml.trim().is_empty() {
        return Err(LabelConfigError::new("label config is empty"));
    }
    if xml.len() > MAX_CONFIG_BYTES {
        return Err(LabelConfigError::new(format!(
            "label config is {} bytes; the limit is {MAX_CONFIG_BYTES}",
            xml.len()
        )));
    }
    prescan(xml, steps)?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: NODES_LIMIT,
        ..Default::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| syntax_error(&e))?;
    steps.tick(xml.len());
    let root = doc.root_element();
    if root.tag_name().name() != "View" {
        let pos = doc.text_pos_at(root.range().start);
        return Err(LabelConfigError::at(
            "root tag must be <View>",
            pos.row,
            pos.col,
        ));
    }

    let mut errors = Errors {
        doc: &doc,
        found: None,
    };
    let mut warnings = Warnings::default();
    // Only the first unknown tag in the document can be the error reported: words (and a
    // suggestion) are made for that one alone.
    let mut unknown_found = false;
    // Elements inside a `<HyperText>`: its inline HTML, which is data, not config.
    let mut in_html: HashSet<NodeId> = HashSet::new();
    let mut objects: Vec<ObjectTag> = Vec::new();
    let mut controls: Vec<ControlTag> = Vec::new();
    let mut control_nodes: Vec<Node<'_, '_>> = Vec::new();
    // The control each element sits in (its nearest control ancestor or itself), by node.
    let mut owner: HashMap<NodeId, usize> = HashMap::new();
    // Labels already given, per control, for the duplicate check.
    let mut seen_labels: Vec<HashSet<String>> = Vec::new();
    let mut label_count = 0usize;
    let mut index_flags: Vec<String> = Vec::new();
    // name -> is it an object tag
    let mut names: HashMap<String, bool> = HashMap::new();
    // A label element's index in its control's `children`, by node (for nested `<Choice>`s).
    let mut label_index: HashMap<NodeId, usize> = HashMap::new();

    for node in root.descendants().filter(Node::is_element) {
        steps.tick(1 + node.attributes().len());
        if let Some(flag) = node.attribute("indexFlag") {
            index_flags.push(flag.to_string());
        }
        let inherited = node.parent().and_then(|p| owner.get(&p.id()).copied());
        if let Some(ci) = inherited {
            owner.insert(node.id(), ci);
        }
        let tag = node.tag_name().name();
        let html = node
            .parent()
            .is_some_and(|p| in_html.contains(&p.id()) || p.tag_name().name() == "HyperText");
        if html {
            in_html.insert(node.id());
        } else {
            check_tag(
                node,
                unknown,
                &mut unknown_found,
                &mut errors,
                &mut warnings,
            );
        }
        match role(node) {
            Role::Ignore => {}
            Role::Label => {
                if inherited.is_none() && !html && warnings.room() {
                    let value = short(attr(node, "value").unwrap_or_default());
                    warnings.push(
                        node.range().start,
                        format!(
                            "<{tag} value=\"{value}\"> is not inside a Choices, Labels, Taxonomy or Relations tag, so it is not one of the classes"
                        ),
                    );
                }
                if let Some(ci) = inherited {
                    label_count += 1;
                    if label_count > MAX_LABELS {
                        errors.push(
                            node,
                            format!("label config has more than {MAX_LABELS} labels"),
                        );
                        break;
                    }
                    let parent = node
                        .parent()
                        .and_then(|p| label_index.get(&p.id()).copied());
                    label_index.insert(node.id(), controls[ci].children.len());
                    add_label(
                        &mut errors,
                        node,
                        &mut controls[ci],
                        &mut seen_labels[ci],
                        parent,
                    );
                }
            }
            Role::Object => {
                if objects.len() + controls.len() >= MAX_CONTROLS_AND_OBJECTS {
                    errors.push(node, too_many_tags());
                    break;
                }
                let attrs: BTreeMap<String, String> = attrs_in_order(node).into_iter().collect();
                let name = attr(node, "name").unwrap_or_default();
                let value = attr(node, "value")
                    .or_else(|| attr(node, "valueList"))
                    .unwrap_or_default();
                if name.is_empty() {
                    errors.push(
                        node,
                        format!(
                            "object tag <{tag}> has no \"name\" attribute{}",
                            case_hint(node, "name")
                        ),
                    );
                } else if value.is_empty() {
                    errors.push(
                        node,
                        format!(
                            "object tag {} has no \"value\" attribute{}",
                            describe(tag, name),
                            case_hint(node, "value")
                        ),
                    );
                }
                if !name.is_empty() {
                    if names.contains_key(name) {
                        errors.push(node, duplicate_name(name));
                    } else {
                        names.insert(name.to_string(), true);
                    }
                }
                objects.push(ObjectTag {
                    name: name.to_string(),
                    tag: tag.to_string(),
                    value: value.to_string(),
                    attrs,
                });
            }
            Role::Control => {
                if objects.len() + controls.len() >= MAX_CONTROLS_AND_OBJECTS {
                    errors.push(node, too_many_tags());
                    break;
                }
                let attrs: BTreeMap<String, String> = attrs_in_order(node).into_iter().collect();
                let name = attr(node, "name").unwrap_or_default();
                let to_name = attr(node, "toName");
                let unbound = UNBOUND_CONTROL_TAGS.contains(&tag);
                if name.is_empty() && !unbound {
                    errors.push(
                        node,
                        format!(
                            "control tag <{tag}> has no \"name\" attribute{}",
                            case_hint(node, "name")
                        ),
                    );
                } else if to_name.is_none() && !unbound {
                    errors.push(
                        node,
                        format!(
                            "control tag {} has no \"toName\" attribute{}",
                            describe(tag, name),
                            case_hint(node, "toName")
                        ),
                    );
                }
                if !name.is_empty() {
                    if names.contains_key(name) {
                        errors.push(node, duplicate_name(name));
                    } else {
                        names.insert(name.to_string(), false);
                    }
                }
                owner.insert(node.id(), controls.len());
                control_nodes.push(node);
                seen_labels.push(HashSet::new());
                controls.push(ControlTag {
                    name: name.to_string(),
                    tag: tag.to_string(),
                    to_name: to_name
                        .map(|t| t.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    labels: Vec::new(),
                    multiple: node.attribute("choice") == Some("multiple"),
                    attrs,
                    children: Vec::new(),
                });
            }
        }
    }

    for (control, node) in controls.iter().zip(&control_nodes) {
        steps.tick(1 + control.to_name.len());
        for target in &control.to_name {
            // A control may name itself (Label Studio's self-referencing tags).
            let is_object = names.get(target).copied().unwrap_or(false);
            if !is_object && *target != control.name {
                errors.push(
                    *node,
                    format!(
                        "toName=\"{target}\" of {} does not name an object tag",
                        describe(&control.tag, &control.name)
                    ),
                );
            }
        }
        let needs_children = control.tag == "Choices" || control.is_labels_family();
        if needs_children && control.children.is_empty() && !control.is_dynamic() {
            let child = if control.tag == "Choices" {
                "Choice"
            } else {
                "Label"
            };
            errors.push(
                *node,
                format!(
                    "{} has no <{child}> children",
                    describe(&control.tag, &control.name)
                ),
            );
        }
    }

    match errors.first() {
        Some(e) => Err(e),
        None => Ok(LabelConfig {
            objects,
            controls,
            index_flags,
            warnings: warnings.resolve(xml, steps),
        }),
    }
}

/// Checks an element's tag and attributes against the tags Label Studio knows: an unknown tag
/// is an error (or, for a stored config, a warning), an unknown attribute a warning.
fn check_tag(
    node: Node<'_, '_>,
    unknown: UnknownTags,
    unknown_found: &mut bool,
    errors: &mut Errors<'_, '_>,
    warnings: &mut Warnings,
) {
    let tag = node.tag_name().name();
    if known::spec(tag).is_none() {
        match unknown {
            UnknownTags::Refuse if !*unknown_found => {
                *unknown_found = true;
                if let Some(message) = unknown_tag(tag) {
                    errors.push(node, message);
                }
            }
            UnknownTags::Refuse => {}
            UnknownTags::Warn => {
                if warnings.room()
                    && let Some(message) = unknown_tag(tag)
                {
                    warnings.push(node.range().start, message);
                }
            }
        }
        return;
    }
    for attribute in node.attributes() {
        if !warnings.room() {
            return;
        }
        if let Some(problem) = known::attribute_problem(tag, attribute.name()) {
            let name = attr(node, "name").unwrap_or_default();
            warnings.push(
                attribute.range().start,
                format!("{}: {problem}", describe(tag, name)),
            );
        }
    }
}

fn too_many_tags() -> String {
    format!("label config has more than {MAX_CONTROLS_AND_OBJECTS} object and control tags")
}

fn duplicate_name(name: &str) -> String {
    format!("duplicate name \"{name}\": object and control tag names must be unique")
}

/// Adds one `<Choice>`/`<Label>`/`<Relation>` child to its control.
fn add_label(
    errors: &mut Errors<'_, '_>,
    node: Node<'_, '_>,
    control: &mut ControlTag,
    seen: &mut HashSet<String>,
    parent: Option<usize>,
) {
    let tag = node.tag_name().name();
    let Some(label) = attr(node, "alias").or_else(|| attr(node, "value")) else {
        errors.push(
            node,
            format!(
                "<{tag}> in {} has no \"value\" attribute{}",
                describe(&control.tag, &control.name),
                case_hint(node, "value")
            ),
        );
        return;
    };
    if !seen.insert(label.to_string()) {
        // Taxonomy trees may repeat a leaf (e.g. "Other") under different branches.
        if control.tag != "Taxonomy" {
            errors.push(
                node,
                format!(
                    "duplicate value \"{label}\" in {}",
                    describe(&control.tag, &control.name)
                ),
            );
        }
    } else {
        control.labels.push(label.to_string());
    }
    control.children.push(LabelTag {
        tag: tag.to_string(),
        value: label.to_string(),
        attrs: attrs_in_order(node),
        parent,
    });
}
