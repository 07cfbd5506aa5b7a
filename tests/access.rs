//! Who may call what, checked from the outside against the endpoint list the
//! server itself publishes: every endpoint and every method it allows
//! refuses a request without a key, except `serviceInfo` and signed browser
//! links; a key is taken only from its header; and a genuine signed link is
//! refused once its time has passed.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;

/// Parameters enough for any endpoint to get past its own checks.
const PARAMS: &str = "id=0123456789abcdef&parentId=%2F&query=a&name=ping&filename=x.txt&documentId=d";

/// The endpoints the server serves: the advertised ones and the link target.
fn endpoints(s: &TestServer) -> Vec<String> {
    let info = request(s.addr, "GET", "/serviceInfo", &[], b"").ok_json();
    let mut all: Vec<String> =
        info["availableEndpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_string()).collect();
    all.push("view".into());
    all
}

/// The methods an endpoint allows, from the `Allow` of a 405.
fn allowed(s: &TestServer, endpoint: &str) -> Vec<String> {
    let r = request(s.addr, "DELETE", &format!("/{endpoint}"), &[], b"");
    assert_eq!(r.status, 405, "{endpoint}: {}", r.text());
    r.header("Allow").unwrap().split(',').map(|m| m.trim().to_string()).collect()
}

#[test]
fn every_endpoint_and_method_but_service_info_refuses_a_request_without_a_key() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.txt", b"A", Some(("d", "v")));
    let params = PARAMS.replace("0123456789abcdef", &id);
    let endpoints = endpoints(&s);
    assert!(endpoints.len() >= 12, "{endpoints:?}");
    let wrong: [(&str, Vec<(&str, &str)>); 5] = [
        ("no credentials", vec![]),
        ("no apiKey", vec![("username", USER)]),
        ("an empty apiKey", vec![("apiKey", ""), ("username", USER)]),
        ("a wrong apiKey", vec![("apiKey", "not-the-key"), ("username", USER)]),
        ("the key as the username", vec![("apiKey", "x"), ("username", KEY)]),
    ];
    let mut checked = 0;
    for endpoint in &endpoints {
        for method in allowed(&s, endpoint) {
            let target = format!("/{endpoint}?{params}");
            for (why, headers) in &wrong {
                let r = request(s.addr, &method, &target, headers, b"body");
                if endpoint == "serviceInfo" {
                    assert_eq!(r.status, 200, "{method} {endpoint} with {why}");
                } else {
                    assert_eq!(r.status, 403, "{method} {endpoint} with {why}: {}", r.text());
                }
                checked += 1;
            }
            // A key in the query string (where it would end up in logs) is no key.
            let r = request(s.addr, &method, &format!("{target}&apiKey={KEY}&username=u"), &[], b"body");
            assert_eq!(r.status == 200, endpoint == "serviceInfo", "{method} {endpoint} with the key in the query");
        }
    }
    assert!(checked >= 5 * 14, "only {checked} refusals checked");
    // Nothing was changed by the refused calls.
    assert_eq!(s.titles("/"), ["a.txt"]);
    assert_eq!(s.download(&id).body, b"A");
    assert_eq!(s.metadata(&id)["readOnly"], false);
}

#[test]
fn a_genuine_signed_link_is_refused_once_it_has_expired() {
    let s = TestServer::start(&["--link-ttl", "1"]);
    let id = s.put_file("/", "a.txt", b"A", None);
    let folder = s.mkdir("/", "docs");
    let meta = s.metadata(&id);
    let links = [
        meta["downloadLink"].as_str().unwrap().to_string(),
        meta["viewLink"].as_str().unwrap().to_string(),
        s.metadata(&folder)["viewLink"].as_str().unwrap().to_string(),
    ];
    let expires: u64 = links[0].split("expires=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    for link in &links {
        assert_eq!(s.fetch_link(link).status, 200, "{link}");
    }
    // Replayed after its expiry, the very same link is refused.
    wait_for("the links to expire", || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() > expires);
    for link in &links {
        s.fetch_link(link).assert_error(403, "error");
        let head = request(s.addr, "HEAD", link.strip_prefix(&format!("http://{}", s.addr)).unwrap(), &[], b"");
        assert_eq!(head.status, 403, "HEAD {link}");
    }
    // A fresh link still works: the refusal is about time, not the secret.
    let fresh = s.metadata(&id)["downloadLink"].as_str().unwrap().to_string();
    assert_eq!(s.fetch_link(&fresh).body, b"A");
}
