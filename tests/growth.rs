//! The index of the root, through the real binary: what people and tools
//! do in the folder by hand is found (or gone) in search, by change
//! notification and by the periodic re-walk alone; words inside text
//! documents are found; the text kept is bounded in bytes; the index
//! survives a restart and a `kill -9` without ever answering wrong.
//!
//! The issue asks for "within 2 s": the tests wait for outcomes (up to the
//! suite's usual deadline, so that a loaded machine never fails them) and
//! print how long each took.

mod common;

use std::io::Write;
use std::time::Instant;

use common::*;

/// Waits until searching `query` finds (or, with `present` false, no
/// longer finds) an item titled `title`; says how long it took.
fn until_search(s: &TestServer, query: &str, title: &str, present: bool) {
    let started = Instant::now();
    wait_for(&format!("search {query:?} to {} {title}", if present { "find" } else { "lose" }), || {
        s.search(query).iter().any(|i| i["title"] == title) == present
    });
    say(&format!(
        "search {query:?} {} {title} after {} ms",
        if present { "found" } else { "lost" },
        started.elapsed().as_millis()
    ));
}

fn index_ready(s: &TestServer) {
    wait_for("the index to be ready", || s.stderr().contains("index ready:"));
}

#[test]
fn changes_made_by_hand_are_found_by_notification() {
    let s = TestServer::start(&[]);
    index_ready(&s);
    std::fs::create_dir(s.root.join("Plans")).unwrap();
    comes_moves_and_goes(&s, "Plans/", ("budget-2027", ".xlsx"), ("forecast-2027", ".xlsx"));
    // A folder moved in with its tree.
    let outside = s.outside();
    std::fs::create_dir_all(outside.join("Archive/2019")).unwrap();
    std::fs::write(outside.join("Archive/2019/minutes-q3.txt"), b"minutes").unwrap();
    std::fs::rename(outside.join("Archive"), s.root.join("Archive")).unwrap();
    until_search(&s, "minutes-q3", "minutes-q3.txt", true);
    // Changes made through wfhook are found at once.
    let id = s.put_file("/", "sent-by-workfront.pdf", b"%PDF", None);
    assert!(s.search("sent-by-workfront").iter().any(|i| i["id"] == id.as_str()));
    assert_eq!(s.rename(&id, "renamed-by-workfront.pdf").status, 200);
    assert!(s.search("renamed-by-workfront").iter().any(|i| i["id"] == id.as_str()));
    assert!(s.search("sent-by-workfront").is_empty());
}

#[test]
fn the_periodic_walk_alone_keeps_the_index() {
    let s = TestServer::start(&["--index-watch", "off", "--index-reconcile", "1"]);
    index_ready(&s);
    comes_moves_and_goes(&s, "", ("dropped-by-hand", ".docx"), ("moved-by-hand", ".docx"));
}

/// A file made by hand in `folder` (a path below the root, `""` or ending
/// in `/`) as `first`, renamed to `second`, then removed: each change is
/// seen by search in turn. Names are (stem, extension): search asks for the stem.
fn comes_moves_and_goes(s: &TestServer, folder: &str, first: (&str, &str), second: (&str, &str)) {
    let name = |(stem, ext): (&str, &str)| format!("{stem}{ext}");
    let path = |n| s.root.join(format!("{folder}{}", name(n)));
    std::fs::write(path(first), b"not really").unwrap();
    until_search(s, first.0, &name(first), true);
    std::fs::rename(path(first), path(second)).unwrap();
    until_search(s, second.0, &name(second), true);
    until_search(s, first.0, &name(first), false);
    std::fs::remove_file(path(second)).unwrap();
    until_search(s, second.0, &name(second), false);
}

/// A minimal .docx: a zip with the one part that holds the text.
fn docx(text: &str) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("[Content_Types].xml", opts).unwrap();
    zip.write_all(
        br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#,
    )
    .unwrap();
    zip.start_file("word/document.xml", opts).unwrap();
    let xml = format!(
        r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#
    );
    zip.write_all(xml.as_bytes()).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

