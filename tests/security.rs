//! What a hostile or broken client can try: ids and names that point outside
//! the root, symlinks inside it, forged browser links, credentials leaking
//! into logs, bodies that lie about their size.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use wfhook::state_dir;

/// Ids no store can have handed out, as they appear in a query string.
const BAD_IDS: [&str; 14] = [
    "..%2Fx",
    "../x",
    "%2e%2e%2f",
    "%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252f",
    "..",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "%00",
    "0123456789abcde%00",
    state_dir::NAME,
    "0123456789ABCDEF",
    "%ff%fe",
    "a%0D%0Ab",
];

/// (method, endpoint with `{}` for the id, error style).
const ID_TAKERS: [(&str, &str, &str); 10] = [
    ("GET", "/metadata?id={}", "error"),
    ("GET", "/files?parentId={}", "error"),
    ("GET", "/search?query=a&parentId={}", "error"),
    ("GET", "/download?id={}", "error"),
    ("PUT", "/upload?id={}", "fail"),
    ("POST", "/uploadInit?parentId={}&filename=x.txt", "error"),
    ("POST", "/createFolder?parentId={}&name=x", "error"),
    ("PUT", "/delete?documentId={}", "failure"),
    ("PUT", "/delete?folderId={}", "failure"),
    ("PUT", "/rename?id={}&name=y", "failure"),
];

#[test]
fn malformed_ids_are_404_never_500() {
    let s = TestServer::start(&[]);
    let long = "a".repeat(300);
    for (method, endpoint, style) in ID_TAKERS {
        for bad in BAD_IDS.iter().copied().chain([long.as_str()]) {
            let target = endpoint.replace("{}", bad);
            let r = s.call(method, &target, b"payload");
            // An id that cannot exist names nothing: 404, as for any id
            // that is not there.
            assert_eq!(r.status, 404, "{method} {target}: {}", r.text());
            r.assert_error(404, style);
        }
    }
    assert!(s.files("/").is_empty(), "nothing was created");
    assert_eq!(fs::read_dir(&s.root).unwrap().count(), 1);
}

#[test]
fn well_formed_unknown_ids_are_404() {
    let s = TestServer::start(&[]);
    for (method, endpoint, style) in ID_TAKERS {
        let target = endpoint.replace("{}", "0123456789abcdef");
        let r = s.call(method, &target, b"payload");
        assert_eq!(r.status, 404, "{method} {target}: {}", r.text());
        r.assert_error(404, style);
    }
}

#[test]
fn names_that_are_not_plain_names_are_400() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "ok.txt", b"ok", None);
    let long = "n".repeat(256);
    let bad = [
        "a/b",
        "../x",
        "..",
        ".",
        "/abs",
        "a\\b",
        "a\nb",
        "a\rb",
        "tab\there",
        "nul\0",
        "\u{7f}",
        "",
        " lead",
        state_dir::NAME,
    ];
    for name in bad.iter().copied().chain([long.as_str()]) {
        let n = enc(name);
        s.call("POST", &format!("/createFolder?parentId=%2F&name={n}"), b"").assert_error(400, "error");
        s.call("POST", &format!("/uploadInit?parentId=%2F&filename={n}"), b"").assert_error(400, "error");
        s.call("PUT", &format!("/rename?id={id}&name={n}"), b"").assert_error(400, "failure");
    }
    assert_eq!(on_disk(&s.root), [state_dir::NAME, "ok.txt"]);
    assert!(!s.root.parent().unwrap().join("x").exists());
    assert_eq!(s.metadata(&id)["title"], "ok.txt");
}

#[test]
fn urls_that_climb_out_of_the_base_path_are_404() {
    let s = TestServer::builder().base_path("/api/v1").start();
    for target in
        ["/api/v1/../serviceInfo", "/api/v1/%2e%2e/serviceInfo", "/api/v1/./serviceInfo", "//api/v1/serviceInfo"]
    {
        let r = request(s.addr, "GET", target, &s.auth(), b"");
        r.assert_error(404, "error");
    }
}

