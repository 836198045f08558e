//! The layering rule of `src/lib.rs`, checked over the source: a module names only modules of
//! its own layer or of the layers below (`crate::x` paths and the workspace crates by their own
//! names, test modules included: test code may also use the test helpers of [`TEST_HELPERS`],
//! nothing else above it), and the front ends never name one another. The building blocks under
//! `crates/` (`outbound`, `llm`, `label_config`, `fake_llm`) are crates of their own: the compiler
//! already keeps them from naming the service, and [`crates_depend_only_on_crates_below_them`]
//! checks that their manifests name no crate of a layer above (nor the service). Run with
//! `cargo test --test layers`; `LAYERS_GRAPH=1` prints the module graph.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, from the top. A module may use its own layer and those below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "entry points",
        &["main", "lib", "cli", "startup", "openapi", "fake_llm"],
    ),
    (
        "front ends",
        &["routes", "web", "ml_backend", "extract", "telemetry"],
    ),
    ("presenters", &["presenters", "respond", "state"]),
    ("background work", &["engine", "jobs", "label_studio"]),
    ("domain services", &["services"]),
    (
        "building blocks",
        &[
            "views",
            "llm",
            "label_config",
            "scoring",
            "stats",
            "template",
            "pricing",
            "image_tokens",
            "pagination",
            "auth",
        ],
    ),
    (
        "foundation",
        &[
            "error",
            "config",
            "crypto",
            "util",
            "db",
            "limits",
            "outbound",
            "metrics",
            "request_id",
        ],
    ),
];

/// The front ends: peers that never name one another (what two of them show comes from
/// `presenters`, what they do from `engine` and `services`).
const FRONT_ENDS: &[&str] = &["routes", "web", "ml_backend", "cli"];

/// What test code may name besides its own layer and those below: the fake LLM.
const TEST_HELPERS: &[&str] = &["fake_llm"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/engine/plan.rs` → `engine`).
fn owner(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative
        .components()
        .next()
        .expect("a component")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

/// The file's code before its first `#[cfg(test)]` and the test code from there on (a file
/// that is itself a test module, `tests.rs` or `*_tests.rs`, is all test code).
fn split_tests<'a>(file: &Path, text: &'a str) -> (&'a str, &'a str) {
    let name = file.file_stem().map(|s| s.to_string_lossy().to_string());
    if name.is_some_and(|n| n == "tests" || n.starts_with("tests_") || n.ends_with("_tests")) {
        return ("", text);
    }
    match text.find("#[cfg(test)]") {
        Some(at) => text.split_at(at),
        None => (text, ""),
    }
}

/// The top-level modules `code` names as `crate::x`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        // `$crate::`, `other_crate::` are not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    // `use crate::{a, b::c}` lists.
    let mut rest = code;
    while let Some(at) = rest.find("crate::{") {
        rest = &rest[at + "crate::{".len()..];
        let list = rest.split('}').next().unwrap_or("");
        for item in list.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The workspace crates under `crates/`: directory, and the name code uses for it (its key
/// in `[workspace.dependencies]`, which is its lib name).
fn workspace_crates() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut out = vec![];
    for entry in std::fs::read_dir(&root).expect("read crates").flatten() {
        let dir = entry.path();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("a Cargo.toml");
        let lib = manifest
            .split("[lib]")
            .nth(1)
            .and_then(|lib| lib.lines().find(|l| l.trim_start().starts_with("name")))
            .and_then(|l| l.split('"').nth(1))
            .expect("each crate names its lib")
            .to_string();
        out.push((dir, lib));
    }
    out.sort();
    out
}

/// The workspace crates a piece of code names directly (`llm::Provider`, `use
/// outbound::Outbound`); `crate::llm` (the service's re-export) is found by [`uses`]. The caller
/// splits a file into its code and its test modules and checks each.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, name) in workspace_crates() {
        let needle = format!("{name}::");
        let mut rest = code;
        while let Some(at) = rest.find(&needle) {
            let before = rest[..at].chars().last();
            rest = &rest[at + needle.len()..];
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
                out.insert(name.clone());
            }
        }
    }
    out
}

