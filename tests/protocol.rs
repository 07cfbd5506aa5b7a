//! HTTP/1.1 at the edges, through the readiness loop: `Expect:
//! 100-continue` on a body nobody may send, HTTP/1.0, `TE`, and answers
//! after which the server closes the connection, which must say so.

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use common::{KEY, TestServer, USER, connect, enc, read_response};

/// A request whose body the loop leaves unread (no key), sent with
/// `Expect: 100-continue`: the client waits for `100 Continue`, which never
/// comes, gets the final `403` (without `Connection: close`) and, as the
/// body was never sent, goes on with its next request on the same
/// connection. The loop drains the declared 20 body bytes out of that next
/// request and parses the rest as a head: the next request is answered
/// `400` (or lost), not `200`.
#[test]
fn a_left_body_with_expect_continue_does_not_eat_the_next_request() {
    let s = TestServer::start(&[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    c.write_all(
        b"POST /createFolder?parentId=%2F&name=x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\
          Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n",
    )
    .unwrap();
    let first = read_response(&mut r, false);
    assert_eq!(first.status, 403);
    if first.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
        return; // the server said it closes: fine
    }
    // No body was sent (no 100 came): the connection is free for the next.
    c.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let second = common::try_read_response(&mut r, false);
    match second {
        Ok(resp) => assert_eq!(resp.status, 200, "the next request was eaten as body: {}", resp.text()),
        Err(e) => panic!("the next request on a kept-alive connection got no answer: {e}"),
    }
}

/// RFC 9110 §10.1.1: a server MUST ignore a 100-continue expectation in an
/// HTTP/1.0 request. The loop sends `HTTP/1.1 100 Continue` to a 1.0 client.
#[test]
fn an_http10_client_gets_no_100_continue() {
    let s = TestServer::start(&[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_millis(800))).unwrap();
    let head = format!(
        "POST /createFolder HTTP/1.0\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nExpect: 100-continue\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 22\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    let mut got = vec![0u8; 256];
    let n = c.read(&mut got).unwrap_or(0);
    let text = String::from_utf8_lossy(&got[..n]).into_owned();
    assert!(!text.starts_with("HTTP/1.1 100"), "an HTTP/1.0 request was sent an interim 100: {text:?}");
}

/// The journal's `bytes` is documented as body bytes sent. A client sending
/// `TE: chunked` makes tiny_http frame a download in chunks (and read the
/// file through a reader on the loop's thread instead of `sendfile`); the
/// final record then counts the chunk framing: 1 012 bytes for a 1 000-byte
/// file read whole.
#[test]
fn a_te_chunked_download_is_journaled_with_its_body_bytes() {
    let s = TestServer::start(&[]);
    let body = vec![b'x'; 1000];
    let id = s.put_file("/", "f.bin", &body, None);
    let before = s.records(2).len();
    let mut headers = s.auth();
    headers.push(("TE", "chunked"));
    let r = s.call_as("GET", &format!("/download?id={}", enc(&id)), &headers, b"");
    assert_eq!((r.status, r.body.len()), (200, 1000));
    let records = s.records(before + 1);
    let last = records.last().unwrap();
    assert_eq!(last["endpoint"], "download", "{last}");
    assert_eq!(last["bytes"], 1000, "journaled bytes are not the body's: {last}");
}

/// A body the loop leaves unread (no key) and that is over `max_drain`
/// (256 KiB): the answer is written as keep-alive (no `Connection: close`,
/// the ticket's `keep_alive` only looked at whether the length is known),
/// then `finish` closes the connection anyway (`linger`). A client that
/// trusts the answer sends its next request into a closed connection.
#[test]
fn an_answer_the_server_closes_after_says_connection_close() {
    let s = TestServer::start(&[]);
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let len = 1 << 20;
    let head = format!(
        "POST /createFolder?parentId=%2F&name=x HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    let mut w = c.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = w.write_all(&vec![b'a'; len]);
    });
    let first = read_response(&mut r, false);
    assert_eq!(first.status, 403);
    let says_close = first.header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let _ = sender.join();
    if says_close {
        return;
    }
    let next = c
        .write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n")
        .and_then(|_| common::try_read_response(&mut r, false));
    assert!(
        next.as_ref().is_ok_and(|n| n.status == 200),
        "the 403 said keep-alive but the server closed the connection: {:?}",
        next.map(|n| n.status)
    );
}
