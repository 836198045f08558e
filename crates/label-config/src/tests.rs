//! Tests for label config parsing, validation and `parsed_label_config`, on configs written in
//! the style of Label Studio's public templates.

use serde_json::json;

use super::*;

pub(super) const TEXT_CLASSIFICATION: &str = r#"<View>
  <Text name="text" value="$text"/>
  <View style="box-shadow: 2px 2px 5px #999; padding: 20px; margin-top: 2em; border-radius: 5px;">
    <Header value="Choose text sentiment"/>
    <Choices name="sentiment" toName="text" choice="single" showInLine="true">
      <Choice value="Positive"/>
      <Choice value="Negative"/>
      <Choice value="Neutral"/>
    </Choices>
  </View>
</View>"#;

pub(super) const NER: &str = r#"<View>
  <Labels name="label" toName="text">
    <Label value="PER" background="red"/>
    <Label value="ORG" background="darkorange"/>
    <Label value="LOC" background="orange"/>
    <Label value="MISC" background="green"/>
  </Labels>

  <Text name="text" value="$text"/>
</View>"#;

pub(super) const MULTI_CHOICE: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Header value="Which topics does this article cover?"/>
  <Choices name="topics" toName="text" choice="multiple" showInLine="true">
    <Choice value="Politics"/>
    <Choice value="Business"/>
    <Choice value="Sports"/>
    <Choice value="Technology"/>
  </Choices>
</View>"#;

pub(super) const SUMMARIZATION: &str = r#"<View>
  <Header value="Please read the text"/>
  <Text name="text" value="$text"/>
  <Header value="Provide one sentence summary"/>
  <TextArea name="answer" toName="text" showSubmitButton="true" maxSubmissions="1" editable="true" required="true"/>
</View>"#;

pub(super) const RATING: &str = r#"<View>
  <Text name="review" value="$review"/>
  <Rating name="stars" toName="review" maxRating="5" icon="star" size="medium"/>
</View>"#;

pub(super) const NUMBER: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Number name="count" toName="text" min="0" max="100" step="1" required="true"/>
</View>"#;

pub(super) const NESTED_VIEWS: &str = r#"<View>
  <View style="display: flex;">
    <View style="width: 60%">
      <Header value="Customer message"/>
      <HyperText name="message" value="$html"/>
    </View>
    <View style="width: 40%">
      <Header value="Intent"/>
      <View>
        <Choices name="intent" toName="message">
          <View style="display: grid;">
            <Choice value="Billing"/>
            <Choice value="Support"/>
          </View>
          <Choice value="Other"/>
        </Choices>
      </View>
    </View>
  </View>
</View>"#;

pub(super) const SEVERAL_CONTROLS: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
  </Choices>
  <Choices name="toxicity" toName="text" choice="multiple">
    <Choice value="Insult"/>
    <Choice value="Threat"/>
    <Choice value="Positive"/>
  </Choices>
  <Rating name="quality" toName="text" maxRating="10"/>
  <TextArea name="comment" toName="text" rows="3"/>
</View>"#;

pub(super) const TWO_OBJECTS: &str = r#"<View>
  <Header value="Which answer is better?"/>
  <Text name="question" value="$question"/>
  <Text name="answer" value="$answer"/>
  <Image name="screenshot" value="$image_url" valueType="url"/>
  <Choices name="relevance" toName="question,answer">
    <Choice value="Relevant"/>
    <Choice value="Irrelevant"/>
  </Choices>
  <Choices name="image_ok" toName="screenshot">
    <Choice value="OK"/>
    <Choice value="Broken"/>
  </Choices>
</View>"#;

pub(super) const IMAGE_BBOX: &str = r#"<View>
  <Image name="image" value="$image" zoom="true"/>
  <RectangleLabels name="label" toName="image" strokeWidth="3">
    <Label value="Airplane" background="green"/>
    <Label value="Car" background="blue"/>
  </RectangleLabels>
</View>"#;

pub(super) const DYNAMIC_CHOICES: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="category" toName="text" value="$options" choice="multiple"/>
</View>"#;

