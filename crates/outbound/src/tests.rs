//! The policy over address classes and their spellings, and the client over listeners on
//! loopback: literal addresses, names that resolve to refused addresses, redirects, size caps.
use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn class(ip: &str) -> AddressClass {
    policy::classify(ip.parse().expect("ip"))
}

#[test]
fn addresses_are_classified_whatever_their_form() {
    use AddressClass::*;
    for (ip, want) in [
        ("8.8.8.8", Public),
        ("1.1.1.1", Public),
        ("2606:4700::1111", Public),
        ("127.0.0.1", Loopback),
        ("127.255.0.9", Loopback),
        ("::1", Loopback),
        ("::ffff:127.0.0.1", Loopback),
        ("::127.0.0.1", Loopback),
        ("64:ff9b::7f00:1", Loopback),
        ("2002:7f00:1::", Loopback),
        ("10.1.2.3", Private),
        ("172.16.0.1", Private),
        ("172.31.255.255", Private),
        ("192.168.1.1", Private),
        ("100.64.0.1", Private),
        ("198.18.0.1", Private),
        ("fd12::1", Private),
        ("fec0::1", Private),
        ("::ffff:10.0.0.1", Private),
        ("169.254.169.254", LinkLocal),
        ("169.254.1.1", LinkLocal),
        ("::ffff:169.254.169.254", LinkLocal),
        ("fe80::1", LinkLocal),
        ("fd00:ec2::254", Metadata),
        ("100.100.100.200", Metadata),
        ("0.0.0.0", Unusable),
        ("0.1.2.3", Unusable),
        ("::", Unusable),
        ("255.255.255.255", Unusable),
        ("224.0.0.1", Unusable),
        ("ff02::1", Unusable),
        ("240.0.0.1", Unusable),
    ] {
        assert_eq!(class(ip), want, "{ip}");
    }
}

/// The URL parser turns every spelling of an address into the address; the policy then judges
/// the address, never the spelling.
#[test]
fn every_spelling_of_a_refused_address_is_refused() {
    let policy = Policy::default();
    for raw in [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://127.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://2852039166/",
        "http://10.0.0.1/",
        "http://0/",
        "http://[fd00:ec2::254]/",
    ] {
        let url = Url::parse(raw).expect("url");
        assert!(
            matches!(check_literal(&policy, &url), Err(OutboundError::Denied(_))),
            "{raw} was not refused"
        );
    }
    for ok in [
        "http://8.8.8.8/",
        "https://[2606:4700::1111]/",
        "https://example.com/",
    ] {
        assert!(
            check_literal(&policy, &Url::parse(ok).expect("url")).is_ok(),
            "{ok}"
        );
    }
    for bad in [
        "ftp://8.8.8.8/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        assert_eq!(
            check_literal(&policy, &Url::parse(bad).expect("url")),
            Err(OutboundError::BadUrl),
            "{bad}"
        );
    }
}

