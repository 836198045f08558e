//! The stylesheet and the page script, embedded and served with a content hash in their URL
//! (`/static/app.<hash>.css`), so browsers may keep them for a year.
use actix_web::{HttpResponse, web};
use std::sync::OnceLock;

const CSS: &str = include_str!("static/app.css");
const JS: &str = include_str!("static/app.js");

/// The URLs of the assets, with the hash of their content.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssetUrls {
    /// The stylesheet.
    pub css: String,
    /// The script.
    pub js: String,
}

/// The asset URLs (computed once).
pub fn urls() -> &'static AssetUrls {
    static URLS: OnceLock<AssetUrls> = OnceLock::new();
    URLS.get_or_init(|| AssetUrls {
        css: format!("/static/app.{}.css", short_hash(CSS)),
        js: format!("/static/app.{}.js", short_hash(JS)),
    })
}

fn short_hash(text: &str) -> String {
    crate::crypto::hash_token(text)[..12].to_string()
}

/// Registers `/static/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(asset));
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    let urls = urls();
    let path = format!("/static/{file}");
    let (body, kind) = if path == urls.css {
        (CSS, "text/css; charset=utf-8")
    } else if path == urls.js {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("Not found.");
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header(("cache-control", "public, max-age=31536000, immutable"))
        .body(body)
}