#[test]
fn symlinks_inside_the_root_never_appear_or_serve_bytes() {
    let s = TestServer::start(&[]);
    let out = s.outside();
    fs::write(out.join("secret.txt"), "TOP SECRET").unwrap();
    fs::create_dir(out.join("private")).unwrap();
    fs::write(out.join("private/inner-secret.txt"), "TOP SECRET").unwrap();
    symlink(out.join("secret.txt"), s.root.join("secret-link.txt")).unwrap();
    symlink(out.join("private"), s.root.join("private-link")).unwrap();
    symlink("/etc/passwd", s.root.join("passwd")).unwrap();
    fs::write(s.root.join("real.txt"), "real").unwrap();

    assert_eq!(s.titles("/"), ["real.txt"]);
    for q in ["secret", "private", "inner", "passwd", "link"] {
        assert!(s.search(q).is_empty(), "search {q} found a symlink");
    }
}

#[test]
fn an_id_whose_path_became_a_symlink_stops_resolving() {
    let s = TestServer::start(&[]);
    let out = s.outside();
    fs::write(out.join("doc.txt"), "TOP SECRET").unwrap();
    fs::create_dir(out.join("dir")).unwrap();
    fs::write(out.join("dir/inside.txt"), "TOP SECRET").unwrap();

    let file = s.put_file("/", "doc.txt", b"mine", None);
    let dir = s.mkdir("/", "dir");
    let inside = s.put_file(&dir, "inside.txt", b"mine too", None);

    // Someone swaps the file and the folder for symlinks leading out.
    fs::remove_file(s.root.join("doc.txt")).unwrap();
    symlink(out.join("doc.txt"), s.root.join("doc.txt")).unwrap();
    fs::remove_dir_all(s.root.join("dir")).unwrap();
    symlink(out.join("dir"), s.root.join("dir")).unwrap();

    for id in [&file, &dir, &inside] {
        s.get(&format!("/metadata?id={id}")).assert_error(404, "error");
        s.download(id).assert_error(404, "error");
    }
    s.get(&format!("/files?parentId={dir}")).assert_error(404, "error");
    s.upload(&file, b"overwrite").assert_error(404, "fail");
    s.upload(&inside, b"overwrite").assert_error(404, "fail");
    s.rename(&inside, "moved.txt").assert_error(404, "failure");
    s.delete("documentId", &inside).assert_error(404, "failure");
    s.upload_init_raw(&dir, "planted.txt").assert_error(404, "error");
    s.create_folder(&dir, "planted").assert_error(404, "error");
    assert!(s.titles("/").is_empty());
    assert_eq!(fs::read(out.join("doc.txt")).unwrap(), b"TOP SECRET");
    assert_eq!(fs::read(out.join("dir/inside.txt")).unwrap(), b"TOP SECRET");
    assert_eq!(fs::read_dir(out.join("dir")).unwrap().count(), 1, "nothing was planted outside");
}

#[test]
fn signed_links_open_without_a_key() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "Shared <b>");
    let id = s.put_file(&dir, "photo.png", b"\x89PNG fake", None);
    let meta = s.metadata(&id);

    let view = s.fetch_link(meta["viewLink"].as_str().unwrap());
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.body, b"\x89PNG fake");
    assert_eq!(view.header("Content-Type"), Some("image/png"));
    assert!(view.header("Content-Disposition").unwrap().starts_with("inline"), "{:?}", view.headers);

    let download = s.fetch_link(meta["downloadLink"].as_str().unwrap());
    assert_eq!(download.status, 200);
    assert_eq!(download.body, b"\x89PNG fake");
    assert!(download.header("Content-Disposition").unwrap().starts_with("attachment"));

    // A folder's link is a page of signed links to what it holds.
    let folder = s.metadata(&dir);
    let page = s.fetch_link(folder["viewLink"].as_str().unwrap());
    assert_eq!(page.status, 200);
    assert!(page.header("Content-Type").unwrap().starts_with("text/html"));
    let html = page.text();
    assert!(html.contains("photo.png") && html.contains("Shared &lt;b&gt;") && !html.contains("<b>"), "{html}");
    // The name's link opens the file.
    let name = html.split("photo.png</a>").next().unwrap();
    let href = name.rsplit("href=\"").next().unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert_eq!(s.fetch_link(&href).body, b"\x89PNG fake");
}

