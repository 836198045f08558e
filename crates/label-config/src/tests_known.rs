//! Tags and attributes Label Studio does not know: an unknown tag is an error naming the
//! nearest known one, an unknown attribute a warning, and Label Studio's own configs pass clean.

use super::known::{self, nearest, tag_names};
use super::tests::{
    DYNAMIC_CHOICES, IMAGE_BBOX, MULTI_CHOICE, NER, NESTED_VIEWS, NUMBER, RATING, SEVERAL_CONTROLS,
    SUMMARIZATION, TEXT_CLASSIFICATION, TWO_OBJECTS,
};
use super::*;

fn error_of(xml: &str) -> LabelConfigError {
    match parse(xml) {
        Ok(config) => panic!("expected an error, parsed {config:?}"),
        Err(e) => e,
    }
}

fn warnings_of(xml: &str) -> Vec<String> {
    parse(xml)
        .unwrap_or_else(|e| panic!("{e}"))
        .warnings
        .into_iter()
        .map(|w| w.to_string())
        .collect()
}

const TYPO: &str = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
    <Choice value="Negative"/>
    <Choise value="Neutral"/>
  </Choices>
</View>"#;

#[test]
fn a_misspelt_choice_is_refused_with_the_nearest_tag() {
    let e = error_of(TYPO);
    assert_eq!(e.message, "unknown tag <Choise>: did you mean Choice?");
    assert_eq!((e.line, e.column), (Some(6), Some(5)));
    // Stored before tags were checked, the config still reads (two classes) and says why.
    let stored = parse_tolerant(TYPO).unwrap();
    assert_eq!(stored.output_classes(), vec!["Positive", "Negative"]);
    assert_eq!(
        stored.warnings[0].to_string(),
        "line 6, column 5: unknown tag <Choise>: did you mean Choice?"
    );
}

