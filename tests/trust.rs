//! What a user must be able to trust wfhook with (issue #10, "Trust"), each
//! against the real binary: nothing outside the root changes through a
//! hard link; uploads never hand out setuid bits or world write, and new
//! files, folders and the state honour the umask and stay private; an
//! answer is the truth while folders move; every answer says `nosniff` and
//! active content never runs from `view`; a full disk changes all or
//! nothing and never glues journal lines; signed links are canonical and a
//! folder page's links live no longer than the folder link; names carry no
//! bidi or other control characters.
//!
//! The races on symlinks are `tests/race.rs`; kills are
//! `tests/crash_model.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// The permission bits of `path` (`mode & 0o7777`), not following a link.
fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The id `files(parent)` lists for `title`.
fn listed_id(s: &TestServer, parent: &str, title: &str) -> String {
    let items = s.files(parent);
    let item = find(&items, title).unwrap_or_else(|| panic!("{title} is not listed in {:?}", titles(&items)));
    item["id"].as_str().unwrap().to_string()
}

#[test]
fn an_upload_over_a_hard_link_leaves_the_outside_file_alone() {
    let s = TestServer::start(&[]);
    // The root and the outside folder share one temporary folder, so one
    // file system: someone with access to both links a file into the root.
    let outside = s.outside().join("payroll.txt");
    fs::write(&outside, "OUTSIDE: payroll").unwrap();
    fs::hard_link(&outside, s.root.join("linked.txt")).unwrap();
    let id = listed_id(&s, "/", "linked.txt");

    let r = s.upload(&id, b"uploaded through wfhook");
    assert_eq!(fs::read(&outside).unwrap(), b"OUTSIDE: payroll", "the upload wrote through the hard link");
    // Refusing a file with other links is as right as replacing it, but an
    // upload answered success is in the root.
    if r.status == 200 {
        assert_eq!(fs::read(s.root.join("linked.txt")).unwrap(), b"uploaded through wfhook");
        assert_eq!(s.download(&id).body, b"uploaded through wfhook");
    }
}

#[test]
fn an_upload_drops_setuid_setgid_sticky_and_world_write() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "tool.sh", b"#!/bin/sh\necho old\n", None);
    let path = s.root.join("tool.sh");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o6777)).unwrap();
    assert_eq!(mode(&path), 0o6777, "the test could not set the bits it needs");
    s.upload(&id, b"#!/bin/sh\necho new\n").ok_json();
    let after = mode(&path);
    assert_eq!(after & 0o7002, 0, "new bytes got setuid, setgid, sticky or world write: {after:o}");
    assert_eq!(after, 0o6777 & !0o7002, "the other bits of the old file are kept: {after:o}");

    // Harmless bits are kept as they were.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    s.upload(&id, b"again").ok_json();
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn new_files_and_folders_honour_the_umask() {
    for (umask, file, folder) in [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)] {
        let s = TestServer::builder().umask(umask).start();
        let f = s.upload_init("/", "new.txt", None)["id"].as_str().unwrap().to_string();
        assert_eq!(mode(&s.root.join("new.txt")), file, "uploadInit under umask {umask:03o}");
        s.upload(&f, b"bytes").ok_json();
        assert_eq!(mode(&s.root.join("new.txt")), file, "upload under umask {umask:03o}");
        let d = s.mkdir("/", "folder");
        assert_eq!(mode(&s.root.join("folder")), folder, "createFolder under umask {umask:03o}");
        s.upload_init(&d, "inner.txt", None);
        assert_eq!(mode(&s.root.join("folder/inner.txt")), file, "uploadInit in a folder, umask {umask:03o}");
    }
}