#[test]
fn tampered_or_expired_links_are_403() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.txt", b"A", None);
    let other = s.put_file("/", "b.txt", b"B", None);
    let view = s.metadata(&id)["viewLink"].as_str().unwrap().to_string();
    let download = s.metadata(&id)["downloadLink"].as_str().unwrap().to_string();
    let expires: u64 = view.split("expires=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let sig = view.split("sig=").nth(1).unwrap().to_string();
    let flipped = format!("{}{}", &sig[..sig.len() - 1], if sig.ends_with('0') { '1' } else { '0' });

    let forged = [
        view.replace(&sig, &flipped),
        view.replace(&sig, ""),
        view.replace(&sig, "zz"),
        view.replace(&id, &other),
        view.replace(&format!("expires={expires}"), &format!("expires={}", expires + 1)),
        view.replace(&format!("expires={expires}"), "expires=99999999999"),
        view.replace("/view?", "/download?"),
        download.replace("/download?", "/view?"),
        view.replace(&format!("&sig={sig}"), ""),
    ];
    for link in &forged {
        let r = s.fetch_link(link);
        assert_eq!(r.status, 403, "{link}: {}", r.text());
        r.assert_error(403, "error");
    }

    // A correctly signed link whose time has passed.
    let secret = fs::read_to_string(s.state_dir().link_secret()).unwrap();
    let signer = wfhook::crypto::Signer::new(secret.trim().as_bytes());
    let past = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() - 60;
    let good_sig = signer.sign(&["view", &id, &past.to_string()]);
    let expired = format!("/view?id={id}&expires={past}&sig={good_sig}");
    request(s.addr, "GET", &expired, &[], b"").assert_error(403, "error");
    // …while the same signer's fresh link is accepted, so the refusal is about time.
    let future = past + 3600;
    let fresh = format!("/view?id={id}&expires={future}&sig={}", signer.sign(&["view", &id, &future.to_string()]));
    assert_eq!(request(s.addr, "GET", &fresh, &[], b"").body, b"A");
}

#[test]
fn a_link_signed_by_another_root_is_refused() {
    let a = TestServer::start(&[]);
    let b = TestServer::start(&[]);
    let id = a.put_file("/", "a.txt", b"A", None);
    let link = a.metadata(&id)["viewLink"].as_str().unwrap().to_string();
    let target = link.strip_prefix(&format!("http://{}", a.addr)).unwrap();
    request(b.addr, "GET", target, &[], b"").assert_error(403, "error");
}

#[test]
fn error_messages_never_reveal_server_paths() {
    let s = TestServer::start(&[]);
    let root = s.root.to_string_lossy().into_owned();
    let tmp = std::env::temp_dir().to_string_lossy().into_owned();
    let id = s.put_file("/", "a.txt", b"A", None);
    fs::set_permissions(s.root.join("a.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let mut responses = vec![
        s.download(&id),
        s.get("/metadata?id=..%2F..%2Fetc"),
        s.get("/files?parentId=0123456789abcdef"),
        s.create_folder("/", "a.txt"),
        s.rename(&id, "../../x"),
        s.get("/nope/at/all"),
    ];
    fs::set_permissions(s.root.join("a.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    responses.push(s.download(&id));
    for r in &responses {
        let text = r.text();
        assert!(!text.contains(&root) && !text.contains(&tmp), "{text}");
        assert!(!text.contains("panicked") && !text.contains("os error"), "{text}");
    }
    assert_eq!(responses.last().unwrap().body, b"A");
}

#[test]
fn the_key_never_reaches_the_journal_or_the_log() {
    let key = "k3y-7f3a9c01d2e4b6a8";
    let s = TestServer::builder().key(key).start();
    let id = s.put_file("/", "a.txt", b"A", Some(("d", "v")));
    s.action("lock", "d", Some("v")).ok_json();
    s.call_as("GET", "/metadata?id=%2F", &[("apiKey", "k3y-wrong-guess"), ("username", USER)], b"")
        .assert_error(403, "error");
    s.get(&format!("/metadata?id={id}&apiKey={key}")).ok_json();
    let journal = fs::read_to_string(s.state_dir().journal()).unwrap();
    assert!(!journal.is_empty());
    for (what, text) in [("journal", journal), ("log", s.stderr()), ("stdout", s.stdout())] {
        assert!(!text.contains(key), "{what} holds the key:\n{text}");
        assert!(!text.contains("k3y-wrong-guess"), "{what} holds a guessed key:\n{text}");
    }
}

#[test]
fn ambiguous_body_framing_is_refused() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.txt", b"A", None);
    let req = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n\
         Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
    );
    let (head, _) = split_raw(&raw(s.addr, req.as_bytes()));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let req = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n\
         Content-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nBB"
    );
    let (head, _) = split_raw(&raw(s.addr, req.as_bytes()));
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(s.download(&id).body, b"A");
}

