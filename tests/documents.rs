//! The document store endpoints as Workfront calls them: browsing, linking,
//! sending documents (uploadInit + upload), downloading, folders, renames and
//! deletes, and sharing the folder with people who drop files in by hand.

mod common;

use std::fs;
use std::io::Write;

use common::*;
use serde_json::Value;
use wfhook::state_dir::{self, LAYOUT};

fn is_our_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty() && s.len() <= 255 && s != "/")
}

#[test]
fn the_root_folder_is_slash_and_starts_empty() {
    let s = TestServer::start(&[]);
    let root = s.metadata("/");
    assert_eq!(root["id"], "/");
    assert_eq!(root["kind"], "folder");
    assert_eq!(root["readOnly"], false);
    assert!(root["viewLink"].as_str().unwrap().starts_with("http://"));
    assert!(root["dateModified"].as_str().unwrap().ends_with('Z'));
    assert!(s.files("/").is_empty());
    // No parentId means the root too.
    assert_eq!(s.get_json("/files"), Value::Array(vec![]));
}

#[test]
fn upload_init_then_upload_then_download_returns_the_same_bytes() {
    let s = TestServer::start(&[]);
    let item = s.upload_init("/", "report.pdf", Some(("5502082c003a4f30ddec2fb2b739cb7c", "54b598a7")));
    assert_eq!(item["title"], "report.pdf");
    assert_eq!(item["kind"], "file");
    assert_eq!(item["size"], 0);
    assert_eq!(item["mimeType"], "application/pdf");
    assert_eq!(item["readOnly"], false);
    assert!(is_our_id(&item["id"]), "{item}");
    for field in ["viewLink", "downloadLink", "dateModified"] {
        assert!(item[field].is_string(), "{field} missing: {item}");
    }
    let id = item["id"].as_str().unwrap();
    assert_eq!(fs::read(s.root.join("report.pdf")).unwrap(), b"", "uploadInit creates the empty file");

    let bytes: Vec<u8> = (0..5000u32).map(|n| (n * 7 % 251) as u8).collect();
    let r = s.upload(id, &bytes);
    let v = r.ok_json();
    assert_eq!(v["result"], "success");
    assert_eq!(v["size"], bytes.len());

    let d = s.download(id);
    assert_eq!(d.status, 200);
    assert_eq!(d.body, bytes);
    assert_eq!(d.header("Content-Type"), Some("application/pdf"));
    assert_eq!(d.header("Content-Length"), Some("5000"));
    let cd = d.header("Content-Disposition").unwrap();
    assert!(cd.starts_with("attachment;") && cd.contains("filename=\"report.pdf\""), "{cd}");
    assert_eq!(fs::read(s.root.join("report.pdf")).unwrap(), bytes, "the file keeps its name on disk");

    let meta = s.metadata(id);
    assert_eq!(meta["size"], 5000);
    assert_eq!(meta["title"], "report.pdf");

    // HEAD: the same headers, no bytes.
    let h = s.call("HEAD", &format!("/download?id={id}"), b"");
    assert_eq!(h.status, 200);
    assert_eq!(h.header("Content-Length"), Some("5000"));
    assert!(h.body.is_empty());
}

#[test]
fn large_downloads_declare_their_content_length() {
    let s = TestServer::start(&[]);
    let bytes = vec![0x5au8; 300_000];
    let id = s.put_file("/", "big.bin", &bytes, None);
    let d = s.download(&id);
    assert_eq!(d.header("Content-Length"), Some("300000"), "{:?}", d.headers);
    assert_eq!(d.header("Transfer-Encoding"), None);
    assert_eq!(d.body, bytes);
}

#[test]
fn names_and_unicode_survive_the_round_trip() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "Été 2024 \"final\" (v2).docx", b"doc", None);
    let meta = s.metadata(&id);
    assert_eq!(meta["title"], "Été 2024 \"final\" (v2).docx");
    let cd = s.download(&id).header("Content-Disposition").unwrap().to_string();
    assert!(cd.contains("filename*=UTF-8''%C3%89t%C3%A9%202024%20%22final%22%20%28v2%29.docx"), "{cd}");
    assert!(s.root.join("Été 2024 \"final\" (v2).docx").is_file());
}

