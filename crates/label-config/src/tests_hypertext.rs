//! Tests for the HyperText walk (Label Studio's XPaths and global offsets) and HyperText span
//! regions.

use serde_json::{Value, json};

use super::tests_output::regions;
use super::*;

/// (xpath, start, end) of every text node.
fn nodes(html: &str) -> Vec<(String, usize, usize)> {
    HtmlText::parse(html, false)
        .nodes
        .into_iter()
        .map(|n| (n.xpath, n.start, n.end))
        .collect()
}

fn node(xpath: &str, start: usize, end: usize) -> (String, usize, usize) {
    (xpath.to_string(), start, end)
}

const CONFIG: &str = r#"<View>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="ents" toName="page">
    <Label value="PER"/><Label value="ORG"/><Label value="LOC"/>
  </HyperTextLabels>
</View>"#;

fn values(html: &str, spans: Value) -> Vec<Value> {
    parse(CONFIG)
        .unwrap()
        .to_regions(&json!({ "ents": spans }), &json!({ "html": html }))
        .unwrap()
        .into_iter()
        .map(|r| r["value"].clone())
        .collect()
}

#[test]
fn xpaths_and_global_offsets_of_text_nodes() {
    // The DomManager.md example: `<p>The <b>HTML</b></p>`.
    assert_eq!(
        nodes("<p>The <b>HTML</b></p>"),
        [
            node("/p[1]/text()[1]", 0, 4),
            node("/p[1]/b[1]/text()[1]", 4, 8)
        ]
    );
    // Whitespace text between blocks is a node; indices count same-named siblings only.
    assert_eq!(
        nodes("<p>A</p>\n<div>B</div><p>C<br>D</p>"),
        [
            node("/p[1]/text()[1]", 0, 1),
            node("/text()[1]", 1, 2),
            node("/div[1]/text()[1]", 2, 3),
            node("/p[2]/text()[1]", 3, 4),
            // <br> counts one.
            node("/p[2]/text()[2]", 5, 6),
        ]
    );
    let text = HtmlText::parse("<p>C<br>D</p>", false);
    assert_eq!(text.text, "C\nD");
}

#[test]
fn the_browsers_tree_not_the_source_text() {
    // A table row gets its implied <tbody>.
    assert_eq!(
        nodes("<table><tr><td>Ann</td></tr></table>"),
        [node("/table[1]/tbody[1]/tr[1]/td[1]/text()[1]", 0, 3)]
    );
    // A <div> closes the open <p>: it is the p's sibling, and the text after it too.
    assert_eq!(
        nodes("<p>a<div>b</div>c</p>"),
        [
            node("/p[1]/text()[1]", 0, 1),
            node("/div[1]/text()[1]", 1, 2),
            node("/text()[1]", 2, 3),
        ]
    );
    // A whole document: the title is in <head>, not shown; comments and the doctype are not
    // text; entities are decoded; \r\n becomes \n.
    assert_eq!(
        nodes(
            "<!DOCTYPE html><html><head><title>T</title><style>p{}</style></head>\
             <body><!-- c --><p>AT&amp;T&nbsp;&#x1F642;\r\nok</p></body></html>"
        ),
        [node("/p[1]/text()[1]", 0, 9)]
    );
    assert_eq!(
        HtmlText::parse("<p>AT&amp;T&nbsp;&#x1F642;\r\nok</p>", false).text,
        "AT&T\u{a0}🙂\nok"
    );
}

#[test]
fn sanitized_content_is_left_out() {
    // Label Studio's sanitizeHtml drops <script> and <iframe> (the text around them then
    // merges into one node) and the text of <textarea>, <option> and <noscript>.
    assert_eq!(
        nodes("<p>a<script>var x = 1;</script>b</p><textarea>t</textarea><p>c</p>"),
        [node("/p[1]/text()[1]", 0, 2), node("/p[2]/text()[1]", 2, 3)]
    );
    assert_eq!(
        nodes("<div>x<iframe src='https://example.com'>y</iframe>z</div>"),
        [node("/div[1]/text()[1]", 0, 2)]
    );
}

#[test]
fn deep_nesting_does_not_overflow() {
    let depth = 20_000;
    let html = format!("{}deep{}", "<span>".repeat(depth), "</span>".repeat(depth));
    let text = HtmlText::parse(&html, false);
    assert_eq!(text.text, "deep");
    assert_eq!(text.nodes.len(), 1);
}