#[test]
fn words_inside_documents_are_found_after_names() {
    let s = TestServer::start(&[]);
    index_ready(&s);
    std::fs::write(s.root.join("notes.txt"), b"The quarterly zanzibar review is on Monday.").unwrap();
    std::fs::write(s.root.join("contract.docx"), docx("Signed in Zanzibar by both parties")).unwrap();
    std::fs::write(s.root.join("zanzibar-trip.md"), b"itinerary").unwrap();
    std::fs::write(s.root.join("unrelated.txt"), b"nothing to see").unwrap();
    wait_for("both documents found by their words", || s.search("zanzibar").len() == 3);
    let found = titles(&s.search("zanzibar"));
    // The name match first, then the documents whose text holds the word.
    assert_eq!(found[0], "zanzibar-trip.md", "{found:?}");
    let mut rest = found[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["contract.docx", "notes.txt"]);
    // A changed document is read again.
    std::fs::write(s.root.join("notes.txt"), b"The review moved to Tuesday.").unwrap();
    wait_for("the old words gone", || !titles(&s.search("zanzibar")).contains(&"notes.txt".to_string()));
    assert!(titles(&s.search("tuesday")).contains(&"notes.txt".to_string()));
}

#[test]
fn the_text_kept_is_bounded_in_bytes() {
    let s = TestServer::start(&["--index-max-bytes", "2000"]);
    index_ready(&s);
    for i in 0..20 {
        std::fs::write(s.root.join(format!("doc-{i:02}.txt")), format!("keyword{i} {}", "filler ".repeat(40))).unwrap();
    }
    wait_for("the bound reached", || s.stderr().contains("reached --index-max-bytes"));
    let line = s.stderr().lines().find(|l| l.contains("reached --index-max-bytes")).unwrap().to_string();
    let held: u64 = line
        .split(" bytes held)")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure in {line}"));
    assert!(held <= 2000, "{line}");
    // The documents that fit are searchable by their words; every one by its name.
    let by_words = (0..20).filter(|i| !s.search(&format!("keyword{i}")).is_empty()).count();
    assert!((1..20).contains(&by_words), "{by_words} documents found by their words");
    assert_eq!(s.search("doc-").len(), 20);
}

#[test]
fn the_index_survives_a_restart_and_a_kill_and_is_never_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let index = tmp.path().join("index");
    let start = || TestServer::builder().root(&root).args(&["--index-dir", index.to_str().unwrap()]).start();
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..50 {
        std::fs::write(root.join(format!("kept-{i}.txt")), b"k").unwrap();
    }
    let mut s = start();
    index_ready(&s);
    assert_eq!(s.search("kept-").len(), 50);
    s.kill9();
    // While it is down: one file goes, one comes.
    std::fs::remove_file(root.join("kept-7.txt")).unwrap();
    std::fs::write(root.join("came-while-down.txt"), b"c").unwrap();
    let s = start();
    // Never wrong, before the walk is done or after: the file gone is never
    // answered.
    for _ in 0..20 {
        assert!(!titles(&s.search("kept-7")).contains(&"kept-7.txt".to_string()));
    }
    index_ready(&s);
    assert_eq!(s.search("kept-").len(), 49);
    assert_eq!(titles(&s.search("came-while")), ["came-while-down.txt"]);
    // A damaged index is rebuilt.
    drop(s);
    std::fs::write(index.join("index.sqlite"), b"garbage, not a database").unwrap();
    let _ = std::fs::remove_file(index.join("index.sqlite-wal"));
    let s = start();
    index_ready(&s);
    assert_eq!(s.search("kept-").len(), 49);
}

