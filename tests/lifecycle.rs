//! The process as an operator runs it: the command line, the first start,
//! restarts over the same root, many clients at once, SIGTERM, and SIGHUP
//! reloading the keys.

mod common;

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use wfhook::actions::ACTIONS;
use wfhook::state_dir::{self, StateDir};

#[test]
fn actions_lists_every_compiled_in_action_as_service_info_does() {
    let (status, out, err) = run(&["actions"]);
    assert!(status.success(), "{err}");
    let s = TestServer::start(&[]);
    let info = s.get_json("/serviceInfo");
    let listed = info["customActions"].as_array().unwrap();
    assert_eq!(listed.len(), ACTIONS.len());
    for a in listed {
        let (name, display) = (a["name"].as_str().unwrap(), a["displayName"].as_str().unwrap());
        let line = out.lines().find(|l| l.split_whitespace().next() == Some(name));
        let line = line.unwrap_or_else(|| panic!("{name} missing from:\n{out}"));
        assert!(line.contains(display), "{line}");
    }
    // Each registered action: its name and display name on one line, its
    // description on the next.
    for a in ACTIONS {
        let mut lines = out.lines().skip_while(|l| l.split_whitespace().next() != Some(a.name()));
        let line = lines.next().unwrap_or_else(|| panic!("{} missing from:\n{out}", a.name()));
        assert!(line.contains(a.display_name()), "{line}");
        assert_eq!(lines.next().map(str::trim), Some(a.description()), "{out}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let (status, out, _) = run(&["--help"]);
    assert!(status.success());
    for flag in [
        "serve",
        "actions",
        "--listen",
        "--root",
        "--base-path",
        "--public-url",
        "--api-keys-file",
        "--publisher",
        "--workers",
        "--max-upload-bytes",
        "--action-timeout",
        "WFHOOK_LISTEN",
        "WFHOOK_API_KEY",
    ] {
        assert!(out.contains(flag), "--help does not mention {flag}:\n{out}");
    }
    let (status, serve_help, _) = run(&["serve", "--help"]);
    assert!(status.success());
    assert!(serve_help.contains("--listen"));

    let (status, out, _) = run(&["--version"]);
    assert!(status.success());
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    assert!(out.starts_with("wfhook"), "{out}");
}

#[test]
fn a_bad_command_line_is_a_one_line_error_and_exit_2() {
    for args in [
        &["serve", "--nope"][..],
        &["serve", "--workers", "many"],
        &["serve", "--listen"],
        &["fly"],
        &["serve", "--api-key", "secret-on-argv"],
    ] {
        let (status, out, err) = run(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line:\n{err}");
        assert!(err.starts_with("wfhook"), "{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(!err.contains("secret-on-argv"), "a key given on argv is echoed: {err}");
    }
    let (_, _, err) = run(&["serve", "--nope"]);
    assert!(err.contains("--nope"), "{err}");
}

#[test]
fn an_unusable_root_is_a_clear_error_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "not a folder").unwrap();
    for root in [file.join("below"), file.clone()] {
        let out = command()
            .env("WFHOOK_API_KEY", KEY)
            .args(["serve", "--listen", "127.0.0.1:0", "--root"])
            .arg(&root)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", root.display());
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(last.starts_with("wfhook:"), "{err}");
        assert!(last.contains(&root.display().to_string()), "the error should name the root: {err}");
        assert!(!err.contains("listening on"), "{err}");
    }
    assert_eq!(fs::read(&file).unwrap(), b"not a folder");
}

#[test]
fn the_first_start_without_a_key_generates_one_and_shows_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = TestServer::builder().no_key().root(dir.path()).start();
    let key_file = StateDir::of_root(dir.path()).api_key();
    let key = fs::read_to_string(&key_file).unwrap().trim().to_string();
    assert!(key.len() >= 32, "a short key: {key:?}");
    assert_eq!(fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    wait_for("the key on stdout", || first.stdout().contains(&key));

    let with =
        |s: &TestServer, k: &str| s.call_as("GET", "/metadata?id=%2F", &[("apiKey", k), ("username", USER)], b"");
    assert_eq!(with(&first, &key).status, 200);
    assert_eq!(with(&first, "test-key").status, 403);
    assert!(first.stop().success());
    assert_eq!(first.stdout().matches(&key).count(), 1, "{}", first.stdout());
    assert!(!first.stderr().contains(&key), "the key reached the log");

    let mut second = TestServer::builder().no_key().root(dir.path()).start();
    assert_eq!(with(&second, &key).status, 200);
    assert!(second.stop().success());
    assert!(!second.stdout().contains(&key), "shown again: {}", second.stdout());
    assert!(!second.stderr().contains(&key));
    assert_eq!(fs::read_to_string(&key_file).unwrap().trim(), key, "the key is kept");
}

#[test]
fn sigterm_when_idle_exits_0() {
    let mut s = TestServer::start(&[]);
    s.get_json("/metadata?id=%2F");
    let status = s.stop();
    assert_eq!(status.code(), Some(0), "{}", s.stderr());
}

#[test]
fn sigterm_lets_an_in_flight_upload_finish_then_exits_0() {
    let mut s = TestServer::start(&[]);
    let id = s.upload_init("/", "inflight.bin", None)["id"].as_str().unwrap().to_string();
    // Bodies over 64 KiB wait in a temp file until they are whole.
    let body: Vec<u8> = (0..256 * 1024u32).map(|n| (n % 253) as u8).collect();
    let half = body.len() / 2;
    let mut conn = connect(s.addr);
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body[..half]).unwrap();
    // The server is reading the body once its temp file is open.
    wait_for("the upload to start", || s.bodies_in_flight() == 1);

    // The server has the signal (stopping has begun), and a moment to act
    // on it wrongly, before the rest is sent.
    s.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(&body[half..]).unwrap();
    let r = read_response(&mut BufReader::new(conn), false);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["result"], "success");
    assert_eq!(v["size"], body.len());

    let status = s.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", s.stderr());
    assert_eq!(fs::read(s.root.join("inflight.bin")).unwrap(), body);
    assert!(s.journal().iter().any(|e| e["endpoint"] == "upload" && e["status"] == 200));
}

