//! What a custom action costs on a document linked by browsing, which
//! wfhook resolves by asking Workfront (a SIMULATED Workfront on loopback,
//! tests/common/workfront.rs): the first time (a lookup, then the link
//! recorded in the root) and afterwards (the recorded link), each against
//! the same action on a document sent through uploadInit, measured in the
//! same run with calls alternating.
//!
//! `cargo bench --bench lookup`; environment: BENCH_DOCS (200, documents
//! of each kind), BENCH_ROUNDS (5, warm calls per document).

mod common;
// The TLS half of the stand-in is the tests' alone.
#[allow(dead_code)]
#[path = "../tests/common/workfront.rs"]
mod workfront;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::client::{Response, request};
use common::{env_num, free_port, median, wait_for_listener};
use workfront::{API_VERSION, FakeWorkfront, Version};

const KEY: &str = "bench-key";
const WF_KEY: &str = "bench-workfront-key";
const USER: &str = "bench@example.com";

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn call(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Response {
    request(addr, method, target, &[("apiKey", KEY), ("username", USER)], body)
}

/// The time of one `checksum` call, which must succeed.
fn checksum(addr: SocketAddr, doc: &str, ver: &str) -> f64 {
    let target = format!("/customAction?name=checksum&documentId={doc}&documentVersionId={ver}");
    let t = Instant::now();
    let r = call(addr, "GET", &target, b"");
    let us = t.elapsed().as_secs_f64() * 1e6;
    assert_eq!(r.status, 200, "{}", r.text());
    us
}

fn wf_id(kind: u32, n: u64) -> String {
    format!("{kind:04x}{n:012x}b739cb7c5502082c")
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let docs = env_num("BENCH_DOCS", 200);
    let rounds = env_num("BENCH_ROUNDS", 5);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let body = vec![b'x'; 4096];
    for i in 0..docs {
        std::fs::write(root.join(format!("browsed-{i}.txt")), &body).unwrap();
    }
    let wf = FakeWorkfront::start(WF_KEY);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wfhook"))
        .args(["serve", "--listen", &addr.to_string(), "--admin-listen", "off", "--root"])
        .arg(&root)
        .args(["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .env("WFHOOK_API_KEY", KEY)
        .env(wfhook::workfront::API_KEY_VAR, WF_KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child };
    wait_for_listener(addr);
    let listing: Vec<serde_json::Value> =
        call(addr, "GET", "/files?parentId=%2F", b"").ok_json().as_array().unwrap().clone();
    let id_of = |title: &str| -> String {
        let item = listing.iter().find(|i| i["title"] == title).unwrap();
        item["id"].as_str().unwrap().to_string()
    };
    let mut uploaded = Vec::new();
    let mut browsed = Vec::new();
    for i in 0..docs {
        let (doc, ver) = (wf_id(1, i), wf_id(2, i));
        let target = format!("/uploadInit?parentId=%2F&filename=sent-{i}.txt&documentId={doc}&documentVersionId={ver}");
        let id = call(addr, "POST", &target, b"").ok_json()["id"].as_str().unwrap().to_string();
        assert_eq!(call(addr, "PUT", &format!("/upload?id={id}"), &body).status, 200);
        uploaded.push((doc, ver));
        let (doc, ver) = (wf_id(3, i), wf_id(4, i));
        let storage_id = id_of(&format!("browsed-{i}.txt"));
        wf.add(Version { document_id: doc.clone(), version_id: ver.clone(), storage_id, fixture: "versionOfWfhook" });
        browsed.push((doc, ver));
    }

    // First calls: uploaded (upload recorded the sum already: a verify)
    // against browsed (asks Workfront, records the link, records the sum),
    // alternating.
    let (mut first_up, mut cold) = (Vec::new(), Vec::new());
    for i in 0..docs as usize {
        let pair = [(&uploaded[i], &mut first_up), (&browsed[i], &mut cold)];
        for ((doc, ver), out) in if i % 2 == 0 {
            pair
        } else {
            let [a, b] = pair;
            [b, a]
        } {
            out.push(checksum(addr, doc, ver));
        }
    }
    assert_eq!(wf.asked().len(), docs as usize, "one lookup per browsed document");
    // Later calls: both through the recorded link.
    let (mut warm_up, mut cached) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for i in 0..docs as usize {
            warm_up.push(checksum(addr, &uploaded[i].0, &uploaded[i].1));
            cached.push(checksum(addr, &browsed[i].0, &browsed[i].1));
        }
    }
    assert_eq!(wf.asked().len(), docs as usize, "no lookup once the link is recorded");
    let (first_up, cold, warm_up, cached) = (median(first_up), median(cold), median(warm_up), median(cached));
    println!(
        "lookup: checksum on a document, median µs per call over loopback ({docs} documents, {rounds} warm rounds)"
    );
    println!("  first call, sent through uploadInit        {first_up:>9.0} µs  (baseline)");
    println!("  first call, linked by browsing (cold)      {cold:>9.0} µs  ratio {:.2}", cold / first_up);
    println!("    (asks Workfront, then records the link and the first sum in the root)");
    println!("  later calls, sent through uploadInit       {warm_up:>9.0} µs  (baseline)");
    println!("  later calls, linked by browsing (cached)   {cached:>9.0} µs  ratio {:.2}", cached / warm_up);
    println!("  the first call of a browsed document costs {:.0} µs more", cold - first_up);
    drop(server);
}
