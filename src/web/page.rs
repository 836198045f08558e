//! Rendering pages: the embedded templates, their filters, the frame every page shares (who is
//! signed in, the CSRF token, what the role may do) and the error pages.
use super::problems::Problem;
use super::session::Visitor;
use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use minijinja::{Environment, Value};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The templates, embedded in the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("setup.html", include_str!("templates/setup.html")),
    ("profile.html", include_str!("templates/profile.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("webhooks.html", include_str!("templates/webhooks.html")),
    ("webhook.html", include_str!("templates/webhook.html")),
    (
        "connections.html",
        include_str!("templates/connections.html"),
    ),
    ("projects.html", include_str!("templates/projects.html")),
    ("project.html", include_str!("templates/project.html")),
    ("prompts.html", include_str!("templates/prompts.html")),
    ("prompt.html", include_str!("templates/prompt.html")),
    ("run.html", include_str!("templates/run.html")),
    ("trust.html", include_str!("templates/trust.html")),
    ("run_gone.html", include_str!("templates/run_gone.html")),
    ("task.html", include_str!("templates/task.html")),
    ("evaluation.html", include_str!("templates/evaluation.html")),
    ("compare.html", include_str!("templates/compare.html")),
    ("refine.html", include_str!("templates/refine.html")),
    ("optimize.html", include_str!("templates/optimize.html")),
    (
        "optimization.html",
        include_str!("templates/optimization.html"),
    ),
    (
        "label_studio.html",
        include_str!("templates/label_studio.html"),
    ),
    ("members.html", include_str!("templates/members.html")),
    ("jobs.html", include_str!("templates/jobs.html")),
];

/// The error page: what went wrong, in a title and a sentence or two, and the way on: the
/// page the visitor came from (when it is of this site), besides the menu and the start page.
#[derive(Debug, Serialize)]
pub struct ErrorPage {
    /// What went wrong, in a few words.
    pub title: String,
    /// What it means and what to do.
    pub detail: String,
    /// The local path of the page the visitor came from, to go back to.
    pub back: Option<String>,
    /// The request's id, which the server log's lines of this request carry, for a person to
    /// quote to whoever runs the server.
    pub reference: Option<String>,
}

impl Page for ErrorPage {
    const TEMPLATE: &'static str = "error.html";
}

impl ErrorPage {
    fn new(title: &str, detail: impl Into<String>) -> ErrorPage {
        ErrorPage {
            title: title.to_string(),
            detail: detail.into(),
            back: None,
            reference: None,
        }
    }

    /// The page of an API error met by a browser: a missing page, an address whose query does
    /// not parse, a method the path does not take, a server failure.
    pub fn of_api(e: &ApiError) -> ErrorPage {
        let status = actix_web::ResponseError::status_code(e);
        match e {
            ApiError::NotFound | ApiError::NotFoundAt(_) | ApiError::InvalidPage => ErrorPage::new(
                "Not found",
                "There is nothing at this address, or it belongs to another organization. \
                 Check the address, or go on from the menu.",
            ),
            ApiError::Forbidden => ErrorPage::new(
                "Not allowed",
                "Your role in this organization may look at this but not change it.",
            ),
            ApiError::NotAuthenticated | ApiError::InvalidToken => ErrorPage::new(
                "Sign in first",
                "This address is for signed-in people and programs with an API token.",
            ),
            ApiError::MethodNotAllowed(_) => ErrorPage::new(
                "Not a page",
                "This address takes a form, not a visit. Go back and send the form from its page.",
            ),
            ApiError::PayloadTooLarge(max) => ErrorPage::new(
                "Too large",
                format!(
                    "What was sent is larger than this server takes ({} MB at most).",
                    max / (1 << 20)
                ),
            ),
            ApiError::BadRequest {
                code: crate::error::ErrorCode::InvalidQuery,
                ..
            } => ErrorPage::new(
                "This address does not work",
                "A value in the address is not one this page understands (a number where \
                 there is text, or one missing). Open the page again from the menu or a link.",
            ),
            _ if status.is_server_error() => ErrorPage::new(
                "Something went wrong",
                "The server could not do this. Try again in a moment; if it fails again, the \
                 server log has the details.",
            ),
            other => ErrorPage::new(
                "That did not work",
                super::problems::messages(other).join(" "),
            ),
        }
    }
}

/// Why a page could not be shown. It wraps the API's one error type, rendered as a page, plus
/// the two outcomes only pages have.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Nobody is signed in: a redirect to `/login` that comes back to `next`.
    #[error("sign in first")]
    SignIn {
        /// Where to go after signing in.
        next: String,
    },
    /// A form or script request without the session's CSRF token.
    #[error(
        "This form is no longer valid: its security token is missing or stale. Reload the page \
         and send it again."
    )]
    Csrf,
    /// A form sent again: its first sending did the work. `to` is where that sending led
    /// (a 303 there), or `None` (a 409 page saying so).
    #[error(
        "This form was already sent, and what it asked for was done (or is being done) then. \
         It was not done a second time. Open the page again to see where things stand."
    )]
    Resent {
        /// Where the first sending led.
        to: Option<String>,
    },
    /// A form rendered longer ago than a form stays sendable.
    #[error("This form was opened too long ago. Reload the page and send it again.")]
    FormExpired,
    /// What the API would have answered.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sea_orm::DbErr> for PageError {
    fn from(e: sea_orm::DbErr) -> Self {
        PageError::Api(ApiError::Database(e))
    }
}

