//! Tests for the LLM output side of label configs: the output JSON schema, turning LLM output
//! into result regions, and skill compatibility, on the template configs of `tests.rs`.

use serde_json::{Value, json};

use super::tests::{
    DYNAMIC_CHOICES, IMAGE_BBOX, MULTI_CHOICE, NER, NESTED_VIEWS, NUMBER, RATING, SEVERAL_CONTROLS,
    SUMMARIZATION, TEXT_CLASSIFICATION, TWO_OBJECTS,
};
use super::*;

/// Regions with their random `id` checked (a UUID v4) and removed.
pub(super) fn without_ids(regions: Vec<Value>) -> Vec<Value> {
    regions
        .into_iter()
        .map(|mut r| {
            let id = r
                .as_object_mut()
                .unwrap()
                .shift_remove("id")
                .expect("region has an id");
            let id = uuid::Uuid::parse_str(id.as_str().unwrap()).unwrap();
            assert_eq!(id.get_version_num(), 4);
            r
        })
        .collect()
}

pub(super) fn regions(xml: &str, output: Value, data: Value) -> Vec<Value> {
    without_ids(parse(xml).unwrap().to_regions(&output, &data).unwrap())
}

pub(super) fn region_err(xml: &str, output: Value, data: Value) -> String {
    match parse(xml).unwrap().to_regions(&output, &data) {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e.to_string(),
    }
}

// ---- output schema ----

#[test]
fn schema_choices_exact() {
    let config = parse(TEXT_CLASSIFICATION).unwrap();
    let schema = config.output_schema();
    assert_eq!(
        schema,
        json!({
            "type": "object",
            "properties": {
                "sentiment": {
                    "type": "string",
                    "enum": ["Positive", "Negative", "Neutral"],
                    "description": "Choices for text"
                }
            },
            "required": ["sentiment"]
        })
    );
    // Key order follows the SDK's output.
    assert_eq!(
        serde_json::to_string(&schema).unwrap(),
        r#"{"type":"object","properties":{"sentiment":{"type":"string","enum":["Positive","Negative","Neutral"],"description":"Choices for text"}},"required":["sentiment"]}"#
    );
}

#[test]
fn schema_multi_choice() {
    let config = parse(MULTI_CHOICE).unwrap();
    assert_eq!(
        config.output_schema()["properties"]["topics"],
        json!({
            "type": "array",
            "items": {"type": "string", "enum": ["Politics", "Business", "Sports", "Technology"]},
            "uniqueItems": true,
            "description": "Choices for text"
        })
    );
}

#[test]
fn schema_ner_exact() {
    let config = parse(NER).unwrap();
    assert_eq!(
        config.output_schema(),
        json!({
            "type": "object",
            "properties": {
                "label": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["text", "labels"],
                        "properties": {
                            "text": {
                                "type": "string",
                                "description": "The span's text, copied exactly from the input"
                            },
                            "labels": {
                                "type": "array",
                                "items": {"type": "string", "enum": ["PER", "ORG", "LOC", "MISC"]}
                            },
                            "start": {
                                "type": "integer",
                                "minimum": 0,
                                "description": "Optional: about where the span starts (character offset), to tell repeated occurrences of the same text apart"
                            }
                        }
                    },
                    "description": "Labels and span texts for text"
                }
            },
            "required": ["label"]
        })
    );
    // The model writes the quote first: `text` leads the properties.
    let schema = config.output_schema();
    let props: Vec<&String> = schema["properties"]["label"]["items"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(props, ["text", "labels", "start"]);
}

#[test]
fn schema_text_area_rating_number() {
    assert_eq!(
        parse(SUMMARIZATION).unwrap().output_schema()["properties"]["answer"],
        json!({"type": "string", "description": "Text for text"})
    );
    assert_eq!(
        parse(RATING).unwrap().output_schema()["properties"]["stars"],
        json!({"type": "integer", "minimum": 0, "maximum": 5, "description": "Rating for review (0 to 5)"})
    );
    assert_eq!(
        parse(NUMBER).unwrap().output_schema()["properties"]["count"],
        json!({"type": "number", "description": "Number for text", "minimum": 0.0, "maximum": 100.0})
    );
    // Defaults: maxRating 5, no bounds on Number.
    let xml = r#"<View><Text name="t" value="$t"/><Rating name="r" toName="t"/><Number name="n" toName="t"/></View>"#;
    let schema = parse(xml).unwrap().output_schema();
    assert_eq!(schema["properties"]["r"]["maximum"], json!(5));
    assert_eq!(
        schema["properties"]["n"],
        json!({"type": "number", "description": "Number for t"})
    );
}