#[test]
fn a_taken_name_gets_a_distinct_one() {
    let s = TestServer::start(&[]);
    fs::write(s.root.join("notes.txt"), "by hand").unwrap();
    let a = s.upload_init("/", "a.pdf", None);
    let b = s.upload_init("/", "a.pdf", None);
    let c = s.upload_init("/", "a.pdf", None);
    let n = s.upload_init("/", "notes.txt", None);
    assert_eq!(a["title"], "a.pdf");
    assert_eq!(b["title"], "a (1).pdf");
    assert_eq!(c["title"], "a (2).pdf");
    assert_eq!(n["title"], "notes (1).txt");
    let ids: std::collections::HashSet<&str> = [&a, &b, &c, &n].iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(fs::read(s.root.join("notes.txt")).unwrap(), b"by hand", "the existing file is untouched");
    assert_eq!(on_disk(&s.root), [state_dir::NAME, "a (1).pdf", "a (2).pdf", "a.pdf", "notes (1).txt", "notes.txt"]);
}

#[test]
fn an_upload_over_the_limit_is_413_and_keeps_the_old_bytes() {
    let s = TestServer::start(&["--max-upload-bytes", "1000"]);
    let id = s.put_file("/", "limited.bin", &[1u8; 600], None);

    // Declared too large: refused before the body is read.
    s.upload(&id, &[2u8; 1001]).assert_error(413, "fail");
    // Chunked, so only the streamed count can tell.
    let chunked =
        s.call_with("PUT", &format!("/upload?id={id}"), &[("Transfer-Encoding", "chunked")], &chunk(&[3u8; 5000]));
    chunked.assert_error(413, "fail");
    assert_eq!(s.download(&id).body, vec![1u8; 600]);
    assert_eq!(s.metadata(&id)["size"], 600);

    // Exactly the limit is fine, chunked or not.
    assert_eq!(s.upload(&id, &[4u8; 1000]).ok_json()["result"], "success");
    let r = s.call_with("PUT", &format!("/upload?id={id}"), &[("Transfer-Encoding", "chunked")], &chunk(&[5u8; 1000]));
    assert_eq!(r.ok_json()["size"], 1000);
    assert_eq!(s.download(&id).body, vec![5u8; 1000]);
    assert!(temp_files(&s.state_dir().tmp()).is_empty(), "refused uploads left temp files");
}

/// A chunked body: one chunk and the terminator.
fn chunk(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n0\r\n\r\n");
    out
}

#[test]
fn uploads_leave_no_temp_files_in_the_folder() {
    let s = TestServer::start(&["--max-upload-bytes", "100"]);
    let id = s.put_file("/", "t.txt", b"one", None);
    s.upload(&id, b"two").ok_json();
    s.upload(&id, &[0u8; 101]).assert_error(413, "fail");
    s.upload(&id, b"").ok_json();
    assert_eq!(s.titles("/"), ["t.txt"]);
    assert_eq!(on_disk(&s.root), [state_dir::NAME, "t.txt"]);
    assert!(temp_files(&s.state_dir().tmp()).is_empty());
    assert_eq!(s.download(&id).body, b"");
}

#[test]
fn rename_keeps_the_id_and_renames_on_disk() {
    let s = TestServer::start(&[]);
    let folder = s.mkdir("/", "docs");
    let file = s.put_file(&folder, "a.pdf", b"pdf bytes", None);
    assert_eq!(s.rename(&file, "b.pdf").ok_json(), serde_json::json!({"status": "success"}));
    let meta = s.metadata(&file);
    assert_eq!(meta["id"], file);
    assert_eq!(meta["title"], "b.pdf");
    assert!(s.root.join("docs/b.pdf").is_file());
    assert!(!s.root.join("docs/a.pdf").exists());
    assert_eq!(s.download(&file).body, b"pdf bytes");

    // Renaming the folder keeps the ids of the folder and of what it holds.
    s.rename(&folder, "papers").ok_json();
    assert_eq!(s.metadata(&folder)["title"], "papers");
    assert_eq!(s.download(&file).body, b"pdf bytes");
    let kids = s.files(&folder);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0]["id"], file);
    assert_eq!(kids[0]["title"], "b.pdf");
    assert!(s.root.join("papers/b.pdf").is_file());

    // Renaming to the same name is a no-op success; form bodies work too.
    s.rename(&file, "b.pdf").ok_json();
    let r = s.call_with(
        "PUT",
        "/rename",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("id={file}&name=c+d.pdf").as_bytes(),
    );
    r.ok_json();
    assert_eq!(s.metadata(&file)["title"], "c d.pdf");
}