#[test]
fn concurrent_clients_all_succeed_and_each_request_is_journaled_once() {
    const THREADS: usize = 16;
    let s = TestServer::start(&["--workers", "4"]);
    let barrier = Barrier::new(THREADS);
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let mut n = 0;
                    for round in 0..2 {
                        let doc = format!("doc-{t}-{round}");
                        let bytes = format!("thread {t} round {round} ").repeat(100 + t).into_bytes();
                        let id = s.put_file("/", "shared.txt", &bytes, Some((&doc, "v1")));
                        assert_eq!(s.download(&id).body, bytes);
                        assert_eq!(s.metadata(&id)["size"], bytes.len());
                        assert!(!s.files("/").is_empty());
                        assert!(!s.search("shared").is_empty());
                        assert_eq!(s.action("checksum", &doc, Some("v1")).ok_json()["status"], "success");
                        assert_eq!(s.action("ping", "", None).ok_json()["status"], "success");
                        s.mkdir("/", &format!("dir-{t}-{round}"));
                        s.rename(&id, &format!("file-{t}-{round}.txt")).ok_json();
                        s.call_as("GET", "/serviceInfo", &[], b"").ok_json();
                        n += 11;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: usize = counts.iter().sum();

    let journal = s.records(total);
    assert_eq!(journal.len(), total, "one final record per request");
    let ids: HashSet<&str> = journal.iter().map(|e| e["requestId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), total, "request ids are unique");
    assert!(journal.iter().all(|e| e["status"] == 200), "{:?}", journal.iter().find(|e| e["status"] != 200));
    let text = fs::read_to_string(s.state_dir().journal()).unwrap();
    assert!(!text.contains(KEY));

    let items = s.files("/");
    let files = items.iter().filter(|i| i["kind"] == "file").count();
    let folders = items.iter().filter(|i| i["kind"] == "folder").count();
    assert_eq!((files, folders), (THREADS * 2, THREADS * 2));
    let names = on_disk(&s.root);
    assert_eq!(names.len(), THREADS * 4 + 1);
    assert!(names.iter().all(|n| n.starts_with("dir-") || n.starts_with("file-") || n == state_dir::NAME), "{names:?}");
}

#[test]
fn a_torn_journal_line_is_skipped_and_later_lines_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = TestServer::builder().root(dir.path()).start();
        s.get_json("/metadata?id=%2F");
        assert!(s.stop().success());
    }
    let journal = StateDir::of_root(dir.path()).journal();
    OpenOptions::new().append(true).open(&journal).unwrap().write_all(b"{\"time\":\"2024-").unwrap();
    let s = TestServer::builder().root(dir.path()).start();
    s.get_json("/files?parentId=%2F");
    wait_for("the second server's record", || fs::read_to_string(&journal).unwrap().lines().count() == 3);
    let text = fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(serde_json::from_str::<Value>(lines[1]).is_err(), "the torn line stays as it was");
    let last: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(last["endpoint"], "files");
}

#[test]
fn a_torn_state_line_is_skipped_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let mut s = TestServer::builder().root(dir.path()).start();
        let id = s.put_file("/", "kept.txt", b"kept", Some(("d", "v")));
        s.action("lock", "d", None).ok_json();
        assert!(s.stop().success());
        id
    };
    let state = StateDir::of_root(dir.path()).state_log();
    OpenOptions::new().append(true).open(&state).unwrap().write_all(b"{\"op\":\"id\",\"id\":\"0123").unwrap();
    let s = TestServer::builder().root(dir.path()).start();
    let meta = s.metadata(&id);
    assert_eq!(meta["title"], "kept.txt");
    assert_eq!(meta["readOnly"], true, "the lock survived the restart");
    s.action("unlock", "d", None).ok_json();
    let other = s.put_file("/", "new.txt", b"new", None);
    drop(s);
    let s = TestServer::builder().root(dir.path()).start();
    assert_eq!(s.metadata(&id)["readOnly"], false);
    assert_eq!(s.download(&other).body, b"new");
}

