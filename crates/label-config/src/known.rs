//! The tags Label Studio knows, and the attributes of those Prompter reads, so that a typo in a
//! label config (`<Choise>`, `toname`) is named with the nearest known spelling instead of
//! passing silently.
//!
//! Label Studio's editor refuses a config with a tag it has no model for ("unknown tag"), and
//! reads attribute names without regard to case while ignoring ones it does not know. Prompter
//! refuses unknown tags the same way and reports unknown attributes as warnings, for the tags
//! whose attributes it lists below (the ones Prompter reads or that commonly carry its configs).

/// A tag Label Studio knows, with the attributes it takes when Prompter checks them.
pub(crate) struct TagSpec {
    /// The tag as Label Studio spells it.
    pub name: &'static str,
    /// Its attributes besides [`COMMON_ATTRIBUTES`], in groups; `None` when Prompter does not
    /// check them.
    pub attributes: Option<&'static [&'static [&'static str]]>,
}

const fn tag(name: &'static str) -> TagSpec {
    TagSpec {
        name,
        attributes: None,
    }
}

const fn with(name: &'static str, attributes: &'static [&'static [&'static str]]) -> TagSpec {
    TagSpec {
        name,
        attributes: Some(attributes),
    }
}

/// Attributes any tag may carry: layout and conditional display.
pub(crate) const COMMON_ATTRIBUTES: &[&str] = &[
    "style",
    "className",
    "visibleWhen",
    "whenTagName",
    "whenLabelValue",
    "whenChoiceValue",
];

/// Attributes Prompter reads with their exact spelling: written in another case, Prompter (and
/// Label Studio's backend) does not see them, though Label Studio's editor would.
pub(crate) const EXACT_ATTRIBUTES: &[&str] = &[
    "name",
    "toName",
    "value",
    "valueList",
    "valueType",
    "alias",
    "choice",
    "apiUrl",
    "indexFlag",
    "perRegion",
    "inline",
    "whenTagName",
    "whenLabelValue",
    "whenChoiceValue",
];

const TEXT_ATTRIBUTES: &[&str] = &[
    "name",
    "value",
    "valueType",
    "inline",
    "saveTextResult",
    "encoding",
    "selectionEnabled",
    "clickableLinks",
    "highlightColor",
    "showLabels",
    "granularity",
];

/// What every control tag takes.
const CONTROL_BASICS: &[&str] = &[
    "name",
    "toName",
    "required",
    "requiredMessage",
    "perRegion",
    "perItem",
    "hotkey",
];

/// Every tag of Label Studio's tag reference (objects, controls, their children and the
/// visual tags), the common ones first so that a suggestion prefers them.
pub(crate) const TAGS: &[TagSpec] = &[
    with("View", &[&["display", "idAttr", "name"]]),
    with("Header", &[&["value", "size", "underline", "name"]]),
    with("Style", &[]),
    with("Text", &[TEXT_ATTRIBUTES]),
    with("HyperText", &[TEXT_ATTRIBUTES]),
    with(
        "Image",
        &[&[
            "name",
            "value",
            "valueList",
            "valueType",
            "smoothing",
            "width",
            "height",
            "maxWidth",
            "maxHeight",
            "brightnessControl",
            "contrastControl",
            "zoom",
            "zoomControl",
            "zoomBy",
            "negativeZoom",
            "rotateControl",
            "crosshair",
            "horizontalAlignment",
            "verticalAlignment",
            "defaultZoom",
            "crossOrigin",
            "grid",
            "gridSize",
            "gridColor",
            "alt",
        ]],
    ),
    with(
        "Choices",
        &[
            CONTROL_BASICS,
            &[
                "choice",
                "showInline",
                "value",
                "allowNested",
                "layout",
                "maxUsages",
                "readonly",
            ],
        ],
    ),
    with(
        "Choice",
        &[&[
            "value",
            "alias",
            "selected",
            "hotkey",
            "html",
            "hint",
            "background",
            "color",
        ]],
    ),
    with(
        "Labels",
        &[
            CONTROL_BASICS,
            &[
                "choice",
                "maxUsages",
                "showInline",
                "opacity",
                "fillColor",
                "strokeColor",
                "strokeWidth",
                "value",
                "allowEmpty",
                "granularity",
            ],
        ],
    ),
    with(
        "Label",
        &[&[
            "value",
            "alias",
            "selected",
            "maxUsages",
            "hotkey",
            "showAlias",
            "aliasStyle",
            "size",
            "background",
            "selectedColor",
            "granularity",
            "groupCancontain",
            "html",
            "hint",
            "category",
        ]],
    ),
    with(
        "TextArea",
        &[
            CONTROL_BASICS,
            &[
                "value",
                "label",
                "placeholder",
                "maxSubmissions",
                "editable",
                "transcription",
                "displayMode",
                "rows",
                "showSubmitButton",
                "skipDuplicates",
            ],
        ],
    ),
    with(
        "Rating",
        &[
            CONTROL_BASICS,
            &["maxRating", "icon", "size", "defaultValue"],
        ],
    ),
    with(
        "Number",
        &[
            CONTROL_BASICS,
            &["min", "max", "step", "defaultValue", "slider"],
        ],
    ),
    with(
        "DateTime",
        &[CONTROL_BASICS, &["only", "format", "min", "max"]],
    ),
    with(
        "Taxonomy",
        &[
            CONTROL_BASICS,
            &[
                "apiUrl",
                "leafsOnly",
                "showFullPath",
                "pathSeparator",
                "placeholder",
                "minWidth",
                "maxWidth",
                "dropdownWidth",
                "maxUsages",
                "legacy",
                "labeling",
                "isLabeling",
                "value",
            ],
        ],
    ),
    with(
        "Pairwise",
        &[
            CONTROL_BASICS,
            &["selectionStyle", "leftClass", "rightClass"],
        ],
    ),
    with("Relations", &[&["choice", "name", "toName"]]),
    with("Relation", &[&["value", "alias", "background", "hotkey"]]),
    with("Repeater", &[&["on", "indexFlag", "mode"]]),
    with("Shortcut", &[&["value", "alias", "hotkey", "background"]]),
    with("Collapse", &[&["accordion", "bordered"]]),
    with("Panel", &[&["value"]]),
    tag("Filter"),
    tag("Dialog"),
    tag("Markdown"),
    tag("Paragraphs"),
    tag("Audio"),
    tag("AudioPlus"),
    tag("Video"),
    tag("Table"),
    tag("TimeSeries"),
    tag("Channel"),
    tag("MultiChannel"),
    tag("List"),
    tag("Ranker"),
    tag("Bucket"),
    tag("Pdf"),
    tag("Chat"),
    tag("ChatMessage"),
    tag("CustomInterface"),
    tag("ReactCode"),
    tag("HyperTextLabels"),
    tag("ParagraphLabels"),
    tag("TimeSeriesLabels"),
    tag("TimelineLabels"),
    tag("PdfLabels"),
    tag("TableLabels"),
    tag("OcrTokenLabels"),
    tag("Rectangle"),
    tag("RectangleLabels"),
    tag("Polygon"),
    tag("PolygonLabels"),
    tag("KeyPoint"),
    tag("KeyPointLabels"),
    tag("Ellipse"),
    tag("EllipseLabels"),
    tag("Brush"),
    tag("BrushLabels"),
    tag("Bitmask"),
    tag("BitmaskLabels"),
    tag("MagicWand"),
    tag("Vector"),
    tag("VectorLabels"),
    tag("VideoRectangle"),
    tag("VideoVector"),
    tag("VideoVectorLabels"),
    tag("Cube"),
    tag("CubeLabels"),
];