#[test]
fn rename_onto_a_taken_name_is_a_409_failure_and_changes_nothing() {
    let s = TestServer::start(&[]);
    let a = s.put_file("/", "a.txt", b"A", None);
    let b = s.put_file("/", "b.txt", b"B", None);
    s.mkdir("/", "dir");
    s.rename(&a, "b.txt").assert_error(409, "failure");
    s.rename(&a, "dir").assert_error(409, "failure");
    assert_eq!(s.metadata(&a)["title"], "a.txt");
    assert_eq!(s.download(&a).body, b"A");
    assert_eq!(s.download(&b).body, b"B");
}

#[test]
fn create_folder_from_the_query_or_a_form_body() {
    let s = TestServer::start(&[]);
    let q = s.create_folder("/", "Projects").ok_json();
    assert_eq!(q["kind"], "folder");
    assert_eq!(q["title"], "Projects");
    assert!(q.get("size").is_none() || q["size"].is_null(), "{q}");
    let projects = q["id"].as_str().unwrap().to_string();

    let body = format!("parentId={}&name=Q3+%C3%A9t%C3%A9", enc(&projects));
    let f = s.call_with(
        "POST",
        "/createFolder",
        &[("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")],
        body.as_bytes(),
    );
    let nested = f.ok_json();
    assert_eq!(nested["title"], "Q3 été");
    assert!(s.root.join("Projects/Q3 été").is_dir());
    assert_eq!(s.titles(&projects), ["Q3 été"]);
    assert_eq!(s.metadata(nested["id"].as_str().unwrap())["kind"], "folder");

    // The name is taken: 409, in the endpoint's error style.
    s.create_folder("/", "Projects").assert_error(409, "error");
    fs::write(s.root.join("plain"), "x").unwrap();
    s.create_folder("/", "plain").assert_error(409, "error");
    // Missing parameters are 400.
    s.call("POST", "/createFolder?parentId=%2F", b"").assert_error(400, "error");
}

#[test]
fn listings_put_folders_first_then_names() {
    let s = TestServer::start(&[]);
    s.put_file("/", "b.txt", b"", None);
    s.mkdir("/", "zeta");
    s.put_file("/", "A.txt", b"", None);
    s.mkdir("/", "alpha");
    let items = s.files("/");
    assert_eq!(titles(&items), ["alpha", "zeta", "A.txt", "b.txt"]);
    assert_eq!(items[0]["kind"], "folder");
    assert_eq!(items[3]["kind"], "file");
}

#[test]
fn delete_removes_files_and_folders_with_their_contents() {
    let s = TestServer::start(&[]);
    let f1 = s.put_file("/", "one.txt", b"1", None);
    let f2 = s.put_file("/", "two.txt", b"2", None);
    let dir = s.mkdir("/", "dir");
    let sub = s.mkdir(&dir, "sub");
    let inner = s.put_file(&sub, "inner.txt", b"i", None);

    assert_eq!(s.delete("documentId", &f1).ok_json(), serde_json::json!({"status": "success"}));
    assert!(!s.root.join("one.txt").exists());
    s.delete("id", &f2).ok_json();
    assert!(!s.root.join("two.txt").exists());
    s.delete("folderId", &dir).ok_json();
    assert!(!s.root.join("dir").exists());

    for gone in [&f1, &f2, &dir, &sub, &inner] {
        s.get(&format!("/metadata?id={gone}")).assert_error(404, "error");
    }
    assert!(s.files("/").is_empty());
    s.delete("id", &f1).assert_error(404, "failure");
    s.delete("id", "/").assert_error(400, "failure");
    s.call("PUT", "/delete", b"").assert_error(400, "failure");

    // A form body names the item as well.
    let f3 = s.put_file("/", "three.txt", b"3", None);
    let r = s.call_with(
        "PUT",
        "/delete",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("documentId={f3}").as_bytes(),
    );
    r.ok_json();
    assert!(!s.root.join("three.txt").exists());
}