impl From<crate::services::accounts::AccountError> for PageError {
    fn from(e: crate::services::accounts::AccountError) -> Self {
        use crate::services::accounts::AccountError as A;
        match e {
            A::Db(e) => e.into(),
            other => PageError::Api(ApiError::bad_request(
                crate::error::ErrorCode::ValidationError,
                other.to_string(),
            )),
        }
    }
}

/// What a page handler returns.
pub type PageResult = Result<HttpResponse, PageError>;

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn { .. } | PageError::Resent { to: Some(_) } => StatusCode::SEE_OTHER,
            PageError::Csrf | PageError::FormExpired => StatusCode::FORBIDDEN,
            PageError::Resent { to: None } => StatusCode::CONFLICT,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let PageError::SignIn { next } = self {
            let target = format!("/login?next={}", encode(next));
            return HttpResponse::SeeOther()
                .insert_header(("location", target))
                .finish();
        }
        if let PageError::Resent { to: Some(to) } = self {
            return redirect(to);
        }
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = ?self, "page failed");
        }
        // The error-pages middleware renders it again in the visitor's frame; this is the page
        // without one.
        let page = self.page();
        let body = render_string(&Frame::anonymous(), &page)
            .unwrap_or_else(|_| format!("{}: {}", page.title, page.detail));
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("cache-control", "no-store"))
            .body(body)
    }
}

impl PageError {
    /// The error page that says what went wrong.
    pub fn page(&self) -> ErrorPage {
        match self {
            PageError::Api(e) => ErrorPage::of_api(e),
            PageError::Resent { .. } => ErrorPage::new("Already sent", self.to_string()),
            PageError::FormExpired => ErrorPage::new("Reload the page", self.to_string()),
            other => ErrorPage::new("Not allowed", other.to_string()),
        }
    }
}

/// Percent-encodes a query value ([`crate::util::url::Part::QueryValue`]).
pub fn encode(s: &str) -> String {
    crate::util::url::encode(s, crate::util::url::Part::QueryValue)
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // A field a template names and its page does not pass fails the page (and its test)
        // instead of rendering blank.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // An absent optional value prints nothing, never the word "none" (a form prefilled with
        // it, or a sentence that reads "model none"); a template says what absence means.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("usd", usd);
        env.add_filter("pct", pct);
        env.add_filter("when", when);
        env.add_filter("num", num);
        // A fresh nonce for each form rendered (`<input name="nonce" value="{{ nonce() }}">`).
        env.add_function("nonce", || {
            super::guard::new_nonce(chrono::Utc::now().timestamp())
        });
        env.add_global("assets", Value::from_serialize(super::assets::urls()));
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// A cost in US dollars: `$0.0123`, `$12.34`; `—` when unknown
/// ([`crate::presenters::words::usd`]).
pub fn usd(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) => crate::presenters::words::usd(x),
        Err(_) => "—".to_string(),
    }
}

