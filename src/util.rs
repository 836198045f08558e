//! Small helpers shared by views and services.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

pub mod url;

/// For PATCH bodies: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
/// Use with `#[serde(default, deserialize_with = "crate::util::double_option")]`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// A JSON object, for body fields the API documents as objects: serde refuses any other JSON
/// type with a 400 naming the field, so nothing stored can break the documented shape.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// For `Option<Value>` body fields that take a list or an object (Label Studio's `neighbors`):
/// `null` is `None`, other JSON types are refused. Use with
/// `#[serde(default, deserialize_with = "crate::util::list_or_object")]`.
pub fn list_or_object<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(de)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_))) => Ok(Some(v)),
        Some(other) => Err(D::Error::custom(format!(
            "Expected a list or an object, got {}.",
            json_type(&other)
        ))),
    }
}

/// The OpenAPI schema of a [`list_or_object`] field: an array, an object or null.
pub fn list_or_object_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type};
    let any = ObjectBuilder::new().schema_type(SchemaType::AnyValue);
    OneOfBuilder::new()
        .item(ArrayBuilder::new().items(any))
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object)))
        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
        .build()
        .into()
}

/// The JSON type of `value`, in words, for messages.
pub fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Django's `timesince`: the age of `t` in its two largest units, e.g. `"2 hours, 5 minutes"`.
pub fn created_ago(t: DateTime<Utc>) -> String {
    let secs = (Utc::now() - t).num_seconds().max(0);
    const UNITS: [(i64, &str); 6] = [
        (365 * 24 * 3600, "year"),
        (30 * 24 * 3600, "month"),
        (7 * 24 * 3600, "week"),
        (24 * 3600, "day"),
        (3600, "hour"),
        (60, "minute"),
    ];
    let plural = |n: i64, unit: &str| format!("{n}\u{a0}{unit}{}", if n == 1 { "" } else { "s" });
    for (i, (size, unit)) in UNITS.iter().enumerate() {
        let n = secs / size;
        if n > 0 {
            let mut out = plural(n, unit);
            if let Some((next_size, next_unit)) = UNITS.get(i + 1) {
                let m = (secs % size) / next_size;
                if m > 0 {
                    out.push_str(", ");
                    out.push_str(&plural(m, next_unit));
                }
            }
            return out;
        }
    }
    plural(0, "minute")
}

/// The current time at microsecond precision, as Label Studio and PostgreSQL keep it, so a
/// value reads back exactly as it was returned on every database.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// Removes NUL characters from every string and key of `value`. Text Prompter stores from
/// outside a client's request (model answers, Label Studio's data) goes through this, since
/// PostgreSQL cannot store NUL; clients' own bodies are refused instead (see `extract`).
pub fn strip_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let entries = std::mem::take(map);
                map.extend(entries.into_iter().map(|(k, v)| (k.replace('\0', ""), v)));
            }
            map.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

/// The message of every refusal of a NUL character.
pub const NUL_MESSAGE: &str = "Null characters are not allowed.";

/// The message of every refusal of a number a JSON column cannot give back.
pub const NUMBER_RANGE_MESSAGE: &str =
    "This number is out of the range that can be stored (about 1.7e308 at most).";

/// A JSON number that a JSON column of either database gives back as it was written.
/// PostgreSQL keeps a `jsonb` number as `numeric` and writes it back in full positional form
/// (`1.7976931348623157e308` comes back as a 309-digit integer); serde_json's parser (without
/// `float_roundtrip`) rounds such a long integer past `f64::MAX` and fails with "number out
/// of range", so a row holding it could never be read again. A number is storable when its
/// positional form parses back.
pub fn number_storable(number: &serde_json::Number) -> bool {
    let Some(f) = number.as_f64().filter(|_| number.is_f64()) else {
        return true; // i64 and u64 read back exactly.
    };
    // Only numbers whose positional form is long can fail; skip the work for the rest.
    if f == 0.0 || (1e-5..1e16).contains(&f.abs()) {
        return true;
    }
    serde_json::from_str::<serde_json::Value>(&format!("{f}")).is_ok()
}

/// Where `value` holds something a JSON column cannot store or give back (a NUL character in a
/// string or key, a number out of [`number_storable`]'s range), as the field path under `path`
/// (`model_params.extra.x`, `[3].data.text`) and the message; `None` when all is storable.
/// The one check of every JSON value written to a JSON column, on both databases.
pub fn unstorable_json(value: &serde_json::Value, path: &str) -> Option<(String, &'static str)> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some((path.to_string(), NUL_MESSAGE)),
        Value::Number(n) if !number_storable(n) => Some((path.to_string(), NUMBER_RANGE_MESSAGE)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| unstorable_json(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let key = if path.is_empty() {
                k.replace('\0', "\\u0000")
            } else {
                format!("{path}.{}", k.replace('\0', "\\u0000"))
            };
            if k.contains('\0') {
                Some((key, NUL_MESSAGE))
            } else {
                unstorable_json(v, &key)
            }
        }),
        _ => None,
    }
}