#[test]
fn inline_hypertext_is_a_fragment_in_a_div() {
    // inline="true": no document, so leading whitespace and a <style> stay in the fragment.
    let text = HtmlText::parse(" <style>b{}</style><b>Hi</b>", true);
    let got: Vec<(String, usize, usize)> = text
        .nodes
        .into_iter()
        .map(|n| (n.xpath, n.start, n.end))
        .collect();
    assert_eq!(
        got,
        [
            node("/text()[1]", 0, 1),
            node("/style[1]/text()[1]", 1, 4),
            node("/b[1]/text()[1]", 4, 6),
        ]
    );
}

#[test]
fn ranges_follow_the_editors_node_choice() {
    let text = HtmlText::parse("<p>ab<b>cd</b>ef</p>", false);
    // Ending on a node boundary stays in the earlier node; starting on one moves to the next.
    assert_eq!(
        text.range(2, 4).unwrap(),
        json!({"start": "/p[1]/b[1]/text()[1]", "startOffset": 0,
               "end": "/p[1]/b[1]/text()[1]", "endOffset": 2,
               "globalOffsets": {"start": 2, "end": 4}})
    );
    assert_eq!(
        text.range(1, 5).unwrap(),
        json!({"start": "/p[1]/text()[1]", "startOffset": 1,
               "end": "/p[1]/text()[2]", "endOffset": 1,
               "globalOffsets": {"start": 1, "end": 5}})
    );
    assert_eq!(text.range(3, 3), None);
    assert_eq!(text.range(5, 9), None);
    // A range ending on a <br> ends on no text node.
    let text = HtmlText::parse("a<br>b", false);
    assert_eq!(text.range(0, 2), None);
}

#[test]
fn relative_offsets_are_utf16_global_offsets_code_points() {
    // 🙂 is one code point but two UTF-16 units: the node offsets (DOM Range offsets) count it
    // twice, the global offsets once.
    let out = values(
        "<p>Hi 🙂 <b>Ann</b> and 東京 🙂 Bob</p>",
        json!([
            {"text": "Ann", "labels": ["PER"]},
            {"text": "Bob", "labels": ["PER"]},
            {"text": "東京", "labels": ["LOC"]}
        ]),
    );
    assert_eq!(
        out[0],
        json!({"start": "/p[1]/b[1]/text()[1]", "startOffset": 0,
               "end": "/p[1]/b[1]/text()[1]", "endOffset": 3,
               "globalOffsets": {"start": 5, "end": 8},
               "text": "Ann", "hypertextlabels": ["PER"]})
    );
    // " and 東京 🙂 Bob": Bob starts at code point 10 of the node, UTF-16 unit 11.
    assert_eq!(
        out[1],
        json!({"start": "/p[1]/text()[2]", "startOffset": 11,
               "end": "/p[1]/text()[2]", "endOffset": 14,
               "globalOffsets": {"start": 18, "end": 21},
               "text": "Bob", "hypertextlabels": ["PER"]})
    );
    assert_eq!(out[2]["globalOffsets"], json!({"start": 13, "end": 15}));
    assert_eq!(out[2]["startOffset"], json!(5));
}

#[test]
fn spans_across_tags_and_repeated_words() {
    let html = "<div><p>Jane <i>Doe</i> met Jane.</p><p>Jane left.</p></div>";
    let out = values(
        html,
        json!([
            {"text": "Jane Doe", "labels": ["PER"]},
            {"text": "Jane", "labels": ["PER"]},
            {"text": "Jane", "labels": ["PER"], "start": 30}
        ]),
    );
    assert_eq!(
        out[0],
        json!({"start": "/div[1]/p[1]/text()[1]", "startOffset": 0,
               "end": "/div[1]/p[1]/i[1]/text()[1]", "endOffset": 3,
               "globalOffsets": {"start": 0, "end": 8},
               "text": "Jane Doe", "hypertextlabels": ["PER"]})
    );
    // The second "Jane" (not inside "Jane Doe"), then the one nearest the hint.
    assert_eq!(out[1]["globalOffsets"], json!({"start": 13, "end": 17}));
    assert_eq!(out[1]["start"], json!("/div[1]/p[1]/text()[2]"));
    assert_eq!(out[1]["startOffset"], json!(5));
    assert_eq!(out[2]["globalOffsets"], json!({"start": 18, "end": 22}));
    assert_eq!(out[2]["start"], json!("/div[1]/p[2]/text()[1]"));
}

