//! Tests of the OpenAI dialect: bodies under the rules, image parts, answers and errors.
use super::*;
use crate::{Message, ModelParams};

#[test]
fn azure_endpoints_give_their_api_version() {
    assert_eq!(
        split_api_version("https://x.openai.azure.com?api-version=2025-01-01-preview"),
        (
            "https://x.openai.azure.com".to_string(),
            "2025-01-01-preview".to_string()
        )
    );
    assert_eq!(
        split_api_version("https://x.openai.azure.com"),
        (
            "https://x.openai.azure.com".to_string(),
            AZURE_API_VERSION.to_string()
        )
    );
}

#[test]
fn error_pages_count_by_their_status() {
    let page = "<html>401 Authorization Required</html>".to_string();
    let not_json = || serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
    let e = map_error(
        OpenAIError::JSONDeserialize(not_json(), page.clone()),
        401,
        &HeaderMap::new(),
    );
    assert_eq!(e.error_type(), "Authentication");
    let e = map_error(
        OpenAIError::JSONDeserialize(not_json(), page.clone()),
        502,
        &HeaderMap::new(),
    );
    assert_eq!(e.error_type(), "ProviderError");
    let e = map_error(
        OpenAIError::JSONDeserialize(not_json(), page),
        200,
        &HeaderMap::new(),
    );
    assert_eq!(e.error_type(), "InvalidOutput");
}

#[test]
fn a_refused_parameter_is_named_in_the_error() {
    let e = OpenAIError::ApiError(async_openai::error::ApiErrorResponse {
        status_code: reqwest::StatusCode::BAD_REQUEST,
        api_error: async_openai::error::ApiError {
            message: "Unsupported parameter: 'temperature' is not supported with this model."
                .into(),
            r#type: Some("invalid_request_error".into()),
            param: Some("temperature".into()),
            code: Some("unsupported_parameter".into()),
            misalignment: None,
        },
    });
    let LlmError::Request { status, param, .. } = map_error(e, 400, &HeaderMap::new()) else {
        panic!("not a request error");
    };
    assert_eq!((status, param.as_deref()), (400, Some("temperature")));
}

/// The body of a call of `model` with `params`, under the OpenAI rules.
fn body_of(model: &str, messages: Vec<Message>, params: ModelParams) -> Value {
    let request = LlmRequest {
        model: model.into(),
        messages,
        schema: json!({"type": "object"}),
        params,
    };
    let rules = rules::rules(Provider::OpenAI, model, None);
    let settings = rules::settings(&rules, model, &request.params);
    body(&request, &settings).expect("a body")
}

#[test]
fn bodies_follow_the_rules() {
    let messages = vec![
        Message::new(Role::System, "sys"),
        Message::new(Role::User, "hi"),
        Message::new(Role::Assistant, "{}"),
    ];
    let params = ModelParams {
        max_tokens: Some(100),
        temperature: Some(0.7),
        extra: json!({"user": "u1", "temperature": 0.5})
            .as_object()
            .cloned(),
        ..Default::default()
    };
    let b = body_of("gpt-4o-mini", messages.clone(), params);
    assert_eq!(b["response_format"]["type"], "json_schema");
    assert_eq!(
        b["response_format"]["json_schema"]["schema"]["type"],
        "object"
    );
    assert_eq!(b["messages"][0]["role"], "system");
    assert_eq!(b["messages"][1]["content"], "hi");
    assert_eq!(b["messages"][2]["role"], "assistant");
    assert_eq!(b["max_completion_tokens"], 100);
    assert!(b.get("max_tokens").is_none());
    // extra wins over the settings.
    assert_eq!(
        (b["temperature"].clone(), b["user"].clone()),
        (json!(0.5), json!("u1"))
    );
    // A reasoning model with default settings: no sampling parameter at all.
    let b = body_of("gpt-5-mini", messages.clone(), ModelParams::default());
    for absent in [
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
    ] {
        assert!(b.get(absent).is_none(), "{absent}: {b}");
    }
    let effort = ModelParams {
        reasoning_effort: Some("minimal".into()),
        ..Default::default()
    };
    let b = body_of("o4-mini", messages, effort);
    assert_eq!(b["reasoning_effort"], "minimal");
}

#[test]
fn images_are_image_url_parts_in_order() {
    let message = Message::with_parts(
        Role::User,
        vec![
            Part::Text("Look:".into()),
            Part::Image(ImageSource::Url("https://example.com/a.png".into())),
            Part::Image(ImageSource::Inline {
                media_type: "image/jpeg".into(),
                data: "aGVsbG8=".into(),
            }),
            Part::Text("Text: hi".into()),
        ],
    );
    let b = body_of("gpt-4o", vec![message], ModelParams::default());
    assert_eq!(
        b["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Look:"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,aGVsbG8="}},
            {"type": "text", "text": "Text: hi"},
        ])
    );
}

#[test]
fn answers_are_read_with_their_usage_details() {
    let answer = json!({
        "choices": [{"message": {"content": "```json\n{\"a\": 1}\n```", "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300,
                  "prompt_tokens_details": {"cached_tokens": 1792},
                  "completion_tokens_details": {"reasoning_tokens": 256}},
    });
    let (output, usage) = read_answer(&answer).expect("an answer");
    assert_eq!(output, json!({"a": 1}));
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 2000,
            completion_tokens: 300,
            reasoning_tokens: 256,
            cached_tokens: 1792,
        }
    );
    let cut = json!({
        "choices": [{"message": {"content": "{\"a\": ["}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 64,
                  "completion_tokens_details": {"reasoning_tokens": 60}},
    });
    let e = read_answer(&cut).expect_err("cut");
    assert_eq!(e.error_type(), "InvalidOutput");
    assert!(e.to_string().contains("token limit"), "{e}");
    assert!(e.to_string().contains("60 of its 64"), "{e}");
    assert_eq!(e.usage().completion_tokens, 64);
    let refusal = json!({
        "choices": [{"message": {"content": null, "refusal": "I can't help with that."}, "finish_reason": "stop"}],
    });
    let e = read_answer(&refusal).expect_err("refused");
    assert!(
        e.to_string().contains("refused to answer: I can't help"),
        "{e}"
    );
    let filtered =
        json!({"choices": [{"message": {"content": null}, "finish_reason": "content_filter"}]});
    assert!(
        read_answer(&filtered)
            .expect_err("filtered")
            .to_string()
            .contains("content filter")
    );
}
