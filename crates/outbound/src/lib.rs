//! Every request Prompter makes on a user's behalf (LLM endpoints, image URLs, Label Studio
//! hosts and `/setup` hostnames) goes through one [`Outbound`] client, which applies the
//! operator's [`Policy`]:
//!
//! - the address is checked before a connection is made: an IP literal in the URL (however it is
//!   spelled: decimal, octal, short, IPv4-mapped IPv6) here, a host name in the client's resolver
//!   after resolution, so a name that resolves (or re-resolves, DNS rebinding) to a refused address
//!   is refused; redirects are followed here (at most [`MAX_REDIRECTS`]), every hop checked as
//!   the first request, with credentials dropped when the origin changes;
//! - no proxy from the environment is used, so the check is made on the address connected to;
//! - answers are read as a stream up to a size cap ([`Outbound::read`]), never whole;
//! - failures come back as an [`OutboundError`] whose text is fixed: what the remote side sent
//!   never reaches a user, only its status and Prompter's explanation; the detail goes to the
//!   server log (target `outbound`), without query strings (they can hold keys).
//!
//! Clippy's `disallowed-methods` (in `clippy.toml`) refuses `RequestBuilder::send`,
//! `Client::execute` and the whole-body readers of `reqwest::Response` outside this module.
#![deny(clippy::unwrap_used, clippy::expect_used)]
pub mod policy;

pub use policy::{AddressClass, AllowEntry, Denied, Policy};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Request, RequestBuilder, Response, Url};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Redirects followed at most per request.
pub const MAX_REDIRECTS: usize = 5;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a host name lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an outbound request failed, in words a user may read: never the remote side's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The policy refuses the address.
    #[error("{0}")]
    Denied(Denied),
    /// Not an absolute `http(s)` URL with a host.
    #[error("the URL is not an http(s) URL with a host")]
    BadUrl,
    /// No connection could be made, or what answered is not an HTTP server.
    #[error("the host cannot be reached")]
    Unreachable,
    /// No answer in time.
    #[error("the host did not answer in time")]
    Timeout,
    /// The answer is larger than the cap.
    #[error("the answer is larger than the limit of {0} bytes")]
    TooLarge(usize),
    /// Too many redirects.
    #[error("the host redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects,
}

/// The HTTP client of every request made on a user's behalf, with the policy it applies.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
    pins: Arc<Pins>,
    max_bytes: usize,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("policy", &self.policy)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Addresses a name was checked to, kept for the connection that follows the check so the
/// name is not resolved twice (a second answer could differ: DNS rebinding).
#[derive(Default)]
struct Pins(std::sync::Mutex<std::collections::HashMap<String, (Vec<IpAddr>, std::time::Instant)>>);

/// How long a pinned answer is used.
const PIN_TTL: Duration = Duration::from_secs(30);

impl Pins {
    fn set(&self, name: &str, addrs: Vec<IpAddr>) {
        if let Ok(mut pins) = self.0.lock() {
            let now = std::time::Instant::now();
            pins.retain(|_, (_, at)| now.duration_since(*at) < PIN_TTL);
            pins.insert(name.to_ascii_lowercase(), (addrs, now));
        }
    }

    fn get(&self, name: &str) -> Option<Vec<IpAddr>> {
        let pins = self.0.lock().ok()?;
        let (addrs, at) = pins.get(&name.to_ascii_lowercase())?;
        (at.elapsed() < PIN_TTL).then(|| addrs.clone())
    }
}

