//! The service as a whole, as Workfront's admin screens and calls see it:
//! `/serviceInfo`, routing, the base path, methods, authentication.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;
use wfhook::actions::ACTIONS;

const ENDPOINTS: [&str; 12] = [
    "serviceInfo",
    "customAction",
    "metadata",
    "files",
    "search",
    "download",
    "thumbnail",
    "uploadInit",
    "upload",
    "createFolder",
    "delete",
    "rename",
];

/// Every endpoint that needs a key: (method, endpoint with parameters, error style).
const KEYED: [(&str, &str, &str); 11] = [
    ("GET", "/customAction?name=ping", "failure"),
    ("GET", "/metadata?id=%2F", "error"),
    ("GET", "/files?parentId=%2F", "error"),
    ("GET", "/search?query=a", "error"),
    ("GET", "/download?id=0123456789abcdef", "error"),
    ("GET", "/thumbnail?id=%2F", "error"),
    ("POST", "/uploadInit?parentId=%2F&filename=x.txt", "error"),
    ("PUT", "/upload?id=0123456789abcdef", "fail"),
    ("POST", "/createFolder?parentId=%2F&name=x", "error"),
    ("PUT", "/delete?id=0123456789abcdef", "failure"),
    ("PUT", "/rename?id=0123456789abcdef&name=y", "failure"),
];

#[test]
fn service_info_needs_no_key_and_describes_this_build() {
    let s = TestServer::start(&[]);
    let r = s.call_as("GET", "/serviceInfo", &[], b"");
    let v = r.ok_json();
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(v["webhookVersion"], "1.2");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["publisher"], "wfhook");

    let endpoints: Vec<&str> =
        v["availableEndpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(endpoints.len(), ENDPOINTS.len(), "no duplicates: {endpoints:?}");
    assert_eq!(endpoints.iter().copied().collect::<BTreeSet<_>>(), ENDPOINTS.into_iter().collect::<BTreeSet<_>>());

    // Every compiled-in action, in the registry's order, as Workfront shows it.
    let actions = v["customActions"].as_array().unwrap();
    let names: Vec<&str> = actions.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ACTIONS.iter().map(|a| a.name()).collect::<Vec<_>>());
    for (a, registered) in actions.iter().zip(ACTIONS) {
        let display = a["displayName"].as_str().unwrap_or_default();
        assert!(!display.trim().is_empty(), "{a}");
        assert_eq!(display, registered.display_name(), "{a}");
    }
}

#[test]
fn service_info_ignores_credentials_even_wrong_ones() {
    let s = TestServer::start(&[]);
    let r = s.call_as("GET", "/serviceInfo", &[("apiKey", "wrong"), ("username", "")], b"");
    assert_eq!(r.ok_json()["webhookVersion"], "1.2");
}