/// tiny_http 0.12 drains an unread body on drop with
/// `vec![0; declared Content-Length]`: one request declaring a huge body
/// aborts the whole process, before and regardless of authentication.
#[test]
fn a_huge_declared_content_length_does_not_bring_the_server_down() {
    let s = TestServer::start(&[]);
    for (key, target) in [("wrong", "/upload?id=0123456789abcdef"), (KEY, "/serviceInfo"), (KEY, "/upload?id=..")] {
        let req = format!(
            "PUT {target} HTTP/1.1\r\nHost: t\r\napiKey: {key}\r\nusername: {USER}\r\n\
             Content-Length: 100000000000000\r\n\r\nonly a few bytes"
        );
        let bytes = raw(s.addr, req.as_bytes());
        let (head, _) = split_raw(&bytes);
        assert!(head.starts_with("HTTP/1.1 4"), "{head}");
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let r = s.get("/serviceInfo");
    assert_eq!(r.status, 200, "the server went down; stderr:\n{}", s.stderr());
}

#[test]
fn odd_names_dropped_on_disk_cannot_split_headers_or_break_listings() {
    use std::os::unix::ffi::OsStrExt;
    let s = TestServer::start(&[]);
    fs::write(s.root.join("evil\r\nSet-Cookie: pwned=1.txt"), "evil").unwrap();
    fs::write(s.root.join(std::ffi::OsStr::from_bytes(b"latin1-\xe9t\xe9.txt")), "not utf-8").unwrap();
    fs::write(s.root.join("back\\slash.txt"), "bs").unwrap();
    let fifo = s.root.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fs::write(s.root.join("plain.txt"), "plain").unwrap();

    let items = s.files("/");
    let names = titles(&items);
    assert!(names.contains(&"plain.txt".to_string()), "{names:?}");
    // A backslash is a character like any other in a Unix name (an old
    // share's): listed as it is, and served.
    let slash = find(&items, "back\\slash.txt").expect("a name with a backslash is listed");
    let r = s.download(slash["id"].as_str().unwrap());
    assert_eq!((r.status, r.body.as_slice()), (200, &b"bs"[..]));
    // A name that is not UTF-8 (an old share's Latin-1) is listed with a
    // readable title, and its id serves the real file.
    let latin1 = find(&items, "latin1-\u{fffd}t\u{fffd}.txt").expect("a name that is not UTF-8 is listed");
    let r = s.download(latin1["id"].as_str().unwrap());
    assert_eq!((r.status, r.body.as_slice()), (200, &b"not utf-8"[..]));
    let evil = find(&items, "evil\r\nSet-Cookie: pwned=1.txt").expect("a newline is a legal file name");
    let r = s.download(evil["id"].as_str().unwrap());
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"evil");
    assert!(r.header("Set-Cookie").is_none(), "{:?}", r.headers);
    assert!(r.headers.iter().all(|(k, v)| !k.contains("pwned") && !v.contains('\n')), "{:?}", r.headers);

    // A FIFO is not a file to serve: answering must not hang on it.
    if let Some(pipe) = find(&items, "pipe") {
        let r = s.download(pipe["id"].as_str().unwrap());
        assert_ne!(r.status, 200);
        assert!(r.status < 500, "{}", r.text());
    }
}

#[test]
fn a_link_signature_opens_only_view_and_download() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.txt", b"A", None);
    let view = s.metadata(&id)["viewLink"].as_str().unwrap().to_string();
    let query = view.split_once('?').unwrap().1.to_string();
    for endpoint in ["metadata", "files", "search", "customAction", "uploadInit"] {
        let method = if endpoint == "uploadInit" { "POST" } else { "GET" };
        let target = format!("/{endpoint}?{query}&parentId=%2F&query=a&name=ping&filename=x");
        let r = request(s.addr, method, &target, &[], b"");
        assert_eq!(r.status, 403, "{endpoint}: {}", r.text());
    }
    let r = request(s.addr, "PUT", &format!("/upload?{query}"), &[], b"overwritten");
    r.assert_error(403, "fail");
    assert_eq!(s.download(&id).body, b"A");
}