/// Under umask 022 every user could read the state: keys, the link secret,
/// the journal. The state folder must be 0700 all the way down and every
/// file in it 0600. Archived documents are the one exception: archiving
/// moves the user's document itself (it keeps its own mode, which wfhook
/// has no business changing), and the 0700 folders above it keep other
/// users out. Snapshots are copies wfhook makes, so they are checked.
#[test]
fn the_state_folder_is_private_under_umask_022() {
    let mut s = TestServer::builder().umask(0o022).no_key().args(&["--admin-listen", "127.0.0.1:0"]).start();
    let state = s.state_dir();
    s.key = Some(fs::read_to_string(state.api_key()).expect("a generated key").trim().to_string());
    // Something in every part of the state.
    s.put_file("/", "a.txt", b"A", Some(("doc-a", "v1")));
    s.put_file("/", "b.txt", b"B", Some(("doc-b", "v1")));
    for (action, doc, version) in
        [("lock", "doc-a", None), ("unlock", "doc-a", None), ("checksum", "doc-a", None), ("archive", "doc-b", None)]
    {
        s.action(action, doc, version).ok_json();
    }
    s.action("snapshot", "doc-a", Some("v1")).ok_json();
    let archive = state.archive_shelf("x").parent().unwrap().to_path_buf();

    let mut wrong = Vec::new();
    let top = mode(state.path());
    if top != 0o700 {
        wrong.push(format!(".wfhook is {top:o}"));
    }
    for (rel, node) in tree(state.path()) {
        let path = state.path().join(&rel);
        match node {
            Node::Dir(m) if m != 0o700 => wrong.push(format!("{} is a folder of mode {m:o}", rel.display())),
            Node::File(m, _) if m != 0o600 && !(path.starts_with(&archive) && rel.components().count() > 2) => {
                wrong.push(format!("{} is a file of mode {m:o}", rel.display()))
            }
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "the state is readable by other users:\n{}", wrong.join("\n"));
}

/// A valid id never answers 404 because wfhook itself is renaming its
/// folder: Workfront's download of a document must not fail while someone
/// renames the folder it is in through Workfront. Every download must
/// answer 200 with the file's bytes.
#[test]
fn renames_by_wfhook_never_make_a_valid_id_fail() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "P0");
    let files: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| {
            let bytes = format!("file {i} ").repeat(100 + i).into_bytes();
            (s.put_file(&dir, &format!("f{i}.txt"), &bytes, None), bytes)
        })
        .collect();
    let done = AtomicBool::new(false);
    let renames = AtomicU64::new(0);
    let (mut statuses, mut wrong) = (BTreeMap::<u16, u64>::new(), Vec::new());
    let rename_statuses = std::thread::scope(|scope| {
        let renamer = scope.spawn(|| {
            let mut seen = BTreeMap::<u16, u64>::new();
            for name in ["P1", "P0"].iter().cycle() {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                *seen.entry(s.rename(&dir, name).status).or_default() += 1;
                renames.fetch_add(1, Ordering::Relaxed);
            }
            seen
        });
        let start = Instant::now();
        let mut n = 0usize;
        // At least 2 s, 400 downloads and 100 renames; the deadline bounds
        // a machine so slow that the counts never come.
        while (start.elapsed() < Duration::from_secs(2) || n < 400 || renames.load(Ordering::Relaxed) < 100)
            && start.elapsed() < WAIT
        {
            let (id, bytes) = &files[n % files.len()];
            let r = s.download(id);
            *statuses.entry(r.status).or_default() += 1;
            if r.status != 200 || &r.body != bytes {
                wrong.push(format!("download {n}: {} {}", r.status, r.text().chars().take(80).collect::<String>()));
            }
            n += 1;
        }
        done.store(true, Ordering::Relaxed);
        renamer.join().unwrap()
    });
    let report = format!("downloads {statuses:?}, renames {rename_statuses:?}");
    say(&format!("renames by wfhook: {report}"));
    assert_eq!(rename_statuses.keys().collect::<Vec<_>>(), [&200], "{report}");
    assert!(
        wrong.is_empty(),
        "{} of {} downloads failed while wfhook renamed their folder ({report}):\n{}",
        wrong.len(),
        statuses.values().sum::<u64>(),
        wrong.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// A folder renamed by hand, back and forth, while Workfront uploads into
/// it: an upload may well fail (its id does not resolve while the folder
/// has the other name), but the answer is the truth. Success means the new
/// bytes are on disk, wherever the folder is now; failure means the old
/// bytes are.
#[test]
fn uploads_while_a_folder_is_renamed_by_hand_answer_the_truth() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "P");
    let id = s.put_file(&dir, "doc.txt", b"version 0", None);
    let (p, q) = (s.root.join("P"), s.root.join("Q"));
    // The file's bytes, wherever the folder is.
    let on_disk = || {
        wait_until("the file to be found in P or Q", || {
            fs::read(p.join("doc.txt")).ok().or_else(|| fs::read(q.join("doc.txt")).ok())
        })
    };
    let done = AtomicBool::new(false);
    let (mut ok, mut failed, mut lies) = (0u64, 0u64, Vec::new());
    let mut last_good = b"version 0".to_vec();
    std::thread::scope(|scope| {
        let renamer = scope.spawn(|| {
            let mut n = 0u64;
            // Back and forth: P is where it was whenever it stops.
            while !done.load(Ordering::Relaxed) {
                fs::rename(&p, &q).unwrap();
                fs::rename(&q, &p).unwrap();
                n += 2;
            }
            n
        });
        let start = Instant::now();
        let mut n = 0u64;
        while (start.elapsed() < Duration::from_secs(2) || n < 300 || ok == 0) && start.elapsed() < WAIT {
            n += 1;
            let bytes = format!("version {n} ").repeat(1 + (n as usize * 37) % 2000).into_bytes();
            let r = s.upload(&id, &bytes);
            let success = r.status == 200 && r.json()["result"] == "success";
            let now = on_disk();
            if success {
                ok += 1;
                if now != bytes {
                    lies.push(format!("upload {n} answered success but the file holds other bytes"));
                }
                last_good = bytes;
            } else {
                failed += 1;
                if now != last_good {
                    lies.push(format!("upload {n} answered {} {} but its bytes are on disk", r.status, r.text()));
                    last_good = now;
                }
            }
        }
        done.store(true, Ordering::Relaxed);
        renamer.join().unwrap();
    });
    say(&format!("uploads during renames by hand: {ok} answered success, {failed} failed, {} untrue", lies.len()));
    assert!(
        lies.is_empty(),
        "{} of {} answers were untrue:\n{}",
        lies.len(),
        ok + failed,
        lies.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(ok > 0, "no upload succeeded, so nothing was proved");
    assert_eq!(s.download(&id).body, last_good);
}

