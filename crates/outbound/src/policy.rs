//! The operator's outbound policy: which addresses a request made on a user's behalf may reach.
//!
//! Every address is put in a class ([`AddressClass`]). Public addresses are reached. Link-local
//! addresses (cloud metadata services live there), cloud metadata addresses outside that range,
//! and addresses no server answers on (unspecified, multicast, broadcast, reserved) are never
//! reached. Loopback and private addresses are reached only where the operator allows them
//! (`PROMPTER_OUTBOUND_ALLOW`), except that loopback is allowed to a server bound to a loopback
//! address (the single-user local install). IPv6 forms that carry an IPv4 address (mapped,
//! compatible, NAT64, 6to4) are judged by the IPv4 address they carry.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Reachable on the internet.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, carrier-grade NAT (100.64.0.0/10), benchmarking (198.18.0.0/15), IPv6
    /// unique-local and site-local.
    Private,
    /// 169.254.0.0/16, fe80::/10: where cloud metadata services answer. Never reached.
    LinkLocal,
    /// A cloud metadata address outside the link-local range (AWS's fd00:ec2::254, Alibaba's
    /// 100.100.100.200). Never reached.
    Metadata,
    /// Unspecified, multicast, broadcast, documentation or reserved. Never reached.
    Unusable,
}

impl AddressClass {
    /// The words a refusal uses for the class.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private network address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Unusable => "an address no server answers on",
        }
    }

    /// Whether no setting can allow the class.
    pub fn never_allowed(self) -> bool {
        matches!(
            self,
            AddressClass::LinkLocal | AddressClass::Metadata | AddressClass::Unusable
        )
    }
}

/// The class of `ip`.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002:AABB:CCDD::/48`).
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            (s[1] & 0xff) as u8,
            (s[2] >> 8) as u8,
            (s[2] & 0xff) as u8,
        ));
    }
    None
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, d] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if [a, b, c, d] == [100, 100, 100, 200] {
        AddressClass::Metadata
    } else if ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && b & 0xfe == 18)
    {
        AddressClass::Private
    } else if ip.is_unspecified()
        || a == 0
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a >= 240
        || (a == 192 && b == 0 && c == 0)
    {
        AddressClass::Unusable
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        AddressClass::Metadata
    } else if (first & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0 {
        AddressClass::Private
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || first == 0x2001 && ip.segments()[1] == 0xdb8
    {
        AddressClass::Unusable
    } else {
        AddressClass::Public
    }
}

/// An entry of `PROMPTER_OUTBOUND_ALLOW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// `loopback`: every loopback address.
    Loopback,
    /// `private`: every private network address (not loopback).
    Private,
    /// A host name (lower case, no trailing dot), on any port or one port.
    Host {
        /// The name.
        name: String,
        /// The only port allowed, if any.
        port: Option<u16>,
    },
    /// An address or a CIDR block, on any port or one port.
    Net {
        /// The network's first address.
        addr: IpAddr,
        /// Its prefix length.
        prefix: u8,
        /// The only port allowed, if any.
        port: Option<u16>,
    },
}

