//! Adobe's acceptance list for a provider, driven against the real binary,
//! with a SIMULATED Workfront (tests/common/workfront.rs) standing in for
//! Workfront's REST API: register, browse and link, open the links, search,
//! send a document, and run every shipped action on a document sent through
//! uploadInit and on one linked by browsing, which wfhook resolves by
//! asking (the stand-in for) Workfront. Then every way the lookup can fail:
//! not configured, Workfront unreachable or silent, a wrong key, another
//! provider's document, more lookups than allowed; and TLS to a test
//! certificate authority, directly and through an `HTTPS_PROXY`.

mod common;

use std::time::{Duration, Instant};

use common::workfront::{API_VERSION, ConnectProxy, FakeWorkfront, TestCa, Version};
use common::*;
use wfhook::actions::ACTIONS;

const WF_KEY: &str = "wf-api-key-5f3c9a";

/// A Workfront id: 32 hex digits.
fn wf_id(n: u32) -> String {
    format!("{n:08x}5502082c003a4f30ddec2fb2")
}

/// wfhook asking `wf` with `key`, plus `extra` arguments.
fn server_for(url: &str, key: &str, extra: &[&str]) -> TestServer {
    TestServer::builder()
        .args(&["--workfront-url", url, "--workfront-api-version", API_VERSION])
        .args(extra)
        .env(wfhook::workfront::API_KEY_VAR, key)
        .start()
}

/// Registers `storage_id` in Workfront as a wfhook document linked by
/// browsing; answers its (document id, version id).
fn link_in_workfront(wf: &FakeWorkfront, n: u32, storage_id: &str, fixture: &'static str) -> (String, String) {
    let (doc, ver) = (wf_id(n), wf_id(n + 1000));
    wf.add(Version { document_id: doc.clone(), version_id: ver.clone(), storage_id: storage_id.into(), fixture });
    (doc, ver)
}

/// A loopback port bound by a socket that does not listen: connecting to
/// it is refused, and nobody else can take it while the socket lives.
fn bound_not_listening() -> (rustix::fd::OwnedFd, std::net::SocketAddr) {
    use rustix::net::{AddressFamily, SocketAddrV4, SocketType, bind, getsockname, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    bind(&fd, &SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = std::net::SocketAddr::try_from(getsockname(&fd).unwrap()).unwrap();
    (fd, addr)
}

/// Every registered action, those that hide the document last.
fn every_action_in_a_workable_order() -> Vec<&'static str> {
    let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name()).collect();
    names.sort_by_key(|n| *n == "archive");
    names
}

/// Asserts that nothing the server wrote or answered holds `key`, nor a
/// piece of it split across the lines of a hex dump.
fn assert_key_never_shown(s: &TestServer, key: &str, answers: &[&Response]) {
    let piece = &key[..key.len().min(8)];
    assert!(!s.stderr().contains(piece) && !s.stdout().contains(piece), "the key is in the log");
    let journal = std::fs::read_to_string(s.state_dir().journal()).unwrap_or_default();
    assert!(!journal.contains(piece), "the key is in the journal");
    for a in answers {
        assert!(!a.text().contains(piece), "the key is in an answer: {}", a.text());
    }
}

