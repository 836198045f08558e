//! Prompt templates with Python `str.format` rules, as Label Studio's prompts are written:
//! `{field}` takes a task-data field, `{{` and `}}` are literal braces. A field that the task
//! lacks is an error naming it.
use serde_json::Value;

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{field}` names no key of the task data.
    #[error("the prompt reads {{{0}}} but the task data has no \"{0}\" field")]
    MissingField(String),
    /// A lone `{` or `}`, or an empty `{}`.
    #[error(
        "the prompt has an unmatched or empty brace at character {0}; write {{{{ or }}}} for a literal brace"
    )]
    Syntax(usize),
}

/// The field names a template reads, in order, without duplicates.
pub fn fields(template: &str) -> Result<Vec<String>, TemplateError> {
    let mut out: Vec<String> = vec![];
    walk(template, |name| {
        if !out.iter().any(|f| f == name) {
            out.push(name.to_string());
        }
        Ok(String::new())
    })?;
    Ok(out)
}

/// Renders `template` with the values of `data` (strings as they are, other JSON as JSON).
/// `field.key` and `field[0]` look inside objects and arrays, as `str.format` does.
pub fn render(template: &str, data: &Value) -> Result<String, TemplateError> {
    walk(template, |name| {
        lookup(data, name)
            .map(to_text)
            .ok_or_else(|| TemplateError::MissingField(name.to_string()))
    })
}

/// `text` as a template that renders to itself: every brace doubled.
pub fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// A piece of a rendered template: text, or the value of a field shown as an image.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Rendered text.
    Text(String),
    /// The data value of an image field (a URL, or a list of URLs), where the template names it.
    Image(Value),
}

/// Renders `template` like [`render`], except that the fields `is_image` accepts (by their
/// top-level data key) become [`Piece::Image`] pieces at their place instead of text.
pub fn render_pieces(
    template: &str,
    data: &Value,
    is_image: impl Fn(&str) -> bool,
) -> Result<Vec<Piece>, TemplateError> {
    let mut images: Vec<Value> = vec![];
    // NUL never occurs in stored text (requests with one are refused, other text is cleaned),
    // so it can mark where the images go.
    let text = walk(template, |name| {
        let value =
            lookup(data, name).ok_or_else(|| TemplateError::MissingField(name.to_string()))?;
        let key = name.split(['.', '[', '!', ':']).next().unwrap_or(name);
        if is_image(key) {
            images.push(value.clone());
            Ok("\0".to_string())
        } else {
            Ok(to_text(value))
        }
    })?;
    let mut pieces = vec![];
    let mut images = images.into_iter();
    for (i, chunk) in text.split('\0').enumerate() {
        if i > 0
            && let Some(image) = images.next()
        {
            pieces.push(Piece::Image(image));
        }
        if !chunk.is_empty() {
            pieces.push(Piece::Text(chunk.to_string()));
        }
    }
    Ok(pieces)
}

fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn lookup<'a>(data: &'a Value, name: &str) -> Option<&'a Value> {
    // `str.format` allows `a.b` and `a[0]`/`a[key]`; a conversion or format spec is ignored.
    let name = name.split(['!', ':']).next().unwrap_or(name);
    let mut current = data;
    let mut rest = name;
    let first_end = rest.find(['.', '[']).unwrap_or(rest.len());
    current = current.get(&rest[..first_end])?;
    rest = &rest[first_end..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            current = current.get(&after[..end])?;
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let key = &after[..end];
            current = match key.parse::<usize>() {
                Ok(i) if current.is_array() => current.get(i)?,
                _ => current.get(key)?,
            };
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(current)
}

fn walk(
    template: &str,
    mut field: impl FnMut(&str) -> Result<String, TemplateError>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let chars: Vec<(usize, char)> = template.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            '{' if chars.get(i + 1).is_some_and(|(_, n)| *n == '{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1).is_some_and(|(_, n)| *n == '}') => {
                out.push('}');
                i += 2;
            }
            '{' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|(_, n)| *n == '}')
                    .ok_or(TemplateError::Syntax(pos))?;
                let name: String = chars[i + 1..i + 1 + close]
                    .iter()
                    .map(|(_, ch)| *ch)
                    .collect();
                let name = name.trim();
                if name.is_empty() || name.contains('{') {
                    return Err(TemplateError::Syntax(pos));
                }
                out.push_str(&field(name)?);
                i += close + 2;
            }
            '}' => return Err(TemplateError::Syntax(pos)),
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_fields_and_escapes() {
        let data = json!({"text": "I love it", "n": 3, "meta": {"lang": "en"}, "list": ["a", "b"]});
        assert_eq!(
            render("Classify: {text}", &data).unwrap(),
            "Classify: I love it"
        );
        assert_eq!(render("{{\"json\": {n}}}", &data).unwrap(), "{\"json\": 3}");
        assert_eq!(
            render("{meta.lang} {list[1]} {meta[lang]}", &data).unwrap(),
            "en b en"
        );
        assert_eq!(render("{text!r:>10}", &data).unwrap(), "I love it");
        assert_eq!(render("no fields", &data).unwrap(), "no fields");
        assert_eq!(render("é{text}ü", &data).unwrap(), "éI love itü");
    }

    #[test]
    fn reports_missing_fields_and_bad_braces() {
        let data = json!({"text": "x"});
        assert_eq!(
            render("{title}", &data),
            Err(TemplateError::MissingField("title".into()))
        );
        assert_eq!(render("a { b", &data), Err(TemplateError::Syntax(2)));
        assert_eq!(render("a } b", &data), Err(TemplateError::Syntax(2)));
        assert_eq!(render("{}", &data), Err(TemplateError::Syntax(0)));
        assert!(
            render("{title}", &data)
                .unwrap_err()
                .to_string()
                .contains("\"title\"")
        );
    }

    #[test]
    fn image_fields_become_pieces_in_place() {
        let data = json!({"image": "http://x/a.png", "text": "hi", "more": ["u1", "u2"]});
        let pieces = render_pieces("Look: {image} and {text}. {more}", &data, |k| {
            k == "image" || k == "more"
        })
        .unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("Look: ".into()),
                Piece::Image(json!("http://x/a.png")),
                Piece::Text(" and hi. ".into()),
                Piece::Image(json!(["u1", "u2"])),
            ]
        );
        assert_eq!(
            render_pieces("{text}", &data, |_| false).unwrap(),
            vec![Piece::Text("hi".into())]
        );
    }

    #[test]
    fn lists_fields_once_in_order() {
        assert_eq!(
            fields("{b} {a} {b} {{c}}").unwrap(),
            vec!["b".to_string(), "a".to_string()]
        );
    }
}
