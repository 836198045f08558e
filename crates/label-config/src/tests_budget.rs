//! The parser's budget: random configs never panic, the work (counted in steps, not timed)
//! grows linearly with the input, and the shapes that used to be quadratic are refused or cheap.

use proptest::prelude::*;

use super::parse::{Steps, UnknownTags, parse_counted};
use super::*;

/// Steps allowed per byte of input (plus a constant): the prescan and the XML parser read each
/// byte about once, the walk touches each tag and attribute once.
const STEPS_PER_BYTE: u64 = 6;

fn steps_of(xml: &str) -> (Result<LabelConfig, LabelConfigError>, u64) {
    steps_in(xml, UnknownTags::Refuse)
}

fn steps_in(xml: &str, unknown: UnknownTags) -> (Result<LabelConfig, LabelConfigError>, u64) {
    let mut steps = Steps::default();
    let result = parse_counted(xml, unknown, &mut steps);
    (result, steps.0)
}

/// Linear both as a client's config (unknown tags refused) and as a stored one (unknown tags
/// warned about, the rest read).
fn assert_linear(xml: &str) {
    for unknown in [UnknownTags::Refuse, UnknownTags::Warn] {
        let (_, steps) = steps_in(xml, unknown);
        let bound = STEPS_PER_BYTE * xml.len() as u64 + 64;
        assert!(
            steps <= bound,
            "{steps} steps for {} bytes (bound {bound}, {unknown:?})",
            xml.len()
        );
    }
}

/// Tag names Label Studio knows, plus unknown ones.
fn tag_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("View".to_string()),
        Just("Text".to_string()),
        Just("Image".to_string()),
        Just("Choices".to_string()),
        Just("Choice".to_string()),
        Just("Labels".to_string()),
        Just("Label".to_string()),
        Just("TextArea".to_string()),
        Just("Taxonomy".to_string()),
        Just("Relations".to_string()),
        Just("Header".to_string()),
        "[A-Za-z][A-Za-z0-9]{0,6}",
    ]
}

/// Attributes drawn from a small pool of names and values, so names and labels collide.
fn attributes() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("name"),
        Just("toName"),
        Just("value"),
        Just("alias"),
        Just("choice"),
        Just("indexFlag"),
        Just("perRegion"),
    ];
    let value = prop_oneof![
        Just("text".to_string()),
        Just("$text".to_string()),
        Just("a,b,text".to_string()),
        Just("multiple".to_string()),
        "[a-z$,]{0,5}",
    ];
    proptest::collection::vec((name.prop_map(str::to_string), value), 0..4)
}

/// A random element tree, serialized as XML.
fn element() -> impl Strategy<Value = String> {
    let leaf = (tag_name(), attributes()).prop_map(|(tag, attrs)| render(&tag, &attrs, &[]));
    leaf.prop_recursive(5, 64, 6, |inner| {
        (
            tag_name(),
            attributes(),
            proptest::collection::vec(inner, 0..6),
        )
            .prop_map(|(tag, attrs, children)| render(&tag, &attrs, &children))
    })
}

fn render(tag: &str, attrs: &[(String, String)], children: &[String]) -> String {
    let mut seen = std::collections::HashSet::new();
    let attrs: String = attrs
        .iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| format!(" {k}=\"{v}\""))
        .collect();
    if children.is_empty() {
        format!("<{tag}{attrs}/>")
    } else {
        format!("<{tag}{attrs}>{}</{tag}>", children.concat())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Well-formed random trees under `<View>`: no panic, linear work.
    #[test]
    fn random_trees_never_panic_and_stay_linear(children in proptest::collection::vec(element(), 0..8)) {
        let xml = format!("<View>{}</View>", children.concat());
        assert_linear(&xml);
    }

    /// Arbitrary text, and random trees cut or spliced at random points: no panic, linear work.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}", tree in element(), cut in 0usize..400) {
        assert_linear(&text);
        let xml = format!("<View>{tree}</View>");
        let at = (0..=cut.min(xml.len())).rev().find(|i| xml.is_char_boundary(*i)).unwrap_or(0);
        assert_linear(&xml[..at]);
        assert_linear(&format!("{}{text}{}", &xml[..at], &xml[at..]));
    }
}

