//! Tests for locating quoted span texts: the offset unit (code points) with emoji, CJK and
//! combining characters, repeated words, the model's `start` as a hint, whitespace.

use serde_json::{Value, json};

use super::spans::Located;
use super::tests::NER;
use super::tests_output::{region_err, regions};
use super::*;

fn found(located: Located) -> (usize, usize) {
    match located {
        Located::Found(o) => (o.start, o.end),
        other => panic!("expected a free occurrence, got {other:?}"),
    }
}

/// (start, end) of every region, in order.
fn spans_of(text: &str, output: Value) -> Vec<(u64, u64)> {
    parse(NER)
        .unwrap()
        .to_regions(&output, &json!({ "text": text }))
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["value"]["start"].as_u64().unwrap(),
                r["value"]["end"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The code points `[start, end)` of a text, as Python's `text[start:end]` (and Label Studio's
/// editor) read them.
fn cut(text: &str, (start, end): (u64, u64)) -> String {
    text.chars()
        .skip(start as usize)
        .take((end - start) as usize)
        .collect()
}

#[test]
fn offsets_count_code_points_with_emoji_cjk_and_combining_marks() {
    // 🙂 is one code point (two UTF-16 units, four UTF-8 bytes); 東京 two code points; the
    // decomposed "é" (e + U+0301) two code points, one grapheme cluster; 👩‍💻 three code
    // points (woman, zero-width joiner, laptop).
    let text = "Zoë 🙂 met 東京 and Rene\u{301}e 👩\u{200d}💻 Ada.";
    let spans = spans_of(
        text,
        json!({"label": [
            {"text": "東京", "labels": ["LOC"]},
            {"text": "Rene\u{301}e", "labels": ["PER"]},
            {"text": "Ada", "labels": ["PER"]},
            {"text": "Zoë", "labels": ["PER"]}
        ]}),
    );
    assert_eq!(spans, [(10, 12), (17, 23), (28, 31), (0, 3)]);
    assert_eq!(cut(text, spans[0]), "東京");
    assert_eq!(cut(text, spans[1]), "Rene\u{301}e");
    assert_eq!(cut(text, spans[2]), "Ada");
    // The same offsets in UTF-16 units would be larger after the emoji: 11, not 10.
    let utf16_start: usize = text
        .chars()
        .take_while(|c| *c != '東')
        .map(char::len_utf16)
        .sum();
    assert_eq!(utf16_start, 11);
}

#[test]
fn repeated_words_land_on_distinct_occurrences_in_order() {
    let text = "New York, New York: the city so nice they named it twice. York!";
    let spans = spans_of(
        text,
        json!({"label": [
            {"text": "New York", "labels": ["LOC"]},
            {"text": "New York", "labels": ["LOC"]},
            {"text": "York", "labels": ["LOC"]}
        ]}),
    );
    // "York" alone goes to the occurrence no earlier span covers.
    assert_eq!(spans, [(0, 8), (10, 18), (58, 62)]);
    assert_eq!(cut(text, spans[1]), "New York");
    // Only inside earlier spans: nested spans are allowed.
    let spans = spans_of(
        "New York",
        json!({"label": [
            {"text": "New York", "labels": ["LOC"]},
            {"text": "York", "labels": ["LOC"]}
        ]}),
    );
    assert_eq!(spans, [(0, 8), (4, 8)]);
}

#[test]
fn the_models_start_only_chooses_between_occurrences() {
    let text = "Paris is not Paris, Texas; Paris is in France.";
    // Hints near the second and third occurrences pick them, even when off by a few.
    let spans = spans_of(
        text,
        json!({"label": [
            {"text": "Paris", "labels": ["LOC"], "start": 25},
            {"text": "Paris", "labels": ["LOC"], "start": 10},
            {"text": "Paris", "labels": ["LOC"], "start": 10}
        ]}),
    );
    assert_eq!(spans, [(27, 32), (13, 18), (0, 5)]);
    // A wrong hint never moves a span off its text.
    let spans = spans_of(
        text,
        json!({"label": [{"text": "France", "labels": ["LOC"], "start": 2, "end": 3}]}),
    );
    assert_eq!(spans, [(39, 45)]);
    assert_eq!(cut(text, spans[0]), "France");
}

#[test]
fn locator_ties_repeats_and_absence() {
    let mut l = SpanLocator::new("ab ab ab");
    // A hint halfway between two occurrences takes the earlier.
    assert_eq!(found(l.locate("ab", Some(4))), (3, 5));
    assert_eq!(found(l.locate("ab", None)), (0, 2));
    assert_eq!(found(l.locate("ab", None)), (6, 8));
    // All taken: the nearest is reported as a repeat.
    assert_eq!(
        l.locate("ab", Some(7)),
        Located::Repeated(Occurrence { start: 6, end: 8 })
    );
    assert_eq!(l.locate("zz", None), Located::Absent);
    assert_eq!(l.locate("", None), Located::Absent);
    // Overlapping occurrences are found.
    let mut l = SpanLocator::new("aaa");
    assert_eq!(
        l.occurrences("aa"),
        [
            Occurrence { start: 0, end: 2 },
            Occurrence { start: 1, end: 3 }
        ]
    );
}

#[test]
fn whitespace_differences_are_forgiven_and_mapped_back() {
    let text = "Acme\n   Corporation hired  Jane\tDoe.";
    let spans = spans_of(
        text,
        json!({"label": [
            {"text": "Acme Corporation", "labels": ["ORG"]},
            {"text": " Jane Doe ", "labels": ["PER"]}
        ]}),
    );
    assert_eq!(cut(text, spans[0]), "Acme\n   Corporation");
    assert_eq!(cut(text, spans[1]), "Jane\tDoe");
    // An exact match wins over a collapsed one.
    let mut l = SpanLocator::new("a  b a b");
    assert_eq!(found(l.locate("a b", None)), (5, 8));
}

#[test]
fn dropped_spans_name_their_text() {
    let c = parse(NER)
        .unwrap()
        .convert(
            &json!({"label": [
                {"text": "Mars", "labels": ["LOC"]},
                {"text": "Earth", "labels": ["LOC"]}
            ]}),
            &json!({"text": "Hello Earth"}),
        )
        .unwrap();
    assert_eq!(c.regions.len(), 1);
    assert_eq!(
        c.dropped,
        [DroppedSpan {
            control: "label".into(),
            text: "Mars".into(),
            reason: "absent"
        }]
    );
}

#[test]
fn regions_spans_located_from_text() {
    let data = json!({"text": "John met Mary. John left."});
    let out = regions(
        NER,
        json!({"label": [
            {"text": "John", "labels": ["PER"]},
            {"text": "Mary", "labels": "PER"},
            {"text": "John", "label": ["PER"]},
            {"start": 0, "end": 4, "labels": ["PER"]}
        ]}),
        data,
    );
    let spans: Vec<(u64, u64)> = out
        .iter()
        .map(|r| {
            (
                r["value"]["start"].as_u64().unwrap(),
                r["value"]["end"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(spans, [(0, 4), (9, 13), (15, 19), (0, 4)]);
    assert!(out.iter().all(|r| r["value"].get("text").is_none()));
}

#[test]
fn regions_repeated_text_beyond_its_occurrences() {
    // Two occurrences: the first two spans take them; the third repeats one with the same
    // labels and is dropped as a duplicate; the fourth (another label) stacks on the first.
    let config = parse(NER).unwrap();
    let converted = config
        .convert(
            &json!({"label": [
                {"text": "Acme", "labels": ["ORG"]},
                {"text": "Acme", "labels": ["ORG"]},
                {"text": "Acme", "labels": ["ORG"]},
                {"text": "Acme", "labels": ["LOC"]}
            ]}),
            &json!({"text": "Acme and Acme"}),
        )
        .unwrap();
    let starts: Vec<&Value> = converted
        .regions
        .iter()
        .map(|r| &r["value"]["start"])
        .collect();
    assert_eq!(starts, [&json!(0), &json!(9), &json!(0)]);
    assert_eq!(converted.dropped.len(), 1);
    assert_eq!(converted.dropped[0].reason, "duplicate");
    assert_eq!(converted.dropped[0].text, "Acme");
    assert_eq!(converted.dropped[0].control, "label");
}

#[test]
fn regions_span_offsets_are_chars() {
    // "Zoë" and the emoji are multi-byte: offsets count code points, like Python.
    let out = regions(
        NER,
        json!({"label": [{"text": "Paris", "labels": ["LOC"]}]}),
        json!({"text": "Zoë 🙂 in Paris"}),
    );
    assert_eq!(
        out[0]["value"],
        json!({"start": 9, "end": 14, "labels": ["LOC"]})
    );
    // Given offsets are checked against the length in characters (14 here).
    let ok = regions(
        NER,
        json!({"label": [{"start": 9, "end": 14, "labels": ["LOC"]}]}),
        json!({"text": "Zoë 🙂 in Paris"}),
    );
    assert_eq!(ok[0]["value"]["end"], json!(14));
    let c = parse(NER)
        .unwrap()
        .convert(
            &json!({"label": [{"start": 9, "end": 15, "labels": ["LOC"]}]}),
            &json!({"text": "Zoë 🙂 in Paris"}),
        )
        .unwrap();
    assert!(c.regions.is_empty());
    assert_eq!(c.dropped[0].reason, "no_text");
}

#[test]
fn regions_span_errors_and_drops() {
    let data = json!({"text": "John met Mary."});
    let err = |output: Value| region_err(NER, output, data.clone());
    // The labels are the schema's enum: anything else fails the whole output.
    assert!(err(json!({"label": [{"text": "John", "labels": ["CAT"]}]})).contains("CAT"));
    assert!(err(json!({"label": [{"text": "John"}]})).contains("none of the keys"));
    assert!(err(json!({"label": [{"text": "John", "labels": []}]})).contains("no label"));
    assert!(err(json!({"label": ["PER"]})).contains("must be objects"));
    assert!(
        err(json!({"label": [{"text": "John", "labels": ["PER"]}, "x"]}))
            .contains("only labels or only objects")
    );
    // A span that cannot be placed is dropped, not a failure; the rest stands.
    let dropped = |output: Value, data: Value| {
        let c = parse(NER).unwrap().convert(&output, &data).unwrap();
        (
            c.regions.len(),
            c.dropped.iter().map(|d| d.reason).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        dropped(
            json!({"label": [{"text": "Bob", "labels": ["PER"]}, {"text": "Mary", "labels": ["PER"]}]}),
            data.clone()
        ),
        (1, vec!["absent"])
    );
    // No text and no usable offsets: dropped.
    for span in [
        json!({"labels": ["PER"]}),
        json!({"start": 4, "end": 4, "labels": ["PER"]}),
        json!({"start": -1, "end": 4, "labels": ["PER"]}),
        json!({"start": 0.5, "end": 4, "labels": ["PER"]}),
        json!({"text": "  ", "labels": ["PER"]}),
    ] {
        assert_eq!(
            dropped(json!({"label": [span.clone()]}), data.clone()),
            (0, vec!["no_text"]),
            "{span}"
        );
    }
    // No source text: a quote cannot be located (dropped); explicit offsets are kept as given.
    assert_eq!(
        dropped(
            json!({"label": [{"text": "John", "labels": ["PER"]}]}),
            json!({})
        ),
        (0, vec!["absent"])
    );
    let out = regions(
        NER,
        json!({"label": [{"start": 100, "end": 104, "labels": ["PER"]}]}),
        json!({"text": 5}),
    );
    assert_eq!(out[0]["value"]["start"], json!(100));
    // Every span dropped: no region, and no error either.
    assert_eq!(
        dropped(json!({"label": [{"text": "Zed", "labels": ["PER"]}]}), data),
        (0, vec!["absent"])
    );
}