/// The keys of a manifest's dependency tables (`[dependencies]`, `[dev-dependencies]`,
/// `[build-dependencies]`).
fn manifest_dependencies(manifest: &str) -> Vec<String> {
    let mut out = vec![];
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.ends_with("dependencies]");
            continue;
        }
        if in_deps && let Some((key, _)) = line.split_once('=') {
            let key = key.trim().split('.').next().unwrap_or("").trim();
            if !key.is_empty() && !key.starts_with('#') {
                out.push(key.to_string());
            }
        }
    }
    out
}

#[test]
fn crates_depend_only_on_crates_below_them() {
    let crates = workspace_crates();
    assert!(!crates.is_empty(), "no crate found under crates/");
    let mut wrong = vec![];
    for (dir, me) in &crates {
        let mine = layer_of(me).unwrap_or_else(|| panic!("crate {me} missing from LAYERS"));
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        if manifest.contains("path = \"../..\"") || manifest.contains("path = \"../../\"") {
            wrong.push(format!("crate {me} depends on the service"));
        }
        let deps = manifest_dependencies(&manifest);
        if std::env::var("LAYERS_GRAPH").is_ok_and(|v| v == "1") {
            let named: Vec<&str> = deps
                .iter()
                .filter(|d| crates.iter().any(|(_, n)| n == *d) || *d == "entity")
                .map(String::as_str)
                .collect();
            println!("crate {me} -> {}", named.join(" "));
        }
        for dep in deps {
            if dep == "prompter" {
                wrong.push(format!("crate {me} depends on the service"));
            }
            if let Some(theirs) = crates
                .iter()
                .find(|(_, name)| *name == dep)
                .and_then(|(_, name)| layer_of(name))
                && theirs < mine
            {
                wrong.push(format!(
                    "crate {me} ({}) depends on {dep} ({})",
                    LAYERS[mine].0, LAYERS[theirs].0
                ));
            }
        }
        let mut files = vec![];
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read");
            if text.contains("prompter::") {
                wrong.push(format!("{} names prompter::", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_layer_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    let mut upward = vec![];
    let mut peers = vec![];
    for file in &files {
        let me = owner(&src, file);
        let text = std::fs::read_to_string(file).expect("read");
        let (code, tests) = split_tests(file, &text);
        let named = uses(code)
            .into_iter()
            .chain(crate_uses(code))
            .map(|u| (u, false))
            .chain(
                uses(tests)
                    .into_iter()
                    .chain(crate_uses(tests))
                    .map(|u| (u, true)),
            );
        for (used, in_test) in named {
            if used == me {
                continue;
            }
            graph.entry(me.clone()).or_default().insert(used.clone());
            let shown = file.strip_prefix(&src).unwrap_or(file).display();
            if FRONT_ENDS.contains(&me.as_str()) && FRONT_ENDS.contains(&used.as_str()) {
                peers.push(format!(
                    "{shown} (a front end) names crate::{used} (a front end)"
                ));
            }
            if in_test && TEST_HELPERS.contains(&used.as_str()) {
                continue;
            }
            match (layer_of(&me), layer_of(&used)) {
                (Some(mine), Some(theirs)) if theirs < mine => upward.push(format!(
                    "{shown} ({}) names crate::{used} ({})",
                    LAYERS[mine].0, LAYERS[theirs].0
                )),
                (None, _) => {
                    unknown.insert(me.clone());
                }
                (_, None) => {
                    unknown.insert(used.clone());
                }
                _ => {}
            }
        }
    }
    if std::env::var("LAYERS_GRAPH").is_ok_and(|v| v == "1") {
        for (module, used) in &graph {
            let used: Vec<&str> = used.iter().map(String::as_str).collect();
            println!("{module} -> {}", used.join(" "));
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS: {unknown:?}"
    );
    assert!(
        peers.is_empty(),
        "front ends that name one another:\n{}",
        peers.join("\n")
    );
    assert!(
        upward.is_empty(),
        "imports that point up a layer:\n{}",
        upward.join("\n")
    );
}