/// Line and column of an error, for assertions.
fn err_at(xml: &str) -> (String, Option<u32>, Option<u32>) {
    match parse(xml) {
        Ok(config) => panic!("expected an error, parsed {config:?}"),
        Err(e) => (e.message, e.line, e.column),
    }
}

#[test]
fn text_classification() {
    let config = parse(TEXT_CLASSIFICATION).unwrap();
    assert_eq!(config.objects.len(), 1);
    let text = config.object("text").unwrap();
    assert_eq!(text.tag, "Text");
    assert_eq!(text.value, "$text");
    assert_eq!(text.data_key(), Some("text"));
    assert_eq!(config.controls.len(), 1);
    let c = config.control("sentiment").unwrap();
    assert_eq!(c.tag, "Choices");
    assert_eq!(c.kind(), ControlKind::Choices);
    assert_eq!(c.result_type(), "choices");
    assert_eq!(c.to_name, vec!["text"]);
    assert_eq!(c.first_to_name(), Some("text"));
    assert_eq!(c.labels, vec!["Positive", "Negative", "Neutral"]);
    assert!(!c.multiple);
    assert_eq!(c.attrs.get("showInLine").map(String::as_str), Some("true"));
    assert_eq!(config.input_fields(), vec!["text"]);
    assert_eq!(
        config.output_classes(),
        vec!["Positive", "Negative", "Neutral"]
    );
    assert!(config.control("text").is_none());
    assert!(config.object("sentiment").is_none());
}

#[test]
fn text_classification_parsed_label_config() {
    let config = parse(TEXT_CLASSIFICATION).unwrap();
    assert_eq!(
        config.parsed_label_config(),
        json!({
            "sentiment": {
                "type": "Choices",
                "to_name": ["text"],
                "inputs": [{"type": "Text", "valueType": null, "value": "text"}],
                "labels": ["Positive", "Negative", "Neutral"],
                "labels_attrs": {
                    "Positive": {"value": "Positive"},
                    "Negative": {"value": "Negative"},
                    "Neutral": {"value": "Neutral"}
                }
            }
        })
    );
}

#[test]
fn ner_labels_before_text() {
    let config = parse(NER).unwrap();
    let c = config.control("label").unwrap();
    assert_eq!(c.kind(), ControlKind::Labels);
    assert_eq!(c.result_type(), "labels");
    assert!(c.is_labels_family());
    assert_eq!(c.labels, vec!["PER", "ORG", "LOC", "MISC"]);
    assert_eq!(c.children[0].tag, "Label");
    assert_eq!(
        c.children[0].attrs,
        vec![
            ("value".to_string(), "PER".to_string()),
            ("background".to_string(), "red".to_string())
        ]
    );
    assert_eq!(config.input_fields(), vec!["text"]);
    assert_eq!(config.output_classes(), vec!["PER", "ORG", "LOC", "MISC"]);
}

#[test]
fn ner_parsed_label_config() {
    let config = parse(NER).unwrap();
    assert_eq!(
        config.parsed_label_config(),
        json!({
            "label": {
                "type": "Labels",
                "to_name": ["text"],
                "inputs": [{"type": "Text", "valueType": null, "value": "text"}],
                "labels": ["PER", "ORG", "LOC", "MISC"],
                "labels_attrs": {
                    "PER": {"value": "PER", "background": "red"},
                    "ORG": {"value": "ORG", "background": "darkorange"},
                    "LOC": {"value": "LOC", "background": "orange"},
                    "MISC": {"value": "MISC", "background": "green"}
                }
            }
        })
    );
    // The labels list keeps document order whatever the map order is.
    let parsed = config.parsed_label_config();
    assert_eq!(
        parsed["label"]["labels"],
        json!(["PER", "ORG", "LOC", "MISC"])
    );
}

#[test]
fn multi_choice() {
    let config = parse(MULTI_CHOICE).unwrap();
    let c = config.control("topics").unwrap();
    assert!(c.multiple);
    assert_eq!(c.labels.len(), 4);
    assert_eq!(config.controls_of_kind(ControlKind::Choices).count(), 1);
}

