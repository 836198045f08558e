//! The images of a task as a call sends them. A task's image field holds a URL (or a list of
//! them, for `valueList`): a public `http(s)` URL goes to the provider as is; one the provider
//! cannot reach (a loopback, private or link-local address, a `.local`/`.internal` name, or a
//! Label Studio path such as `/data/upload/...`, read with the project's Label Studio token) is
//! fetched here and sent inline in base64, as is a `data:` URL. Images larger than the limit
//! (`PROMPTER_IMAGE_MAX_BYTES`) or that are not PNG, JPEG, GIF or WebP fail their task with a
//! message that says so.
use crate::llm::ImageSource;
use crate::services::ls_access::LsAccess;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How long fetching one image may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read of an image to learn its size.
pub const PROBE_BYTES: usize = 256 * 1024;
/// How long a host name lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves the image values of a project's tasks.
#[derive(Debug, Clone)]
pub struct ImageResolver {
    http: crate::outbound::Outbound,
    max_bytes: usize,
    ls: Option<LsAccess>,
}

impl ImageResolver {
    /// A resolver fetching with `http`, up to `max_bytes` an image, reading Label Studio paths
    /// through `ls`.
    pub fn new(http: crate::outbound::Outbound, max_bytes: usize, ls: Option<LsAccess>) -> Self {
        ImageResolver {
            http,
            max_bytes,
            ls,
        }
    }

    /// The messages with every image resolved: an [`ImageSource::Url`] holds a task's raw
    /// value (see `engine::prompt`), which becomes the source a call sends.
    pub async fn resolve_messages(
        &self,
        mut messages: Vec<crate::llm::Message>,
    ) -> Result<Vec<crate::llm::Message>, String> {
        for message in &mut messages {
            for part in &mut message.parts {
                if let crate::llm::Part::Image(ImageSource::Url(raw)) = part {
                    *part = crate::llm::Part::Image(self.one(raw.trim()).await?);
                }
            }
        }
        Ok(messages)
    }

    /// The width and height of the image a task value names, read from the start of its bytes
    /// (fetched here, at most [`PROBE_BYTES`], whoever would fetch it for a call); `None` when
    /// it cannot be read.
    pub async fn probe_size(&self, raw: &str) -> Option<(u32, u32)> {
        let raw = raw.trim();
        let bytes = if let Some(rest) = raw.strip_prefix("data:") {
            let data = rest.split_once(',')?.1;
            let head: String = data
                .chars()
                .filter(|c| !c.is_whitespace())
                .take(8192)
                .collect();
            B64.decode(&head[..head.len() / 4 * 4]).ok()?
        } else {
            let (url, token) = match (raw.starts_with('/'), &self.ls) {
                (true, Some(ls)) => (format!("{}{raw}", ls.base), Some(ls.token.clone())),
                (true, None) => return None,
                (false, ls) => (
                    raw.to_string(),
                    ls.as_ref()
                        .filter(|ls| raw.starts_with(&ls.base))
                        .map(|ls| ls.token.clone()),
                ),
            };
            let mut request = self
                .http
                .client()
                .get(&url)
                .timeout(FETCH_TIMEOUT)
                .header("Range", format!("bytes=0-{}", PROBE_BYTES - 1));
            if let Some(token) = token {
                request = request.header("Authorization", format!("Token {token}"));
            }
            let mut response = self.http.send(request).await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let mut bytes = Vec::new();
            while bytes.len() < PROBE_BYTES
                && let Ok(Some(chunk)) = response.chunk().await
            {
                bytes.extend_from_slice(&chunk);
            }
            bytes
        };
        let size = imagesize::blob_size(&bytes).ok()?;
        Some((
            u32::try_from(size.width).ok()?,
            u32::try_from(size.height).ok()?,
        ))
    }

    async fn one(&self, raw: &str) -> Result<ImageSource, String> {
        if let Some(rest) = raw.strip_prefix("data:") {
            return self.data_url(rest);
        }
        if raw.starts_with('/') {
            let Some(ls) = &self.ls else {
                return Err(format!(
                    "the image \"{}\" is a Label Studio path, and the project is not linked to a \
                     Label Studio to read it from",
                    shorten(raw)
                ));
            };
            let url = format!("{}{raw}", ls.base);
            return self.fetch(&url, Some(&ls.token)).await;
        }
        let url = reqwest::Url::parse(raw)
            .map_err(|_| format!("the image \"{}\" is not a URL", shorten(raw)))?;
        match url.scheme() {
            "http" | "https" => {}
            scheme => {
                return Err(format!(
                    "the image \"{}\" uses {scheme}://, which Prompter cannot read; give an \
                     http(s) URL (for cloud storage, a presigned one)",
                    shorten(raw)
                ));
            }
        }
        if provider_can_reach(&url).await {
            Ok(ImageSource::Url(raw.to_string()))
        } else {
            // A Label Studio's own files read with its token; other hosts without one.
            let token = self
                .ls
                .as_ref()
                .filter(|ls| raw.starts_with(&ls.base))
                .map(|ls| ls.token.as_str());
            self.fetch(raw, token).await
        }
    }

    /// An image given as `data:<media type>;base64,<data>` (the part after `data:`).
    fn data_url(&self, rest: &str) -> Result<ImageSource, String> {
        let (head, data) = rest.split_once(',').ok_or("a data: URL without its data")?;
        let media_type = head
            .strip_suffix(";base64")
            .ok_or("a data: URL that is not base64")?;
        if !media_type.starts_with("image/") {
            return Err(format!("a data: URL of {media_type}, not an image"));
        }
        let data: String = data.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = data.len() / 4 * 3;
        if bytes > self.max_bytes {
            return Err(too_large(bytes, self.max_bytes));
        }
        Ok(ImageSource::Inline {
            media_type: media_type.to_string(),
            data,
        })
    }

