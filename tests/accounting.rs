//! Every request is accounted for, request for request: what the clients
//! saw is what the journal's final records, the admin listener's `/events`
//! stream and `/metrics` say. The traffic mixes normal answers, errors,
//! heads the connection layer refuses itself (400, 408, 431, 505, and 503
//! past the per-client cap), a download its client cuts, and a change,
//! whose journal line written before the answer pairs with its final one by
//! request id. (Handler panics, which no shipped handler has, are covered
//! in-process in `src/http/pipeline.rs`.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;

/// What a client saw of one request.
#[derive(Debug)]
struct Seen {
    what: &'static str,
    /// From `X-Request-Id`; the connection layer's own refusals carry none.
    id: Option<String>,
    status: u16,
    /// Body bytes read.
    bytes: u64,
    /// Whether the client read the whole answer (it cut the download).
    whole: bool,
}

fn seen(what: &'static str, r: &Response) -> Seen {
    let id = r.header("X-Request-Id").map(str::to_string);
    Seen { what, id, status: r.status, bytes: r.body.len() as u64, whole: true }
}

/// The status of a raw exchange that ends with the server closing.
fn refused(what: &'static str, addr: std::net::SocketAddr, bytes: &[u8]) -> Seen {
    closed_with(what, &raw(addr, bytes))
}

/// What the server says on `c` before it closes it, unasked.
fn answer_of(what: &'static str, mut c: TcpStream) -> Seen {
    let mut reply = Vec::new();
    let _ = c.read_to_end(&mut reply);
    closed_with(what, &reply)
}

/// A refusal by the connection layer: a status and no request id.
fn closed_with(what: &'static str, reply: &[u8]) -> Seen {
    let (head, _) = split_raw(reply);
    let status = status_of(head.as_bytes());
    assert!(!head.to_ascii_lowercase().contains("x-request-id"), "{what}: {head}");
    Seen { what, id: None, status, bytes: 0, whole: true }
}

/// Event messages of the `/events` stream, collected by a thread.
fn watch_events(s: &TestServer) -> Arc<Mutex<Vec<Value>>> {
    let token = std::fs::read_to_string(s.state_dir().admin_token()).unwrap();
    let mut stream = TcpStream::connect(s.admin_addr()).unwrap();
    write!(stream, "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", token.trim()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut lines = BufReader::new(stream).lines();
    // The stream is open (and subscribed) once its first line came.
    wait_for("the event stream's hello", || lines.next().is_some_and(|l| l.unwrap_or_default().contains("\"hello\"")));
    let sink = Arc::clone(&events);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Ok(m) = serde_json::from_str::<Value>(&line)
                && m["type"] == "event"
            {
                sink.lock().unwrap().push(m["event"].clone());
            }
        }
    });
    events
}

/// `wfhook_requests_total` by (endpoint, status).
fn request_counts(metrics: &str) -> BTreeMap<(String, u16), u64> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("wfhook_requests_total{endpoint=\""))
        .map(|rest| {
            let (endpoint, rest) = rest.split_once("\",status=\"").unwrap();
            let (status, n) = rest.split_once("\"} ").unwrap();
            ((endpoint.to_string(), status.parse().unwrap()), n.parse().unwrap())
        })
        .collect()
}

/// A download its client reads a little of and then leaves.
fn cut_download(s: &TestServer, id: &str) -> Seen {
    let mut c = connect_from(Ipv4Addr::new(127, 0, 8, 1), s.addr);
    write!(c, "GET /download?id={} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\n\r\n", enc(id)).unwrap();
    let mut r = BufReader::new(c);
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        assert!(r.read_line(&mut head).unwrap() > 0, "the download's head: {head}");
    }
    let mut body = vec![0u8; 100_000];
    r.read_exact(&mut body).unwrap();
    let status = status_of(head.as_bytes());
    let id = head.lines().find_map(|l| l.strip_prefix("X-Request-Id: ")).map(str::to_string);
    Seen { what: "a download cut by its client", id, status, bytes: body.len() as u64, whole: false }
}