#[test]
fn hypertext_round_trips_to_an_answer() {
    let config = parse(CONFIG).unwrap();
    let data = json!({"html": "<p>Hi <b>Ann</b></p>"});
    let result = Value::Array(
        config
            .to_regions(
                &json!({"ents": [{"text": "Ann", "labels": ["PER"]}]}),
                &data,
            )
            .unwrap(),
    );
    assert_eq!(
        config.to_output(&result, &data),
        json!({"ents": [{"text": "Ann", "labels": ["PER"], "start": 3}]})
    );
}

#[test]
fn regions_hypertext_labels_key() {
    let xml = r#"<View>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="ents" toName="page"><Label value="PER"/></HyperTextLabels>
</View>"#;
    let out = regions(
        xml,
        json!({"ents": [{"text": "Ann", "labels": ["PER"]}]}),
        json!({"html": "<p>Ann</p>"}),
    );
    assert_eq!(
        out,
        vec![
            json!({"from_name": "ents", "to_name": "page", "type": "hypertextlabels",
                    "value": {"start": "/p[1]/text()[1]", "startOffset": 0,
                              "end": "/p[1]/text()[1]", "endOffset": 3,
                              "globalOffsets": {"start": 0, "end": 3},
                              "text": "Ann", "hypertextlabels": ["PER"]}})
        ]
    );
    // Label Studio's key order.
    let keys: Vec<&String> = out[0]["value"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "start",
            "startOffset",
            "end",
            "endOffset",
            "globalOffsets",
            "text",
            "hypertextlabels"
        ]
    );
}

#[test]
fn tag_soup_never_panics_and_offsets_stay_consistent() {
    // Misnested formatting (the adoption agency algorithm), foster parenting, templates,
    // foreign content, stray end tags, frames, unclosed everything.
    let soups = [
        "<b><i>x</b>y</i>z",
        "<table>a<tr>b<td>c</table>d",
        "<p><table><tr><td>x</td></tr></table>y",
        "<template><p>hidden</p></template><p>shown</p>",
        "<svg><foreignObject><p>a</p></foreignObject><text>b</text></svg><math><mi>c</mi></math>",
        "</p></div></b>text<br/></br>",
        "<frameset><frame></frameset>after",
        "<a><table><a>x</a></table></a>",
        "<select><option>o<optgroup>g</select>s",
        "<!DOCTYPE html><html><head><title>t</title></head><body>b</body></html>tail",
        "<ruby>a<rt>b</ruby><dl><dt>c<dd>d</dl>",
        "",
        "plain text only",
        "&amp;&lt;&unknown;&#0;&#xD800;",
    ];
    for soup in soups {
        for inline in [false, true] {
            let text = HtmlText::parse(soup, inline);
            let mut at = 0;
            for node in &text.nodes {
                assert!(
                    node.start >= at && node.end > node.start,
                    "{soup}: {node:?}"
                );
                at = node.end;
                assert!(node.xpath.starts_with('/') && node.xpath.ends_with(']'));
            }
            assert!(at <= text.text.chars().count(), "{soup}");
        }
    }
}

proptest::proptest! {
    #[test]
    fn random_markup_never_panics(parts in proptest::collection::vec(
        proptest::sample::select(vec![
            "<p>", "</p>", "<b>", "</b>", "<i>", "</i>", "<table>", "</table>", "<tr>", "<td>",
            "</td>", "<br>", "<div>", "</div>", "<a>", "</a>", "<script>", "</script>", "<!--",
            "-->", "<template>", "</template>", "<svg>", "</svg>", "text", " ", "\n", "🙂", "東京",
            "&amp;", "<", ">", "<textarea>", "</textarea>", "<option>", "<select>", "</select>",
        ]),
        0..60,
    )) {
        let html = parts.concat();
        let text = HtmlText::parse(&html, false);
        for node in &text.nodes {
            let range = text.range(node.start, node.end);
            proptest::prop_assert!(range.is_some(), "{html}: {node:?}");
        }
        let _ = HtmlText::parse(&html, true);
    }
}