#[test]
fn environment_variables_configure_serve() {
    let s = TestServer::builder()
        .env("WFHOOK_PUBLISHER", "From Env")
        .env("WFHOOK_BASE_PATH", "/env/base")
        .env("WFHOOK_PUBLIC_URL", "https://docs.example.com/")
        .start();
    let r = request(s.addr, "GET", "/env/base/serviceInfo", &[], b"");
    assert_eq!(r.ok_json()["publisher"], "From Env");
    let meta = request(s.addr, "GET", "/env/base/metadata?id=%2F", &s.auth(), b"").ok_json();
    let view = meta["viewLink"].as_str().unwrap();
    assert!(view.starts_with("https://docs.example.com/env/base/view?"), "{view}");
    // The link is still valid against this server.
    let target = view.strip_prefix("https://docs.example.com").unwrap();
    assert_eq!(request(s.addr, "GET", target, &[], b"").status, 200);
}

#[test]
fn sigterm_with_idle_and_half_sent_connections_open_still_exits_0() {
    let mut s = TestServer::start(&[]);
    // A keep-alive connection that served two requests and now sits idle.
    let mut idle = connect(s.addr);
    let mut reader = BufReader::new(idle.try_clone().unwrap());
    for _ in 0..2 {
        idle.write_all(
            format!("GET /metadata?id=%2F HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\n\r\n").as_bytes(),
        )
        .unwrap();
        assert_eq!(read_response(&mut reader, false).status, 200);
    }
    // A client that never finishes its headers.
    let mut slow = connect(s.addr);
    slow.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: t\r\n").unwrap();
    s.get_json("/metadata?id=%2F");
    let status = s.stop();
    assert_eq!(status.code(), Some(0), "{}", s.stderr());
}

#[test]
fn sigint_stops_the_server_like_sigterm() {
    let mut s = TestServer::start(&[]);
    s.get_json("/metadata?id=%2F");
    s.signal("INT");
    assert_eq!(s.wait_exit().code(), Some(0), "{}", s.stderr());
}

#[test]
fn two_instances_sharing_one_root_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let a = TestServer::builder().root(dir.path()).start();
    let b = TestServer::builder().root(dir.path()).start();
    let id = a.put_file("/", "shared.txt", b"from a", Some(("doc-s", "v1")));
    assert_eq!(b.metadata(&id)["title"], "shared.txt");
    assert_eq!(b.download(&id).body, b"from a");

    b.action("lock", "doc-s", Some("v1")).ok_json();
    assert_eq!(a.metadata(&id)["readOnly"], true);
    a.upload(&id, b"x").assert_error(403, "fail");
    a.action("unlock", "doc-s", None).ok_json();
    b.upload(&id, b"from b").ok_json();
    assert_eq!(a.action("checksum", "doc-s", None).ok_json()["status"], "success");
    a.rename(&id, "renamed.txt").ok_json();
    assert_eq!(b.metadata(&id)["title"], "renamed.txt");

    // One link secret for the root: a link made by one opens on the other.
    let link = a.metadata(&id)["downloadLink"].as_str().unwrap().to_string();
    let target = link.strip_prefix(&format!("http://{}", a.addr)).unwrap();
    assert_eq!(request(b.addr, "GET", target, &[], b"").body, b"from b");
    // Both write one journal, whole lines only.
    a.records(12);
}

