//! The text of a `<HyperText>` object as Label Studio's editor sees it, and Label Studio's
//! region format for spans in it.
//!
//! Label Studio (1.23, `web/libs/editor/src/tags/object/RichText/`) shows HyperText data in an
//! iframe (`srcDoc`, after `sanitizeHtml` drops `<script>` and `<iframe>` elements and the text
//! of `<textarea>`, `<option>` and `<noscript>`), or inside a `<div>` when `inline="true"`. Its
//! `DomManager` walks the rendered body with a `TreeWalker` and gives each text node:
//!
//! - a **global offset** range, counting the code points of every text node in document order
//!   and one for each `<br>`;
//! - an **XPath** relative to the body (or the div): `/p[1]/b[1]/text()[1]`, one
//!   `name[index]` step per node, the index counting earlier siblings with the same node name
//!   (`text()` for text nodes, the lowercased tag name for elements).
//!
//! A HyperText region's value is
//! `{"start": xpath, "startOffset": n, "end": xpath, "endOffset": m, "globalOffsets":
//! {"start", "end"}, "text", "hypertextlabels": [...]}`, where `startOffset`/`endOffset` count
//! **UTF-16 code units** inside the text node (DOM `Range` offsets; `getRelativeOffsetByGlobal`
//! joins the node's code points before taking `.length`) and `globalOffsets` count **code
//! points**. When it loads a region, the editor resolves the XPaths first and falls back to
//! `globalOffsets` when they do not resolve.
//!
//! [`HtmlText::parse`] builds the same tree a browser builds (html5ever, the HTML5 tree
//! construction algorithm: implied `<tbody>`, `<p>` closed by block elements, `<head>` content
//! outside the body, foster parenting, `\r\n` → `\n`, entities), in time linear in the input.

use std::cell::RefCell;
use std::collections::HashMap;

use html5ever::interface::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::TreeBuilderOpts;
use html5ever::{Attribute, LocalName, ParseOpts, QualName, local_name, ns};
use serde_json::{Value, json};

/// One text node of the rendered document.
#[derive(Debug, Clone, PartialEq)]
pub struct TextNode {
    /// Its XPath relative to the body, e.g. `/p[1]/text()[1]`.
    pub xpath: String,
    /// Global offset (code points) of its first character.
    pub start: usize,
    /// Global offset one past its last character.
    pub end: usize,
    /// Byte range of its text in [`HtmlText::text`].
    bytes: (usize, usize),
}

/// The text content of an HTML document, with its text nodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HtmlText {
    /// The text of every text node in document order, with `\n` for each `<br>` (so that code
    /// point offsets into it are Label Studio's global offsets).
    pub text: String,
    /// The text nodes, in document order (global offsets ascending).
    pub nodes: Vec<TextNode>,
}

#[derive(Debug)]
enum Kind {
    Document,
    Element,
    Text(String),
    Comment,
    Other,
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    name: QualName,
    parent: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    prev: Option<usize>,
    next: Option<usize>,
    template: Option<usize>,
}

/// A tree of indices into one vector: the smallest `TreeSink` html5ever needs.
struct Sink {
    nodes: RefCell<Vec<Node>>,
}

fn no_name() -> QualName {
    QualName::new(None, ns!(), LocalName::from(""))
}

