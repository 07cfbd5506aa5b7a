//! The compiled-in custom actions, called as Workfront calls them:
//! `GET /customAction?name=…&documentId=…&documentVersionId=…`, where the
//! ids are Workfront's, linked to our files by uploadInit.

mod common;

use std::fs;

use common::*;
use serde_json::Value;
use wfhook::actions::ACTIONS;

const DOC: &str = "5502082c003a4f30ddec2fb2b739cb7c";
const V1: &str = "54b598a700e2342d6971597a5df1a8d3";
const V2: &str = "64b598a700e2342d6971597a5df1a8d4";

/// A server with one linked document `DOC`/`V1` holding `bytes`; its id.
fn with_document(bytes: &[u8]) -> (TestServer, String) {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "contract.pdf", bytes, Some((DOC, V1)));
    (s, id)
}

/// The registered actions that work on a document (all but `ping`).
fn document_actions() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().filter(|a| a.needs_document()).map(|a| a.name())
}

fn success(r: &Response) -> Value {
    let v = r.ok_json();
    assert_eq!(v["status"], "success", "{v}");
    v
}

#[test]
fn ping_succeeds_without_a_document() {
    let s = TestServer::start(&[]);
    success(&s.get("/customAction?name=ping"));
    // As Workfront sends it, with ids nobody linked.
    success(&s.action("ping", DOC, Some(V1)));
    assert!(s.files("/").is_empty(), "ping touched the folder");
}

#[test]
fn unknown_or_missing_action_names_fail() {
    let s = TestServer::start(&[]);
    let r = s.action("self-destruct", DOC, Some(V1));
    r.assert_error(404, "failure");
    assert!(r.error().contains("unknown action"), "{}", r.text());
    s.action("PING", DOC, None).assert_error(404, "failure");
    s.action("", DOC, None).assert_error(404, "failure");
    s.get(&format!("/customAction?documentId={DOC}")).assert_error(400, "failure");
}

#[test]
fn document_actions_need_a_linked_document() {
    let (s, _) = with_document(b"x");
    for name in document_actions() {
        // Unknown is unknown first, with or without a version.
        for version in [Some(V1), None] {
            let r = s.action(name, "ffffffffffffffffffffffffffffffff", version);
            r.assert_error(404, "failure");
            // Without --workfront-url: says how to make it work.
            assert!(r.error().contains("without uploadInit"), "{name}: {}", r.text());
        }
        s.get(&format!("/customAction?name={name}")).assert_error(400, "failure");
        s.get(&format!("/customAction?name={name}&documentId=&documentVersionId={V1}")).assert_error(400, "failure");
    }
}

#[test]
fn checksum_records_verifies_and_notices_changes_made_on_disk() {
    let s = TestServer::start(&[]);
    // A file whose bytes never came through upload: the first call records.
    let item = s.upload_init("/", "empty.txt", Some(("doc-empty", "v")));
    let first = success(&s.action("checksum", "doc-empty", Some("v")));
    assert!(first["message"].as_str().unwrap().contains("recorded"), "{first}");
    let empty_sum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(first["sha256"], empty_sum);
    let again = success(&s.action("checksum", "doc-empty", Some("v")));
    assert!(again["message"].as_str().unwrap().contains("verified"), "{again}");

    // Uploaded bytes are recorded by the upload itself.
    let r = s.upload(item["id"].as_str().unwrap(), b"hello");
    let uploaded_sum = r.ok_json()["sha256"].as_str().unwrap().to_string();
    let v = success(&s.action("checksum", "doc-empty", None));
    assert_eq!(v["sha256"], uploaded_sum);
    assert_eq!(uploaded_sum, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");

    // Someone edits the file on the share: the next call fails, and keeps failing.
    fs::write(s.root.join("empty.txt"), "tampered").unwrap();
    let r = s.action("checksum", "doc-empty", Some("v"));
    r.assert_error(409, "failure");
    assert!(r.error().contains(&uploaded_sum), "{}", r.text());
    s.action("checksum", "doc-empty", Some("v")).assert_error(409, "failure");

    // A new upload through the API records a new sum.
    s.upload(item["id"].as_str().unwrap(), b"new bytes").ok_json();
    let v = success(&s.action("checksum", "doc-empty", Some("v")));
    assert!(v["message"].as_str().unwrap().contains("verified"), "{v}");
    assert_ne!(v["sha256"], uploaded_sum);
}

#[test]
fn lock_makes_a_document_read_only_until_unlock() {
    let (s, id) = with_document(b"original");
    assert_eq!(s.metadata(&id)["readOnly"], false);
    let v = success(&s.action("lock", DOC, Some(V1)));
    assert!(v["message"].is_string());
    assert_eq!(s.metadata(&id)["readOnly"], true);
    assert_eq!(s.files("/")[0]["readOnly"], true);
    success(&s.action("lock", DOC, Some(V1)));

    s.upload(&id, b"changed").assert_error(403, "fail");
    s.rename(&id, "other.pdf").assert_error(403, "failure");
    s.delete("documentId", &id).assert_error(403, "failure");
    assert_eq!(s.download(&id).body, b"original", "reading stays allowed");
    assert_eq!(s.metadata(&id)["title"], "contract.pdf");
    assert!(s.root.join("contract.pdf").is_file());

    // A folder holding a locked document cannot be deleted either.
    let dir = s.mkdir("/", "box");
    let inner = s.put_file(&dir, "inner.txt", b"in", Some(("doc-inner", "v")));
    success(&s.action("lock", "doc-inner", None));
    s.delete("folderId", &dir).assert_error(403, "failure");
    assert_eq!(s.download(&inner).body, b"in");

    success(&s.action("unlock", DOC, Some(V1)));
    assert_eq!(s.metadata(&id)["readOnly"], false);
    s.upload(&id, b"changed").ok_json();
    s.rename(&id, "other.pdf").ok_json();
    s.delete("documentId", &id).ok_json();
    success(&s.action("unlock", "doc-inner", None));
    success(&s.action("unlock", "doc-inner", None));
    s.delete("folderId", &dir).ok_json();
}

#[test]
fn archive_hides_a_document_but_keeps_it_reachable_by_id() {
    let (s, id) = with_document(b"keep me");
    let other = s.put_file("/", "contract-2.pdf", b"", None);
    let v = success(&s.action("archive", DOC, Some(V1)));
    assert!(v["message"].is_string());
    assert_eq!(titles(&s.files("/")), ["contract-2.pdf"]);
    let found = s.search("contract");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], other);
    assert!(!s.root.join("contract.pdf").exists());

    // Calling it again still succeeds.
    success(&s.action("archive", DOC, Some(V1)));

    let meta = s.metadata(&id);
    assert_eq!(meta["title"], "contract.pdf");
    assert_eq!(meta["readOnly"], true);
    assert_eq!(s.download(&id).body, b"keep me");
    assert_eq!(s.fetch_link(meta["viewLink"].as_str().unwrap()).body, b"keep me");

    // Archived means read-only.
    s.upload(&id, b"x").assert_error(403, "fail");
    s.rename(&id, "y.pdf").assert_error(403, "failure");
    s.delete("documentId", &id).assert_error(403, "failure");
    assert_eq!(s.download(&id).body, b"keep me");
    success(&s.action("checksum", DOC, Some(V1)));
}