#[test]
fn every_answer_says_nosniff() {
    let s = TestServer::start(&["--max-upload-bytes", "1000"]);
    let id = s.put_file("/", "a.txt", b"A", Some(("doc-a", "v1")));
    let other = s.put_file("/", "b.txt", b"B", None);
    let dir = s.mkdir("/", "d");
    let meta = s.metadata(&id);
    let (view, download) = (meta["viewLink"].as_str().unwrap(), meta["downloadLink"].as_str().unwrap());
    let answers = [
        ("serviceInfo", s.call_as("GET", "/serviceInfo", &[], b"")),
        ("serviceInfo HEAD", s.call_as("HEAD", "/serviceInfo", &[], b"")),
        ("metadata", s.get(&format!("/metadata?id={id}"))),
        ("files", s.get("/files?parentId=%2F")),
        ("search", s.get("/search?query=a")),
        ("customAction", s.get("/customAction?name=ping")),
        ("checksum", s.action("checksum", "doc-a", None)),
        ("uploadInit", s.upload_init_raw("/", "c.txt")),
        ("upload", s.upload(&id, b"AA")),
        ("createFolder", s.create_folder("/", "e")),
        ("rename", s.rename(&other, "b2.txt")),
        ("delete", s.delete("documentId", &other)),
        ("download", s.download(&id)),
        ("view of a file", s.fetch_link(view)),
        ("view of a folder", s.fetch_link(&s.view_link(&dir))),
        ("downloadLink", s.fetch_link(download)),
        ("400", s.get("/metadata?id=..")),
        ("403 without a key", s.call_as("GET", "/metadata?id=%2F", &[], b"")),
        ("403 forged link", s.fetch_link(&view.replace("sig=", "sig=0"))),
        ("404 unknown id", s.get("/metadata?id=0123456789abcdef")),
        ("404 unknown endpoint", s.get("/nothing-here")),
        ("405", s.call("DELETE", "/metadata?id=%2F", b"")),
        ("409", s.create_folder("/", "d")),
        ("413", s.upload(&id, &[b'x'; 2000])),
    ];
    let missing: Vec<String> = answers
        .iter()
        .filter(|(_, r)| !r.header("X-Content-Type-Options").is_some_and(|v| v.trim().eq_ignore_ascii_case("nosniff")))
        .map(|(what, r)| format!("{what} ({})", r.status))
        .collect();
    assert!(missing.is_empty(), "no X-Content-Type-Options: nosniff on {} answers: {missing:?}", missing.len());
}