/// A fraction as a percentage with one decimal: `83.3%`; `—` when unknown.
pub fn pct(v: Value) -> String {
    match f64::try_from(v) {
        Ok(x) => crate::presenters::words::percent(x),
        Err(_) => "—".to_string(),
    }
}

/// A number with thousands separators: `100,000`.
pub fn num(v: Value) -> String {
    match i64::try_from(v.clone()) {
        Ok(n) => crate::presenters::words::thousands(n),
        Err(_) => v.to_string(),
    }
}

/// A timestamp (RFC 3339) as `2026-12-01 21:10 UTC`; empty when absent.
pub fn when(v: Value) -> String {
    let text = v.as_str().map(str::to_string).unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or(text)
}

/// A page's context: a struct of exactly the values its template reads besides the
/// [`Frame`], bound to that template. Templates run with strict undefined values, and in debug
/// builds (the tests') every render also checks that the names the template reads, on any
/// branch, are the names the page gives: a renamed or unused field fails the page instead of
/// rendering blank.
pub trait Page: Serialize {
    /// The template that renders it.
    const TEMPLATE: &'static str;
}

/// Who is signed in, as the frame shows them.
#[derive(Debug, Serialize)]
pub struct Me {
    /// Their email.
    email: String,
    /// Their role in the active organization.
    role: &'static str,
}

/// What `base.html` reads around every page: who is signed in, the session's CSRF token,
/// what the role may change, the section of the menu, a notice and a form's errors.
#[derive(Debug, Serialize)]
pub struct Frame {
    /// Who is signed in (no one on the sign-in and error pages).
    me: Option<Me>,
    /// The session's CSRF token, which every form and script request carries.
    csrf: Option<String>,
    /// Whether the role may change things (edit controls are offered only then).
    can_edit: bool,
    /// Whether the role may set provider keys and manage members (Owner, Administrator).
    can_admin: bool,
    /// The menu entry marked current.
    section: Option<&'static str>,
    /// A notice above the page.
    notice: Option<String>,
    /// The problems of a form sent and shown again: in a summary above the page, and each
    /// next to its input (the `field_error` macro).
    errors: Vec<Problem>,
}

impl Frame {
    /// The frame of a page no one is signed in to: the error and sign-in pages.
    pub fn anonymous() -> Frame {
        Frame {
            me: None,
            csrf: None,
            can_edit: false,
            can_admin: false,
            section: None,
            notice: None,
            errors: vec![],
        }
    }

    /// The frame of `visitor`'s page in `section` of the menu.
    pub fn of(visitor: &Visitor, section: &'static str) -> Frame {
        let caller = visitor.caller();
        Frame {
            me: Some(Me {
                email: caller.user.email.clone(),
                role: caller.role.as_str(),
            }),
            csrf: Some(visitor.0.csrf_token.clone()),
            can_edit: visitor.can_edit(),
            can_admin: visitor.can_admin(),
            section: Some(section),
            ..Frame::anonymous()
        }
    }

    /// The frame of `visitor`'s page outside the menu's sections (an error page).
    pub fn signed_in(visitor: &Visitor) -> Frame {
        Frame {
            section: None,
            ..Frame::of(visitor, "")
        }
    }

    /// The same frame showing `errors` of the whole form.
    pub fn with_errors(self, errors: Vec<String>) -> Frame {
        self.with_problems(errors.into_iter().map(Problem::general).collect())
    }

    /// The same frame showing a form's `problems`.
    pub fn with_problems(self, problems: Vec<Problem>) -> Frame {
        Frame {
            errors: problems,
            ..self
        }
    }
}