#[test]
fn text_area() {
    let config = parse(SUMMARIZATION).unwrap();
    let c = config.control("answer").unwrap();
    assert_eq!(c.kind(), ControlKind::TextArea);
    assert_eq!(c.result_type(), "textarea");
    assert!(c.labels.is_empty());
    assert!(config.output_classes().is_empty());
    assert_eq!(
        config.parsed_label_config()["answer"],
        json!({
            "type": "TextArea",
            "to_name": ["text"],
            "inputs": [{"type": "Text", "valueType": null, "value": "text"}],
            "labels": [],
            "labels_attrs": {}
        })
    );
}

#[test]
fn rating() {
    let config = parse(RATING).unwrap();
    let c = config.control("stars").unwrap();
    assert_eq!(c.kind(), ControlKind::Rating);
    assert_eq!(c.result_type(), "rating");
    assert_eq!(c.attrs.get("maxRating").map(String::as_str), Some("5"));
    assert_eq!(config.input_fields(), vec!["review"]);
}

#[test]
fn number() {
    let config = parse(NUMBER).unwrap();
    let c = config.control("count").unwrap();
    assert_eq!(c.kind(), ControlKind::Number);
    assert_eq!(c.result_type(), "number");
}

#[test]
fn nested_views_with_headers() {
    let config = parse(NESTED_VIEWS).unwrap();
    assert_eq!(config.objects.len(), 1);
    assert_eq!(config.objects[0].tag, "HyperText");
    assert_eq!(config.input_fields(), vec!["html"]);
    let c = config.control("intent").unwrap();
    assert_eq!(c.labels, vec!["Billing", "Support", "Other"]);
    assert_eq!(
        config.parsed_label_config()["intent"]["inputs"],
        json!([{"type": "HyperText", "valueType": null, "value": "html"}])
    );
}

#[test]
fn several_controls_on_one_object() {
    let config = parse(SEVERAL_CONTROLS).unwrap();
    let names: Vec<&str> = config.controls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["sentiment", "toxicity", "quality", "comment"]);
    assert!(config.controls.iter().all(|c| c.to_name == vec!["text"]));
    assert!(config.control("toxicity").unwrap().multiple);
    // "Positive" appears in two controls; output_classes lists it once.
    assert_eq!(
        config.output_classes(),
        vec!["Positive", "Negative", "Insult", "Threat"]
    );
    let parsed = config.parsed_label_config();
    assert_eq!(parsed.as_object().unwrap().len(), 4);
    assert_eq!(parsed["quality"]["type"], "Rating");
}

#[test]
fn two_objects() {
    let config = parse(TWO_OBJECTS).unwrap();
    assert_eq!(config.objects.len(), 3);
    assert_eq!(
        config.input_fields(),
        vec!["question", "answer", "image_url"]
    );
    let c = config.control("relevance").unwrap();
    assert_eq!(c.to_name, vec!["question", "answer"]);
    assert_eq!(c.first_to_name(), Some("question"));
    let parsed = config.parsed_label_config();
    assert_eq!(
        parsed["relevance"]["inputs"],
        json!([
            {"type": "Text", "valueType": null, "value": "question"},
            {"type": "Text", "valueType": null, "value": "answer"}
        ])
    );
    assert_eq!(
        parsed["image_ok"]["inputs"],
        json!([{"type": "Image", "valueType": "url", "value": "image_url"}])
    );
}

#[test]
fn image_bounding_boxes() {
    let config = parse(IMAGE_BBOX).unwrap();
    assert_eq!(config.objects[0].tag, "Image");
    let c = config.control("label").unwrap();
    assert_eq!(c.tag, "RectangleLabels");
    assert_eq!(c.kind(), ControlKind::Other);
    assert_eq!(c.result_type(), "rectanglelabels");
    assert!(c.is_labels_family());
    assert_eq!(c.labels, vec!["Airplane", "Car"]);
    assert_eq!(
        config.parsed_label_config()["label"]["labels_attrs"]["Car"],
        json!({"value": "Car", "background": "blue"})
    );
}