/// The resolver that checks every address a name resolves to (or hands out the addresses the
/// check before the request pinned).
struct PolicyResolver {
    policy: Arc<Policy>,
    pins: Arc<Pins>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        let pinned = self.pins.get(&host);
        Box::pin(async move {
            if let Some(pinned) = pinned {
                let addrs = pinned.into_iter().map(|ip| SocketAddr::new(ip, 0));
                return Ok(Box::new(addrs.collect::<Vec<_>>().into_iter()) as Addrs);
            }
            let addrs = lookup(&host, 0)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let mut refused = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(&host, a.ip(), None) {
                    Ok(()) => true,
                    Err(denied) => {
                        refused.get_or_insert(denied);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(denied)) => Err(Box::new(denied) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// The addresses of `host`, bounded in time.
async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => Ok(addrs.collect()),
        Ok(Err(_)) => Err(OutboundError::Unreachable),
        Err(_) => Err(OutboundError::Timeout),
    }
}

impl Outbound {
    /// A client applying `policy`, reading answers up to `max_bytes` (see [`Outbound::read`]).
    pub fn new(policy: Policy, max_bytes: usize) -> Outbound {
        install_tls();
        let policy = Arc::new(policy);
        let pins = Arc::new(Pins::default());
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver {
                policy: policy.clone(),
                pins: pins.clone(),
            }))
            // Redirects are followed in `execute`, each hop checked like the first request.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Outbound {
            client,
            policy,
            pins,
            max_bytes,
        }
    }

    /// The client, to build requests with (`get`, `post`...); send them with
    /// [`Outbound::send`].
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The addresses of `url`'s host name that the policy allows on its port (`None` for an IP
    /// literal, checked here too).
    async fn allowed_addresses(&self, url: &Url) -> Result<Option<Vec<IpAddr>>, OutboundError> {
        check_literal(&self.policy, url)?;
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(None);
        };
        let port = url.port_or_known_default();
        let mut first = None;
        let mut allowed = Vec::new();
        for addr in lookup(name, port.unwrap_or(0)).await? {
            match self.policy.check(name, addr.ip(), port) {
                Ok(()) => allowed.push(addr.ip()),
                Err(d) => {
                    first.get_or_insert(d);
                }
            }
        }
        match (allowed.is_empty(), first) {
            (false, _) => Ok(Some(allowed)),
            (true, Some(denied)) => {
                tracing::warn!(target: "outbound", url = %shown(url), "refused by the outbound policy: {denied}");
                Err(OutboundError::Denied(denied))
            }
            (true, None) => Err(OutboundError::Unreachable),
        }
    }

    /// Sends a request built with [`Outbound::client`] under the policy.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, OutboundError> {
        let request = request.build().map_err(|e| {
            log_failure(None, &e);
            OutboundError::BadUrl
        })?;
        self.execute(request).await
    }

    /// Executes a request under the policy, following at most [`MAX_REDIRECTS`] redirects,
    /// each checked as the first request was.
    #[allow(clippy::disallowed_methods)]
    pub async fn execute(&self, mut request: Request) -> Result<Response, OutboundError> {
        for hop in 0..=MAX_REDIRECTS {
            let url = request.url().clone();
            self.before_connect(&url).await?;
            let again = request.try_clone();
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| classify_error(&url, &e))?;
            let Some(next) = redirect_target(&response, again) else {
                return Ok(response);
            };
            if hop == MAX_REDIRECTS {
                return Err(OutboundError::TooManyRedirects);
            }
            request = next;
        }
        Err(OutboundError::TooManyRedirects)
    }

    /// The check before a request connects. IP literals are checked here; host names are
    /// checked by the resolver, except when the allow list names ports: the resolver does not
    /// see the port, so the name is resolved and checked with it here, and the addresses
    /// allowed are pinned for the connection.
    async fn before_connect(&self, url: &Url) -> Result<(), OutboundError> {
        let port_rules = self.policy.allow.iter().any(AllowEntry::has_port);
        if !port_rules {
            return check_literal(&self.policy, url);
        }
        if let (Some(addrs), Some(name)) = (self.allowed_addresses(url).await?, url.host_str()) {
            self.pins.set(name, addrs);
        }
        Ok(())
    }

    /// The body of `response`, read as a stream up to the client's cap.
    pub async fn read(&self, response: Response) -> Result<Vec<u8>, OutboundError> {
        read_at_most(response, self.max_bytes).await
    }
}