/// The spec of a tag spelled exactly so.
pub(crate) fn spec(name: &str) -> Option<&'static TagSpec> {
    TAGS.iter().find(|t| t.name == name)
}

/// Names longer than this get no suggestion (keeps the distance computation small and bounded).
const MAX_SUGGESTED_LEN: usize = 40;

/// The closest of `candidates` to `word`: the same word in another case, else the nearest by
/// edit distance (a swap of two neighbouring letters counts once) within about a third of its
/// length. Ties go to the earlier candidate.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<&'a str> {
    if word.is_empty() || word.chars().count() > MAX_SUGGESTED_LEN {
        return None;
    }
    if let Some(same) = candidates
        .clone()
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(word))
    {
        return Some(same);
    }
    let lower: Vec<char> = word.to_lowercase().chars().collect();
    let limit = (lower.len() / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let other: Vec<char> = candidate.to_lowercase().chars().collect();
        if other.len().abs_diff(lower.len()) > limit {
            continue;
        }
        let d = distance(&lower, &other);
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut rows = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        rows[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        rows[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[at(i - 1, j)] + 1)
                .min(rows[at(i, j - 1)] + 1)
                .min(rows[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[at(i - 2, j - 2)] + 1);
            }
            rows[at(i, j)] = d;
        }
    }
    rows[at(a.len(), b.len())]
}

/// The names of every known tag.
pub(crate) fn tag_names() -> impl Iterator<Item = &'static str> + Clone {
    TAGS.iter().map(|t| t.name)
}

/// What is wrong with attribute `attr` of a `tag` whose attributes Prompter checks, if
/// anything: the words of the warning. An attribute Label Studio knows written in another
/// case is accepted, except one Prompter reads with its exact spelling.
pub(crate) fn attribute_problem(tag: &str, attr: &str) -> Option<String> {
    let spec = spec(tag)?;
    let groups = spec.attributes?;
    let known = || {
        groups
            .iter()
            .flat_map(|g| g.iter())
            .chain(COMMON_ATTRIBUTES)
            .copied()
    };
    if known().any(|k| k == attr) {
        return None;
    }
    match known().find(|k| k.eq_ignore_ascii_case(attr)) {
        Some(k) if EXACT_ATTRIBUTES.contains(&k) => Some(format!(
            "attribute \"{attr}\" is not read: write it \"{k}\" (attribute names are case-sensitive here)"
        )),
        Some(_) => None,
        None => Some(match nearest(attr, known()) {
            Some(k) => format!("unknown attribute \"{attr}\": did you mean \"{k}\"?"),
            None => format!("unknown attribute \"{attr}\"; Label Studio ignores it"),
        }),
    }
}