#[test]
fn dynamic_choices() {
    let config = parse(DYNAMIC_CHOICES).unwrap();
    // The Choices tag has name, toName and value: it is a control, not an object.
    assert_eq!(config.objects.len(), 1);
    let c = config.control("category").unwrap();
    assert!(c.is_dynamic());
    assert!(c.labels.is_empty());
    assert_eq!(config.input_fields(), vec!["text"]);
    assert_eq!(
        config.parsed_label_config(),
        json!({
            "category": {
                "type": "Choices",
                "to_name": ["text"],
                "dynamic_labels": true,
                "inputs": [{"type": "Text", "valueType": null, "value": "text"}],
                "labels": [],
                "labels_attrs": {}
            }
        })
    );
}

#[test]
fn empty_view_is_valid() {
    for xml in ["<View></View>", "<View/>", "  <View>\n</View>\n"] {
        let config = parse(xml).unwrap();
        assert!(config.objects.is_empty());
        assert!(config.controls.is_empty());
        assert_eq!(config.parsed_label_config(), json!({}));
        assert!(config.input_fields().is_empty());
    }
}

#[test]
fn relations_need_no_name_or_to_name() {
    let xml = r#"<View>
  <Relations>
    <Relation value="works_for"/>
    <Relation value="lives_in"/>
  </Relations>
  <Labels name="label" toName="text">
    <Label value="PER"/>
    <Label value="ORG"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"#;
    let config = parse(xml).unwrap();
    assert_eq!(config.controls.len(), 2);
    let relations = &config.controls[0];
    assert_eq!(relations.tag, "Relations");
    assert_eq!(relations.name, "");
    assert!(relations.to_name.is_empty());
    assert_eq!(relations.labels, vec!["works_for", "lives_in"]);
    // Relation types are not classes, and Relations without toName is not in the JSON.
    assert_eq!(config.output_classes(), vec!["PER", "ORG"]);
    let parsed = config.parsed_label_config();
    assert_eq!(parsed.as_object().unwrap().len(), 1);
    assert!(parsed.get("label").is_some());
}

#[test]
fn alias_is_the_label() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive sentiment" alias="pos"/>
    <Choice value="Negative sentiment" alias="neg"/>
    <Choice alias="neu"/>
  </Choices>
</View>"#;
    let config = parse(xml).unwrap();
    assert_eq!(
        config.control("sentiment").unwrap().labels,
        vec!["pos", "neg", "neu"]
    );
    assert_eq!(
        config.parsed_label_config()["sentiment"]["labels_attrs"]["pos"],
        json!({"value": "Positive sentiment", "alias": "pos"})
    );
}

#[test]
fn taxonomy_nested_choices() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Taxonomy name="taxonomy" toName="text">
    <Choice value="Archaea"/>
    <Choice value="Bacteria">
      <Choice value="Other"/>
    </Choice>
    <Choice value="Eukarya">
      <Choice value="Human"/>
      <Choice value="Other"/>
    </Choice>
  </Taxonomy>
</View>"#;
    let config = parse(xml).unwrap();
    let c = config.control("taxonomy").unwrap();
    assert_eq!(c.kind(), ControlKind::Taxonomy);
    assert_eq!(
        c.labels,
        vec!["Archaea", "Bacteria", "Other", "Eukarya", "Human"]
    );
    assert_eq!(c.children.len(), 6);
}

#[test]
fn per_region_conditionals_and_repeater_regex() {
    let xml = r#"<View>
  <Repeater on="$images" indexFlag="{{idx}}">
    <Image name="image_{{idx}}" value="$images[{{idx}}].url"/>
    <RectangleLabels name="box_{{idx}}" toName="image_{{idx}}">
      <Label value="Cat"/>
    </RectangleLabels>
    <TextArea name="note_{{idx}}" toName="image_{{idx}}" perRegion="true" whenLabelValue="Cat"/>
  </Repeater>
</View>"#;
    let config = parse(xml).unwrap();
    assert_eq!(config.index_flags, vec!["{{idx}}"]);
    assert_eq!(config.objects[0].data_key(), Some("images[{{idx}}].url"));
    let parsed = config.parsed_label_config();
    assert_eq!(
        parsed["note_{{idx}}"],
        json!({
            "type": "TextArea",
            "to_name": ["image_{{idx}}"],
            "regex": {"{{idx}}": ".*"},
            "conditionals": {"type": "label", "name": "Cat"},
            "inputs": [{"type": "Image", "valueType": null, "value": "images[{{idx}}].url"}],
            "labels": [],
            "labels_attrs": {}
        })
    );
}