#[test]
fn snapshot_keeps_a_copy_per_version() {
    let (s, id) = with_document(b"version one");
    success(&s.action("snapshot", DOC, Some(V1)));
    let snap = s.state_dir().snapshots_of(&id);
    assert_eq!(fs::read(snap.join(V1)).unwrap(), b"version one");

    s.upload(&id, b"version two").ok_json();
    success(&s.action("snapshot", DOC, Some(V2)));
    assert_eq!(fs::read(snap.join(V2)).unwrap(), b"version two");
    assert_eq!(fs::read(snap.join(V1)).unwrap(), b"version one", "older snapshots stay");

    // Snapshots are the store's own: not browsable.
    assert_eq!(titles(&s.files("/")), ["contract.pdf"]);
    assert!(s.search(V1).is_empty());

    // The version is required, and must be a plain name.
    s.action("snapshot", DOC, None).assert_error(400, "failure");
    for bad in ["../../escape", "a/b", ".hidden", "x\u{0}y"] {
        s.action("snapshot", DOC, Some(bad)).assert_error(400, "failure");
    }
    assert!(!s.state_dir().path().join("escape").exists());
    assert_eq!(fs::read_dir(&snap).unwrap().count(), 2);
}

#[test]
fn upload_init_links_each_workfront_version_to_its_own_file() {
    let s = TestServer::start(&[]);
    let one = s.put_file("/", "plan.pdf", b"plan v1", Some((DOC, V1)));
    let two = s.put_file("/", "plan.pdf", b"plan v2", Some((DOC, V2)));
    assert_ne!(one, two);
    assert_eq!(s.metadata(&two)["title"], "plan (1).pdf");

    // An exact version resolves to its file.
    success(&s.action("lock", DOC, Some(V1)));
    assert_eq!(s.metadata(&one)["readOnly"], true);
    assert_eq!(s.metadata(&two)["readOnly"], false);
    // Without a version (or with an unknown one), the newest link wins.
    success(&s.action("lock", DOC, None));
    assert_eq!(s.metadata(&two)["readOnly"], true);
    success(&s.action("unlock", DOC, Some("never-linked")));
    assert_eq!(s.metadata(&two)["readOnly"], false);
    assert_eq!(s.metadata(&one)["readOnly"], true);

    // Renaming the file keeps the link.
    s.rename(&two, "renamed.pdf").ok_json();
    success(&s.action("snapshot", DOC, Some(V2)));
    let snap = s.state_dir().snapshots_of(&two).join(V2);
    assert_eq!(fs::read(snap).unwrap(), b"plan v2");
}

#[test]
fn every_action_call_is_journaled_without_the_key() {
    let (s, _) = with_document(b"j");
    success(&s.action("lock", DOC, Some(V1)));
    s.action("nope", DOC, Some(V1)).assert_error(404, "failure");
    let actions = || s.journal().into_iter().filter(|e| e["endpoint"] == "customAction").collect::<Vec<_>>();
    wait_for("both calls' final records", || actions().len() == 2);
    let lines = actions();
    let before = 0;
    let ok = &lines[before];
    assert_eq!(ok["endpoint"], "customAction");
    assert_eq!(ok["action"], "lock");
    assert_eq!(ok["documentId"], DOC);
    assert_eq!(ok["documentVersionId"], V1);
    assert_eq!(ok["username"], USER);
    assert_eq!(ok["status"], 200);
    assert!(ok["latencyUs"].is_u64());
    assert!(ok["time"].is_string() && ok["requestId"].is_string());
    let failed = &lines[before + 1];
    assert_eq!(failed["action"], "nope");
    assert_eq!(failed["status"], 404);
    assert!(failed["error"].is_string());
    let text = fs::read_to_string(s.state_dir().journal()).unwrap();
    assert!(!text.contains(KEY));
}

#[test]
fn actions_on_a_deleted_document_fail_with_404() {
    let (s, id) = with_document(b"bye");
    s.delete("documentId", &id).ok_json();
    for name in document_actions() {
        s.action(name, DOC, Some(V1)).assert_error(404, "failure");
    }
    success(&s.action("ping", DOC, Some(V1)));
}
