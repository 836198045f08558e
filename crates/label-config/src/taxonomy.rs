//! The tree of a `<Taxonomy>` control and the paths its results select.
//!
//! Label Studio's Taxonomy (`web/libs/editor/src/tags/control/Taxonomy/Taxonomy.jsx`) builds
//! its tree from nested `<Choice>` children (a sibling repeating an earlier sibling's `value` is
//! skipped) and stores each selection as the path of labels (`alias`, else `value`) from a root
//! to the selected node: `{"taxonomy": [["Online", "Paywall", "NY Times"], ["Offline"]]}`.

use std::collections::HashSet;

use super::ControlTag;

/// The nodes of a Taxonomy control, each as its path from the root.
pub(super) struct Tree {
    /// Root-to-node label paths, in document order (depth first).
    paths: Vec<Vec<String>>,
    /// Whether each node has children.
    has_children: Vec<bool>,
    /// `leafsOnly="true"`: only leaves may be selected.
    leafs_only: bool,
}

impl Tree {
    /// The tree of a Taxonomy control's `<Choice>` children.
    pub(super) fn of(control: &ControlTag) -> Tree {
        // Path of each child (by index); None for a skipped duplicate sibling and below it.
        let mut by_index: Vec<Option<usize>> = Vec::with_capacity(control.children.len());
        let mut paths: Vec<Vec<String>> = Vec::new();
        let mut has_children: Vec<bool> = Vec::new();
        let mut seen: HashSet<Vec<String>> = HashSet::new();
        for child in &control.children {
            let parent_node = match child.parent {
                None => None,
                Some(p) => match by_index.get(p).copied().flatten() {
                    Some(node) => Some(node),
                    None => {
                        by_index.push(None);
                        continue;
                    }
                },
            };
            let mut path = parent_node.map(|n| paths[n].clone()).unwrap_or_default();
            path.push(child.value.clone());
            if !seen.insert(path.clone()) {
                by_index.push(None);
                continue;
            }
            if let Some(n) = parent_node {
                has_children[n] = true;
            }
            by_index.push(Some(paths.len()));
            paths.push(path);
            has_children.push(false);
        }
        let leafs_only = control
            .attrs
            .get("leafsOnly")
            .or_else(|| control.attrs.get("leafsonly"))
            .is_some_and(|v| v == "true");
        Tree {
            paths,
            has_children,
            leafs_only,
        }
    }

    /// Every selectable path (all nodes, or the leaves with `leafsOnly`), in document order.
    pub(super) fn selectable(&self) -> impl Iterator<Item = &Vec<String>> {
        self.paths
            .iter()
            .zip(&self.has_children)
            .filter(|(_, parent)| !self.leafs_only || !**parent)
            .map(|(path, _)| path)
    }

    /// The full path a given path names: itself when it is a node's path, else the one node
    /// whose path ends with it (a model often answers the leaf alone). Errors say why not.
    pub(super) fn resolve(&self, given: &[String]) -> Result<Vec<String>, String> {
        if given.is_empty() {
            return Err("an empty path".into());
        }
        let mut matches = self
            .paths
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_slice() == given || p.ends_with(given));
        let exact = self.paths.iter().position(|p| p.as_slice() == given);
        let node = match exact {
            Some(i) => i,
            None => match (matches.next(), matches.next()) {
                (Some((i, _)), None) => i,
                (None, _) => {
                    return Err(format!("{given:?} is not a path of the taxonomy"));
                }
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "{given:?} names more than one node of the taxonomy; give the full path"
                    ));
                }
            },
        };
        if self.leafs_only && self.has_children[node] {
            return Err(format!(
                "{:?} is not a leaf, and the taxonomy allows only leaves",
                self.paths[node]
            ));
        }
        Ok(self.paths[node].clone())
    }

    /// A given path is exactly a node's path.
    pub(super) fn is_path(&self, given: &[String]) -> bool {
        self.paths.iter().any(|p| p.as_slice() == given)
    }
}