/// The request a redirect answer asks for next (`again` is the request just sent, when it
/// could be copied), or `None` when the answer is not a redirect to follow.
fn redirect_target(response: &Response, again: Option<Request>) -> Option<Request> {
    use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION};
    let status = response.status().as_u16();
    if !matches!(status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    let target = response.url().join(location).ok()?;
    let mut next = again?;
    let same_origin = target.origin() == next.url().origin();
    *next.url_mut() = target;
    let keep_method = matches!(status, 307 | 308)
        || *next.method() == reqwest::Method::GET
        || *next.method() == reqwest::Method::HEAD;
    if !keep_method {
        *next.method_mut() = reqwest::Method::GET;
        *next.body_mut() = None;
        next.headers_mut().remove(reqwest::header::CONTENT_TYPE);
        next.headers_mut().remove(reqwest::header::CONTENT_LENGTH);
    }
    if !same_origin {
        for header in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
            next.headers_mut().remove(header);
        }
        next.headers_mut().remove("api-key");
        next.headers_mut().remove("x-api-key");
        next.headers_mut().remove("x-goog-api-key");
    }
    Some(next)
}

/// Installs rustls' ring crypto provider for the process (reqwest is built without a bundled
/// TLS backend; ring is the one the database driver already brings). Called at start-up and by
/// every client built here; installing twice is harmless.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of the command line's calls to the Prompter server its operator names
/// (`prompter run`, `export`, `import`, `ls`): not a request on a user's behalf, so not under
/// the policy; built here so that every HTTP client of the service is built in this module.
pub fn operator_client() -> reqwest::Client {
    install_tls();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The body of `response`, read as a stream up to `max` bytes ([`OutboundError::TooLarge`]
/// past it, without reading the rest).
pub async fn read_at_most(mut response: Response, max: usize) -> Result<Vec<u8>, OutboundError> {
    if let Some(length) = response.content_length()
        && length > max as u64
    {
        return Err(OutboundError::TooLarge(max));
    }
    let url = response.url().clone();
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > max {
                    return Err(OutboundError::TooLarge(max));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(classify_error(&url, &e)),
        }
    }
}

/// The scheme and an IP literal host of `url`, checked against the policy.
fn check_literal(policy: &Policy, url: &Url) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::BadUrl);
    }
    let ip: IpAddr = match url.host() {
        Some(url::Host::Ipv4(v4)) => v4.into(),
        Some(url::Host::Ipv6(v6)) => v6.into(),
        Some(url::Host::Domain(d)) if !d.is_empty() => return Ok(()),
        _ => return Err(OutboundError::BadUrl),
    };
    let host = url.host_str().unwrap_or_default();
    policy
        .check(host, ip, url.port_or_known_default())
        .map_err(|denied| {
            tracing::warn!(target: "outbound", url = %shown(url), "refused by the outbound policy: {denied}");
            OutboundError::Denied(denied)
        })
}

/// The typed failure of a reqwest error; the detail is logged, never returned.
fn classify_error(url: &Url, error: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(s) = source {
        if let Some(denied) = s.downcast_ref::<Denied>() {
            tracing::warn!(target: "outbound", url = %shown(url), "refused by the outbound policy: {denied}");
            return OutboundError::Denied(denied.clone());
        }
        if let Some(own) = s.downcast_ref::<OutboundError>() {
            return own.clone();
        }
        source = s.source();
    }
    log_failure(Some(url), error);
    if error.is_timeout() {
        OutboundError::Timeout
    } else if error.is_redirect() {
        OutboundError::TooManyRedirects
    } else if error.is_builder() {
        OutboundError::BadUrl
    } else {
        OutboundError::Unreachable
    }
}

fn log_failure(url: Option<&Url>, error: &reqwest::Error) {
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    if let Some(url) = url {
        // reqwest's text names the URL with its query; the query can hold a key.
        let full = url.as_str();
        detail = detail.replace(full, &shown(url));
    }
    tracing::warn!(target: "outbound", url = %url.map(shown).unwrap_or_default(), "outbound request failed: {detail}");
}

/// A URL as logs show it: scheme, host, port and path; no credentials, query or fragment.
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

#[cfg(test)]
mod tests;