#[test]
fn listings_come_from_the_index_only_for_folders_it_holds_exactly() {
    let s = TestServer::start(&[]);
    index_ready(&s);
    for i in 0..300 {
        std::fs::write(s.root.join(format!("f{i:03}.txt")), b"x").unwrap();
    }
    // Read at once after the change: never a stale listing.
    assert_eq!(s.files("/").len(), 300);
    std::fs::remove_file(s.root.join("f150.txt")).unwrap();
    let after = s.files("/");
    assert_eq!(after.len(), 299);
    assert!(!titles(&after).contains(&"f150.txt".to_string()));
    // Pages of the indexed folder agree with the whole listing.
    let whole: Vec<String> = after.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    let page: Vec<String> = as_array(s.get_json("/files?parentId=%2F&max=50&offset=100"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(page, whole[100..150]);
}

/// Waits out the quiet time after which a folder's date is trusted (two
/// changes within one tick of a coarse clock would look like one).
fn let_folders_settle() {
    std::thread::sleep(std::time::Duration::from_millis(2200));
}

#[test]
fn a_listing_read_from_the_index_is_one_snapshot_with_fresh_sizes() {
    let s = TestServer::start(&["--index-watch", "off"]);
    index_ready(&s);
    let dir = s.root.join("many");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..2500 {
        std::fs::write(dir.join(format!("n{i:04}.txt")), b"x").unwrap();
    }
    let many = find(&s.files("/"), "many").unwrap()["id"].as_str().unwrap().to_string();
    let_folders_settle();
    // Read from disk once (the index learns the folder), then from the
    // index, three chunks of rows, while files keep arriving.
    assert_eq!(s.files(&many).len(), 2500);
    let writer = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            for i in 0..200 {
                std::fs::write(dir.join(format!("late{i:03}.txt")), b"y").unwrap();
            }
        })
    };
    for _ in 0..5 {
        let listed = s.files(&many);
        let ids: std::collections::HashSet<&str> = listed.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), listed.len(), "an item listed twice");
        assert!(listed.len() >= 2500, "{}", listed.len());
    }
    writer.join().unwrap();
    // A file written in place changes no folder's date: its size is fresh
    // anyway.
    let_folders_settle();
    let before = s.files(&many).len();
    std::fs::write(dir.join("n0001.txt"), b"now much longer than one byte").unwrap();
    let listed = s.files(&many);
    assert_eq!(listed.len(), before);
    assert_eq!(find(&listed, "n0001.txt").unwrap()["size"], 29);
}

#[test]
fn odd_names_and_queries_search_right() {
    use std::os::unix::ffi::OsStrExt;
    let s = TestServer::start(&[]);
    let latin1 = s.root.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir(&latin1).unwrap();
    std::fs::write(latin1.join("inner-xyz.txt"), b"z").unwrap();
    std::fs::write(s.root.join("outer-xyz.txt"), b"z").unwrap();
    index_ready(&s);
    let cafe = find(&s.files("/"), "caf\u{fffd}").expect("the folder is listed")["id"].as_str().unwrap().to_string();
    wait_for("both files in search", || s.search("-xyz").len() == 2);
    let below = as_array(s.get_json(&format!("/search?query=xyz&parentId={}", enc(&cafe))));
    assert_eq!(titles(&below), ["inner-xyz.txt"]);
    // A NUL is in no name: nothing matches it, and it matches not everything.
    assert!(as_array(s.get_json("/search?query=%00")).is_empty());
    // Quotes and FTS5's own syntax are plain characters of a query.
    for q in ["%22", "NEAR(a%20b)", "*", "%5E", "a%22%20OR%20%22b", "sort_title%3Ax"] {
        let r = s.get(&format!("/search?query={q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
}

/// CPU time, in clock ticks, of the server's thread named `name`.
fn thread_ticks(pid: u32, name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
            total += fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            total += fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    total
}

#[test]
fn an_idle_index_does_nothing() {
    let s = TestServer::start(&[]);
    for i in 0..500 {
        std::fs::create_dir_all(s.root.join(format!("d{}", i % 20))).unwrap();
        std::fs::write(s.root.join(format!("d{}/f{i}.txt", i % 20)), b"words").unwrap();
    }
    index_ready(&s);
    wait_for("the words read", || s.stderr().contains("words ready"));
    // Reading and downloading change nothing: no walk follows them.
    let d1 = find(&s.files("/"), "d1").unwrap()["id"].as_str().unwrap().to_string();
    let f1 = find(&s.files(&d1), "f1.txt").unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(s.download(&f1).status, 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let before = thread_ticks(s.pid(), "wfhook-index");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let spent = thread_ticks(s.pid(), "wfhook-index") - before;
    // A thread that walks again after every open (the bug this guards
    // against) spent over 50 ticks of these 2 s here; an idle one spends
    // none.
    assert!(spent < 20, "the index thread spent {spent} ticks of 2 s while nothing changed");
}

#[test]
fn a_document_first_seen_by_a_listing_is_read_for_its_words() {
    // No notification, no walk before the test ends: only the listing sees it.
    let s = TestServer::start(&["--index-watch", "off", "--index-reconcile", "3600"]);
    index_ready(&s);
    std::fs::write(s.root.join("minutes.txt"), b"the quokka budget was approved").unwrap();
    assert!(titles(&s.files("/")).contains(&"minutes.txt".to_string()));
    wait_for("the listed document found by its words", || titles(&s.search("quokka")) == ["minutes.txt"]);
}