#[test]
fn files_dropped_in_by_hand_appear_with_stable_ids() {
    let s = TestServer::start(&[]);
    fs::write(s.root.join("dropped.txt"), "by hand").unwrap();
    fs::create_dir(s.root.join("Shared")).unwrap();
    fs::write(s.root.join("Shared/plan.md"), "# plan").unwrap();

    let top = s.files("/");
    assert_eq!(titles(&top), ["Shared", "dropped.txt"]);
    let dropped = find(&top, "dropped.txt").unwrap()["id"].as_str().unwrap().to_string();
    let shared = find(&top, "Shared").unwrap()["id"].as_str().unwrap().to_string();
    assert!(is_our_id(&top[0]["id"]) && is_our_id(&top[1]["id"]));
    assert_eq!(s.download(&dropped).body, b"by hand");
    assert_eq!(find(&top, "dropped.txt").unwrap()["mimeType"], "text/plain");
    assert_eq!(find(&top, "dropped.txt").unwrap()["size"], 7);

    let inside = s.files(&shared);
    assert_eq!(titles(&inside), ["plan.md"]);
    let plan = inside[0]["id"].as_str().unwrap().to_string();
    // Found by search before ever being listed would give the same id.
    let found = s.search("PLAN");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], plan);
    // (Compared without the signed links, whose expiry moves with the clock.)
    let ids = |items: &[Value]| items.iter().map(|i| (i["title"].clone(), i["id"].clone())).collect::<Vec<_>>();
    assert_eq!(ids(&s.files("/")), ids(&top), "ids are stable between listings");

    // Search gives ids to files nobody listed yet, once the index has
    // seen them (change notification, a moment after the write).
    fs::write(s.root.join("Shared/later.txt"), "later").unwrap();
    wait_for("search to see a file dropped by hand", || s.search("later").len() == 1);
    let later = s.search("later");
    let later_id = later[0]["id"].as_str().unwrap();
    assert_eq!(s.download(later_id).body, b"later");
    assert_eq!(find(&s.files(&shared), "later.txt").unwrap()["id"], later_id);
}

#[test]
fn ids_survive_a_restart_on_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    let (file, folder) = {
        let mut s = TestServer::builder().root(dir.path()).start();
        let folder = s.mkdir("/", "kept");
        let file = s.put_file(&folder, "k.txt", b"kept", None);
        s.rename(&file, "k2.txt").ok_json();
        assert!(s.stop().success());
        (file, folder)
    };
    let s = TestServer::builder().root(dir.path()).start();
    assert_eq!(s.metadata(&file)["title"], "k2.txt");
    assert_eq!(s.metadata(&folder)["title"], "kept");
    assert_eq!(s.download(&file).body, b"kept");
}

#[test]
fn search_matches_names_case_insensitively_below_a_folder() {
    let s = TestServer::start(&[]);
    let a = s.mkdir("/", "Alpha");
    let b = s.mkdir("/", "Beta");
    s.put_file(&a, "Quarterly REPORT.pdf", b"", None);
    s.put_file(&b, "report-draft.docx", b"", None);
    s.put_file("/", "summary.txt", b"", None);
    let mut all = titles(&s.search("report"));
    all.sort();
    assert_eq!(all, ["Quarterly REPORT.pdf", "report-draft.docx"]);
    assert_eq!(titles(&s.search("ALPHA")), ["Alpha"]);
    let below_b = as_array(s.get_json(&format!("/search?query=Report&parentId={b}")));
    assert_eq!(titles(&below_b), ["report-draft.docx"]);
    assert!(s.search("nothing-like-this").is_empty());
    s.get("/search").assert_error(400, "error");
}

#[test]
fn the_state_folder_never_appears_in_files_or_search() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "x.txt", b"x", Some(("d", "v")));
    s.action("checksum", "d", Some("v")).ok_json();
    s.action("snapshot", "d", Some("v")).ok_json();
    assert!(s.state_dir().path().is_dir());
    assert!(s.titles("/").iter().all(|t| t != state_dir::NAME));
    // Its name, each name in it, and what they have in common.
    let names = LAYOUT.iter().map(|e| e.name).chain([state_dir::NAME, "wfhook", "journal", "state", "v", ""]);
    for q in names {
        for item in s.search(q) {
            let title = item["title"].as_str().unwrap();
            assert!(title == "x.txt", "search {q:?} found {title}");
        }
    }
    // It cannot be made by hand either.
    s.create_folder("/", state_dir::NAME).assert_error(400, "error");
    s.rename(&id, state_dir::NAME).assert_error(400, "failure");
    s.upload_init_raw("/", state_dir::NAME).assert_error(400, "error");
}

