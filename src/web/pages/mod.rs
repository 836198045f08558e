//! The pages, one module per area, and the JSON endpoints their script calls (under `/app/`).
use actix_web::web;
use serde::Serialize;

mod account;
mod audit;
mod connections;
mod evaluation;
mod import;
mod jobs;
mod label_studio;
mod members;
mod optimize;
mod projects;
mod prompts;
mod refine;
mod registry;
mod runs;
mod trust;
mod webhooks;

/// Registers every page.
pub fn configure(cfg: &mut web::ServiceConfig) {
    account::configure(cfg);
    connections::configure(cfg);
    projects::configure(cfg);
    import::configure(cfg);
    prompts::configure(cfg);
    runs::configure(cfg);
    trust::configure(cfg);
    evaluation::configure(cfg);
    refine::configure(cfg);
    optimize::configure(cfg);
    registry::configure(cfg);
    label_studio::configure(cfg);
    members::configure(cfg);
    jobs::configure(cfg);
    audit::configure(cfg);
    webhooks::configure(cfg);
}

/// Rows per page of the app's tables.
pub const PAGE_SIZE: u64 = 50;

/// The page request of a `?page=` value (the first page when absent or invalid).
pub fn page_request(page: Option<&str>) -> crate::pagination::PageRequest {
    crate::pagination::PageRequest::parse(page, None, PAGE_SIZE, PAGE_SIZE)
        .unwrap_or_else(|_| crate::pagination::PageRequest::nth(1, PAGE_SIZE))
}

/// How many pages `count` rows fill.
pub fn pages(count: u64) -> u64 {
    crate::pagination::last_page(count, PAGE_SIZE)
}

/// What the `pager` macro reads: the page shown, how many there are and the URL a page
/// number is appended to (ending in `?` or `&`).
#[derive(Debug, Serialize)]
pub struct Pager {
    /// The page shown, from 1.
    page: u64,
    /// How many pages `count` rows fill.
    pages: u64,
    /// The URL the next or previous page's `page=` is appended to.
    page_base: String,
}

impl Pager {
    /// Page `page` of `count` rows, linked as `page_base` followed by `page=`.
    pub fn new(page: u64, count: u64, page_base: impl Into<String>) -> Pager {
        Pager {
            page,
            pages: pages(count),
            page_base: page_base.into(),
        }
    }
}

/// Something a page names and links to: its id and title.
#[derive(Debug, Serialize)]
pub struct Link {
    /// Its id.
    pub id: i64,
    /// Its title.
    pub title: String,
}

/// Something a page names without linking to it.
#[derive(Debug, Serialize)]
pub struct Titled {
    /// Its title.
    pub title: String,
}

/// A one-line summary of a task's data for tables: its text fields joined, at most 160
/// characters.
pub fn summary(data: &serde_json::Value) -> String {
    let text = match data {
        serde_json::Value::Object(map) => map
            .values()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    };
    let mut short: String = text.chars().take(160).collect();
    if text.chars().count() > 160 {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summarizes_task_data() {
        assert_eq!(summary(&json!({"text": "hello", "n": 3})), "hello · 3");
        let long = "x".repeat(200);
        assert_eq!(summary(&json!({ "text": long })).chars().count(), 161);
        assert_eq!(pages(0), 1);
        assert_eq!(pages(101), 3);
    }
}
