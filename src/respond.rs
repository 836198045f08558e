//! The typed responses of the API's handlers: a handler returns `ApiResult<Json<View>>` for a
//! 200, or one of the small responders here for the other shapes, and never builds a body by
//! hand. Each responder writes exactly what `HttpResponse::…().json(…)` wrote before
//! (`serde_json` body, `Content-Type: application/json`), so the wire is unchanged.
use crate::pagination::Page;
use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::Serialize;

pub use actix_web::Either;
pub use actix_web::web::Json;

/// 201 Created with the new object as JSON.
#[derive(Debug)]
pub struct Created<T>(pub T);

impl<T: Serialize> Responder for Created<T> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        HttpResponse::Created().json(self.0)
    }
}

/// 202 Accepted with the started (or still running) job as JSON.
#[derive(Debug)]
pub struct Accepted<T>(pub T);

impl<T: Serialize> Responder for Accepted<T> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        HttpResponse::Accepted().json(self.0)
    }
}

/// 204 No Content, with an empty body.
#[derive(Debug, Clone, Copy)]
pub struct NoContent;

impl Responder for NoContent {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}

/// A page of a list that Label Studio (or an earlier Prompter) answers as a bare JSON array:
/// the array stays the body, so clients that read it keep working; the total is in
/// `X-Total-Count` and the neighbouring pages in a `Link` header (`rel="next"`/`"prev"`).
#[derive(Debug)]
pub struct Paged<T> {
    items: Vec<T>,
    count: u64,
    links: Vec<String>,
}

impl<T> Paged<T> {
    /// Page `page` of a list of `count` items, its links built from the request's own URL.
    pub fn new(req: &HttpRequest, page: Page, count: u64, items: Vec<T>) -> Paged<T> {
        let (next, previous) = crate::pagination::page_links(req, page, count);
        let links = next
            .map(|n| format!("<{n}>; rel=\"next\""))
            .into_iter()
            .chain(previous.map(|p| format!("<{p}>; rel=\"prev\"")))
            .collect();
        Paged {
            items,
            count,
            links,
        }
    }
}

impl<T: Serialize> Responder for Paged<T> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        response.insert_header(("X-Total-Count", self.count.to_string()));
        if !self.links.is_empty() {
            response.insert_header(("Link", self.links.join(", ")));
        }
        response.json(self.items)
    }
}