#[test]
fn a_second_sigterm_exits_at_once_even_with_a_stalled_upload() {
    let mut s = TestServer::start(&[]);
    let id = s.upload_init("/", "stalled.bin", None)["id"].as_str().unwrap().to_string();
    s.upload(&id, b"old").ok_json();
    let mut conn = connect(s.addr);
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: t\r\napiKey: {KEY}\r\nusername: {USER}\r\nContent-Length: 100000\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&[1u8; 5000]).unwrap();
    wait_for("the upload to start", || s.bodies_in_flight() == 1);

    // The first signal is delivered before the second is sent, so the two
    // cannot merge into one; an exit on the first would show within 300 ms.
    s.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.is_running(), "the first SIGTERM must wait for the in-flight upload");
    s.sigterm();
    let status = s.wait_exit();
    assert!(!status.success(), "an interrupted stop is not a clean exit: {status:?}");
    drop(conn);
    assert_eq!(fs::read(s.root.join("stalled.bin")).unwrap(), b"old");
}

#[test]
fn a_missing_keys_file_or_a_taken_address_is_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let missing = dir.path().join("no-such-keys");
    let out = command()
        .args(["serve", "--listen", "127.0.0.1:0", "--root"])
        .arg(&root)
        .arg("--api-keys-file")
        .arg(&missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.trim_end().lines().last().unwrap().starts_with("wfhook:"), "{err}");

    let s = TestServer::start(&[]);
    let out = command()
        .env("WFHOOK_API_KEY", KEY)
        .args(["serve", "--listen", &s.addr.to_string(), "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&s.addr.to_string()), "the error should name the address: {err}");
}

/// The status of a call made with API key `key`.
fn status_with_key(s: &TestServer, key: &str) -> u16 {
    request(s.addr, "GET", "/metadata?id=%2F", &[("apiKey", key), ("username", USER)], b"").status
}

#[test]
fn sighup_reloads_the_api_keys_file_and_a_failed_reload_keeps_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    fs::write(&file, "key-a\n# ops\nkey-b\n").unwrap();
    let mut s = TestServer::builder().no_key().args(&["--api-keys-file", file.to_str().unwrap()]).start();
    let statuses = |s: &TestServer| ["key-a", "key-b", "key-c"].map(|k| status_with_key(s, k));
    assert_eq!(statuses(&s), [200, 200, 403]);

    // Rewritten in place, as an editor or config management would.
    fs::write(&file, "key-b\nkey-c\n").unwrap();
    s.signal("HUP");
    wait_for("the reload in the log", || s.stderr().contains("reloaded the API keys file: accepting 2 API key(s)"));
    assert!(s.is_running());
    assert_eq!(statuses(&s), [403, 200, 200]);

    // A file with no key, then no file at all: each reload fails, says so,
    // and the keys stay as they were.
    let breakages: [fn(&std::path::Path); 2] =
        [|f| fs::write(f, "# all gone\n\n").unwrap(), |f| fs::remove_file(f).unwrap()];
    for (n, break_it) in breakages.into_iter().enumerate() {
        break_it(&file);
        s.signal("HUP");
        wait_for("the failed reload in the log", || {
            s.stderr().lines().filter(|l| l.contains("WARN") && l.contains("was not reloaded")).count() == n + 1
        });
        assert!(s.is_running());
        assert_eq!(statuses(&s), [403, 200, 200]);
    }
    let log = s.stderr();
    assert!(log.contains("still accepting the 2 API key(s) from before"), "{log}");
    for secret in ["key-a", "key-b", "key-c", file.to_str().unwrap()] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
    // SIGHUP never stopped it; SIGTERM still stops it cleanly.
    assert_eq!(s.stop().code(), Some(0), "{}", s.stderr());
}

#[test]
fn sighup_without_a_keys_file_has_nothing_to_reload_and_the_server_goes_on() {
    let mut s = TestServer::start(&[]);
    for round in 1..=2 {
        s.signal("HUP");
        wait_for("the SIGHUP in the log", || s.stderr().matches("nothing to reload").count() == round);
        assert!(s.is_running());
        assert_eq!(status_with_key(&s, KEY), 200);
    }
    assert!(!s.stderr().contains(KEY));
    assert_eq!(s.stop().code(), Some(0), "{}", s.stderr());
}

/// SIGTERM while one keep-alive client keeps pipelining requests: the
/// connection never goes idle, so the answers after the signal say
/// `Connection: close`, and the server exits.
#[test]
fn sigterm_exits_while_a_client_keeps_pipelining() {
    let mut s = TestServer::start(&[]);
    let c = connect(s.addr);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut w = c.try_clone().unwrap();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let one = b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n".repeat(64);
            while !stop.load(SeqCst) {
                if w.write_all(&one).is_err() {
                    return;
                }
            }
        })
    };
    let reader = {
        let mut r = c.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while matches!(r.read(&mut buf), Ok(n) if n > 0) {}
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    s.sigterm();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let exited = !s.is_running();
    stop.store(true, SeqCst);
    let _ = c.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let _ = reader.join();
    assert!(exited, "the server did not exit within 10 s of SIGTERM while a client kept pipelining");
}