impl Sink {
    fn add(&self, kind: Kind, name: QualName) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node {
            kind,
            name,
            parent: None,
            first: None,
            last: None,
            prev: None,
            next: None,
            template: None,
        });
        nodes.len() - 1
    }

    fn detach(nodes: &mut [Node], id: usize) {
        let (parent, prev, next) = (nodes[id].parent, nodes[id].prev, nodes[id].next);
        match next {
            Some(n) => nodes[n].prev = prev,
            None => {
                if let Some(p) = parent {
                    nodes[p].last = prev;
                }
            }
        }
        match prev {
            Some(p) => nodes[p].next = next,
            None => {
                if let Some(p) = parent {
                    nodes[p].first = next;
                }
            }
        }
        let node = &mut nodes[id];
        node.parent = None;
        node.prev = None;
        node.next = None;
    }

    fn append_node(nodes: &mut [Node], parent: usize, child: usize) {
        Self::detach(nodes, child);
        let last = nodes[parent].last;
        nodes[child].parent = Some(parent);
        nodes[child].prev = last;
        match last {
            Some(l) => nodes[l].next = Some(child),
            None => nodes[parent].first = Some(child),
        }
        nodes[parent].last = Some(child);
    }

    fn insert_before(nodes: &mut [Node], sibling: usize, child: usize) {
        Self::detach(nodes, child);
        let (parent, prev) = (nodes[sibling].parent, nodes[sibling].prev);
        nodes[child].parent = parent;
        nodes[child].prev = prev;
        nodes[child].next = Some(sibling);
        nodes[sibling].prev = Some(child);
        match prev {
            Some(p) => nodes[p].next = Some(child),
            None => {
                if let Some(p) = parent {
                    nodes[p].first = Some(child);
                }
            }
        }
    }

    /// Adds text after `previous` when that is a text node (browsers merge adjacent text);
    /// returns whether it did.
    fn merged(&self, previous: Option<usize>, text: &StrTendril) -> bool {
        let mut nodes = self.nodes.borrow_mut();
        if let Some(Node {
            kind: Kind::Text(existing),
            ..
        }) = previous.and_then(|p| nodes.get_mut(p))
        {
            existing.push_str(text);
            return true;
        }
        false
    }

    fn node_of(&self, child: NodeOrText<usize>) -> usize {
        match child {
            NodeOrText::AppendNode(n) => n,
            NodeOrText::AppendText(t) => self.add(Kind::Text(t.to_string()), no_name()),
        }
    }
}

impl TreeSink for Sink {
    type Handle = usize;
    type Output = Vec<Node>;
    type ElemName<'a>
        = std::cell::Ref<'a, QualName>
    where
        Self: 'a;

    fn finish(self) -> Vec<Node> {
        self.nodes.into_inner()
    }

    fn parse_error(&self, _msg: std::borrow::Cow<'static, str>) {}

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> std::cell::Ref<'a, QualName> {
        std::cell::Ref::map(self.nodes.borrow(), |n| &n[*target].name)
    }

    fn create_element(&self, name: QualName, _attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        let id = self.add(Kind::Element, name);
        if flags.template {
            let contents = self.add(Kind::Document, no_name());
            self.nodes.borrow_mut()[id].template = Some(contents);
        }
        id
    }

    fn create_comment(&self, _text: StrTendril) -> usize {
        self.add(Kind::Comment, no_name())
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
        self.add(Kind::Other, no_name())
    }

    fn append(&self, parent: &usize, child: NodeOrText<usize>) {
        if let NodeOrText::AppendText(text) = &child {
            let last = self.nodes.borrow()[*parent].last;
            if self.merged(last, text) {
                return;
            }
        }
        let id = self.node_of(child);
        Self::append_node(&mut self.nodes.borrow_mut(), *parent, id);
    }

    fn append_based_on_parent_node(
        &self,
        element: &usize,
        prev_element: &usize,
        child: NodeOrText<usize>,
    ) {
        if self.nodes.borrow()[*element].parent.is_some() {
            self.append_before_sibling(element, child);
        } else {
            self.append(prev_element, child);
        }
    }

    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {
        let id = self.add(Kind::Other, no_name());
        Self::append_node(&mut self.nodes.borrow_mut(), 0, id);
    }

