//! The user message of a task: the version's prompt rendered with the task's data, the fields
//! that object tags show as images (`<Image value="$image"/>`, `valueList` too; see
//! [`LabelConfig::image_keys`](crate::label_config::LabelConfig::image_keys)) as image parts
//! where the prompt names them, and the images it does not name after the text, so the model
//! sees every image the labeling interface shows.
use crate::llm::{ImageSource, Part};
use crate::template::{self, Piece, TemplateError};
use serde_json::Value;
use std::collections::HashSet;

/// The parts of the user message for `data`: `hint` first (when given), the rendered
/// `template`, then the images of `image_keys` the template does not name. Images are
/// [`ImageSource::Url`] of the data's raw values, to be resolved before the call.
pub fn user_parts(
    template_text: &str,
    data: &Value,
    image_keys: &[String],
    hint: Option<&str>,
) -> Result<Vec<Part>, TemplateError> {
    let is_image = |key: &str| image_keys.iter().any(|k| k == key);
    let mut parts = vec![];
    if let Some(hint) = hint.map(str::trim).filter(|h| !h.is_empty()) {
        parts.push(Part::Text(format!("{hint}\n\n")));
    }
    for piece in template::render_pieces(template_text, data, is_image)? {
        match piece {
            Piece::Text(text) => parts.push(Part::Text(text)),
            Piece::Image(value) => parts.extend(image_parts(&value)),
        }
    }
    let named: HashSet<String> = template::fields(template_text)?
        .into_iter()
        .map(|f| {
            f.split(['.', '[', '!', ':'])
                .next()
                .unwrap_or(&f)
                .to_string()
        })
        .collect();
    for key in image_keys.iter().filter(|k| !named.contains(*k)) {
        if let Some(value) = data.get(key) {
            parts.extend(image_parts(value));
        }
    }
    Ok(merge_text(parts))
}

/// One unresolved image part per URL of a value (a list gives several).
fn image_parts(value: &Value) -> Vec<Part> {
    let raw = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| Part::Image(ImageSource::Url(raw(v))))
            .collect(),
        other => vec![Part::Image(ImageSource::Url(raw(other)))],
    }
}

/// Joins neighbouring text parts.
fn merge_text(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for part in parts {
        match (out.last_mut(), part) {
            (Some(Part::Text(last)), Part::Text(text)) => last.push_str(&text),
            (_, part) => out.push(part),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_go_where_the_prompt_names_them_and_the_rest_after() {
        let config = crate::label_config::parse(
            r#"<View><Image name="a" value="$photo"/><Image name="b" valueList="$pages"/>
               <Text name="t" value="$caption"/>
               <Choices name="c" toName="a"><Choice value="Cat"/><Choice value="Dog"/></Choices></View>"#,
        )
        .expect("config");
        let keys = config.image_keys();
        assert_eq!(keys, vec!["photo".to_string(), "pages".to_string()]);
        let data = json!({"photo": "http://x/p.png", "pages": ["http://x/1.png", "http://x/2.png"], "caption": "a pet"});
        let parts = user_parts(
            "Is {photo} a cat? Caption: {caption}",
            &data,
            &keys,
            Some("hint"),
        )
        .expect("parts");
        let url = |u: &str| Part::Image(ImageSource::Url(u.into()));
        assert_eq!(
            parts,
            vec![
                Part::Text("hint\n\nIs ".into()),
                url("http://x/p.png"),
                Part::Text(" a cat? Caption: a pet".into()),
                url("http://x/1.png"),
                url("http://x/2.png"),
            ]
        );
    }
}