#[test]
fn journal_events_and_metrics_agree_with_what_clients_saw() {
    const BIG: u64 = 64 << 20;
    let s = TestServer::start(&[
        "--admin-listen",
        "127.0.0.1:0",
        "--max-connections-per-client",
        "3",
        // The head deadline follows it: a slow head is refused in 3 s.
        "--io-timeout",
        "3",
    ]);
    let small = s.put_file("/", "small.txt", b"twelve bytes", None);
    std::fs::File::create(s.root.join("big.bin")).unwrap().set_len(BIG).unwrap();
    let big = find(&s.files("/"), "big.bin").unwrap()["id"].as_str().unwrap().to_string();
    // Set-up: uploadInit, upload and files, each with its final record.
    let before = s.records(3).len();
    assert_eq!(before, 3, "{:#?}", s.journal());
    let events = watch_events(&s);

    let mut saw = vec![
        seen("serviceInfo", &s.get("/serviceInfo")),
        seen("ping", &s.action("ping", &small, None)),
        seen("metadata", &s.get(&format!("/metadata?id={}", enc(&small)))),
        seen("a whole download", &s.download(&small)),
        seen("an upload", &s.upload(&small, b"new bytes")),
        seen("an upload refused", &s.upload("nope", b"x")),
        seen("a malformed id", &s.get("/metadata?id=nope")),
        seen("no key", &request(s.addr, "GET", &format!("/metadata?id={}", enc(&small)), &[], b"")),
        seen("an unknown endpoint", &s.get("/nowhere")),
        refused(
            "ambiguous framing",
            s.addr,
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
        ),
        refused(
            "a huge header",
            s.addr,
            format!("GET /serviceInfo HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000)).as_bytes(),
        ),
        refused("HTTP/2.0", s.addr, b"GET /serviceInfo HTTP/2.0\r\nHost: x\r\n\r\n"),
    ];
    // A head that never ends: 408 at the head deadline.
    let mut slow = connect(s.addr);
    slow.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n").unwrap();
    saw.push(answer_of("a slow head", slow));
    // One address past its cap of 3.
    let from = Ipv4Addr::new(127, 0, 7, 1);
    let held: Vec<TcpStream> = (0..3).map(|_| connect_from(from, s.addr)).collect();
    // Accepted in the order they came: the held three first.
    saw.push(answer_of("past the cap", connect_from(from, s.addr)));
    drop(held);
    saw.push(cut_download(&s, &big));

    let statuses: Vec<(&str, u16)> = saw.iter().map(|x| (x.what, x.status)).collect();
    let expected = [200, 200, 200, 200, 200, 404, 404, 403, 404, 400, 431, 505, 408, 503, 200];
    assert_eq!(statuses.iter().map(|x| x.1).collect::<Vec<_>>(), expected, "{statuses:?}");

    // The journal: one final record per request, paired by id.
    let finals: Vec<Value> = s.records(before + saw.len()).split_off(before);
    assert_eq!(finals.len(), saw.len(), "{finals:#?}");
    let by_id: BTreeMap<&str, &Value> = finals.iter().map(|e| (e["requestId"].as_str().unwrap(), e)).collect();
    assert_eq!(by_id.len(), finals.len(), "request ids are unique");
    for x in saw.iter().filter(|x| x.id.is_some()) {
        let e = by_id[x.id.as_deref().unwrap()];
        assert_eq!(e["status"], x.status, "{}: {e}", x.what);
        assert_eq!(e["complete"], x.whole, "{}: {e}", x.what);
        let sent = e["bytes"].as_u64().unwrap();
        if x.whole {
            assert_eq!(sent, x.bytes, "{}: {e}", x.what);
        } else {
            // What the client read went out, and not the whole file.
            assert!(x.bytes <= sent && sent < BIG, "{}: {sent} bytes sent: {e}", x.what);
        }
    }
    let refusals: BTreeSet<u16> = saw.iter().filter(|x| x.id.is_none()).map(|x| x.status).collect();
    let journaled: BTreeSet<u16> = finals
        .iter()
        .filter(|e| !saw.iter().any(|x| x.id.as_deref() == e["requestId"].as_str()))
        .map(|e| {
            assert_eq!((e["complete"].as_bool(), e["bytes"].as_u64()), (Some(true), Some(0)), "{e}");
            e["status"].as_u64().unwrap() as u16
        })
        .collect();
    assert_eq!(journaled, refusals);

    // The change's line written before its answer pairs with its final one.
    let upload = saw.iter().find(|x| x.what == "an upload").unwrap().id.clone().unwrap();
    let lines: Vec<Value> = s.journal_lines().into_iter().filter(|e| e["requestId"] == upload.as_str()).collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].get("complete").is_none() && lines[0]["status"] == 200, "{lines:#?}");
    assert_eq!(lines[1]["complete"], true);
    // A ping changes nothing, a refused upload changed nothing: one line each.
    for what in ["ping", "an upload refused"] {
        let id = saw.iter().find(|x| x.what == what).unwrap().id.clone().unwrap();
        let lines: Vec<Value> = s.journal_lines().into_iter().filter(|e| e["requestId"] == id.as_str()).collect();
        assert_eq!(lines.len(), 1, "{what}: {lines:#?}");
    }

    // The event stream carried the same final records.
    wait_for("every final record on the event stream", || events.lock().unwrap().len() >= finals.len());
    let streamed = events.lock().unwrap().clone();
    assert_eq!(streamed, finals);

    // The metrics counted each once, by endpoint and status.
    let mut counted = request_counts(&s.metrics());
    let mut all = BTreeMap::new();
    for e in s.journal() {
        *all.entry((e["endpoint"].as_str().unwrap().to_string(), e["status"].as_u64().unwrap() as u16)).or_insert(0) +=
            1;
    }
    counted.retain(|_, n| *n > 0);
    assert_eq!(counted, all);
}
