//! DRF page-number pagination as one validated value: a page request can only be built with a
//! page size within bounds and an offset that the databases can take, so no list query ever
//! computes `(page - 1) * size` itself.
use crate::error::{ApiError, ApiResult};

/// Offsets the database drivers accept (they bind `OFFSET` as a signed 64-bit integer).
const MAX_OFFSET: u64 = i64::MAX as u64;

/// A validated request for one page: a page number (`None` for DRF's `page=last`) and a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: Option<u64>,
    size: u64,
}

impl PageRequest {
    /// Parses DRF's `page` and `page_size` query values. An absent or empty `page` is the first
    /// page, `last` the last one; anything else must be a positive integer whose offset fits
    /// the database (else 404 "Invalid page.", as DRF answers). An absent or empty `page_size`
    /// takes `default_size`; a positive integer larger than `max_size` (however many digits)
    /// is clamped to it, as DRF does; anything else is a 400 naming `page_size`, as the API
    /// document says.
    pub fn parse(
        page: Option<&str>,
        page_size: Option<&str>,
        default_size: u64,
        max_size: u64,
    ) -> ApiResult<PageRequest> {
        let size = match page_size.map(str::trim) {
            None | Some("") => default_size,
            Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => match s.parse::<u64>() {
                Ok(0) => {
                    return Err(ApiError::field(
                        "page_size",
                        "Ensure this value is greater than or equal to 1.",
                    ));
                }
                Ok(size) => size,
                // More digits than a u64 holds: larger than any maximum.
                Err(_) => max_size,
            },
            Some(_) => {
                return Err(ApiError::field("page_size", "A valid integer is required."));
            }
        }
        .clamp(1, max_size.max(1));
        let page = match page.map(str::trim) {
            None | Some("") => Some(1),
            Some("last") => None,
            Some(p) => Some(
                p.parse::<u64>()
                    .ok()
                    .filter(|p| *p >= 1 && offset_of(*p, size).is_some())
                    .ok_or(ApiError::InvalidPage)?,
            ),
        };
        Ok(PageRequest { page, size })
    }

    /// Page `page` (1-based) of `size` items, for callers that page through a list themselves.
    pub fn nth(page: u64, size: u64) -> PageRequest {
        PageRequest {
            page: Some(page.max(1)),
            size: size.max(1),
        }
    }

    /// Items per page.
    pub fn size(self) -> u64 {
        self.size
    }

    /// Places the request over a list of `total` items: the page number served (the last page
    /// for `page=last`) and its offset. Past the last page the page is simply empty.
    pub fn locate(self, total: u64) -> Page {
        let number = self.page.unwrap_or_else(|| last_page(total, self.size));
        Page {
            number,
            size: self.size,
            // Parsed pages were checked; the last page of a real count always fits.
            offset: offset_of(number, self.size).unwrap_or(MAX_OFFSET),
        }
    }
}

/// One page placed over a list: its number, size and the offset of its first item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub number: u64,
    /// Items per page (the query's `LIMIT`).
    pub size: u64,
    /// Items before this page (the query's `OFFSET`), never above `i64::MAX`.
    pub offset: u64,
}

impl Page {
    /// There are items after this page.
    pub fn has_next(self, total: u64) -> bool {
        self.offset.saturating_add(self.size) < total
    }
}

/// `(page - 1) * size` when it fits a database offset.
fn offset_of(page: u64, size: u64) -> Option<u64> {
    page.checked_sub(1)?
        .checked_mul(size)
        .filter(|offset| *offset <= MAX_OFFSET)
}

/// The number of the last page of `count` items in pages of `size` (1 when empty).
pub fn last_page(count: u64, size: u64) -> u64 {
    count.div_ceil(size.max(1)).max(1)
}

/// The `next` and `previous` URLs of a page, built from the request's own URL.
pub fn page_links(
    req: &actix_web::HttpRequest,
    page: Page,
    count: u64,
) -> (Option<String>, Option<String>) {
    let info = req.connection_info();
    let base = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    let others: Vec<(String, String)> = url_pairs(req.query_string())
        .into_iter()
        .filter(|(k, _)| k != "page")
        .collect();
    let link = |p: u64| {
        let mut pairs = others.clone();
        if p > 1 {
            pairs.push(("page".into(), p.to_string()));
        }
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", query_value(k), query_value(v)))
            .collect();
        if query.is_empty() {
            base.clone()
        } else {
            format!("{base}?{}", query.join("&"))
        }
    };
    let next = page.has_next(count).then(|| link(page.number + 1));
    let previous = (page.number > 1).then(|| link(page.number - 1));
    (next, previous)
}

fn query_value(s: &str) -> String {
    crate::util::url::encode(s, crate::util::url::Part::QueryValue)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(page: &str, size: &str) -> ApiResult<PageRequest> {
        PageRequest::parse(Some(page), Some(size), 30, 100)
    }

    #[test]
    fn pages_near_the_integer_limit_are_invalid_not_a_panic() {
        for (page, size) in [
            ("18446744073709551615", ""),
            ("9223372036854775807", "100"),
            ("0", "10"),
            ("-1", "10"),
            ("abc", "10"),
        ] {
            let err = parse(page, size).expect_err(page);
            assert_eq!(err.code(), "invalid_page", "{page}");
        }
        // The size is clamped to 100 first; at that size this page's offset still fits.
        let page = parse("92233720368547759", "101").expect("fits").locate(0);
        assert_eq!(page.offset, 9_223_372_036_854_775_800);
    }

    #[test]
    fn sizes_are_clamped_and_offsets_fit() {
        let request = parse("3", "1000").expect("valid");
        assert_eq!(request.size(), 100);
        assert_eq!(request.locate(1000).offset, 200);
        let request = parse("", "").expect("valid");
        assert_eq!(request.size(), 30);
        let request = parse("1", "99999999999999999999999999").expect("clamped");
        assert_eq!(request.size(), 100);
        for bad in ["0", "-1", "abc", "1.5"] {
            let err = parse("1", bad).expect_err(bad);
            assert!(
                matches!(&err, ApiError::Validation { errors } if errors.contains_key("page_size")),
                "{bad}: {err:?}"
            );
        }
        let request = parse("last", "10").expect("valid");
        let page = request.locate(25);
        assert_eq!((page.number, page.offset), (3, 20));
        assert!(!page.has_next(25));
        // The largest page whose offset fits is accepted and reads an empty page.
        let biggest = (MAX_OFFSET / 100 + 1).to_string();
        let page = parse(&biggest, "100").expect("fits").locate(5);
        assert!(page.offset <= MAX_OFFSET && !page.has_next(5));
    }
}