    fn get_template_contents(&self, target: &usize) -> usize {
        // Only called for template elements, which always have contents; a detached empty
        // fragment otherwise keeps the parser going.
        let contents = self.nodes.borrow()[*target].template;
        contents.unwrap_or_else(|| self.add(Kind::Document, no_name()))
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, child: NodeOrText<usize>) {
        if let NodeOrText::AppendText(text) = &child {
            let prev = self.nodes.borrow()[*sibling].prev;
            if self.merged(prev, text) {
                return;
            }
        }
        let id = self.node_of(child);
        Self::insert_before(&mut self.nodes.borrow_mut(), *sibling, id);
    }

    fn add_attrs_if_missing(&self, _target: &usize, _attrs: Vec<Attribute>) {}

    fn remove_from_parent(&self, target: &usize) {
        Self::detach(&mut self.nodes.borrow_mut(), *target);
    }

    fn reparent_children(&self, node: &usize, new_parent: &usize) {
        let mut nodes = self.nodes.borrow_mut();
        let mut next = nodes[*node].first;
        while let Some(child) = next {
            next = nodes[child].next;
            Self::append_node(&mut nodes, *new_parent, child);
        }
    }
}

/// Elements Label Studio's `sanitizeHtml` removes with everything in them.
fn is_dropped(name: &QualName) -> bool {
    name.ns == ns!(html) && matches!(name.local, local_name!("script") | local_name!("iframe"))
}

/// Elements whose text `sanitizeHtml` removes (`nonTextTags`); the elements stay.
fn drops_text(name: &QualName) -> bool {
    name.ns == ns!(html)
        && matches!(
            name.local,
            local_name!("textarea") | local_name!("option") | local_name!("noscript")
        )
}

/// What the walk sees of a parent's children: dropped elements removed, the text of
/// text-dropping elements removed, and the text nodes that became adjacent merged.
enum Child {
    Text(String),
    Node(usize),
}

fn children(nodes: &[Node], parent: usize) -> Vec<Child> {
    let mut out: Vec<Child> = Vec::new();
    let keep_text = !drops_text(&nodes[parent].name);
    let mut next = nodes[parent].first;
    while let Some(id) = next {
        next = nodes[id].next;
        match &nodes[id].kind {
            Kind::Text(t) if keep_text => match out.last_mut() {
                Some(Child::Text(prev)) => prev.push_str(t),
                _ => out.push(Child::Text(t.clone())),
            },
            Kind::Text(_) => {}
            Kind::Element if is_dropped(&nodes[id].name) => {}
            _ => out.push(Child::Node(id)),
        }
    }
    out
}

/// The XPath step name of a node, as `DomManager`'s `Path` spells it.
fn step_name(node: &Node) -> String {
    match node.kind {
        Kind::Element => node.name.local.to_lowercase(),
        Kind::Comment => "#comment".into(),
        _ => "#node".into(),
    }
}