impl AllowEntry {
    /// Parses one entry: `loopback`, `private`, `host`, `host:port`, `ip`, `ip:port`,
    /// `[v6]:port`, `cidr`.
    pub fn parse(raw: &str) -> Result<AllowEntry, String> {
        let raw = raw.trim();
        let bad = || format!("'{raw}' is not a host, host:port, address or CIDR block");
        match raw.to_ascii_lowercase().as_str() {
            "" => return Err("an empty entry".into()),
            "loopback" => return Ok(AllowEntry::Loopback),
            "private" => return Ok(AllowEntry::Private),
            _ => {}
        }
        if let Some((addr, prefix)) = raw.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad());
            }
            return Ok(AllowEntry::Net {
                addr,
                prefix,
                port: None,
            });
        }
        if let Ok(addr) = raw.parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(AllowEntry::Net {
                addr,
                prefix,
                port: None,
            });
        }
        if let Ok(socket) = raw.parse::<std::net::SocketAddr>() {
            let addr = socket.ip();
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(AllowEntry::Net {
                addr,
                prefix,
                port: Some(socket.port()),
            });
        }
        let (name, port) = match raw.rsplit_once(':') {
            Some((name, port)) => (name, Some(port.parse::<u16>().map_err(|_| bad())?)),
            None => (raw, None),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !valid {
            return Err(bad());
        }
        Ok(AllowEntry::Host { name, port })
    }

    /// Whether the entry names a port.
    pub fn has_port(&self) -> bool {
        matches!(
            self,
            AllowEntry::Host { port: Some(_), .. } | AllowEntry::Net { port: Some(_), .. }
        )
    }

    /// Whether the entry allows `ip` reached as `host` on `port`. An entry that names a port
    /// allows nothing when the port is not known (the resolver's check).
    fn allows(&self, host: &str, ip: IpAddr, class: AddressClass, port: Option<u16>) -> bool {
        let port_ok = |only: &Option<u16>| match (only, port) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(only), Some(port)) => *only == port,
        };
        match self {
            AllowEntry::Loopback => class == AddressClass::Loopback,
            AllowEntry::Private => class == AddressClass::Private,
            AllowEntry::Host { name, port: only } => {
                host.trim_end_matches('.').eq_ignore_ascii_case(name) && port_ok(only)
            }
            AllowEntry::Net {
                addr,
                prefix,
                port: only,
            } => in_net(canonical(ip), *addr, *prefix) && port_ok(only),
        }
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Loopback => write!(f, "loopback"),
            AllowEntry::Private => write!(f, "private"),
            AllowEntry::Host { name, port: None } => write!(f, "{name}"),
            AllowEntry::Host {
                name,
                port: Some(p),
            } => write!(f, "{name}:{p}"),
            AllowEntry::Net {
                addr, prefix, port, ..
            } => {
                write!(f, "{addr}/{prefix}")?;
                match port {
                    Some(p) => write!(f, " port {p}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// An IPv6 address that carries an IPv4 one, as that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is in `addr/prefix`.
fn in_net(ip: IpAddr, addr: IpAddr, prefix: u8) -> bool {
    match (ip, canonical(addr)) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// Which addresses outbound requests may reach, and how much of an answer is read.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The operator's allow list.
    pub allow: Vec<AllowEntry>,
    /// Loopback is allowed (the server is bound to a loopback address).
    pub loopback: bool,
}

/// Why the policy refuses an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The host as the URL names it.
    pub host: String,
    /// The class of the refused address.
    pub class: AddressClass,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.class.never_allowed() {
            write!(
                f,
                "{} is {}, which Prompter never connects to",
                self.host,
                self.class.describe()
            )
        } else {
            write!(
                f,
                "{} is {}, which Prompter's outbound policy does not allow (an operator can \
                 allow it with PROMPTER_OUTBOUND_ALLOW)",
                self.host,
                self.class.describe()
            )
        }
    }
}

impl std::error::Error for Denied {}

impl Policy {
    /// The policy of the `PROMPTER_OUTBOUND_ALLOW` entries, with loopback allowed when
    /// `loopback` is true.
    pub fn new(entries: &[String], loopback: bool) -> Result<Policy, String> {
        let allow = entries
            .iter()
            .filter(|e| !e.trim().is_empty())
            .map(|e| AllowEntry::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { allow, loopback })
    }

    /// Whether `ip`, reached as `host` on `port` (when known), may be connected to.
    pub fn check(&self, host: &str, ip: IpAddr, port: Option<u16>) -> Result<(), Denied> {
        let class = classify(ip);
        let allowed = match class {
            AddressClass::Public => true,
            c if c.never_allowed() => false,
            AddressClass::Loopback if self.loopback => true,
            c => self.allow.iter().any(|e| e.allows(host, ip, c, port)),
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                host: host.to_string(),
                class,
            })
        }
    }
}