/// True when a `Content-Security-Policy` value sandboxes the page without
/// letting scripts run.
fn sandboxes_scripts(csp: &str) -> bool {
    csp.split(';').any(|directive| {
        let mut tokens = directive.split_ascii_whitespace();
        tokens.next().is_some_and(|name| name.eq_ignore_ascii_case("sandbox"))
            && !tokens.any(|t| t.eq_ignore_ascii_case("allow-scripts"))
    })
}

/// A file someone uploads can hold a page with scripts; `view` opened from
/// wfhook's origin must never run them: the answer is an attachment, or a
/// sandbox without scripts. (Each policy header is enforced, so one that
/// sandboxes is enough.)
#[test]
fn view_never_runs_active_content() {
    let s = TestServer::start(&[]);
    let script = "<script>fetch('/metadata?id=%2F')</script>";
    let files = [
        ("x.html", format!("<!doctype html><p>hello{script}")),
        ("x.svg", format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{script}</svg>")),
        ("x.xml", format!("<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">{script}</x:script>")),
        ("x.js", "fetch('/metadata?id=%2F')".to_string()),
    ];
    let mut unsafe_answers = Vec::new();
    for (name, body) in &files {
        let id = s.put_file("/", name, body.as_bytes(), None);
        let r = s.fetch_link(&s.view_link(&id));
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let attachment = r.header("Content-Disposition").is_some_and(|d| d.trim_start().starts_with("attachment"));
        let sandboxed =
            r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("Content-Security-Policy") && sandboxes_scripts(v));
        if !attachment && !sandboxed {
            unsafe_answers.push(format!(
                "{name}: Content-Type {:?}, Content-Disposition {:?}, Content-Security-Policy {:?}",
                r.header("Content-Type"),
                r.header("Content-Disposition"),
                r.header("Content-Security-Policy")
            ));
        }
    }
    assert!(
        unsafe_answers.is_empty(),
        "view serves active content inline, unsandboxed:\n{}",
        unsafe_answers.join("\n")
    );
}

/// A small tmpfs mounted on a temporary folder, unmounted when dropped.
struct Tmpfs {
    mnt: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (such as `2m`); `None` when mounting is
    /// not allowed here (not root, or no mount namespace of our own).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        fs::create_dir(&mnt).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "wfhook-test"])
            .arg(&mnt)
            .output()
            .ok()?;
        out.status.success().then_some(Tmpfs { mnt, _dir: dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut c = Command::new("umount");
            if lazy {
                c.arg("-l");
            }
            c.arg(&self.mnt).output().is_ok_and(|o| o.status.success())
        };
        // Lazily if something still holds it open, so that it never stays.
        if !umount(false) {
            umount(true);
        }
    }
}

/// Fills the file system of `path` by writing `path` until it is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = fs::File::create(path).unwrap();
    for chunk in [64 * 1024, 4096, 1] {
        let buf = vec![0xAAu8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    let _ = f.sync_all();
}

/// What one operation on the full disk answered and whether it happened.
struct Outcome {
    what: String,
    status: u16,
}

/// On a full disk every change is all or nothing: createFolder, uploadInit,
/// upload and rename either succeed and really happened, or fail and
/// changed nothing (on disk, and in a listing once space is back). The
/// journal never glues a line onto another: a line the full disk cut short
/// is lost alone, and the lines written once space is freed are whole.
#[test]
fn a_full_disk_changes_all_or_nothing() {
    let Some(disk) = Tmpfs::mount("2m") else {
        skip_unless_ci("needs root to mount a tmpfs");
        return;
    };
    // Declared after the tmpfs: the server is killed before it is unmounted.
    let s = TestServer::builder().root(&disk.mnt.join("root")).start();
    let kept = s.put_file("/", "kept.bin", b"the old bytes", None);
    let moving = s.put_file("/", "moving.txt", b"m", None);
    let (mut bytes, mut name) = (b"the old bytes".to_vec(), "moving.txt".to_string());
    let filler = disk.mnt.join("filler");
    fill(&filler);

    let mut wrong = Vec::new();
    let mut outcomes = Vec::new();
    let mut created: BTreeMap<String, String> = BTreeMap::new();
    // Many of each, so that the state log and the journal, which have room
    // left in their last page, run into the full disk.
    for i in 0..25 {
        let folder = format!("full-folder-{i}");
        let r = s.create_folder("/", &folder);
        let exists = s.root.join(&folder).is_dir();
        if r.status == 200 {
            created.insert(folder.clone(), r.json()["id"].as_str().unwrap().to_string());
        }
        if (r.status == 200) != exists {
            wrong.push(format!("createFolder {folder}: answered {}, the folder exists: {exists}", r.status));
        }
        outcomes.push(Outcome { what: "createFolder".into(), status: r.status });

        let file = format!("full-file-{i}.txt");
        let r = s.upload_init_raw("/", &file);
        let made: Vec<String> =
            on_disk(&s.root).into_iter().filter(|n| n.starts_with(&format!("full-file-{i}."))).collect();
        if r.status == 200 {
            created.insert(file.clone(), r.json()["id"].as_str().unwrap().to_string());
        }
        if (r.status == 200) != (made == [file.clone()]) {
            wrong.push(format!("uploadInit {file}: answered {}, on disk: {made:?}", r.status));
        }
        outcomes.push(Outcome { what: "uploadInit".into(), status: r.status });

        let new = format!("upload {i} ").repeat(6000).into_bytes();
        let r = s.upload(&kept, &new);
        let now = fs::read(s.root.join("kept.bin")).unwrap();
        let expected = if r.status == 200 { &new } else { &bytes };
        if &now != expected {
            wrong.push(format!("upload {i}: answered {}, but the file holds the other bytes", r.status));
        }
        if r.status == 200 {
            bytes = new;
        }
        outcomes.push(Outcome { what: "upload".into(), status: r.status });

        let to = format!("moved-{i}.txt");
        let r = s.rename(&moving, &to);
        let (at_old, at_new) = (s.root.join(&name).exists(), s.root.join(&to).exists());
        // Renamed: only the new name exists; not renamed: only the old one.
        let renamed = if r.status == 200 { (false, true) } else { (true, false) };
        if (at_old, at_new) != renamed {
            wrong.push(format!("rename {name} to {to}: answered {}, old name {at_old}, new name {at_new}", r.status));
        }
        if r.status == 200 || at_new {
            name = to;
        }
        outcomes.push(Outcome { what: "rename".into(), status: r.status });
    }

    // Space is back: the listing shows what was answered, and nothing else.
    fs::remove_file(&filler).unwrap();
    let mut after = Vec::new();
    for _ in 0..5 {
        let r = s.get("/metadata?id=%2F");
        assert_eq!(r.status, 200, "{}", r.text());
        after.push(r.header("X-Request-Id").unwrap().to_string());
    }
    let listed: BTreeMap<String, String> = s
        .files("/")
        .iter()
        .map(|i| (i["title"].as_str().unwrap().to_string(), i["id"].as_str().unwrap().to_string()))
        .collect();
    let mut expected: BTreeSet<String> = created.keys().cloned().collect();
    expected.extend(["kept.bin".to_string(), name.clone()]);
    let listed_names: BTreeSet<String> = listed.keys().cloned().collect();
    if listed_names != expected {
        wrong.push(format!(
            "the listing differs from what was answered: unanswered {:?}, missing {:?}",
            listed_names.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&listed_names).collect::<Vec<_>>()
        ));
    }
    for (title, id) in &created {
        if listed.get(title).is_some_and(|l| l != id) {
            wrong.push(format!("{title} is listed under another id than the one answered"));
        }
    }
    let m = s.get(&format!("/metadata?id={moving}"));
    if m.status != 200 || m.json()["title"] != name.as_str() {
        wrong.push(format!("the renamed file's id does not lead to {name}: {} {}", m.status, m.text()));
    }
    if s.download(&kept).body != bytes {
        wrong.push("the uploaded file does not serve its last acknowledged bytes".into());
    }

    // Every journal line parses, and the lines written after space came
    // back are there.
    let text = fs::read_to_string(s.state_dir().journal()).unwrap();
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                ids.insert(v["requestId"].as_str().unwrap_or_default().to_string());
            }
            // A line cut short by the full disk is lost (readers skip it),
            // but it must hold no more than that one line: the next one
            // starts whole, never glued onto it.
            Err(_) if line.matches("{\"time\":").count() <= 1 && !line.ends_with('}') => {}
            Err(e) => {
                wrong.push(format!("a journal line is not JSON ({e}): {}", line.chars().take(300).collect::<String>()))
            }
        }
    }
    for id in &after {
        if !ids.contains(id) {
            wrong.push(format!("request {id}, answered after space came back, is not in the journal"));
        }
    }
    let mut by_op: BTreeMap<(String, u16), u32> = BTreeMap::new();
    for o in &outcomes {
        *by_op.entry((o.what.clone(), o.status)).or_default() += 1;
    }
    say(&format!("full disk: answers {by_op:?}, {} wrong", wrong.len()));
    assert!(wrong.is_empty(), "on a full disk ({by_op:?}):\n{}", wrong.join("\n"));
}