    /// Downloads an image (with `Authorization: Token <token>` when given) and inlines it.
    async fn fetch(&self, url: &str, token: Option<&str>) -> Result<ImageSource, String> {
        let shown = shorten(url);
        let mut request = self.http.client().get(url).timeout(FETCH_TIMEOUT);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        let response = self
            .http
            .send(request)
            .await
            .map_err(|e| format!("could not fetch the image \"{shown}\": {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "could not fetch the image \"{shown}\": HTTP {}",
                status.as_u16()
            ));
        }
        if let Some(length) = response.content_length()
            && length > self.max_bytes as u64
        {
            return Err(too_large(length as usize, self.max_bytes));
        }
        let declared = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let bytes = crate::outbound::read_at_most(response, self.max_bytes)
            .await
            .map_err(|e| match e {
                crate::outbound::OutboundError::TooLarge(max) => too_large(max + 1, max),
                e => format!("could not fetch the image \"{shown}\": {e}"),
            })?;
        let media_type = media_type(&bytes).ok_or_else(|| {
            format!(
                "\"{shown}\" is not a PNG, JPEG, GIF or WebP image (Content-Type: {})",
                declared.as_deref().unwrap_or("none")
            )
        })?;
        Ok(ImageSource::Inline {
            media_type: media_type.to_string(),
            data: B64.encode(&bytes),
        })
    }
}

impl ImageResolver {
    /// The resolver of a prompt's first associated project (the one cost estimates are made
    /// over), in the caller's organization.
    pub async fn for_prompt(
        engine: &super::Engine,
        db: &impl sea_orm::ConnectionTrait,
        caller: &crate::auth::AuthUser,
        prompt_id: i64,
    ) -> crate::error::ApiResult<ImageResolver> {
        use crate::services::{ls_access, prompts};
        prompts::get(db, caller, prompt_id).await?;
        let project = prompts::associations(db, &[prompt_id])
            .await?
            .remove(&prompt_id)
            .and_then(|ids| ids.first().copied());
        let ls = match project {
            Some(id) => ls_access::for_project(db, engine.secrets(), id).await?,
            None => None,
        };
        Ok(ImageResolver::new(
            engine.http().clone(),
            engine.config().image_max_bytes,
            ls,
        ))
    }
}

#[async_trait::async_trait]
impl crate::services::costs::ImageSizes for ImageResolver {
    async fn size(&self, raw: &str) -> Option<(u32, u32)> {
        self.probe_size(raw).await
    }
}

/// The media type of an image's bytes, for the formats every provider takes.
pub fn media_type(bytes: &[u8]) -> Option<&'static str> {
    use imagesize::ImageType;
    match imagesize::image_type(bytes).ok()? {
        ImageType::Png => Some("image/png"),
        ImageType::Jpeg => Some("image/jpeg"),
        ImageType::Gif => Some("image/gif"),
        ImageType::Webp => Some("image/webp"),
        _ => None,
    }
}

fn too_large(bytes: usize, max: usize) -> String {
    format!(
        "the image is larger than the limit of {max} bytes (at least {bytes}; see PROMPTER_IMAGE_MAX_BYTES)"
    )
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Whether a provider on the internet can fetch `url`: its host is not a loopback, private or
/// link-local address, nor a name that resolves to one. A name that cannot be resolved here is
/// left to the provider.
async fn provider_can_reach(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_public(ip);
    }
    let name = bare.trim_end_matches('.').to_ascii_lowercase();
    let local = name == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || !name.contains('.');
    if local {
        return false;
    }
    let port = url.port_or_known_default().unwrap_or(443);
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port))).await {
        Ok(Ok(addresses)) => addresses.into_iter().all(|a| is_public(a.ip())),
        _ => true,
    }
}

/// Whether `ip` is reachable from the internet (not loopback, private, link-local, shared,
/// unspecified or unique-local).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        // 100.64.0.0/10, carrier-grade NAT.
        || (a == 100 && (64..128).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        // fc00::/7 unique local, fe80::/10 link-local.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

    #[tokio::test]
    async fn local_names_and_addresses_are_fetched_here() {
        for url in [
            "http://127.0.0.1:8080/a.png",
            "http://localhost/a.png",
            "http://minio/bucket/a.png",
            "http://files.internal/a.png",
            "http://[::1]/a.png",
        ] {
            let url = reqwest::Url::parse(url).expect("url");
            assert!(!provider_can_reach(&url).await, "{url}");
        }
    }

    #[tokio::test]
    async fn data_urls_are_inline_and_bounded() {
        let http = crate::outbound::Outbound::new(Default::default(), 1024);
        let resolver = ImageResolver::new(http, 16, None);
        let ok = resolver
            .one("data:image/png;base64,iVBORw0KGgo=")
            .await
            .expect("inline");
        assert_eq!(
            ok,
            ImageSource::Inline {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            }
        );
        let big = format!("data:image/png;base64,{}", "A".repeat(64));
        let err = resolver.one(&big).await.expect_err("too big");
        assert!(err.contains("larger than the limit"), "{err}");
        let err = resolver.one("s3://bucket/a.png").await.expect_err("s3");
        assert!(err.contains("s3://"), "{err}");
        let err = resolver
            .one("/data/upload/1/a.png")
            .await
            .expect_err("no link");
        assert!(err.contains("Label Studio"), "{err}");
    }
}