#[test]
fn the_acceptance_list_with_every_action_on_uploaded_and_browsed_documents() {
    let wf = FakeWorkfront::start(WF_KEY);
    // Given with the base path already on it, as pasted into Workfront.
    let public = "https://docs.example.com/api/v1";
    let s = TestServer::builder()
        .base_path("/api/v1")
        .args(&["--public-url", public, "--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .env(wfhook::workfront::API_KEY_VAR, WF_KEY)
        .start();
    let pasted = format!("Base API URL (paste it into Workfront's Custom Integrations): {public}\n");
    wait_for("the Base API URL in the log", || s.stderr().contains(&pasted));

    // Register: serviceInfo, without a key.
    let info = request(s.addr, "GET", "/api/v1/serviceInfo", &[], b"").ok_json();
    let actions: Vec<&str> =
        info["customActions"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(actions, ACTIONS.iter().map(|a| a.name()).collect::<Vec<_>>());

    // Browse and link: a file someone put in the shared folder.
    std::fs::create_dir(s.root.join("Briefs")).unwrap();
    std::fs::write(s.root.join("Briefs/brief.txt"), b"the brief").unwrap();
    let folder = find(&s.files("/"), "Briefs").expect("the folder is listed").clone();
    let brief = find(&s.files(folder["id"].as_str().unwrap()), "brief.txt").expect("the file is listed").clone();
    let brief_id = brief["id"].as_str().unwrap().to_string();
    assert_eq!(s.metadata(&brief_id)["title"], "brief.txt");

    // Open the links in a plain client: no key, and no doubled base path.
    for link in [&brief["viewLink"], &brief["downloadLink"]] {
        let link = link.as_str().unwrap();
        let target = link.strip_prefix("https://docs.example.com").expect("links use the public URL");
        assert!(target.starts_with("/api/v1/") && !target.contains("/api/v1/api/v1"), "{link}");
        let r = request(s.addr, "GET", target, &[], b"");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"the brief"[..]), "{link}");
    }
    let page = request(
        s.addr,
        "GET",
        folder["viewLink"].as_str().unwrap().strip_prefix("https://docs.example.com").unwrap(),
        &[],
        b"",
    );
    assert!(page.text().contains("brief.txt"), "{}", page.text());

    // Search.
    assert!(find(&s.search("brief"), "brief.txt").is_some());

    // View thumbnails: a picture sent by Workfront previewed at the width
    // asked (JPEG), the browsed text file as its icon (PNG).
    assert!(info["availableEndpoints"].as_array().unwrap().iter().any(|e| e == "thumbnail"), "{info}");
    let photo = image::RgbImage::from_fn(800, 600, |x, y| image::Rgb([(x / 4) as u8, (y / 3) as u8, 128]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    photo.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let (photo_doc, photo_ver) = (wf_id(3), wf_id(4));
    let photo_id =
        s.put_file(folder["id"].as_str().unwrap(), "photo.jpg", jpeg.get_ref(), Some((&photo_doc, &photo_ver)));
    for (id, mime, width) in [(&photo_id, "image/jpeg", 200), (&brief_id, "image/png", 120)] {
        let r = s.get(&format!("/thumbnail?id={}&size={width}", enc(id)));
        assert_eq!((r.status, r.header("Content-Type")), (200, Some(mime)), "{id}");
        let picture = image::load_from_memory(&r.body).expect("a picture");
        assert_eq!(picture.width(), width, "{id}");
    }

    // Send a document: uploadInit + upload, with Workfront's ids.
    let (sent_doc, sent_ver) = (wf_id(1), wf_id(2));
    let sent =
        s.put_file(folder["id"].as_str().unwrap(), "sent.txt", b"sent by Workfront", Some((&sent_doc, &sent_ver)));

    // The browsed file, linked in Workfront: Workfront knows it by our id.
    let (browsed_doc, browsed_ver) = link_in_workfront(&wf, 10, &brief_id, "versionOfWfhook");
    let mut answers = Vec::new();
    for name in every_action_in_a_workable_order() {
        for (doc, ver) in [(&sent_doc, &sent_ver), (&browsed_doc, &browsed_ver)] {
            let r = s.action(name, doc, Some(ver));
            assert_eq!(r.status, 200, "{name} on {doc}: {}", r.text());
            assert_eq!(r.json()["status"], "success", "{name}");
            answers.push(r);
        }
    }
    // Workfront was asked once, for the browsed document only, and by the
    // names Adobe documents.
    let asked = wf.asked();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].starts_with(&format!("/attask/api/v{API_VERSION}/docv/{browsed_ver}?fields=")), "{asked:?}");
    assert!(asked[0].contains("externalStorageID") && asked[0].contains("externalIntegrationType"), "{asked:?}");
    assert!(s.stderr().contains(&format!("Workfront document {browsed_doc} is file {brief_id}")));
    // The lock and archive acted on the browsed file itself.
    assert_eq!(s.metadata(&brief_id)["readOnly"], true);
    assert_eq!(s.metadata(&sent)["readOnly"], true);

    // A document sent without its version: asked through the document.
    std::fs::write(s.root.join("plan.txt"), b"plan").unwrap();
    let plan = find(&s.files("/"), "plan.txt").unwrap()["id"].as_str().unwrap().to_string();
    let (plan_doc, _) = link_in_workfront(&wf, 20, &plan, "versionOfWfhook");
    let r = s.action("checksum", &plan_doc, None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        wf.asked()
            .last()
            .unwrap()
            .starts_with(&format!("/attask/api/v{API_VERSION}/document/{plan_doc}?fields=currentVersion:"))
    );

    // Resolved documents keep working while Workfront is unreachable.
    drop(wf);
    for (doc, ver) in [(&browsed_doc, &browsed_ver), (&plan_doc, &String::new())] {
        let version = (!ver.is_empty()).then_some(ver.as_str());
        let r = s.action("checksum", doc, version);
        assert_eq!(r.status, 200, "{}", r.text());
        answers.push(r);
    }
    assert_key_never_shown(&s, WF_KEY, &answers.iter().collect::<Vec<_>>());
}

#[test]
fn the_link_is_recorded_once_and_shared_by_instances_on_one_root() {
    let wf = FakeWorkfront::start(WF_KEY);
    let a = server_for(&wf.url, WF_KEY, &[]);
    std::fs::write(a.root.join("shared.txt"), b"one file").unwrap();
    let id = find(&a.files("/"), "shared.txt").unwrap()["id"].as_str().unwrap().to_string();
    let (doc, ver) = link_in_workfront(&wf, 30, &id, "versionOfWfhook");
    assert_eq!(a.action("lock", &doc, Some(&ver)).status, 200);
    // A second instance on the same root knows the link without asking.
    let b = TestServer::builder().root(&a.root).start();
    let r = b.action("unlock", &doc, Some(&ver));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(wf.asked().len(), 1);
    let links = std::fs::read_to_string(a.state_dir().state_log()).unwrap();
    assert_eq!(links.matches(&format!("\"documentId\":\"{doc}\"")).count(), 1, "{links}");
}

#[test]
fn failures_say_what_a_workfront_user_can_do() {
    // Not configured: the message says how the document was linked and
    // what an administrator can set.
    let plain = TestServer::start(&[]);
    let r = plain.action("checksum", &wf_id(40), Some(&wf_id(41)));
    r.assert_error(404, "failure");
    assert!(r.error().contains("uploadInit") && r.error().contains("--workfront-url"), "{}", r.error());
    // Actions that need no document never ask.
    assert_eq!(plain.action("ping", &wf_id(40), None).status, 200);

    let wf = FakeWorkfront::start(WF_KEY);
    // At trace level, where the HTTP client dumps what it sends.
    let s = TestServer::builder()
        .args(&["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .env(wfhook::workfront::API_KEY_VAR, WF_KEY)
        .env("RUST_LOG", "trace,ureq_proto::util=trace")
        .start();
    std::fs::write(s.root.join("here.txt"), b"here").unwrap();
    let folder = s.mkdir("/", "a folder");
    let here = find(&s.files("/"), "here.txt").unwrap()["id"].as_str().unwrap().to_string();
    let (box_doc, box_ver) = link_in_workfront(&wf, 50, &here, "versionOfAnotherProvider");
    let (gone_doc, gone_ver) = link_in_workfront(&wf, 60, "0123456789abcdef", "versionOfWfhook");
    // A folder, or the root, is never a Workfront document's file.
    let (folder_doc, folder_ver) = link_in_workfront(&wf, 62, &folder, "versionOfWfhook");
    let (root_doc, root_ver) = link_in_workfront(&wf, 64, "/", "versionOfWfhook");
    let cases = [
        (box_doc.as_str(), box_ver.as_str(), "another document provider"),
        (&wf_id(70), &wf_id(71), "Workfront does not know this document"),
        (&gone_doc, &gone_ver, "not in this wfhook's document folder"),
        (&folder_doc, &folder_ver, "not in this wfhook's document folder"),
        (&root_doc, &root_ver, "not in this wfhook's document folder"),
    ];
    let mut answers = Vec::new();
    for (doc, ver, says) in cases {
        let r = s.action("checksum", doc, Some(ver));
        r.assert_error(404, "failure");
        assert!(r.error().contains(says), "{}", r.error());
        // Asked again at once: Workfront is not asked twice.
        let before = wf.asked().len();
        let again = s.action("lock", doc, Some(ver));
        again.assert_error(404, "failure");
        assert_eq!(wf.asked().len(), before, "{doc} was looked up again");
        answers.push(r);
    }
    // Ids that cannot be Workfront's never reach Workfront.
    let before = wf.asked().len();
    for bad in ["../../user?action=x", "a%2Fb", "x"] {
        s.action("checksum", bad, None).assert_error(404, "failure");
    }
    assert_eq!(wf.asked().len(), before);

    assert!(s.stderr().contains("TRACE"), "the server logged at trace level");
    assert_key_never_shown(&s, WF_KEY, &answers.iter().collect::<Vec<_>>());

    // A wrong key: said, and the key never shown.
    let wrong_key = "not-the-key-7d1e";
    let wrong = TestServer::builder()
        .args(&["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .env(wfhook::workfront::API_KEY_VAR, wrong_key)
        .env("RUST_LOG", "trace")
        .start();
    let r = wrong.action("checksum", &box_doc, Some(&box_ver));
    r.assert_error(502, "failure");
    assert!(r.error().contains("refused wfhook's Workfront API key"), "{}", r.error());
    assert_key_never_shown(&wrong, wrong_key, &[&r]);
}

#[test]
fn a_new_key_file_is_read_on_sighup() {
    let wf = FakeWorkfront::start(WF_KEY);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("workfront-key");
    std::fs::write(&key_file, "# expired\nold-key\n").unwrap();
    let s = TestServer::builder()
        .args(&["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .args(&["--workfront-api-key-file", key_file.to_str().unwrap()])
        .start();
    std::fs::write(s.root.join("a.txt"), b"a").unwrap();
    let id = find(&s.files("/"), "a.txt").unwrap()["id"].as_str().unwrap().to_string();
    let (doc, ver) = link_in_workfront(&wf, 80, &id, "versionOfWfhook");
    s.action("checksum", &doc, Some(&ver)).assert_error(502, "failure");
    std::fs::write(&key_file, format!("{WF_KEY}\n")).unwrap();
    s.signal("HUP");
    wait_for("the Workfront key reloaded", || s.stderr().contains("reloaded the Workfront API key file"));
    let r = s.action("checksum", &doc, Some(&ver));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_key_never_shown(&s, WF_KEY, &[&r]);
}

#[test]
fn workfront_unreachable_or_silent_fails_promptly_and_lookups_never_queue() {
    // Nothing listens there: a port held bound (so that no other test
    // takes it) without listening, which refuses connections.
    let (_held, closed) = bound_not_listening();
    let s = server_for(&format!("http://{closed}"), WF_KEY, &[]);
    let r = s.action("checksum", &wf_id(90), Some(&wf_id(91)));
    r.assert_error(502, "failure");
    assert!(r.error().contains("could not be reached"), "{}", r.error());

    // Accepts and never answers: the lookup gives up after its timeout
    // (1 s here), and meanwhile lookups past the cap (1 with 2 workers)
    // fail at once instead of waiting.
    let wf = FakeWorkfront::start(WF_KEY);
    wf.hang();
    let s = server_for(&wf.url, WF_KEY, &["--workers", "2", "--workfront-timeout", "1"]);
    let r = s.action("checksum", &wf_id(92), Some(&wf_id(93)));
    r.assert_error(504, "failure");
    assert!(r.error().contains("did not answer in time"), "{}", r.error());

    let slow = FakeWorkfront::start(WF_KEY);
    slow.hang();
    let s = server_for(&slow.url, WF_KEY, &["--workers", "2", "--workfront-timeout", "60"]);
    let (addr, key) = (s.addr, s.key.clone().unwrap());
    let first = std::thread::spawn(move || {
        let target = format!("/customAction?name=checksum&documentId={}&documentVersionId={}", wf_id(94), wf_id(95));
        request(addr, "GET", &target, &[("apiKey", key.as_str()), ("username", USER)], b"")
    });
    wait_for("the first lookup to reach Workfront", || slow.connections() >= 1);
    let started = Instant::now();
    let r = s.action("checksum", &wf_id(96), Some(&wf_id(97)));
    r.assert_error(503, "failure");
    assert!(r.error().contains("too many Workfront lookups"), "{}", r.error());
    // At once: long before the first lookup's 60 s timeout.
    assert!(started.elapsed() < Duration::from_secs(50), "{:?}", started.elapsed());
    // The other worker still serves what needs no lookup.
    assert_eq!(s.get("/serviceInfo").status, 200);
    slow.release();
    first.join().unwrap().assert_error(502, "failure");
}

#[test]
fn tls_to_a_test_authority_directly_and_through_a_proxy() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let wf = FakeWorkfront::start_tls(WF_KEY, &ca);
    let ca_arg = ["--workfront-ca-file", ca_file.to_str().unwrap()];

    // Without the authority, the certificate is not trusted.
    let untrusting = server_for(&wf.url, WF_KEY, &[]);
    std::fs::write(untrusting.root.join("t.txt"), b"t").unwrap();
    let id = find(&untrusting.files("/"), "t.txt").unwrap()["id"].as_str().unwrap().to_string();
    let (doc, ver) = link_in_workfront(&wf, 100, &id, "versionOfWfhook");
    untrusting.action("checksum", &doc, Some(&ver)).assert_error(502, "failure");
    assert!(wf.asked().is_empty(), "no request went over an untrusted connection");

    // With it, directly.
    let trusting = TestServer::builder()
        .root(&untrusting.root)
        .args(&["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
        .args(&ca_arg)
        .env(wfhook::workfront::API_KEY_VAR, WF_KEY)
        .start();
    let r = trusting.action("checksum", &doc, Some(&ver));
    assert_eq!(r.status, 200, "{}", r.text());

    // Through an HTTPS_PROXY (a tunnel: the proxy sees no request), and
    // around it for a host in NO_PROXY.
    let proxy = ConnectProxy::start();
    let proxy_url = format!("http://{}", proxy.addr);
    for (n, no_proxy) in [(110, None), (120, Some("localhost"))] {
        let mut b = TestServer::builder()
            .root(&untrusting.root)
            .args(&["--workfront-url", &wf.url, "--workfront-api-version", API_VERSION])
            .args(&ca_arg)
            .env(wfhook::workfront::API_KEY_VAR, WF_KEY)
            .env("HTTPS_PROXY", &proxy_url);
        if let Some(hosts) = no_proxy {
            b = b.env("NO_PROXY", hosts);
        }
        let s = b.start();
        std::fs::write(s.root.join(format!("p{n}.txt")), b"p").unwrap();
        let id = find(&s.files("/"), &format!("p{n}.txt")).unwrap()["id"].as_str().unwrap().to_string();
        let (doc, ver) = link_in_workfront(&wf, n, &id, "versionOfWfhook");
        let tunnels = proxy.tunnels().len();
        let r = s.action("checksum", &doc, Some(&ver));
        assert_eq!(r.status, 200, "{}", r.text());
        let through = proxy.tunnels().len() > tunnels;
        assert_eq!(through, no_proxy.is_none(), "{:?}", proxy.tunnels());
        if through {
            assert_eq!(proxy.tunnels().last().unwrap(), &format!("localhost:{}", wf.addr.port()));
            assert!(s.stderr().contains("through the proxy in HTTPS_PROXY"), "{}", s.stderr());
        }
    }
}