/// Only the canonical form of a signed link opens it: the lowercase hex
/// signature of the exact length, and the expiry as the server writes it
/// (digits, no sign, no leading zeros, no spaces). Anything else is a
/// second spelling of a link that nobody was given, and gets 403.
#[test]
fn only_canonical_link_signatures_and_expiries_open() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "a.txt", b"A", None);
    let signer = s.signer();
    let mut opened = Vec::new();
    for endpoint in ["view", "download"] {
        let expires = (now_secs() + 600).to_string();
        let link = |expires: &str, sig: &str| format!("/{endpoint}?id={id}&expires={}&sig={}", enc(expires), enc(sig));
        let sig = signer.sign(&[endpoint, &id, &expires]);
        let good = request(s.addr, "GET", &link(&expires, &sig), &[], b"");
        assert_eq!(good.status, 200, "the canonical link must open: {}", good.text());
        assert!(sig.bytes().any(|b| b.is_ascii_alphabetic()), "a signature of digits only cannot test case");

        let mut forged = vec![
            ("upper-case signature", link(&expires, &sig.to_uppercase())),
            ("one upper-case letter", {
                let at = sig.find(|c: char| c.is_ascii_alphabetic()).unwrap();
                let mut mixed = sig.clone();
                mixed.replace_range(at..=at, &sig[at..=at].to_uppercase());
                link(&expires, &mixed)
            }),
            ("signature one byte long", link(&expires, &format!("{sig}00"))),
            ("signature one byte short", link(&expires, &sig[..sig.len() - 2])),
            ("signature half long", link(&expires, &sig[..sig.len() / 2])),
            ("odd-length signature", link(&expires, &sig[..sig.len() - 1])),
        ];
        for (what, spelled) in [
            ("expiry with a plus", format!("+{expires}")),
            ("expiry with a leading zero", format!("0{expires}")),
            ("expiry with leading zeros", format!("000{expires}")),
            ("expiry with a leading space", format!(" {expires}")),
            ("expiry with a trailing space", format!("{expires} ")),
        ] {
            // Signed as the server signs, so only the spelling is wrong.
            forged.push((what, link(&spelled, &signer.sign(&[endpoint, &id, &spelled]))));
        }
        for (what, target) in forged {
            let r = request(s.addr, "GET", &target, &[], b"");
            if r.status != 403 {
                opened.push(format!("{endpoint}, {what}: {target} answered {}", r.status));
            }
        }
    }
    assert!(opened.is_empty(), "links that are not canonical opened:\n{}", opened.join("\n"));
}