#[test]
fn value_list_object() {
    let xml = r#"<View>
  <Image name="pages" valueList="$pages"/>
  <Choices name="doc_type" toName="pages">
    <Choice value="Invoice"/>
  </Choices>
</View>"#;
    let config = parse(xml).unwrap();
    assert_eq!(config.objects[0].value, "$pages");
    assert_eq!(config.input_fields(), vec!["pages"]);
    assert_eq!(
        config.parsed_label_config()["doc_type"]["inputs"],
        json!([{"type": "Image", "valueType": null, "valueList": "pages"}])
    );
}

#[test]
fn data_key_forms() {
    let object = |value: &str| ObjectTag {
        name: "o".into(),
        tag: "Text".into(),
        value: value.into(),
        attrs: Default::default(),
    };
    assert_eq!(object("$text").data_key(), Some("text"));
    assert_eq!(object("static words").data_key(), None);
    assert_eq!(object("$").data_key(), None);
    assert_eq!(object("Title: $title!").data_key(), Some("title"));
}

#[test]
fn unknown_object_like_tag_and_comments() {
    let xml = r#"<View>
  <!-- a comment -->
  <Markdown name="md" value="$md"/>
  <CustomViewer name="viewer" value="$payload"/>
  <Choices name="c" toName="viewer"><Choice value="A"/></Choices>
</View>"#;
    // A client's config with a tag Label Studio does not know is refused...
    let (message, line, column) = err_at(xml);
    assert!(
        message.starts_with("unknown tag <CustomViewer>"),
        "{message}"
    );
    assert_eq!((line, column), (Some(4), Some(3)));
    // ...while a stored one is read as before, with a warning: a tag with name and value is an
    // object.
    let config = parse_tolerant(xml).unwrap();
    let tags: Vec<&str> = config.objects.iter().map(|o| o.tag.as_str()).collect();
    assert_eq!(tags, vec!["Markdown", "CustomViewer"]);
    assert_eq!(config.input_fields(), vec!["md", "payload"]);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].message.contains("<CustomViewer>"));
}

#[test]
fn error_display() {
    assert_eq!(
        LabelConfigError::at("boom", 3, 12).to_string(),
        "line 3, column 12: boom"
    );
    assert_eq!(LabelConfigError::new("boom").to_string(), "boom");
    let e: Box<dyn std::error::Error> = Box::new(LabelConfigError::new("x"));
    assert_eq!(e.to_string(), "x");
}

// ---- validation errors ----

#[test]
fn error_malformed_xml() {
    let xml = "<View>\n  <Text name=\"text\" value=\"$text\">\n</View>";
    let (message, line, column) = err_at(xml);
    assert!(message.starts_with("malformed XML: "), "{message}");
    assert!(!message.contains(" at 3:"), "{message}");
    assert_eq!((line, column), (Some(3), Some(1)));

    let (message, line, column) = err_at(
        "<View>\n  <Text name=\"a\" value=\"$a\"/>\n  <Choices name=\"x\" toName=a/>\n</View>",
    );
    assert!(message.starts_with("malformed XML: "), "{message}");
    assert_eq!((line, column), (Some(3), Some(28)));
}

#[test]
fn error_empty_config() {
    for xml in ["", "   \n\t "] {
        assert_eq!(
            err_at(xml),
            ("label config is empty".to_string(), None, None)
        );
    }
}

#[test]
fn error_root_not_view() {
    let xml = "<!-- config -->\n<Text name=\"text\" value=\"$text\"/>";
    assert_eq!(
        err_at(xml),
        ("root tag must be <View>".to_string(), Some(2), Some(1))
    );
    // Case matters.
    assert_eq!(
        err_at("<view></view>"),
        ("root tag must be <View>".to_string(), Some(1), Some(1))
    );
}

#[test]
fn error_control_without_name() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices toName="text">
    <Choice value="A"/>
  </Choices>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "control tag <Choices> has no \"name\" attribute".to_string(),
            Some(3),
            Some(3)
        )
    );
}

