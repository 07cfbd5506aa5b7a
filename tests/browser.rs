//! The browser path of a file (`download`, and `view` through a signed
//! link): HEAD, one byte range (206, 416 past the end, `If-Range`),
//! validators (`ETag`, `Last-Modified`) and the conditional requests that
//! use them (304), with and without a key.

mod common;

use common::*;

/// A file of 100 bytes, `0123456789` ten times, and its id.
fn hundred(s: &TestServer) -> String {
    s.put_file("/", "hundred.txt", "0123456789".repeat(10).as_bytes(), None)
}

#[test]
fn ranges_resume_a_download() {
    let s = TestServer::start(&[]);
    let id = hundred(&s);
    let target = format!("/download?id={}", enc(&id));
    let get = |extra: &[(&str, &str)]| s.call_with("GET", &target, extra, b"");
    let whole = get(&[]);
    assert_eq!((whole.status, whole.body.len()), (200, 100));
    assert_eq!(whole.header("Accept-Ranges"), Some("bytes"));
    let part = get(&[("Range", "bytes=10-19")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"0123456789");
    assert_eq!(part.header("Content-Range"), Some("bytes 10-19/100"));
    assert_eq!(part.header("Content-Length"), Some("10"));
    let tail = get(&[("Range", "bytes=-5")]);
    assert_eq!((tail.status, tail.body.as_slice()), (206, &b"56789"[..]));
    let rest = get(&[("Range", "bytes=95-")]);
    assert_eq!((rest.status, rest.body.as_slice()), (206, &b"56789"[..]));
    let past = get(&[("Range", "bytes=100-")]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("Content-Range"), Some("bytes */100"));
    let said = s.records(5).into_iter().filter(|r| r["status"] == 416).map(|r| r["error"].clone()).collect::<Vec<_>>();
    assert!(said.iter().all(|e| e.as_str().is_some_and(|e| e.contains("past the end"))), "{said:?}");
    // Several ranges, or a unit we do not know: the whole file.
    assert_eq!(get(&[("Range", "bytes=0-1,5-6")]).body.len(), 100);
    assert_eq!(get(&[("Range", "items=0-1")]).status, 200);
    // If-Range: the range of this version, or the whole new one.
    let etag = whole.header("ETag").unwrap().to_string();
    assert_eq!(get(&[("Range", "bytes=0-0"), ("If-Range", &etag)]).status, 206);
    assert_eq!(get(&[("Range", "bytes=0-0"), ("If-Range", "\"another\"")]).status, 200);
    // HEAD: the head of the answer, no body.
    let head = s.call_with("HEAD", &target, &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("100"));
    assert!(head.body.is_empty());
    // The journal counts what went out: a part is a whole answer.
    let parts: Vec<_> = s.records(12).into_iter().filter(|r| r["status"] == 206).collect();
    assert!(!parts.is_empty() && parts.iter().all(|r| r["complete"] == true), "{parts:?}");
    assert!(parts.iter().any(|r| r["bytes"] == 10), "{parts:?}");
}

#[test]
fn validators_answer_304_until_the_file_changes() {
    let s = TestServer::start(&[]);
    let id = hundred(&s);
    let target = format!("/download?id={}", enc(&id));
    // Written less than a second ago: no date yet, since a second write
    // within the same second would leave it unchanged.
    assert!(s.call_with("GET", &target, &[], b"").header("Last-Modified").is_none());
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let file = std::fs::File::options().write(true).open(s.root.join("hundred.txt")).unwrap();
    file.set_modified(an_hour_ago).unwrap();
    let first = s.call_with("GET", &target, &[], b"");
    let etag = first.header("ETag").expect("an ETag").to_string();
    let modified = first.header("Last-Modified").expect("a Last-Modified").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = s.call_with("GET", &target, &[("If-None-Match", &etag)], b"");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("ETag"), Some(etag.as_str()));
    // A 304 says nothing of a length (RFC 9110, 8.6).
    assert_eq!(again.header("Content-Length"), None, "{:?}", again.headers);
    // If-Range with a date is too weak to join two versions: whole file.
    assert_eq!(s.call_with("GET", &target, &[("Range", "bytes=0-0"), ("If-Range", &modified)], b"").status, 200);
    assert_eq!(s.call_with("GET", &target, &[("If-Modified-Since", &modified)], b"").status, 304);
    // A wrong tag wins over a matching date.
    let wrong = s.call_with("GET", &target, &[("If-None-Match", "\"x\""), ("If-Modified-Since", &modified)], b"");
    assert_eq!(wrong.status, 200);
    // New bytes, new tag: the old copy is not current any more.
    assert_eq!(s.upload(&id, b"new bytes").status, 200);
    let after = s.call_with("GET", &target, &[("If-None-Match", &etag)], b"");
    assert_eq!((after.status, after.body.as_slice()), (200, &b"new bytes"[..]));
    assert_ne!(after.header("ETag"), Some(etag.as_str()));
    // Documents are never kept by a cache.
    assert_eq!(after.header("Cache-Control"), Some("no-store"));
}

#[test]
fn signed_links_take_the_same_headers_without_a_key() {
    let s = TestServer::start(&[]);
    let id = hundred(&s);
    let meta = s.metadata(&id);
    for link in [meta["viewLink"].as_str().unwrap(), meta["downloadLink"].as_str().unwrap()] {
        let prefix = format!("http://{}", s.addr);
        let target = link.strip_prefix(&prefix).unwrap();
        let part = request(s.addr, "GET", target, &[("Range", "bytes=0-3")], b"");
        assert_eq!((part.status, part.body.as_slice()), (206, &b"0123"[..]), "{link}");
        let etag = part.header("ETag").unwrap().to_string();
        assert_eq!(request(s.addr, "GET", target, &[("If-None-Match", &etag)], b"").status, 304);
    }
}