/// The expiry of every link on a folder's page, which a browser opens from
/// the folder's own signed link.
fn child_expiries(page: &str) -> Vec<u64> {
    page.split(" href=\"")
        .skip(1)
        .chain(page.split(" src=\"").skip(1))
        .map(|rest| {
            let href = rest.split('"').next().unwrap().replace("&amp;", "&");
            link_param(&href, "expires")
                .and_then(|e| e.parse().ok())
                .unwrap_or_else(|| panic!("a link without an expiry: {href}"))
        })
        .collect()
}

/// A folder link lets its holder in until it expires, and no longer: the
/// links on the folder's page expire no later than the folder link itself.
#[test]
fn a_folder_page_links_expire_with_the_folder_link() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "shared");
    for i in 0..3 {
        s.put_file(&dir, &format!("f{i}.txt"), b"x", None);
    }
    s.mkdir(&dir, "inner");

    // A folder link that expires in a minute, signed as the server signs.
    let expires = now_secs() + 60;
    let sig = s.signer().sign(&["view", &dir, &expires.to_string()]);
    let page = request(s.addr, "GET", &format!("/view?id={dir}&expires={expires}&sig={sig}"), &[], b"");
    assert_eq!(page.status, 200, "{}", page.text());
    let children = child_expiries(&page.text());
    // Per child an open link and a thumbnail, per file a download; and the
    // breadcrumb, the sort links and the tab's icon.
    assert_eq!(children.len(), 4 * 2 + 3 + 2 + 3 + 1, "{}", page.text());
    assert!(
        children.iter().all(|&e| e <= expires),
        "the folder link expires at {expires}, the links on its page at {children:?}"
    );

    // The server's own folder link, opened a second later.
    let link = s.view_link(&dir);
    let expires: u64 = link_param(&link, "expires").unwrap().parse().unwrap();
    let made = now_secs();
    wait_for("the clock to tick a second", || now_secs() > made);
    let page = s.fetch_link(&link);
    assert_eq!(page.status, 200);
    let children = child_expiries(&page.text());
    assert!(
        children.iter().all(|&e| e <= expires),
        "the folder link expires at {expires}, the links on its page at {children:?}"
    );
}