/// What a template is given: the frame and the page, side by side.
#[derive(Serialize)]
struct Context<'a, P> {
    #[serde(flatten)]
    frame: &'a Frame,
    #[serde(flatten)]
    page: &'a P,
}

/// Renders `page` in `frame` to a string.
pub fn render_string<P: Page>(frame: &Frame, page: &P) -> Result<String, ApiError> {
    let name = P::TEMPLATE;
    let fail = |e: &dyn std::fmt::Display| ApiError::Internal(format!("template {name}: {e:#}"));
    if cfg!(debug_assertions) {
        check_names(name, &Value::from_serialize(page)).map_err(|e| fail(&e))?;
    }
    environment()
        .get_template(name)
        .and_then(|t| t.render(Context { frame, page }))
        .map_err(|e| fail(&e))
}

/// Renders `page` in `frame` as an HTML response: 200, or 422 when the frame shows a form's
/// problems (so the form's nonce is released and the corrected form, or a reload, is taken).
pub fn render<P: Page>(frame: Frame, page: &P) -> PageResult {
    let refused = !frame.errors.is_empty();
    let mut response = html(render_string(&frame, page)?);
    if refused {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// The names the templates read besides their page's: the frame's and the environment's
/// globals.
fn names_not_of_pages() -> HashSet<String> {
    let frame = Value::from_serialize(Frame::anonymous());
    let mut names: HashSet<String> = frame
        .try_iter()
        .into_iter()
        .flatten()
        .map(|k| k.to_string())
        .collect();
    names.extend(["assets", "nonce"].map(String::from));
    names
}

/// The top-level names each template reads, on every branch (a static reading: what
/// strict undefined values catch only on the branches a test takes).
fn names_read() -> &'static HashMap<&'static str, HashSet<String>> {
    static NAMES: OnceLock<HashMap<&'static str, HashSet<String>>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let env = environment();
        let others = names_not_of_pages();
        TEMPLATES
            .iter()
            .filter_map(|(name, _)| {
                let read = env.get_template(name).ok()?.undeclared_variables(false);
                Some((*name, read.difference(&others).cloned().collect()))
            })
            .collect()
    })
}

/// Whether `page` gives exactly the names template `name` reads besides the frame's: none
/// missing (a branch no test takes would fail in production) and none never read (a field
/// renamed in the template but not in the page).
fn check_names(name: &str, page: &Value) -> Result<(), String> {
    let given: HashSet<String> = page
        .try_iter()
        .into_iter()
        .flatten()
        .map(|k| k.to_string())
        .collect();
    let read = names_read()
        .get(name)
        .ok_or_else(|| format!("no template {name}"))?;
    let mut missing: Vec<&String> = read.difference(&given).collect();
    let mut unused: Vec<&String> = given.difference(read).collect();
    if missing.is_empty() && unused.is_empty() {
        return Ok(());
    }
    missing.sort();
    unused.sort();
    Err(format!(
        "the template reads {missing:?}, which its page does not give, and the page gives \
         {unused:?}, which the template never reads"
    ))
}

/// An HTML response.
pub fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(body)
}