#[test]
fn schema_several_controls_all_required() {
    let config = parse(SEVERAL_CONTROLS).unwrap();
    let schema = config.output_schema();
    let names: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["sentiment", "toxicity", "quality", "comment"]);
    assert_eq!(
        schema["required"],
        json!(["sentiment", "toxicity", "quality", "comment"])
    );
    assert_eq!(schema["properties"]["quality"]["maximum"], json!(10));
    assert_eq!(schema["properties"]["toxicity"]["type"], "array");

    let limited = config.output_schema_for(&["comment", "sentiment", "nope"]);
    let names: Vec<&String> = limited["properties"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["sentiment", "comment"]);
    assert_eq!(limited["required"], json!(["sentiment", "comment"]));
    assert_eq!(
        config.output_schema_for(&[]),
        json!({"type": "object", "properties": {}, "required": []})
    );
}

#[test]
fn schema_skips_other_controls() {
    // RectangleLabels on an Image is not a text span: skipped.
    assert_eq!(
        parse(IMAGE_BBOX).unwrap().output_schema(),
        json!({"type": "object", "properties": {}, "required": []})
    );
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <DateTime name="when" toName="text"/>
  <Taxonomy name="tax" toName="text" apiUrl="http://example.invalid/tree"/>
  <Taxonomy name="spans" toName="text" labeling="true"><Choice value="A"/></Taxonomy>
  <Pairwise name="pw" toName="text"/>
  <Choices name="c" toName="text"><Choice value="A"/></Choices>
</View>"#;
    // A remote or labeling Taxonomy and a Pairwise without two objects are not answered.
    let schema = parse(xml).unwrap().output_schema();
    assert_eq!(schema["required"], json!(["c"]));
    // Choices over two objects and over an image are still Choices; description uses the first.
    let schema = parse(TWO_OBJECTS).unwrap().output_schema();
    assert_eq!(
        schema["properties"]["relevance"]["description"],
        "Choices for question"
    );
    assert_eq!(schema["required"], json!(["relevance", "image_ok"]));
}

#[test]
fn schema_dynamic_choices_and_hypertext() {
    assert_eq!(
        parse(DYNAMIC_CHOICES).unwrap().output_schema()["properties"]["category"],
        json!({
            "type": "array",
            "items": {"type": "string"},
            "uniqueItems": true,
            "description": "Choices for text"
        })
    );
    assert_eq!(
        parse(NESTED_VIEWS).unwrap().output_schema()["properties"]["intent"]["enum"],
        json!(["Billing", "Support", "Other"])
    );
    let xml = r#"<View>
  <HyperText name="page" value="$html"/>
  <HyperTextLabels name="ents" toName="page"><Label value="PER"/></HyperTextLabels>
</View>"#;
    let schema = parse(xml).unwrap().output_schema();
    assert_eq!(
        schema["properties"]["ents"]["items"]["properties"]["labels"]["items"]["enum"],
        json!(["PER"])
    );
}

// ---- regions ----

#[test]
fn regions_choices_exact() {
    let out = regions(
        TEXT_CLASSIFICATION,
        json!({"sentiment": "Positive"}),
        json!({"text": "I love it"}),
    );
    assert_eq!(
        out,
        vec![json!({
            "from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": ["Positive"]}
        })]
    );
}

#[test]
fn regions_ner_exact() {
    let out = regions(
        NER,
        json!({"label": [{"start": 0, "end": 4, "labels": ["PER"], "text": "John"}]}),
        json!({"text": "John works at Acme."}),
    );
    assert_eq!(
        out,
        vec![json!({
            "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": 0, "end": 4, "labels": ["PER"]}
        })]
    );
    // The value keeps the SDK's key order: start, end, labels.
    let keys: Vec<&String> = out[0]["value"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["start", "end", "labels"]);
}

#[test]
fn regions_id_is_fresh_uuid4_first_key() {
    let config = parse(TEXT_CLASSIFICATION).unwrap();
    let a = config
        .to_regions(&json!({"sentiment": "Negative"}), &json!({}))
        .unwrap();
    let b = config
        .to_regions(&json!({"sentiment": "Negative"}), &json!({}))
        .unwrap();
    assert_ne!(a[0]["id"], b[0]["id"]);
    let keys: Vec<&String> = a[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "from_name", "to_name", "type", "value"]);
}

