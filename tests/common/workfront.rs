//! A SIMULATED Workfront: a stand-in for Workfront's REST API, which this
//! machine cannot reach. Everything on wfhook's side is the real binary;
//! only Workfront's answers are made up, from the fixtures in
//! `tests/fixtures/workfront-api.json` (the shape Adobe documents), so that
//! a name Adobe spells differently is corrected in one file.
//!
//! It answers `GET /attask/api/v{version}/docv/{id}` and
//! `.../document/{id}` over plain HTTP or TLS from a test certificate
//! authority, checks the `apiKey` header, counts what it is asked, and can
//! be told to accept connections and never answer. [`ConnectProxy`] is an
//! HTTP `CONNECT` proxy that records where it tunnels to.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The API version the stand-in serves; wfhook is started with it.
pub const API_VERSION: &str = "22.0";

/// One document version as the simulated Workfront stores it.
#[derive(Clone, Debug)]
pub struct Version {
    pub document_id: String,
    pub version_id: String,
    /// The provider's id (`externalStorageID`).
    pub storage_id: String,
    /// Which fixture describes it, such as `versionOfWfhook`.
    pub fixture: &'static str,
}

#[derive(Default)]
struct Shared {
    versions: Mutex<Vec<Version>>,
    /// Path and query of every request, in order.
    asked: Mutex<Vec<String>>,
    /// Connections accepted (answered or not).
    connections: AtomicUsize,
    /// Accept and never answer.
    hang: AtomicBool,
    stop: AtomicBool,
    /// The open connections, to close when stopping.
    open: Mutex<Vec<TcpStream>>,
}

pub struct FakeWorkfront {
    pub addr: SocketAddr,
    /// What wfhook's `--workfront-url` is set to.
    pub url: String,
    pub key: String,
    shared: Arc<Shared>,
}

/// A test certificate authority and a certificate it signed for
/// `localhost` and `127.0.0.1`.
pub struct TestCa {
    /// The authority's certificate, PEM, for `--workfront-ca-file`.
    pub ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "wfhook test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        TestCa { ca_pem: ca_cert.pem(), server: Arc::new(server) }
    }
}

impl FakeWorkfront {
    /// Over plain HTTP, accepting `key`.
    pub fn start(key: &str) -> FakeWorkfront {
        FakeWorkfront::serve(key, None)
    }

    /// Over TLS with a certificate from `ca`, at `https://localhost:PORT`.
    pub fn start_tls(key: &str, ca: &TestCa) -> FakeWorkfront {
        FakeWorkfront::serve(key, Some(Arc::clone(&ca.server)))
    }

    fn serve(key: &str, tls: Option<Arc<rustls::ServerConfig>>) -> FakeWorkfront {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let url = match tls {
            Some(_) => format!("https://localhost:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let shared = Arc::new(Shared::default());
        let (s, key_owned) = (Arc::clone(&shared), key.to_string());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(c) = conn.try_clone() {
                    s.open.lock().unwrap().push(c);
                }
                if s.hang.load(Ordering::SeqCst) {
                    continue; // held open in `open`, never read or answered
                }
                let (s, key, tls) = (Arc::clone(&s), key_owned.clone(), tls.clone());
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                    match tls {
                        None => answer(&s, &key, conn),
                        Some(cfg) => {
                            let Ok(server) = rustls::ServerConnection::new(cfg) else { return };
                            answer(&s, &key, rustls::StreamOwned::new(server, conn));
                        }
                    }
                });
            }
        });
        FakeWorkfront { addr, url, key: key.to_string(), shared }
    }

    /// Makes Workfront know a document version.
    pub fn add(&self, v: Version) {
        self.shared.versions.lock().unwrap().push(v);
    }

    /// What Workfront was asked so far (path and query).
    pub fn asked(&self) -> Vec<String> {
        self.shared.asked.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// From now on, accept connections and never answer them.
    pub fn hang(&self) {
        self.shared.hang.store(true, Ordering::SeqCst);
    }

    /// Closes every connection held open by [`FakeWorkfront::hang`].
    pub fn release(&self) {
        for c in self.shared.open.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for FakeWorkfront {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release();
        // Wakes the accept loop so that it sees the stop and closes the port.
        let _ = TcpStream::connect(self.addr);
    }
}

/// The fixture `name`, its placeholders filled in for `v`.
pub fn fixture(name: &str, v: Option<&Version>) -> String {
    let all: Value = serde_json::from_str(include_str!("../fixtures/workfront-api.json")).unwrap();
    let body = all.get(name).unwrap_or_else(|| panic!("no fixture {name}"));
    let mut text = serde_json::to_string(body).unwrap();
    if let Some(v) = v {
        text = text
            .replace("{documentId}", &v.document_id)
            .replace("{versionId}", &v.version_id)
            .replace("{storageId}", &v.storage_id);
    }
    text
}

/// Reads one request and answers it as Workfront would.
fn answer(s: &Shared, key: &str, stream: impl Read + Write) {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    s.asked.lock().unwrap().push(target.clone());
    let (status, body) = route(s, key, &target, headers.get("apikey").map(String::as_str));
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = r.into_inner();
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
}

fn route(s: &Shared, key: &str, target: &str, given_key: Option<&str>) -> (u16, String) {
    if given_key != Some(key) {
        return (401, fixture("badKey", None));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let prefix = format!("/attask/api/v{API_VERSION}/");
    let Some((object, id)) = path.strip_prefix(&prefix).and_then(|rest| rest.split_once('/')) else {
        return (404, fixture("notFound", None));
    };
    let versions = s.versions.lock().unwrap();
    let found = match object {
        "docv" => versions.iter().find(|v| v.version_id == id),
        // The newest version is the current one.
        "document" => versions.iter().rev().find(|v| v.document_id == id),
        _ => None,
    };
    let Some(v) = found else { return (404, fixture("notFound", None)) };
    let name = match object {
        "document" if v.fixture == "versionOfWfhook" => "documentOfWfhook",
        _ => v.fixture,
    };
    // Workfront answers the fields asked for: wfhook must ask for the ones it reads.
    let fields = query.strip_prefix("fields=").unwrap_or_default();
    assert!(fields.contains("externalStorageID"), "wfhook asked for {query}");
    (200, fixture(name, Some(v)))
}

/// An HTTP `CONNECT` proxy on `127.0.0.1`, as on-premises networks have.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<String>>>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&tunnels);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || tunnel(conn, &seen));
            }
        });
        ConnectProxy { addr, tunnels }
    }

    /// The `host:port` of every tunnel asked for.
    pub fn tunnels(&self) -> Vec<String> {
        self.tunnels.lock().unwrap().clone()
    }
}

fn tunnel(client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut r = BufReader::new(client);
    let mut line = String::new();
    let _ = r.read_line(&mut line);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    let mut client = r.into_inner();
    let mut parts = line.split_whitespace();
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        let _ = client.write_all(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_string());
    // Names are resolved by the proxy, as a real one does.
    let Ok(upstream) = TcpStream::connect(target.replace("localhost", "127.0.0.1")) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut up_r, mut up_w) = (upstream.try_clone().unwrap(), upstream);
    let (mut cl_r, mut cl_w) = (client.try_clone().unwrap(), client);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut cl_r, &mut up_w);
        let _ = up_w.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut up_r, &mut cl_w);
    let _ = cl_w.shutdown(std::net::Shutdown::Write);
}