#[test]
fn the_allow_list_opens_loopback_and_private_but_never_link_local() {
    let entries: Vec<String> = [
        "10.0.0.0/8",
        "vllm.internal:8000",
        "127.0.0.1:8787",
        "minio",
        "[::1]:9000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let policy = Policy::new(&entries, false).expect("policy");
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    assert!(policy.check("10.2.3.4", ip("10.2.3.4"), Some(80)).is_ok());
    assert!(policy.check("x", ip("::ffff:10.2.3.4"), Some(80)).is_ok());
    assert!(
        policy
            .check("192.168.0.1", ip("192.168.0.1"), None)
            .is_err()
    );
    assert!(
        policy
            .check("vllm.internal", ip("192.168.0.9"), Some(8000))
            .is_ok()
    );
    assert!(
        policy
            .check("vllm.internal", ip("192.168.0.9"), Some(22))
            .is_err()
    );
    assert!(
        policy
            .check("VLLM.internal.", ip("192.168.0.9"), Some(8000))
            .is_ok()
    );
    // A port-bound entry allows nothing where the port is not known (the resolver's check).
    assert!(
        policy
            .check("vllm.internal", ip("192.168.0.9"), None)
            .is_err()
    );
    assert!(
        policy
            .check("127.0.0.1", ip("127.0.0.1"), Some(8787))
            .is_ok()
    );
    assert!(
        policy
            .check("127.0.0.1", ip("127.0.0.1"), Some(5432))
            .is_err()
    );
    assert!(policy.check("minio", ip("172.17.0.2"), Some(9000)).is_ok());
    assert!(policy.check("::1", ip("::1"), Some(9000)).is_ok());
    // Never, whatever the list says.
    let all: Vec<String> = [
        "169.254.0.0/16",
        "0.0.0.0/0",
        "::/0",
        "metadata.google.internal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let open = Policy::new(&all, true).expect("policy");
    for never in [
        "169.254.169.254",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
    ] {
        let denied = open
            .check("metadata.google.internal", ip(never), Some(80))
            .expect_err(never);
        assert!(denied.to_string().contains("never connects"), "{denied}");
    }
    // `loopback` and `private` entries, and a loopback-bound server.
    let words = Policy::new(&["loopback".into(), "private".into()], false).expect("policy");
    assert!(words.check("x", ip("127.0.0.2"), None).is_ok());
    assert!(words.check("x", ip("172.20.0.1"), None).is_ok());
    let local = Policy::new(&[], true).expect("policy");
    assert!(local.check("localhost", ip("::1"), Some(1)).is_ok());
    assert!(local.check("10.0.0.1", ip("10.0.0.1"), None).is_err());
}

#[test]
fn allow_entries_parse_or_say_why_not() {
    for ok in [
        "loopback",
        "PRIVATE",
        "10.0.0.0/8",
        "fd00::/8",
        "127.0.0.1",
        "127.0.0.1:8080",
        "[::1]:8080",
        "ls.example.com",
        "ls.example.com:8080",
    ] {
        assert!(AllowEntry::parse(ok).is_ok(), "{ok}");
    }
    for bad in ["10.0.0.0/33", "host:port", "a b", "http://x", "", "/8"] {
        assert!(AllowEntry::parse(bad).is_err(), "{bad}");
    }
}

/// A one-shot HTTP server on loopback answering every connection with `answer`; its port.
async fn serve(answer: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    port
}

fn ok_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn loopback_is_reached_only_where_allowed() {
    let port = serve(ok_answer("secret")).await;
    let closed = Outbound::new(Policy::default(), 1024);
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://2130706433:{port}/"),
    ] {
        let err = closed
            .send(closed.client().get(&url))
            .await
            .expect_err(&url);
        assert!(matches!(err, OutboundError::Denied(_)), "{url}: {err:?}");
        assert!(!err.to_string().contains("secret"));
    }
    let allowed = Outbound::new(
        Policy::new(&[format!("127.0.0.1:{port}")], false).expect("policy"),
        1024,
    );
    let response = allowed
        .send(allowed.client().get(format!("http://127.0.0.1:{port}/")))
        .await
        .expect("allowed");
    assert_eq!(allowed.read(response).await.expect("body"), b"secret");
    let local = Outbound::new(Policy::new(&[], true).expect("policy"), 1024);
    let response = local
        .send(local.client().get(format!("http://localhost:{port}/")))
        .await
        .expect("loopback-bound");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let inner = serve(ok_answer("internal")).await;
    let to_literal = serve(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{inner}/\r\ncontent-length: 0\r\n\r\n"
    ))
    .await;
    let to_name = serve(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://localhost:{inner}/\r\ncontent-length: 0\r\n\r\n"
    ))
    .await;
    // The redirecting servers are allowed by address and port; the target is not.
    let policy = Policy::new(
        &[
            format!("127.0.0.1:{to_literal}"),
            format!("127.0.0.1:{to_name}"),
        ],
        false,
    )
    .expect("policy");
    let outbound = Outbound::new(policy, 1024);
    for port in [to_literal, to_name] {
        let err = outbound
            .send(outbound.client().get(format!("http://127.0.0.1:{port}/")))
            .await
            .expect_err("redirect to loopback");
        assert!(matches!(err, OutboundError::Denied(_)), "{err:?}");
    }
    let looping =
        serve("HTTP/1.1 302 Found\r\nlocation: /again\r\ncontent-length: 0\r\n\r\n".to_string())
            .await;
    let open = Outbound::new(Policy::new(&[], true).expect("policy"), 1024);
    let err = open
        .send(open.client().get(format!("http://127.0.0.1:{looping}/")))
        .await
        .expect_err("loop");
    assert_eq!(err, OutboundError::TooManyRedirects);
}

#[tokio::test]
async fn answers_are_read_up_to_the_cap() {
    let big = "x".repeat(10_000);
    let declared = serve(ok_answer(&big)).await;
    let chunked = serve(format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    ))
    .await;
    let outbound = Outbound::new(Policy::new(&[], true).expect("policy"), 1000);
    for port in [declared, chunked] {
        let response = outbound
            .send(outbound.client().get(format!("http://127.0.0.1:{port}/")))
            .await
            .expect("answer");
        assert_eq!(
            outbound.read(response).await,
            Err(OutboundError::TooLarge(1000))
        );
    }
    // A closed port and an open one that is not HTTP read the same to a user.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let not_http = silent.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = silent.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH\r\n").await;
        }
    });
    let closed_port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    for port in [not_http, closed_port] {
        let err = outbound
            .send(outbound.client().get(format!("http://127.0.0.1:{port}/")))
            .await
            .expect_err("unreachable");
        assert_eq!(err, OutboundError::Unreachable, "{port}");
    }
}