impl HtmlText {
    /// Parses HTML as Label Studio shows a `<HyperText>`: a whole document in an iframe
    /// (`inline = false`, the default; text outside `<body>` is not shown), or a fragment in a
    /// `<div>` (`inline = true`).
    pub fn parse(html: &str, inline: bool) -> HtmlText {
        let opts = ParseOpts {
            tree_builder: TreeBuilderOpts {
                iframe_srcdoc: !inline,
                scripting_enabled: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let sink = Sink {
            nodes: RefCell::new(Vec::new()),
        };
        sink.add(Kind::Document, no_name());
        let nodes = if inline {
            let div = QualName::new(None, ns!(html), local_name!("div"));
            html5ever::parse_fragment(sink, opts, div, vec![], true).one(html)
        } else {
            html5ever::parse_document(sink, opts).one(html)
        };
        let root = if inline {
            // The fragment's nodes are the children of the `<html>` element it creates.
            first_element(&nodes, 0, &local_name!("html"))
        } else {
            first_element(&nodes, 0, &local_name!("html"))
                .and_then(|h| first_element(&nodes, h, &local_name!("body")))
        };
        let mut out = HtmlText::default();
        if let Some(root) = root {
            out.walk(&nodes, root);
        }
        out
    }

    /// Adds the text under `root` in document order (iteratively: nesting depth is unbounded).
    fn walk(&mut self, nodes: &[Node], root: usize) {
        struct Frame {
            children: std::vec::IntoIter<Child>,
            counters: HashMap<String, usize>,
            path_len: usize,
        }
        let mut chars = 0usize;
        let mut path = String::new();
        let mut stack = vec![Frame {
            children: children(nodes, root).into_iter(),
            counters: HashMap::new(),
            path_len: 0,
        }];
        while let Some(frame) = stack.last_mut() {
            let Some(child) = frame.children.next() else {
                // The element is done: drop its step from the path.
                path.truncate(frame.path_len);
                stack.pop();
                continue;
            };
            let name = match &child {
                Child::Text(_) => "text()".to_string(),
                Child::Node(id) => step_name(&nodes[*id]),
            };
            let index = frame.counters.entry(name.clone()).or_insert(0);
            *index += 1;
            let step = format!("/{name}[{index}]");
            match child {
                Child::Text(text) => {
                    let byte = self.text.len();
                    self.text.push_str(&text);
                    let end = chars + text.chars().count();
                    self.nodes.push(TextNode {
                        xpath: format!("{path}{step}"),
                        start: chars,
                        end,
                        bytes: (byte, self.text.len()),
                    });
                    chars = end;
                }
                Child::Node(id) if matches!(nodes[id].kind, Kind::Element) => {
                    let name = &nodes[id].name;
                    if name.ns == ns!(html) && name.local == local_name!("br") {
                        self.text.push('\n');
                        chars += 1;
                    }
                    let path_len = path.len();
                    path.push_str(&step);
                    stack.push(Frame {
                        children: children(nodes, id).into_iter(),
                        counters: HashMap::new(),
                        path_len,
                    });
                }
                Child::Node(_) => {}
            }
        }
    }

    /// Label Studio's region value for the span of global offsets `[start, end)`:
    /// `{"start", "startOffset", "end", "endOffset", "globalOffsets": {"start", "end"}}`, the
    /// text nodes chosen as the editor chooses them (a start on a node boundary belongs to the
    /// next node, an end on one to the previous). `None` when an end falls outside every text
    /// node (e.g. on a `<br>`).
    pub fn range(&self, start: usize, end: usize) -> Option<Value> {
        if start >= end {
            return None;
        }
        let first = self.node_at(start, true)?;
        let last = self.node_at(end, false)?;
        Some(json!({
            "start": first.xpath,
            "startOffset": self.utf16_offset(first, start),
            "end": last.xpath,
            "endOffset": self.utf16_offset(last, end),
            "globalOffsets": {"start": start, "end": end},
        }))
    }

    /// The node holding global offset `at`: with `at` not at its end (for a start), or not at
    /// its start (for an end).
    fn node_at(&self, at: usize, for_start: bool) -> Option<&TextNode> {
        let from = self.nodes.partition_point(|n| n.end < at);
        self.nodes[from..]
            .iter()
            .take_while(|n| n.start <= at)
            .find(|n| {
                if for_start {
                    n.end != at
                } else {
                    n.start != at
                }
            })
    }

    /// UTF-16 code units of the node's text before global offset `at`.
    fn utf16_offset(&self, node: &TextNode, at: usize) -> usize {
        let text = self
            .text
            .get(node.bytes.0..node.bytes.1)
            .unwrap_or_default();
        text.chars()
            .take(at.saturating_sub(node.start))
            .map(char::len_utf16)
            .sum()
    }
}

/// The first element child of `parent` with this local name.
fn first_element(nodes: &[Node], parent: usize, name: &LocalName) -> Option<usize> {
    let mut next = nodes.get(parent)?.first;
    while let Some(id) = next {
        if matches!(nodes[id].kind, Kind::Element) && nodes[id].name.local == *name {
            return Some(id);
        }
        next = nodes[id].next;
    }
    None
}