#[test]
fn head_answers_headers_without_a_body() {
    let s = TestServer::start(&[]);
    let get = s.call_as("GET", "/serviceInfo", &[], b"");
    let bytes = raw(s.addr, b"HEAD /serviceInfo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let (head, body) = split_raw(&bytes);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains(&format!("Content-Length: {}", get.body.len())), "{head}");
    assert!(body.is_empty(), "HEAD sent a body: {:?}", String::from_utf8_lossy(&body));

    // An authenticated GET endpoint answers HEAD the same way.
    let r = s.call("HEAD", "/metadata?id=%2F", b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
}

#[test]
fn publisher_names_the_service_and_the_root_folder() {
    let s = TestServer::start(&["--publisher", "Acme Documents"]);
    assert_eq!(s.get_json("/serviceInfo")["publisher"], "Acme Documents");
    let root = s.metadata("/");
    assert_eq!(root["title"], "Acme Documents");
    assert_eq!(root["id"], "/");
    assert_eq!(root["kind"], "folder");
}

#[test]
fn every_endpoint_is_served_under_the_base_path_and_only_there() {
    let s = TestServer::builder().base_path("/api/v1").start();
    assert_eq!(s.get_json("/serviceInfo")["webhookVersion"], "1.2");
    // The same names outside the base path are not endpoints.
    for outside in ["/serviceInfo", "/metadata?id=%2F", "/api/serviceInfo", "/api/v1serviceInfo"] {
        let r = request(s.addr, "GET", outside, &s.auth(), b"");
        r.assert_error(404, "error");
    }
    request(s.addr, "GET", "/api/v1", &s.auth(), b"").assert_error(404, "error");

    let id = s.put_file("/", "b.txt", b"based", Some(("doc-b", "ver-b")));
    assert_eq!(s.download(&id).body, b"based");
    assert_eq!(s.action("ping", "", None).ok_json()["status"], "success");
    assert_eq!(s.action("checksum", "doc-b", Some("ver-b")).ok_json()["status"], "success");
    let meta = s.metadata(&id);
    let prefix = format!("http://{}/api/v1/", s.addr);
    for link in ["viewLink", "downloadLink"] {
        let url = meta[link].as_str().unwrap();
        assert!(url.starts_with(&prefix), "{link} {url}");
        assert_eq!(s.fetch_link(url).body, b"based", "{link}");
    }
    assert_eq!(s.files("/").len(), 1);
    assert_eq!(s.search("B.TXT").len(), 1);
}

#[test]
fn unknown_paths_are_404_with_a_json_error() {
    let s = TestServer::start(&[]);
    for path in [
        "/",
        "/nope",
        "/serviceInfo/extra",
        "/serviceinfo",
        "/../serviceInfo",
        "/%73erviceInfo",
        "/a/b/metadata?id=%2F",
    ] {
        let with_key = request(s.addr, "GET", path, &s.auth(), b"");
        with_key.assert_error(404, "error");
        let without = request(s.addr, "GET", path, &[], b"");
        without.assert_error(404, "error");
    }
}

#[test]
fn wrong_methods_are_405_with_an_allow_header() {
    let s = TestServer::start(&[]);
    let cases = [
        ("POST", "/serviceInfo", "GET, HEAD", "error"),
        ("DELETE", "/metadata?id=%2F", "GET, HEAD", "error"),
        ("PUT", "/files", "GET, HEAD", "error"),
        ("POST", "/search?query=a", "GET, HEAD", "error"),
        ("POST", "/download?id=0123456789abcdef", "GET, HEAD", "error"),
        ("PUT", "/thumbnail?id=0123456789abcdef", "GET, HEAD", "error"),
        ("GET", "/uploadInit", "POST", "error"),
        ("GET", "/upload?id=0123456789abcdef", "PUT", "fail"),
        ("POST", "/upload?id=0123456789abcdef", "PUT", "fail"),
        ("PUT", "/createFolder", "POST", "error"),
        ("GET", "/delete?id=0123456789abcdef", "PUT", "failure"),
        ("DELETE", "/delete?id=0123456789abcdef", "PUT", "failure"),
        ("GET", "/rename", "PUT", "failure"),
        ("POST", "/customAction?name=ping", "GET", "failure"),
        // A custom action changes things: HEAD must not run it.
        ("HEAD", "/customAction?name=ping", "GET", "failure"),
    ];
    for (method, path, allow, style) in cases {
        let r = s.call(method, path, b"");
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
        if method != "HEAD" {
            r.assert_error(405, style);
        }
    }
}

#[test]
fn head_on_a_custom_action_does_not_run_it() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "h.txt", b"x", Some(("doc-h", "v1")));
    let r = s.call("HEAD", "/customAction?name=lock&documentId=doc-h", b"");
    assert_eq!(r.status, 405);
    assert_eq!(s.metadata(&id)["readOnly"], false, "HEAD locked the document");
}