#[test]
fn regions_multi_choice_and_payload_forms() {
    let data = json!({"text": "x"});
    assert_eq!(
        regions(
            MULTI_CHOICE,
            json!({"topics": ["Politics", "Sports"]}),
            data.clone()
        )[0]["value"],
        json!({"choices": ["Politics", "Sports"]})
    );
    // A dict is one region; a list of dicts is one region each.
    assert_eq!(
        regions(
            MULTI_CHOICE,
            json!({"topics": {"choices": ["Business"]}}),
            data.clone()
        )[0]["value"],
        json!({"choices": ["Business"]})
    );
    let out = regions(
        MULTI_CHOICE,
        json!({"topics": [{"label": "Business"}, {"label": ["Sports", "Technology"]}]}),
        data.clone(),
    );
    assert_eq!(out.len(), 2);
    assert_eq!(
        out[1]["value"],
        json!({"choices": ["Sports", "Technology"]})
    );
    // An empty list gives no region; null and unknown names are skipped.
    assert!(regions(MULTI_CHOICE, json!({"topics": []}), data.clone()).is_empty());
    assert!(
        regions(
            TEXT_CLASSIFICATION,
            json!({"sentiment": null, "reasoning": "because", "text": "x"}),
            data
        )
        .is_empty()
    );
}

#[test]
fn regions_choices_errors() {
    let data = json!({"text": "x"});
    let e = region_err(
        TEXT_CLASSIFICATION,
        json!({"sentiment": "Happy"}),
        data.clone(),
    );
    assert!(e.contains("\"Happy\" is not one of the labels"), "{e}");
    assert!(e.contains("sentiment"), "{e}");
    let e = region_err(
        TEXT_CLASSIFICATION,
        json!({"sentiment": ["Positive", "Negative"]}),
        data.clone(),
    );
    assert!(e.contains("single-choice control given 2 choices"), "{e}");
    let e = region_err(
        MULTI_CHOICE,
        json!({"topics": ["Politics", "Cooking"]}),
        data.clone(),
    );
    assert!(e.contains("Cooking"), "{e}");
    let e = region_err(
        TEXT_CLASSIFICATION,
        json!({"sentiment": true}),
        data.clone(),
    );
    assert!(e.contains("unsupported payload"), "{e}");
    let e = region_err(
        TEXT_CLASSIFICATION,
        json!({"sentiment": {"x": 1}}),
        data.clone(),
    );
    assert!(e.contains("none of the keys"), "{e}");
    let e = region_err(TEXT_CLASSIFICATION, json!(["Positive"]), data);
    assert!(e.contains("must be a JSON object"), "{e}");
}

#[test]
fn regions_numbers_as_choice_labels_and_dynamic_choices() {
    let xml = r#"<View><Text name="t" value="$t"/>
  <Choices name="grade" toName="t"><Choice value="1"/><Choice value="2"/></Choices></View>"#;
    assert_eq!(
        regions(xml, json!({"grade": 2}), json!({}))[0]["value"],
        json!({"choices": ["2"]})
    );
    // Dynamic labels come from task data: any string is accepted.
    assert_eq!(
        regions(
            DYNAMIC_CHOICES,
            json!({"category": ["anything"]}),
            json!({})
        )[0]["value"],
        json!({"choices": ["anything"]})
    );
}

#[test]
fn regions_two_objects_use_first_to_name() {
    let out = regions(
        TWO_OBJECTS,
        json!({"relevance": "Relevant", "image_ok": "OK"}),
        json!({}),
    );
    assert_eq!(out[0]["to_name"], "question");
    assert_eq!(out[1]["to_name"], "screenshot");
    assert_eq!(out[1]["type"], "choices");
}

#[test]
fn regions_text_area_rating_number() {
    let out = regions(
        SEVERAL_CONTROLS,
        json!({"comment": "Nice.", "quality": 7, "sentiment": "Positive", "toxicity": []}),
        json!({"text": "x"}),
    );
    assert_eq!(
        out,
        vec![
            json!({"from_name": "comment", "to_name": "text", "type": "textarea",
                   "value": {"text": ["Nice."]}}),
            json!({"from_name": "quality", "to_name": "text", "type": "rating",
                   "value": {"rating": 7}}),
            json!({"from_name": "sentiment", "to_name": "text", "type": "choices",
                   "value": {"choices": ["Positive"]}}),
        ]
    );
    assert_eq!(
        regions(
            SUMMARIZATION,
            json!({"answer": ["One.", "Two."]}),
            json!({})
        )[0]["value"],
        json!({"text": ["One.", "Two."]})
    );
    assert_eq!(
        regions(RATING, json!({"stars": 4.0}), json!({}))[0]["value"],
        json!({"rating": 4})
    );
    assert_eq!(
        regions(RATING, json!({"stars": {"rating": "3"}}), json!({}))[0]["value"],
        json!({"rating": 3})
    );
    assert_eq!(
        regions(NUMBER, json!({"count": 42}), json!({}))[0]["value"],
        json!({"number": 42.0})
    );
    assert_eq!(
        regions(NUMBER, json!({"count": "2.5"}), json!({}))[0]["value"],
        json!({"number": 2.5})
    );
    assert!(region_err(RATING, json!({"stars": 6}), json!({})).contains("from 0 to 5"));
    assert!(region_err(RATING, json!({"stars": 2.5}), json!({})).contains("whole number"));
    assert!(region_err(NUMBER, json!({"count": "many"}), json!({})).contains("not a number"));
    assert!(region_err(NUMBER, json!({"count": [1, 2]}), json!({})).contains("one value"));
    assert!(region_err(SUMMARIZATION, json!({"answer": 5}), json!({})).contains("expected text"));
}

