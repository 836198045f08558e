//! The committed OpenAPI document matches the code, and the server serves it and the docs.
use crate::helpers::TestApp;

/// Fails when `openapi/openapi.json` drifts from the code; `UPDATE_OPENAPI=1` rewrites it.
#[test]
fn committed_openapi_matches_the_code() {
    let generated = prompter::openapi::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(path, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[tokio::test]
async fn serves_the_spec_and_offline_docs() {
    let app = TestApp::spawn().await;
    let (status, spec) = app
        .send(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    assert!(spec["paths"]["/api/projects/"].is_object());
    assert!(spec["components"]["securitySchemes"]["Token"].is_object());
    // The served document is the committed one.
    let committed: serde_json::Value =
        serde_json::from_str(&prompter::openapi::openapi_json()).expect("document");
    assert_eq!(spec, committed);
    // Swagger UI reads it from there.
    let initializer = text(&app, "/docs/swagger-initializer.js").await;
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    let html = text(&app, "/docs/").await;
    assert!(html.contains("swagger"), "Swagger UI page");
}

/// The body of `GET path` as text.
async fn text(app: &TestApp, path: &str) -> String {
    reqwest::get(format!("{}{path}", app.address))
        .await
        .expect(path)
        .text()
        .await
        .expect(path)
}

/// The operations of the document, as (method, path, operation).
fn operations(spec: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = vec![];
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// Issue 12, item 1: every operation has a unique id of the form `<tag>_<action>` (generated
/// clients name their functions after it), every path parameter is in its path, and every
/// response has a description.
#[test]
fn operation_ids_are_unique_resource_actions_and_parameters_match_paths() {
    let spec: serde_json::Value =
        serde_json::from_str(&prompter::openapi::openapi_json()).expect("json");
    let mut seen = std::collections::HashSet::new();
    for (method, path, op) in operations(&spec) {
        let id = op["operationId"].as_str().expect("an operationId");
        let tag = op["tags"][0].as_str().expect("a tag");
        assert!(
            id.starts_with(&format!("{tag}_")) && id.len() > tag.len() + 1,
            "{method} {path}: operationId {id} is not <tag>_<action>"
        );
        assert!(
            seen.insert(id.to_string()),
            "{method} {path}: duplicate operationId {id}"
        );
        for p in op["parameters"].as_array().into_iter().flatten() {
            if p["in"] == "path" {
                let name = p["name"].as_str().expect("name");
                assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: path parameter {name} is not in the path"
                );
            }
        }
        for (code, response) in op["responses"].as_object().expect("responses") {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path}: response {code} has no description"
            );
        }
    }
}

/// Issue 9, item 6: the document says what the server answers. Every operation that needs a
/// token documents 401; every list with a page documents 400 (bad query values) and 404 (an
/// invalid page); every path with an id documents 404; `GET /api/version/` is public and
/// documented with its own schema.
#[test]
fn the_document_lists_the_answers_every_operation_can_give() {
    let spec: serde_json::Value =
        serde_json::from_str(&prompter::openapi::openapi_json()).expect("json");
    for (method, path, op) in operations(&spec) {
        let responses = op["responses"].as_object().expect("responses");
        let public = op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|r| r.is_empty()))
        });
        if !public {
            assert!(responses.contains_key("401"), "{method} {path}: no 401");
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let has =
            |name: &str, place: &str| params.iter().any(|p| p["name"] == name && p["in"] == place);
        if has("page", "query") {
            assert!(responses.contains_key("400"), "{method} {path}: no 400");
            assert!(responses.contains_key("404"), "{method} {path}: no 404");
        }
        if params.iter().any(|p| p["in"] == "path") {
            assert!(responses.contains_key("404"), "{method} {path}: no 404");
        }
        for (code, response) in responses {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {code}: no description"
            );
        }
    }
    let version = &spec["paths"]["/api/version/"]["get"];
    assert_eq!(version["security"], serde_json::json!([{}]));
    let schema = version["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a schema");
    let name = schema.rsplit('/').next().expect("name");
    assert!(
        spec["components"]["schemas"][name]["properties"]["release"].is_object(),
        "{name} is the server's version schema"
    );
}

/// Two Rust types with one schema name would share one component, and one of them would be
/// documented with the other's fields (as `VersionView` once was): every type that derives
/// `ToSchema` under its own name must have a name no other has.
#[test]
fn schema_names_are_unique() {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = vec![];
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    // The workspace crates (`llm` holds wire types too).
    walk(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/crates")),
        &mut files,
    );
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.contains("derive(") && line.contains("ToSchema")) {
                continue;
            }
            // The item the derive applies to: the next `pub struct`/`pub enum` line, unless a
            // `#[schema(as = ...)]` renames it.
            let mut renamed = false;
            for next in &lines[i + 1..] {
                let next = next.trim();
                if next.starts_with("#[schema(as") {
                    renamed = true;
                }
                let item = next
                    .strip_prefix("pub struct ")
                    .or_else(|| next.strip_prefix("pub enum "))
                    .or_else(|| next.strip_prefix("struct "))
                    .or_else(|| next.strip_prefix("enum "));
                if let Some(item) = item {
                    let name: String = item
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !renamed {
                        let place = format!("{}:{}", file.display(), i + 1);
                        if let Some(other) = seen.insert(name.clone(), place.clone()) {
                            panic!("schema name {name} is used twice: {other} and {place}");
                        }
                    }
                    break;
                }
            }
        }
    }
    assert!(seen.len() > 20, "the scan found the schema types");
}