/// Bidi controls make `invoice\u{202E}fdp.exe` show as `invoiceexe.pdf`;
/// other control characters garble listings and logs. Names holding any of
/// them are refused with 400 and nothing is created or renamed.
#[test]
fn names_with_bidi_or_control_characters_are_400() {
    let s = TestServer::start(&[]);
    let id = s.put_file("/", "ok.txt", b"ok", None);
    let bidi = ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}');
    let controls = ['\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}'];
    let mut accepted = Vec::new();
    for c in bidi.chain(controls) {
        for name in [format!("invoice{c}fdp.exe"), format!("{c}lead.txt"), format!("trail{c}")] {
            // A name of its own for each endpoint, so that one that was
            // wrongly accepted does not make the next answer 409.
            let n = |what: &str| enc(&format!("{what}-{name}"));
            let answers = [
                ("createFolder", s.call("POST", &format!("/createFolder?parentId=%2F&name={}", n("folder")), b"")),
                ("uploadInit", s.call("POST", &format!("/uploadInit?parentId=%2F&filename={}", n("file")), b"")),
                ("rename", s.call("PUT", &format!("/rename?id={id}&name={}", n("renamed")), b"")),
            ];
            for (what, r) in answers {
                if r.status != 400 {
                    accepted.push(format!("{what} {:?} (U+{:04X}): {}", name, c as u32, r.status));
                }
            }
            if s.metadata(&id)["title"] != "ok.txt" {
                // Put it back, so that the next name is tried from the same start.
                s.rename(&id, "ok.txt").ok_json();
            }
        }
    }
    assert!(accepted.is_empty(), "{} names were not refused with 400:\n{}", accepted.len(), accepted.join("\n"));
    assert_eq!(on_disk(&s.root), [wfhook::state_dir::NAME, "ok.txt"], "nothing was created");
}

