//! The XML walk that turns a label config into a [`LabelConfig`], and its validation rules.

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node, NodeId};

use super::{
    CONTROL_TAGS, ControlTag, LABEL_TAGS, LAYOUT_TAGS, LabelConfig, LabelConfigError, LabelTag,
    OBJECT_TAGS, ObjectTag, UNBOUND_CONTROL_TAGS,
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

/// Collects errors with their byte offsets so the earliest in the document is reported.
struct Errors<'d, 'i> {
    doc: &'d Document<'i>,
    found: Vec<(usize, LabelConfigError)>,
}

impl Errors<'_, '_> {
    fn push(&mut self, node: Node<'_, '_>, message: String) {
        let offset = node.range().start;
        let pos = self.doc.text_pos_at(offset);
        self.found
            .push((offset, LabelConfigError::at(message, pos.row, pos.col)));
    }

    fn first(self) -> Option<LabelConfigError> {
        self.found
            .into_iter()
            .min_by_key(|(offset, _)| *offset)
            .map(|(_, e)| e)
    }
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
    let pos = err.pos();
    let full = err.to_string();
    let suffix = format!(" at {pos}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full);
    LabelConfigError::at(format!("malformed XML: {message}"), pos.row, pos.col)
}

/// Parses and validates; see [`super::parse`].
pub(super) fn parse_config(xml: &str) -> Result<LabelConfig, LabelConfigError> {
    if xml.trim().is_empty() {
        return Err(LabelConfigError::new("label config is empty"));
    }
    let doc = Document::parse(xml).map_err(|e| syntax_error(&e))?;
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
        found: Vec::new(),
    };
    let mut objects: Vec<ObjectTag> = Vec::new();
    let mut controls: Vec<ControlTag> = Vec::new();
    let mut control_nodes: Vec<Node<'_, '_>> = Vec::new();
    let mut control_index: HashMap<NodeId, usize> = HashMap::new();
    let mut index_flags: Vec<String> = Vec::new();
    // name -> is it an object tag
    let mut names: HashMap<String, bool> = HashMap::new();

    for node in root.descendants().filter(Node::is_element) {
        if let Some(flag) = node.attribute("indexFlag") {
            index_flags.push(flag.to_string());
        }
        let tag = node.tag_name().name();
        match role(node) {
            Role::Ignore => {}
            Role::Label => {
                let owner = node
                    .ancestors()
                    .skip(1)
                    .find_map(|a| control_index.get(&a.id()).copied());
                if let Some(ci) = owner {
                    add_label(&mut errors, node, &mut controls[ci]);
                }
            }
            Role::Object => {
                let attrs: BTreeMap<String, String> = attrs_in_order(node).into_iter().collect();
                let name = attr(node, "name").unwrap_or_default();
                let value = attr(node, "value")
                    .or_else(|| attr(node, "valueList"))
                    .unwrap_or_default();
                if name.is_empty() {
                    errors.push(
                        node,
                        format!("object tag <{tag}> has no \"name\" attribute"),
                    );
                } else if value.is_empty() {
                    errors.push(
                        node,
                        format!(
                            "object tag {} has no \"value\" attribute",
                            describe(tag, name)
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
                let attrs: BTreeMap<String, String> = attrs_in_order(node).into_iter().collect();
                let name = attr(node, "name").unwrap_or_default();
                let to_name = attr(node, "toName");
                let unbound = UNBOUND_CONTROL_TAGS.contains(&tag);
                if name.is_empty() && !unbound {
                    errors.push(
                        node,
                        format!("control tag <{tag}> has no \"name\" attribute"),
                    );
                } else if to_name.is_none() && !unbound {
                    errors.push(
                        node,
                        format!(
                            "control tag {} has no \"toName\" attribute",
                            describe(tag, name)
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
                control_index.insert(node.id(), controls.len());
                control_nodes.push(node);
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
        }),
    }
}

fn duplicate_name(name: &str) -> String {
    format!("duplicate name \"{name}\": object and control tag names must be unique")
}

/// Adds one `<Choice>`/`<Label>`/`<Relation>` child to its control.
fn add_label(errors: &mut Errors<'_, '_>, node: Node<'_, '_>, control: &mut ControlTag) {
    let tag = node.tag_name().name();
    let Some(label) = attr(node, "alias").or_else(|| attr(node, "value")) else {
        errors.push(
            node,
            format!(
                "<{tag}> in {} has no \"value\" attribute",
                describe(&control.tag, &control.name)
            ),
        );
        return;
    };
    if control.labels.iter().any(|l| l == label) {
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
    });
}