#[test]
fn kinds_are_checked_by_each_endpoint() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "d");
    let file = s.put_file("/", "f.txt", b"f", None);
    s.upload(&dir, b"x").assert_error(400, "fail");
    s.download(&dir).assert_error(400, "error");
    s.get(&format!("/files?parentId={file}")).assert_error(400, "error");
    s.get(&format!("/search?query=f&parentId={file}")).assert_error(400, "error");
    s.upload_init_raw(&file, "x.txt").assert_error(400, "error");
    s.create_folder(&file, "x").assert_error(400, "error");
    s.upload_init_raw("0123456789abcdef", "x.txt").assert_error(404, "error");
    s.call("POST", "/uploadInit?parentId=%2F", b"").assert_error(400, "error");
}

/// Sends the head of a `PUT /upload` declaring `declared` bytes (or chunked
/// when `None`), then `sent`, then closes the connection.
fn upload_cut_short(s: &TestServer, id: &str, declared: Option<usize>, sent: &[u8]) {
    let framing = match declared {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_string(),
    };
    let head =
        format!("PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n{framing}\r\n\r\n");
    let mut conn = connect(s.addr);
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(sent).unwrap();
    conn.shutdown(std::net::Shutdown::Both).unwrap();
}

/// Waits until the journal holds `n` upload lines; the last one.
fn nth_upload(s: &TestServer, n: usize) -> Value {
    let uploads = || s.journal().into_iter().filter(|e| e["endpoint"] == "upload").collect::<Vec<_>>();
    wait_for("the upload to be journaled", || uploads().len() >= n);
    uploads().pop().unwrap()
}

#[test]
fn an_upload_cut_short_keeps_the_old_bytes() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "cut.bin", b"old bytes", None);
    upload_cut_short(&s, &id, Some(10_000), &[9u8; 4000]);
    let line = nth_upload(&s, 2);
    assert_ne!(line["status"], 200, "a truncated body was accepted: {line}");
    assert_eq!(s.download(&id).body, b"old bytes");
    assert_eq!(s.metadata(&id)["size"], 9);
    wait_for("the temp file to go", || temp_files(&s.state_dir().tmp()).is_empty());
}

#[test]
fn a_chunked_upload_cut_between_chunks_keeps_the_old_bytes() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "cut.bin", b"old bytes", None);
    upload_cut_short(&s, &id, None, b"4\r\nabcd\r\n");
    assert_ne!(nth_upload(&s, 2)["status"], 200);
    assert_eq!(s.download(&id).body, b"old bytes");
}

/// chunked_transfer's decoder (inside tiny_http) answers a connection that
/// closes inside a chunk with a clean end of body, so the truncated bytes
/// are stored; nothing above tiny_http can tell.
#[test]
fn a_chunked_upload_cut_inside_a_chunk_keeps_the_old_bytes() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "cut.bin", b"old bytes", None);
    upload_cut_short(&s, &id, None, b"1000\r\nonly a little");
    let line = nth_upload(&s, 2);
    assert_ne!(line["status"], 200, "a truncated chunked body was accepted: {line}");
    assert_eq!(s.download(&id).body, b"old bytes");
}

#[test]
fn uploads_that_expect_100_continue_work() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "c.bin", b"", None);
    let body = vec![0xabu8; 50_000];
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n\
         Expect: 100-continue\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut conn = connect(s.addr);
    conn.write_all(head.as_bytes()).unwrap();
    // The body goes only once the server has said to go on.
    let mut r = std::io::BufReader::new(conn.try_clone().unwrap());
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let n = std::io::BufRead::read_until(&mut r, b'\n', &mut interim).unwrap();
        assert!(n > 0, "closed before 100 Continue");
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&interim));
    conn.write_all(&body).unwrap();
    let rs = read_response(&mut r, false);
    assert_eq!(rs.ok_json()["size"], body.len());
    assert_eq!(s.download(&id).body, body);
}