/// `n` copies of `unit` inside `<View>…</View>` with a prefix and suffix.
fn repeated(prefix: &str, unit: &str, n: usize, suffix: &str) -> String {
    let mut xml = String::with_capacity(prefix.len() + unit.len() * n + suffix.len());
    xml.push_str(prefix);
    for i in 0..n {
        xml.push_str(&unit.replace("{i}", &i.to_string()));
    }
    xml.push_str(suffix);
    xml
}

#[test]
fn shapes_that_were_quadratic_are_linear_or_refused() {
    let choices = |unit: &str, n| {
        repeated(
            r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t">"#,
            unit,
            n,
            "</Choices></View>",
        )
    };
    // Distinct labels (the duplicate check), duplicate labels (one error each), and labels
    // without a value (an error position each) at the largest allowed count.
    for xml in [
        choices(r#"<Choice value="v{i}"/>"#, MAX_LABELS),
        choices(r#"<Choice value="same"/>"#, MAX_LABELS),
        choices(r#"<Choice/>"#, MAX_LABELS),
    ] {
        assert_linear(&xml);
    }
    let (ok, _) = steps_of(&choices(r#"<Choice value="v{i}"/>"#, MAX_LABELS));
    assert_eq!(ok.expect("at the limit").output_classes().len(), MAX_LABELS);

    // Past the limits: a clear error, found in linear work.
    let too_many = choices(r#"<Choice value="v{i}"/>"#, MAX_LABELS + 1);
    let (err, _) = steps_of(&too_many);
    assert!(err.expect_err("labels").message.contains("labels"));
    assert_linear(&too_many);

    let deep = repeated("", "<View>", MAX_DEPTH + 1, "");
    let (err, _) = steps_of(&deep);
    assert!(err.expect_err("depth").message.contains("nested"));

    let attrs = repeated(
        "<View><Header",
        r#" a{i}="x""#,
        MAX_ATTRIBUTES + 1,
        "/></View>",
    );
    let (err, _) = steps_of(&attrs);
    assert!(err.expect_err("attributes").message.contains("attributes"));
    assert_linear(&repeated(
        "<View><Header",
        r#" a{i}="x""#,
        50_000,
        "/></View>",
    ));

    let namespaced = repeated("<View", r#" xmlns:n{i}="urn:{i}""#, 3, "/>");
    let (err, _) = steps_of(&namespaced);
    assert!(err.expect_err("namespaces").message.contains("namespaces"));

    let big = repeated("<View>", "<Header/>", MAX_ELEMENTS + 1, "</View>");
    assert!(big.len() <= MAX_CONFIG_BYTES);
    let (err, _) = steps_of(&big);
    assert!(err.expect_err("tags").message.contains("tags"));
    assert_linear(&big);

    let huge = "<View>".to_string() + &" ".repeat(MAX_CONFIG_BYTES) + "</View>";
    let (err, steps) = steps_of(&huge);
    assert!(err.expect_err("size").message.contains("limit"));
    assert_eq!(steps, 0, "refused before reading");

    // Many objects named by one control's toName (the name lookups).
    let objects = repeated(
        "<View>",
        r#"<Text name="o{i}" value="$t"/>"#,
        MAX_CONTROLS_AND_OBJECTS - 1,
        "",
    );
    let to_name: Vec<String> = (0..MAX_CONTROLS_AND_OBJECTS - 1)
        .map(|i| format!("o{i}"))
        .collect();
    let xml = format!(
        r#"{objects}<TextArea name="a" toName="{}"/></View>"#,
        to_name.join(",")
    );
    let (ok, _) = steps_of(&xml);
    assert!(ok.is_ok(), "{ok:?}");
    assert_linear(&xml);
}