/// [`unstorable_json`] as a 400 naming the field (`non_field_errors` for the root).
pub fn check_storable_json(
    value: &serde_json::Value,
    path: &str,
) -> Result<(), crate::error::ApiError> {
    match unstorable_json(value, path) {
        None => Ok(()),
        Some((field, message)) => {
            let field = if field.is_empty() {
                "non_field_errors".to_string()
            } else {
                field
            };
            Err(crate::error::ApiError::field(&field, message))
        }
    }
}

/// Makes `value` storable in a JSON column of both databases: NUL characters removed (see
/// [`strip_nul`]) and numbers that a column cannot give back (see [`number_storable`])
/// replaced by `null`. For values Prompter stores from outside a client's request (model
/// answers, Label Studio's data); clients' own bodies are refused instead.
pub fn make_storable(value: &mut serde_json::Value) {
    use serde_json::Value;
    strip_nul(value);
    fn numbers(value: &mut Value) {
        match value {
            Value::Number(n) if !number_storable(n) => *value = Value::Null,
            Value::Array(items) => items.iter_mut().for_each(numbers),
            Value::Object(map) => map.values_mut().for_each(numbers),
            _ => {}
        }
    }
    numbers(value);
}

/// Splits `items` into vectors of at most `size` (for bulk inserts under bind limits).
pub fn chunked<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = vec![];
    let mut iter = items.into_iter().peekable();
    while iter.peek().is_some() {
        out.push(iter.by_ref().take(size.max(1)).collect());
    }
    out
}

/// Case-insensitive substring match of `column` against `needle`, with `%`, `_` and `\`
/// taken literally (an explicit `ESCAPE`, which SQLite needs).
pub fn icontains<C: sea_orm::ColumnTrait>(column: C, needle: &str) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
    let escaped = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Func::lower(Expr::col(column)).like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// Applies a DRF `ordering` value (`title,-created_at`) over the named `columns`, ignoring
/// unknown names. Returns the query and whether any ordering was applied.
pub fn order_by<E: sea_orm::EntityTrait>(
    mut query: sea_orm::Select<E>,
    ordering: Option<&str>,
    columns: &[(&str, E::Column)],
) -> (sea_orm::Select<E>, bool) {
    use sea_orm::QueryOrder;
    let mut ordered = false;
    for key in ordering
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let (desc, name) = key.strip_prefix('-').map_or((false, key), |n| (true, n));
        let Some((_, column)) = columns.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        query = if desc {
            query.order_by_desc(*column)
        } else {
            query.order_by_asc(*column)
        };
        ordered = true;
    }
    (query, ordered)
}

/// Installs rustls' ring crypto provider for the process; it lives with the HTTP clients in
/// the `outbound` crate.
pub use crate::outbound::install_tls;

/// The length of `value` as JSON text, counted without building the text (0 if it cannot be
/// written): a row's size for `db::rows_within`, a limit's measure.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_nul_cleans_values_and_keys() {
        let mut value = serde_json::json!({"a\u{0}b": ["x\u{0}", {"k": "\u{0}"}], "n": 1});
        strip_nul(&mut value);
        assert_eq!(value, serde_json::json!({"ab": ["x", {"k": ""}], "n": 1}));
    }

    #[test]
    fn numbers_postgresql_gives_back_unreadable_are_found() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"a": [1, 2.5, 1e300, 5e-324, -1e308], "b": {"x": 1.7976931348623157e308}}"#,
        )
        .expect("json");
        let (path, message) = unstorable_json(&value, "model_params").expect("found");
        assert_eq!(path, "model_params.b.x");
        assert_eq!(message, NUMBER_RANGE_MESSAGE);
        let negative: serde_json::Value =
            serde_json::from_str("[-1.7976931348623157e308]").expect("json");
        assert_eq!(
            unstorable_json(&negative, "").map(|f| f.0).as_deref(),
            Some("[0]")
        );
        let fine =
            serde_json::json!({"n": [0, -0.0, 1e22, 18446744073709551615u64, i64::MIN, 0.1]});
        assert!(unstorable_json(&fine, "").is_none());
        let nul = serde_json::json!({"k": ["ok", "a\u{0}"]});
        assert_eq!(
            unstorable_json(&nul, "").map(|f| f.0).as_deref(),
            Some("k[1]")
        );
    }

    #[test]
    fn make_storable_nulls_unreadable_numbers_and_strips_nul() {
        let mut value: serde_json::Value =
            serde_json::from_str(r#"{"a\u0000": [1.7976931348623157e308, 2.5, "x\u0000"]}"#)
                .expect("json");
        make_storable(&mut value);
        assert_eq!(value, serde_json::json!({"a": [null, 2.5, "x"]}));
    }

    #[test]
    fn created_ago_reads_like_django() {
        assert_eq!(created_ago(Utc::now()), "0\u{a0}minutes");
        let t = Utc::now() - chrono::Duration::seconds(2 * 3600 + 5 * 60 + 3);
        assert_eq!(created_ago(t), "2\u{a0}hours, 5\u{a0}minutes");
    }
}