/// Anyone who may write into the root may rename `.wfhook` (a rename needs
/// write access to the folder that holds the name, not to the folder
/// renamed) and plant a link, or a folder of their own, in its place.
/// Neither the real state folder under its new name nor the plant is ever
/// served, listed or written to, and the state keeps going through the
/// handle taken at start.
#[test]
fn a_state_folder_renamed_by_someone_else_is_never_served() {
    let s = TestServer::start(&[]);
    let doc = s.put_file("/", "doc.txt", b"document", None);
    let secret = fs::read_to_string(s.state_dir().link_secret()).unwrap();
    let state = s.state_dir().path().to_path_buf();
    fs::create_dir(s.root.join("deep")).unwrap();
    let mut bytes = b"document".to_vec();
    for (moved, plant_link) in [(s.root.join("visible"), true), (s.root.join("deep/visible"), false)] {
        fs::rename(&state, &moved).unwrap();
        if plant_link {
            std::os::unix::fs::symlink(&moved, &state).unwrap();
        } else {
            fs::create_dir(&state).unwrap();
            fs::write(state.join("link-secret"), "planted").unwrap();
        }
        // Listed nowhere, found by no search, served by no id.
        let mut seen = Vec::new();
        let mut todo = vec!["/".to_string()];
        while let Some(folder) = todo.pop() {
            for item in s.files(&folder) {
                seen.push(item["title"].as_str().unwrap().to_string());
                if item["kind"] == "folder" {
                    todo.push(item["id"].as_str().unwrap().to_string());
                }
                let r = s.download(item["id"].as_str().unwrap());
                assert!(!String::from_utf8_lossy(&r.body).contains(secret.trim()), "a secret was served");
            }
        }
        assert!(!seen.iter().any(|t| t == "visible" || t == "link-secret" || t == "state.jsonl"), "{seen:?}");
        assert!(s.search("link-secret").is_empty() && s.search("journal").is_empty());
        // The server goes on, through the folder it opened at start.
        assert_eq!(s.download(&doc).body, bytes);
        bytes.extend_from_slice(b" and more");
        s.upload(&doc, &bytes).ok_json();
        assert_eq!(fs::read_to_string(moved.join("link-secret")).unwrap(), secret, "the real secret stays");
        if !plant_link {
            assert_eq!(fs::read_to_string(state.join("link-secret")).unwrap(), "planted", "the plant is not used");
            fs::remove_dir_all(&state).unwrap();
        } else {
            fs::remove_file(&state).unwrap();
        }
        fs::rename(&moved, &state).unwrap();
    }
}