#[test]
fn error_control_without_to_name() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <View>
      <Choices name="sentiment">
        <Choice value="A"/>
      </Choices>
  </View>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "control tag <Choices name=\"sentiment\"> has no \"toName\" attribute".to_string(),
            Some(4),
            Some(7)
        )
    );
}

#[test]
fn error_duplicate_name() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="text" toName="text">
    <Choice value="A"/>
  </Choices>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "duplicate name \"text\": object and control tag names must be unique".to_string(),
            Some(3),
            Some(3)
        )
    );
    let xml = r#"<View>
  <Text name="a" value="$a"/>
  <Choices name="c" toName="a"><Choice value="A"/></Choices>
  <TextArea name="c" toName="a"/>
</View>"#;
    assert_eq!(err_at(xml).1, Some(4));
}

#[test]
fn error_to_name_unknown() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="txt">
    <Choice value="A"/>
  </Choices>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "toName=\"txt\" of <Choices name=\"sentiment\"> does not name an object tag"
                .to_string(),
            Some(3),
            Some(3)
        )
    );
    // One bad entry in a list; pointing at a control is wrong too.
    let xml = r#"<View>
  <Text name="a" value="$a"/>
  <TextArea name="note" toName="a"/>
    <Choices name="c" toName="a,note"><Choice value="A"/></Choices>
</View>"#;
    let (message, line, column) = err_at(xml);
    assert!(message.contains("toName=\"note\""), "{message}");
    assert_eq!((line, column), (Some(4), Some(5)));
}

#[test]
fn error_object_without_name() {
    let xml = r#"<View>
  <Header value="Read"/>
     <Text value="$text"/>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "object tag <Text> has no \"name\" attribute".to_string(),
            Some(3),
            Some(6)
        )
    );
}

#[test]
fn error_object_without_value() {
    let xml = r#"<View>
  <Image name="image"/>
  <RectangleLabels name="box" toName="image"><Label value="Car"/></RectangleLabels>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "object tag <Image name=\"image\"> has no \"value\" attribute".to_string(),
            Some(2),
            Some(3)
        )
    );
}

#[test]
fn error_choices_without_children() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
  </Choices>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "<Choices name=\"sentiment\"> has no <Choice> children".to_string(),
            Some(3),
            Some(3)
        )
    );
}

#[test]
fn error_labels_without_children() {
    let xml = r#"<View>
  <Labels name="label" toName="text"/>
  <Text name="text" value="$text"/>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "<Labels name=\"label\"> has no <Label> children".to_string(),
            Some(2),
            Some(3)
        )
    );
    let xml = r#"<View>
  <Image name="image" value="$image"/>
  <PolygonLabels name="poly" toName="image"></PolygonLabels>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "<PolygonLabels name=\"poly\"> has no <Label> children".to_string(),
            Some(3),
            Some(3)
        )
    );
}

#[test]
fn error_duplicate_label_value() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
      <Choice value="Positive"/>
  </Choices>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "duplicate value \"Positive\" in <Choices name=\"sentiment\">".to_string(),
            Some(6),
            Some(7)
        )
    );
}

#[test]
fn error_label_without_value() {
    let xml = r#"<View>
  <Labels name="label" toName="text">
    <Label value="PER"/>
    <Label background="red">ORG</Label>
  </Labels>
  <Text name="text" value="$text"/>
</View>"#;
    assert_eq!(
        err_at(xml),
        (
            "<Label> in <Labels name=\"label\"> has no \"value\" attribute".to_string(),
            Some(4),
            Some(5)
        )
    );
}

#[test]
fn earliest_error_wins() {
    // The unknown toName is found after the walk, but the duplicate label below it comes later
    // in the document: the error reported is the one that comes first in the text.
    let xml = r#"<View>
  <Choices name="c" toName="missing">
    <Choice value="A"/>
    <Choice value="A"/>
  </Choices>
</View>"#;
    assert_eq!(err_at(xml).1, Some(2));
}

#[test]
fn dtd_is_rejected() {
    let xml = "<!DOCTYPE View [<!ENTITY x \"y\">]>\n<View></View>";
    let (message, line, _) = err_at(xml);
    assert!(message.starts_with("malformed XML: "), "{message}");
    assert_eq!(line, Some(1));
}
