//! The journal's bounds, through the real binary: a small
//! `--journal-max-bytes` rotates it, `--journal-keep` files are kept and no
//! more, no file passes the limit by more than a line, the history that
//! `/events` (and so `wfhook top`) starts with reads on into the rotated
//! files, and two servers sharing a root rotate it together without losing
//! or doubling a line.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;

use common::*;
use serde_json::Value;
use wfhook::state_dir::StateDir;

const MAX_BYTES: u64 = 4096;

/// The journal files in the state folder, newest first (`journal.jsonl`,
/// then `.1`, `.2`…), after checking that no other journal file is there.
fn journal_files(state: &StateDir) -> Vec<std::path::PathBuf> {
    let mut numbers: Vec<u32> = Vec::new();
    for entry in std::fs::read_dir(state.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(n) = name.strip_prefix("journal.jsonl.") {
            numbers.push(n.parse().unwrap_or_else(|_| panic!("a stray journal file: {name}")));
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "rotated journals without a gap");
    std::iter::once(state.journal()).chain(numbers.into_iter().map(|n| state.rotated_journal(n))).collect()
}

/// The lines of a journal file, each parsed (a line that does not parse
/// fails the test).
fn lines_of(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path:?}: {e}: {l}"))).collect()
}

/// Checks that the file at `path` passes `MAX_BYTES` by no more than its
/// last line.
fn within_the_limit(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let last = text.lines().last().map_or(0, |l| l.len() + 1) as u64;
    assert!(text.len() as u64 - last <= MAX_BYTES, "{path:?} holds {} bytes", text.len());
}

fn request_id(line: &Value) -> String {
    line["requestId"].as_str().unwrap().to_string()
}

/// The request ids in every journal file there is at the moment, checking
/// nothing: a rotation may be under way.
fn ids_now(state: &StateDir) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(state.path()) else { return HashSet::new() };
    let names = entries.filter_map(|e| e.ok()?.file_name().into_string().ok());
    let texts = names
        .filter(|n| n.starts_with("journal.jsonl"))
        .filter_map(|n| std::fs::read_to_string(state.path().join(n)).ok());
    let lines: Vec<String> = texts.flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>()).collect();
    lines.iter().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|v| request_id(&v)).collect()
}

/// The request ids of every kept line, oldest first.
fn kept_ids(state: &StateDir) -> Vec<String> {
    journal_files(state).iter().rev().flat_map(|p| lines_of(p)).map(|l| request_id(&l)).collect()
}

/// The `history` line of the admin listener's `/events` stream.
fn history(server: &TestServer) -> Vec<Value> {
    let token = std::fs::read_to_string(server.state_dir().admin_token()).unwrap();
    let mut stream = TcpStream::connect(server.admin_addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", token.trim()).unwrap();
    for line in BufReader::new(stream).lines() {
        let line = line.unwrap();
        if let Ok(message) = serde_json::from_str::<Value>(&line)
            && message["type"] == "history"
        {
            return message["events"].as_array().unwrap().clone();
        }
    }
    panic!("the stream ended before its history");
}

#[test]
fn a_small_journal_rotates_keeping_the_newest_files_and_the_history_reads_across() {
    let server = TestServer::start(&[
        "--journal-max-bytes",
        &MAX_BYTES.to_string(),
        "--journal-keep",
        "3",
        "--workers",
        "4",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    // Some sixty files' worth, from clients at once; a fifth unauthenticated
    // with a long username, whose lines stay short.
    let long_name = "n".repeat(1000);
    std::thread::scope(|s| {
        for t in 0..8 {
            let (server, long_name) = (&server, &long_name);
            s.spawn(move || {
                for i in 0..150 {
                    if (t + i) % 5 == 0 {
                        let r = server.call_as("GET", "/metadata?id=%2F", &[("username", long_name)], b"");
                        assert_eq!(r.status, 403);
                    } else {
                        assert_eq!(server.get("/metadata?id=%2F").status, 200);
                    }
                }
            });
        }
    });
    // Then a few, one after another: the newest lines.
    let newest: Vec<String> =
        (0..5).map(|_| server.get("/files?parentId=%2F").header("X-Request-Id").unwrap().to_string()).collect();

    let state = server.state_dir();
    // A final record is written just after its answer's last byte.
    wait_for("the newest request's line", || ids_now(&state).contains(newest.last().unwrap()));
    let files = journal_files(&state);
    assert_eq!(files.len(), 4, "the journal and 3 rotated files: {files:?}");
    for path in &files {
        within_the_limit(path);
    }
    let current: Vec<String> = lines_of(&files[0]).iter().map(request_id).collect();
    assert_eq!(current.last(), newest.last(), "the newest request is in the journal itself");
    let ids = kept_ids(&state);
    assert!(ids.ends_with(&newest), "the newest requests, in order, end the journal");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "a line journaled twice");
    for line in files.iter().flat_map(|p| lines_of(p)) {
        if line["status"] == 403 {
            assert_eq!(line["username"].as_str().unwrap().len(), 64, "{line}");
            assert!(line.to_string().len() < 300, "an unauthenticated line of {} bytes", line.to_string().len());
        }
    }

    // The history `wfhook top` starts with is every kept line, across the
    // rotated files, oldest first.
    let history: Vec<String> = history(&server).iter().map(request_id).collect();
    assert!(ids.len() > current.len() && ids.len() <= 500);
    assert_eq!(history, ids);
}

#[test]
fn two_servers_on_one_root_rotate_together_without_losing_or_doubling_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--journal-max-bytes", &MAX_BYTES.to_string(), "--journal-keep", "8", "--workers", "4"];
    let a = TestServer::builder().root(dir.path()).args(&args).start();
    let b = TestServer::builder().root(dir.path()).args(&args).start();
    // Through both at once, a burst of some 25 KB: several rotations, all
    // within what 8 rotated files of 4 KB keep. (A file may pass the limit
    // by the lines one server wrote before the other, which rotated it, had
    // looked: not checked here.)
    let sent: Vec<String> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..8)
            .map(|t| {
                let server = [&a, &b][t % 2];
                s.spawn(move || {
                    (0..18)
                        .map(|_| {
                            let r = server.get("/metadata?id=%2F");
                            assert_eq!(r.status, 200);
                            r.header("X-Request-Id").unwrap().to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients.into_iter().flat_map(|c| c.join().unwrap()).collect()
    });
    let state = a.state_dir();
    // A final record is written just after its answer's last byte: wait
    // for the last ones (a line lost for good fails here).
    wait_for("a line for every request sent", || {
        let kept = ids_now(&state);
        sent.iter().all(|id| kept.contains(id))
    });
    let files = journal_files(&state);
    assert!(files.len() >= 3 && files.len() <= 9, "{files:?}");
    let mut count: HashMap<String, usize> = HashMap::new();
    for id in kept_ids(&state) {
        *count.entry(id).or_default() += 1;
    }
    let lost: Vec<&String> = sent.iter().filter(|id| !count.contains_key(*id)).collect();
    let doubled: Vec<(&String, &usize)> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(lost.is_empty() && doubled.is_empty(), "lost {lost:?}, doubled {doubled:?}");
    assert_eq!(count.len(), sent.len(), "lines of requests nobody sent");
}