#[test]
fn regions_other_controls_skipped() {
    assert!(
        regions(
            IMAGE_BBOX,
            json!({"label": [{"x": 1, "y": 2, "rectanglelabels": ["Car"]}]}),
            json!({})
        )
        .is_empty()
    );
}

#[test]
fn region_error_display() {
    let e = RegionError::new("boom");
    assert_eq!(e.to_string(), "boom");
    let e: Box<dyn std::error::Error> = Box::new(e);
    assert_eq!(e.to_string(), "boom");
}

// ---- compatibility ----

#[test]
fn skill_names() {
    for skill in [Skill::TextClassification, Skill::NamedEntityRecognition] {
        assert_eq!(Skill::parse(skill.as_str()), Some(skill));
    }
    assert_eq!(Skill::parse("textclassification"), None);
    assert_eq!(Skill::parse(""), None);
}

#[test]
fn compatibility_rules() {
    let tc = Skill::TextClassification;
    let ner = Skill::NamedEntityRecognition;
    let check = |xml: &str| {
        let config = parse(xml).unwrap();
        (config.is_compatible(tc), config.is_compatible(ner))
    };
    assert_eq!(check(TEXT_CLASSIFICATION), (true, false));
    assert_eq!(check(MULTI_CHOICE), (true, false));
    assert_eq!(check(SEVERAL_CONTROLS), (true, false));
    assert_eq!(check(NESTED_VIEWS), (true, false)); // HyperText counts as text
    assert_eq!(check(TWO_OBJECTS), (true, false));
    assert_eq!(check(DYNAMIC_CHOICES), (true, false));
    assert_eq!(check(NER), (false, true));
    assert_eq!(check(SUMMARIZATION), (false, false));
    assert_eq!(check(RATING), (false, false));
    assert_eq!(check(IMAGE_BBOX), (false, false));
    assert_eq!(check("<View/>"), (false, false));
    // Choices on an image only: image classification, as LSE Prompts does it.
    let xml = r#"<View><Image name="i" value="$i"/>
  <Choices name="c" toName="i"><Choice value="A"/></Choices></View>"#;
    assert_eq!(check(xml), (true, false));
    // Both kinds present: neither skill.
    let xml = r#"<View><Text name="t" value="$t"/>
  <Choices name="c" toName="t"><Choice value="A"/></Choices>
  <Labels name="l" toName="t"><Label value="B"/></Labels></View>"#;
    assert_eq!(check(xml), (false, false));
    // A Labels-family control on an image excludes TextClassification.
    let xml = r#"<View><Text name="t" value="$t"/><Image name="i" value="$i"/>
  <Choices name="c" toName="t"><Choice value="A"/></Choices>
  <RectangleLabels name="r" toName="i"><Label value="B"/></RectangleLabels></View>"#;
    assert_eq!(check(xml), (false, false));
    // NER with extra non-Choices controls is fine.
    let xml = r#"<View><HyperText name="h" value="$h"/>
  <HyperTextLabels name="l" toName="h"><Label value="B"/></HyperTextLabels>
  <TextArea name="note" toName="h"/></View>"#;
    assert_eq!(check(xml), (false, true));
}

// ---- regions back to output (few-shot examples) ----

#[test]
fn outputs_round_trip_through_regions() {
    for (xml, output, data) in [
        (
            TEXT_CLASSIFICATION,
            json!({"sentiment": "Positive"}),
            json!({"text": "I love it"}),
        ),
        (
            NER,
            json!({"label": [{"text": "John", "labels": ["PER"], "start": 0}]}),
            json!({"text": "John went home"}),
        ),
    ] {
        let config = parse(xml).unwrap();
        let result = Value::Array(config.to_regions(&output, &data).unwrap());
        assert_eq!(config.to_output(&result, &data), output, "{xml}");
    }
}
