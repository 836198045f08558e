//! Tests for the Pairwise and Taxonomy controls: output schema, regions, answers back.

use serde_json::{Value, json};

use super::*;

const PAIRWISE: &str = r#"<View>
  <Pairwise name="pw" toName="a,b" leftClass="A" rightClass="B"/>
  <Text name="a" value="$a"/>
  <Text name="b" value="$b"/>
</View>"#;

const TAXONOMY: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="media" toName="text">
    <Choice value="Online">
      <Choice value="UGC"/>
      <Choice value="Paywall">
        <Choice value="NY Times"/>
        <Choice value="WSJ" alias="wsj"/>
      </Choice>
      <Choice value="Other"/>
    </Choice>
    <Choice value="Offline">
      <Choice value="Other"/>
    </Choice>
  </Taxonomy>
</View>"#;

fn values(xml: &str, output: Value) -> Result<Vec<Value>, String> {
    parse(xml)
        .unwrap()
        .to_regions(&output, &json!({}))
        .map(|r| r.into_iter().map(|r| r["value"].clone()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn pairwise_schema_and_region() {
    let config = parse(PAIRWISE).unwrap();
    assert_eq!(
        config.output_schema()["properties"]["pw"],
        json!({"type": "string", "enum": ["left", "right"],
               "description": "Pairwise selection between a (left) and b (right)"})
    );
    let out = config
        .to_regions(&json!({"pw": "right"}), &json!({}))
        .unwrap();
    assert_eq!(out.len(), 1);
    // The result names the control itself as its target, as Label Studio writes it.
    assert_eq!(out[0]["from_name"], "pw");
    assert_eq!(out[0]["to_name"], "pw");
    assert_eq!(out[0]["type"], "pairwise");
    assert_eq!(out[0]["value"], json!({"selected": "right"}));
    assert_eq!(
        values(PAIRWISE, json!({"pw": {"selected": "left"}})).unwrap(),
        [json!({"selected": "left"})]
    );
    let e = values(PAIRWISE, json!({"pw": "both"})).unwrap_err();
    assert!(e.contains("is not \"left\" or \"right\""), "{e}");
    assert!(values(PAIRWISE, json!({"pw": ["left", "right"]})).is_err());
    // Back to an answer.
    let result = Value::Array(
        config
            .to_regions(&json!({"pw": "left"}), &json!({}))
            .unwrap(),
    );
    assert_eq!(config.to_output(&result, &json!({})), json!({"pw": "left"}));
}

#[test]
fn nested_choices_know_their_parent() {
    let config = parse(TAXONOMY).unwrap();
    let c = config.control("media").unwrap();
    let parents: Vec<Option<usize>> = c.children.iter().map(|l| l.parent).collect();
    // Online, UGC, Paywall, NY Times, WSJ, Other, Offline, Other.
    assert_eq!(
        parents,
        [
            None,
            Some(0),
            Some(0),
            Some(2),
            Some(2),
            Some(0),
            None,
            Some(6)
        ]
    );
}

#[test]
fn taxonomy_schema_lists_the_paths() {
    let config = parse(TAXONOMY).unwrap();
    let schema = &config.output_schema()["properties"]["media"];
    assert_eq!(schema["type"], "array");
    assert_eq!(schema["minItems"], 1);
    assert_eq!(schema["items"]["type"], "array");
    assert_eq!(
        schema["items"]["items"]["enum"],
        json!([
            "Online", "UGC", "Paywall", "NY Times", "wsj", "Other", "Offline"
        ])
    );
    let description = schema["description"].as_str().unwrap();
    assert!(description.starts_with("Taxonomy for text. Each item is a path from the root"));
    assert!(
        description.contains(r#"["Online", "Paywall", "wsj"]"#),
        "{description}"
    );
    assert!(
        description.contains(r#"["Offline", "Other"]"#),
        "{description}"
    );
}

#[test]
fn taxonomy_paths_are_checked_against_the_tree() {
    let config = parse(TAXONOMY).unwrap();
    let out = config
        .to_regions(
            &json!({"media": [["Online", "Paywall", "NY Times"], ["Offline"]]}),
            &json!({}),
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["type"], "taxonomy");
    assert_eq!(out[0]["to_name"], "text");
    assert_eq!(
        out[0]["value"],
        json!({"taxonomy": [["Online", "Paywall", "NY Times"], ["Offline"]]})
    );
    // A tail naming one node is completed (the leaf alone, or without the root); aliases are
    // the labels; duplicates collapse.
    assert_eq!(
        values(
            TAXONOMY,
            json!({"media": [["wsj"], ["Paywall", "NY Times"], ["wsj"]]})
        )
        .unwrap(),
        [json!({"taxonomy": [["Online", "Paywall", "wsj"], ["Online", "Paywall", "NY Times"]]})]
    );
    // A flat list: one path when it is one, else one selection per label; a bare string.
    assert_eq!(
        values(TAXONOMY, json!({"media": ["Online", "UGC"]})).unwrap(),
        [json!({"taxonomy": [["Online", "UGC"]]})]
    );
    assert_eq!(
        values(TAXONOMY, json!({"media": ["UGC", "NY Times"]})).unwrap(),
        [json!({"taxonomy": [["Online", "UGC"], ["Online", "Paywall", "NY Times"]]})]
    );
    assert_eq!(
        values(TAXONOMY, json!({"media": {"taxonomy": "UGC"}})).unwrap(),
        [json!({"taxonomy": [["Online", "UGC"]]})]
    );
    // Not in the tree, ambiguous, or a broken path: the output fails.
    let e = values(TAXONOMY, json!({"media": [["Print"]]})).unwrap_err();
    assert!(e.contains("is not a path of the taxonomy"), "{e}");
    let e = values(TAXONOMY, json!({"media": [["Other"]]})).unwrap_err();
    assert!(e.contains("more than one node"), "{e}");
    let e = values(TAXONOMY, json!({"media": [["Offline", "UGC"]]})).unwrap_err();
    assert!(e.contains("not a path"), "{e}");
    let e = values(TAXONOMY, json!({"media": [[]]})).unwrap_err();
    assert!(e.contains("empty path"), "{e}");
    assert!(values(TAXONOMY, json!({"media": [{"x": 1}]})).is_err());
    // An empty answer selects nothing.
    assert!(values(TAXONOMY, json!({"media": []})).unwrap().is_empty());
    // Back to an answer.
    let result = Value::Array(out);
    assert_eq!(
        config.to_output(&result, &json!({})),
        json!({"media": [["Online", "Paywall", "NY Times"], ["Offline"]]})
    );
}

#[test]
fn taxonomy_leafs_only() {
    let xml = TAXONOMY.replace(r#"toName="text">"#, r#"toName="text" leafsOnly="true">"#);
    let e = values(&xml, json!({"media": [["Online", "Paywall"]]})).unwrap_err();
    assert!(e.contains("not a leaf"), "{e}");
    assert!(values(&xml, json!({"media": [["UGC"]]})).is_ok());
    let description = parse(&xml).unwrap().output_schema()["properties"]["media"]["description"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !description.contains(r#"["Online", "Paywall"],"#),
        "{description}"
    );
}