#[test]
fn unknown_query_parameters_and_extra_headers_are_ignored() {
    let s = TestServer::start(&[]);
    let extra = [
        ("Authorization", "Basic dXNlcjpwYXNz"),
        ("X-Workfront-Trace", "abc"),
        ("Accept", "application/json"),
        ("User-Agent", "Workfront/2024"),
    ];
    let id = s.put_file("/", "e.txt", b"extra", Some(("doc-e", "v1")));
    for endpoint in [
        "/serviceInfo?access_type=offline".to_string(),
        format!("/metadata?id={id}&access_type=offline&x=1&x=2"),
        "/files?parentId=%2F&access_type=offline&max=5&offset=0".into(),
        "/search?query=e&access_type=offline&parentId=".into(),
        format!("/download?id={id}&access_type=offline"),
        "/customAction?name=ping&access_type=offline&documentId=&documentVersionId=".into(),
        "/customAction?name=checksum&documentId=doc-e&documentVersionId=v1&access_type=offline".into(),
    ] {
        let r = s.call_with("GET", &endpoint, &extra, b"");
        assert_eq!(r.status, 200, "{endpoint}: {}", r.text());
    }
    let r = s.call_with("POST", "/createFolder?parentId=%2F&name=f&access_type=offline", &extra, b"");
    assert_eq!(r.ok_json()["kind"], "folder");
    let r = s.call_with("PUT", &format!("/rename?id={id}&name=e2.txt&access_type=offline"), &extra, b"");
    assert_eq!(r.ok_json()["status"], "success");
}

#[test]
fn credential_header_names_are_case_insensitive() {
    let s = TestServer::start(&[]);
    for (k, u) in [("APIKEY", "USERNAME"), ("apikey", "username"), ("ApiKey", "UserName")] {
        let r = s.call_as("GET", "/metadata?id=%2F", &[(k, KEY), (u, USER)], b"");
        assert_eq!(r.status, 200, "{k}/{u}: {}", r.text());
    }
}

#[test]
fn every_keyed_endpoint_refuses_missing_or_wrong_credentials_with_403() {
    let s = TestServer::start(&[]);
    let bad: [(&str, Vec<(&str, &str)>); 6] = [
        ("no apiKey", vec![("username", USER)]),
        ("wrong apiKey", vec![("apiKey", "wrong-key"), ("username", USER)]),
        ("key prefix", vec![("apiKey", "test-ke"), ("username", USER)]),
        ("key with suffix", vec![("apiKey", "test-key2"), ("username", USER)]),
        ("no username", vec![("apiKey", KEY)]),
        ("blank username", vec![("apiKey", KEY), ("username", " ")]),
    ];
    for (method, endpoint, style) in KEYED {
        for (why, headers) in &bad {
            let r = s.call_as(method, endpoint, headers, b"");
            assert_eq!(r.status, 403, "{method} {endpoint} with {why}: {}", r.text());
            r.assert_error(403, style);
        }
    }
    // Nothing was created by the refused calls.
    assert!(s.files("/").is_empty());
    assert_eq!(std::fs::read_dir(&s.root).unwrap().count(), 1, "only the state folder");
}

#[test]
fn a_keys_file_accepts_each_listed_key_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "# operators\nfirst-key\n\n  second-key  \n#old-key\n").unwrap();
    let s = TestServer::builder().key("env-key").arg("--api-keys-file").arg(keys.to_str().unwrap()).start();
    for (key, ok) in [("first-key", true), ("second-key", true), ("old-key", false), ("env-key", false), ("#", false)] {
        let r = s.call_as("GET", "/metadata?id=%2F", &[("apiKey", key), ("username", USER)], b"");
        assert_eq!(r.status == 200, ok, "{key}: {}", r.text());
    }
}

#[test]
fn responses_carry_a_request_id_and_no_caching() {
    let s = TestServer::start(&[]);
    let a = s.get("/metadata?id=%2F");
    let b = s.get("/nope");
    let (ida, idb) = (a.header("X-Request-Id").unwrap(), b.header("X-Request-Id").unwrap());
    assert_ne!(ida, idb);
    assert_eq!(a.header("Cache-Control"), Some("no-store"));
    let journal: Vec<Value> = s.records(2);
    let ids: Vec<&str> = journal.iter().map(|e| e["requestId"].as_str().unwrap()).collect();
    assert_eq!(ids, [ida, idb]);
}