#[test]
fn unknown_tags_in_any_place_and_case() {
    let e = error_of(r#"<View><text name="t" value="$t"/></View>"#);
    assert_eq!(
        e.message,
        "unknown tag <text>: did you mean Text? (tag names are case-sensitive)"
    );
    let e = error_of(
        r#"<View><Text name="t" value="$t"/><Lables name="l" toName="t"><Label value="A"/></Lables></View>"#,
    );
    assert_eq!(e.message, "unknown tag <Lables>: did you mean Labels?");
    let e = error_of(r#"<View><Zqxwvut/></View>"#);
    assert_eq!(
        e.message,
        "unknown tag <Zqxwvut>: Label Studio has no such tag"
    );
    // The first unknown tag in the document is the one named.
    let e = error_of("<View>\n<Hedaer value=\"x\"/>\n<Veiw/>\n</View>");
    assert_eq!(e.message, "unknown tag <Hedaer>: did you mean Header?");
    assert_eq!(e.line, Some(2));
    // A very long name is named shortened, with no suggestion.
    let long = "Q".repeat(500);
    let e = error_of(&format!("<View><{long}/></View>"));
    assert!(
        e.message.contains('…') && e.message.len() < 200,
        "{}",
        e.message
    );
}

#[test]
fn html_inside_hypertext_is_data_not_config() {
    let xml = r#"<View>
  <HyperText name="intro" value="$intro"><p>Read the <b>email</b> below.</p></HyperText>
  <HyperText name="html" value="$html"/>
  <Labels name="ner" toName="html"><Label value="PER"/></Labels>
</View>"#;
    let config = parse(xml).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn every_tag_prompter_treats_specially_is_known() {
    for tag in OBJECT_TAGS
        .iter()
        .chain(CONTROL_TAGS)
        .chain(LAYOUT_TAGS)
        .chain(LABEL_TAGS)
        .chain(TEXT_OBJECT_TAGS)
        .chain(UNBOUND_CONTROL_TAGS)
    {
        assert!(known::spec(tag).is_some(), "{tag} is not in the known tags");
    }
    let mut names: Vec<&str> = tag_names().collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "a tag is listed twice");
}

#[test]
fn label_studio_style_configs_have_no_warnings() {
    for xml in [
        TEXT_CLASSIFICATION,
        NER,
        MULTI_CHOICE,
        SUMMARIZATION,
        RATING,
        NUMBER,
        NESTED_VIEWS,
        SEVERAL_CONTROLS,
        TWO_OBJECTS,
        IMAGE_BBOX,
        DYNAMIC_CHOICES,
    ] {
        assert_eq!(warnings_of(xml), Vec::<String>::new(), "{xml}");
    }
}

#[test]
fn unknown_attributes_are_warnings_with_a_suggestion() {
    let xml = r#"<View>
  <Text name="text" value="$text" valueTyp="text"/>
  <Choices name="sentiment" toName="text" choise="multiple" showInLine="true" colour="red">
    <Choice value="A" hotky="a"/>
  </Choices>
</View>"#;
    assert_eq!(
        warnings_of(xml),
        vec![
            r#"line 2, column 35: <Text name="text">: unknown attribute "valueTyp": did you mean "valueType"?"#,
            r#"line 3, column 43: <Choices name="sentiment">: unknown attribute "choise": did you mean "choice"?"#,
            r#"line 3, column 79: <Choices name="sentiment">: unknown attribute "colour"; Label Studio ignores it"#,
            r#"line 4, column 23: <Choice>: unknown attribute "hotky": did you mean "hotkey"?"#,
        ]
    );
    // Tags whose attributes Prompter does not list are not second-guessed.
    assert!(
        warnings_of(r#"<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i" anything="1"><Label value="Car"/></RectangleLabels></View>"#)
            .is_empty()
    );
}

#[test]
fn attributes_prompter_reads_must_have_their_exact_case() {
    // Label Studio's editor reads `showInLine` as `showInline`: no warning.
    assert!(warnings_of(TEXT_CLASSIFICATION).is_empty());
    // `toname` is not read, so the control has no toName: the error says why.
    let e = error_of(
        r#"<View><Text name="text" value="$text"/><Choices name="s" toname="text"><Choice value="A"/></Choices></View>"#,
    );
    assert_eq!(
        e.message,
        r#"control tag <Choices name="s"> has no "toName" attribute (it has "toname": attribute names are case-sensitive, write "toName")"#
    );
    let e = error_of(
        r#"<View><Text name="text" value="$text"/><Choices name="s" toName="text"><Choice value="B"/><Choice Value="A"/></Choices></View>"#,
    );
    assert!(e.message.ends_with(r#"write "value")"#), "{}", e.message);
    // Where the attribute is optional, a warning.
    assert_eq!(
        warnings_of(
            r#"<View><Text name="t" value="$t"/><Choices name="s" toName="t"><Choice value="A" Alias="a"/></Choices></View>"#
        ),
        vec![
            r#"line 1, column 81: <Choice>: attribute "Alias" is not read: write it "alias" (attribute names are case-sensitive here)"#
        ]
    );
}

#[test]
fn a_choice_outside_its_control_is_not_a_class() {
    let xml = r#"<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text">
    <Choice value="Positive"/>
  </Choices>
  <Choice value="Negative"/>
</View>"#;
    let config = parse(xml).unwrap();
    assert_eq!(config.output_classes(), vec!["Positive"]);
    assert_eq!(
        config.warnings[0].to_string(),
        r#"line 6, column 3: <Choice value="Negative"> is not inside a Choices, Labels, Taxonomy or Relations tag, so it is not one of the classes"#
    );
}

#[test]
fn warnings_are_capped() {
    let attrs: String = (0..40).map(|i| format!(" junk{i}=\"x\"")).collect();
    let xml = format!(r#"<View><Header value="h"{attrs}/></View>"#);
    let config = parse(&xml).unwrap();
    assert_eq!(config.warnings.len(), MAX_WARNINGS);
    assert!(config.warnings[0].message.contains("junk0"));
}

#[test]
fn nearest_spellings() {
    assert_eq!(nearest("Choise", tag_names()), Some("Choice"));
    assert_eq!(nearest("Choises", tag_names()), Some("Choices"));
    assert_eq!(nearest("Lable", tag_names()), Some("Label"));
    assert_eq!(nearest("Txt", tag_names()), Some("Text"));
    assert_eq!(nearest("TEXTAREA", tag_names()), Some("TextArea"));
    assert_eq!(nearest("Rectangel", tag_names()), Some("Rectangle"));
    assert_eq!(nearest("Banana", tag_names()), None);
    assert_eq!(nearest("", tag_names()), None);
}
