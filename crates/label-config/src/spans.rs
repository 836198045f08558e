//! Finding the spans an LLM quotes in a source text.
//!
//! A model is asked for the exact text of each span, and optionally for `start`, the offset it
//! believes the span starts at. Models count characters badly, so Prompter never takes offsets
//! from the model: [`SpanLocator`] finds every occurrence of the quoted text in the source and
//! the model's `start` only chooses between occurrences.
//!
//! Offsets are counted in **Unicode code points** (Rust `char`s, Python `str` indices): the unit
//! Label Studio's editor uses for the `start`/`end` of `<Text>` regions and for the
//! `globalOffsets` of `<HyperText>` regions (its `findGlobalOffset` and `DomManager` count
//! `[...textNode.textContent].length`). An emoji outside the Basic Multilingual Plane is one
//! code point (two UTF-16 code units), a CJK ideograph is one, and a letter with a combining
//! accent (`e` + U+0301) is two: combining marks are not merged into grapheme clusters.
//!
//! The search is exact first, then with whitespace runs collapsed (a model often writes one
//! space where the source has a line break or two spaces); the collapsed match is mapped back to
//! the source's own characters.

use std::collections::{HashMap, HashSet};

/// Where a quoted text was found: code-point offsets `[start, end)` into the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Occurrence {
    /// First code point of the span.
    pub start: usize,
    /// One past its last code point.
    pub end: usize,
}

/// How a quoted text was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// At an occurrence no earlier span of the locator took.
    Found(Occurrence),
    /// Every occurrence was already taken: this is the one nearest the hint (or the first).
    Repeated(Occurrence),
    /// The text does not occur in the source.
    Absent,
}

/// The source with whitespace runs collapsed to one space, and where each of its code points
/// comes from.
struct Collapsed {
    text: String,
    /// For each code point of `text`: the source code points `[start, end)` it stands for.
    origin: Vec<(usize, usize)>,
}

impl Collapsed {
    fn new(source: &str) -> Self {
        let mut text = String::with_capacity(source.len());
        let mut origin: Vec<(usize, usize)> = Vec::new();
        let mut in_space = false;
        for (i, c) in source.chars().enumerate() {
            if c.is_whitespace() {
                if in_space {
                    if let Some(last) = origin.last_mut() {
                        last.1 = i + 1;
                    }
                    continue;
                }
                in_space = true;
                text.push(' ');
            } else {
                in_space = false;
                text.push(c);
            }
            origin.push((i, i + 1));
        }
        Collapsed { text, origin }
    }
}

/// `text` with whitespace runs collapsed to one space and trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every occurrence of `needle` in `haystack` (overlapping ones too), as code-point offsets, in
/// order. Linear in the haystack for each distinct needle.
fn find_all(haystack: &str, needle: &str) -> Vec<Occurrence> {
    let mut out = Vec::new();
    if needle.is_empty() {
        return out;
    }
    let width = needle.chars().count();
    let (mut byte, mut chars) = (0usize, 0usize);
    let mut from = 0usize;
    while let Some(found) = haystack.get(from..).and_then(|rest| rest.find(needle)) {
        let at = from + found;
        chars += haystack[byte..at].chars().count();
        byte = at;
        out.push(Occurrence {
            start: chars,
            end: chars + width,
        });
        // Step one character past the match start, to find overlapping occurrences too.
        from = at + haystack[at..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Places the spans of one control in its source text: each quoted text at an occurrence not
/// taken by an earlier span (preferring one that overlaps no earlier span), the one nearest the
/// model's `start` when it gave one, else the first in order. Repeated words therefore land on
/// distinct occurrences.
pub struct SpanLocator<'a> {
    source: &'a str,
    collapsed: Option<Collapsed>,
    found: HashMap<String, Vec<Occurrence>>,
    taken: HashSet<Occurrence>,
}

impl<'a> SpanLocator<'a> {
    /// A locator over `source`.
    pub fn new(source: &'a str) -> Self {
        SpanLocator {
            source,
            collapsed: None,
            found: HashMap::new(),
            taken: HashSet::new(),
        }
    }

    /// The source text.
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Every occurrence of `text` in the source, in order: exact matches, else matches of the
    /// text with its whitespace collapsed against the source with its whitespace collapsed
    /// (mapped back to the source). Empty when the text is blank or absent.
    pub fn occurrences(&mut self, text: &str) -> Vec<Occurrence> {
        if let Some(known) = self.found.get(text) {
            return known.clone();
        }
        let mut out = find_all(self.source, text);
        if out.is_empty() {
            let needle = collapse(text);
            if !needle.is_empty() {
                let collapsed = self
                    .collapsed
                    .get_or_insert_with(|| Collapsed::new(self.source));
                out = find_all(&collapsed.text, &needle)
                    .into_iter()
                    .filter_map(|o| {
                        let first = collapsed.origin.get(o.start)?;
                        let last = collapsed.origin.get(o.end.checked_sub(1)?)?;
                        Some(Occurrence {
                            start: first.0,
                            end: last.1,
                        })
                    })
                    .collect();
            }
        }
        self.found.insert(text.to_string(), out.clone());
        out
    }

    /// Places one quoted text (see the type's docs) and marks the occurrence taken. Free
    /// occurrences that overlap no span placed so far come first (a model listing "New York"
    /// and then "York" means another mention), then free overlapping ones.
    pub fn locate(&mut self, text: &str, hint: Option<usize>) -> Located {
        let all = self.occurrences(text);
        let pick = |candidates: &mut dyn Iterator<Item = Occurrence>| match hint {
            Some(h) => candidates.min_by_key(|o| (o.start.abs_diff(h), o.start)),
            None => candidates.next(),
        };
        let overlaps = |o: &Occurrence| {
            self.taken
                .iter()
                .any(|t| t.start < o.end && o.start < t.end)
        };
        let free = || all.iter().copied().filter(|o| !self.taken.contains(o));
        let chosen = pick(&mut free().filter(|o| !overlaps(o))).or_else(|| pick(&mut free()));
        match chosen {
            Some(o) => {
                self.taken.insert(o);
                Located::Found(o)
            }
            None => match pick(&mut all.iter().copied()) {
                Some(o) => Located::Repeated(o),
                None => Located::Absent,
            },
        }
    }

    /// The source text between two code-point offsets.
    pub fn slice(&self, o: Occurrence) -> &'a str {
        let byte = |cp: usize| {
            self.source
                .char_indices()
                .nth(cp)
                .map_or(self.source.len(), |(b, _)| b)
        };
        let (start, end) = (byte(o.start), byte(o.end));
        self.source.get(start..end).unwrap_or_default()
    }
}