/// A redirect after a form (303, so the browser follows with a GET).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", to.to_string()))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name} does not parse");
        }
    }

    /// An absent value prints nothing; present values are still escaped.
    #[test]
    fn none_prints_nothing_and_values_are_escaped() {
        let ctx = minijinja::context! { gone => Option::<String>::None, here => "<b>" };
        let out = environment()
            .render_named_str("check.html", "[{{ gone }}][{{ here }}]", ctx)
            .unwrap_or_else(|e| e.to_string());
        assert_eq!(out, "[][&lt;b&gt;]");
    }

    /// The pages' Content-Security-Policy allows no inline script, handler or style: no
    /// template may hold one, and every POST form carries a nonce.
    #[test]
    fn templates_hold_nothing_inline_and_every_form_a_nonce() {
        for (name, source) in TEMPLATES {
            assert!(!source.contains("style="), "{name}: inline style");
            assert!(!source.contains("<style"), "{name}: style element");
            for (i, _) in source.match_indices("<script") {
                assert!(
                    source[i..].starts_with("<script src="),
                    "{name}: inline script"
                );
            }
            let lower = source.to_lowercase();
            for handler in [
                " onclick=",
                " onsubmit=",
                " onload=",
                " onchange=",
                " oninput=",
            ] {
                assert!(!lower.contains(handler), "{name}: {handler}");
            }
            assert!(!lower.contains("javascript:"), "{name}");
            if !matches!(*name, "login.html" | "setup.html") {
                assert_eq!(
                    source.matches("method=\"post\"").count(),
                    source
                        .matches("name=\"nonce\" value=\"{{ nonce() }}\"")
                        .count(),
                    "{name}: a form without a nonce"
                );
            }
        }
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(usd(Value::from(0.01234)), "$0.0123");
        assert_eq!(usd(Value::from(12.345)), "$12.35");
        assert_eq!(usd(Value::from(0.0000312)), "$0.000031");
        assert_eq!(usd(Value::from(())), "—");
        assert_eq!(pct(Value::from(0.8333)), "83.3%");
        assert_eq!(num(Value::from(100000)), "100,000");
        assert_eq!(num(Value::from(-1234)), "-1,234");
        assert_eq!(
            when(Value::from("2026-12-01T21:10:00Z")),
            "2026-12-01 21:10 UTC"
        );
        assert_eq!(encode("/prompts/1?x=a b"), "/prompts/1%3Fx%3Da%20b");
    }

    /// The frame gives everything `base.html` reads besides the globals, and each of its names
    /// is read by some template (`can_edit` by the pages, no longer by the menu).
    #[test]
    fn the_frame_is_what_the_base_reads() {
        let read = |name: &str| {
            environment()
                .get_template(name)
                .unwrap()
                .undeclared_variables(false)
        };
        let frame = names_not_of_pages();
        let base = read("base.html");
        assert!(base.is_subset(&frame), "{base:?} / {frame:?}");
        for name in &frame {
            assert!(
                TEMPLATES.iter().any(|(t, _)| read(t).contains(name)),
                "no template reads {name}"
            );
        }
    }

    /// A page that misses a name its template reads, or gives one it never reads, fails.
    #[test]
    fn a_page_gives_exactly_what_its_template_reads() {
        let page = |v: serde_json::Value| Value::from_serialize(v);
        let right =
            serde_json::json!({"title": "t", "detail": "d", "back": null, "reference": null});
        assert_eq!(check_names("error.html", &page(right)), Ok(()));
        let renamed =
            serde_json::json!({"title": "t", "details": "d", "back": null, "reference": null});
        let err = check_names("error.html", &page(renamed)).unwrap_err();
        assert!(
            err.contains("[\"detail\"]") && err.contains("[\"details\"]"),
            "{err}"
        );
        let extra = serde_json::json!({"title": "t", "detail": "d", "back": null, "reference": null,
            "status": 400});
        assert!(check_names("error.html", &page(extra)).is_err());
        // Names read on any branch count, taken or not: `new_token` only when there is one.
        let profile = serde_json::json!({"organization": "o", "tokens": []});
        let err = check_names("profile.html", &page(profile)).unwrap_err();
        assert!(err.contains("new_token"), "{err}");
    }

    #[test]
    fn escapes_what_it_renders() {
        let page = ErrorPage {
            title: "<b>x</b>".into(),
            detail: "<script>".into(),
            back: None,
            reference: Some("<ref>".into()),
        };
        let out = render_string(&Frame::anonymous(), &page).unwrap();
        assert!(out.contains("&lt;b&gt;x") && !out.contains("<b>"));
        assert!(!out.contains("<script>"));
        assert!(out.contains("&lt;ref&gt;") && !out.contains("<ref>"));
    }
}
