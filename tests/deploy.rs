//! The shipped deployment: `deploy/nginx/wfhook.conf` and
//! `deploy/wfhook.service` agree with wfhook's flags and defaults, and
//! Debian's nginx, running that very site with a self-signed certificate,
//! carries the whole Workfront flow over HTTPS to a real wfhook.
//!
//! The live test needs nginx, openssl and curl. Without them it says
//! "skipped" and passes on a developer's machine, but fails under CI (`CI`
//! set), where `.ci/run` installs them. Everything listens on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

use common::{KEY, Nginx, TestServer, USER, enc, free_ports};

const SITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx/wfhook.conf");
const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/wfhook.service");

// ---------------------------------------------------------------------------
// The files against wfhook's own flags and defaults (no tools needed).

/// The flags `--help` lists.
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| l.strip_prefix("    --"))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

/// The `[default: …]` that `--help` gives `--flag`.
fn help_default(help: &str, flag: &str) -> String {
    let mut lines = help.lines().skip_while(|l| l.split_whitespace().next() != Some(&format!("--{flag}")));
    lines
        .find_map(|l| l.split("[default: ").nth(1)?.split(']').next())
        .unwrap_or_else(|| panic!("--help gives no default for --{flag}"))
        .to_string()
}

/// The values of every `name value;` directive in an nginx file.
fn directives(conf: &str, name: &str) -> Vec<String> {
    conf.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.strip_suffix(';'))
        .map(|v| v.trim().to_string())
        .collect()
}

/// The one value of a directive that must appear exactly once.
fn directive(conf: &str, name: &str) -> String {
    let values = directives(conf, name);
    assert_eq!(values.len(), 1, "deploy/nginx/wfhook.conf: expected one `{name}`, found {values:?}");
    values[0].clone()
}

/// An nginx size (`2g`, `16k`, `100`) in bytes.
fn nginx_size(v: &str) -> u64 {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = n.parse().unwrap_or_else(|_| panic!("not an nginx size: {v}"));
    n * match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => panic!("not an nginx size: {v}"),
    }
}

/// An nginx or systemd time (`20s`, `5m`, `90`) in seconds.
fn seconds(v: &str) -> f64 {
    let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len()));
    let n: f64 = n.parse().unwrap_or_else(|_| panic!("not a time: {v}"));
    n * match unit {
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        _ => panic!("not a time in seconds or minutes: {v}"),
    }
}

#[test]
fn the_nginx_site_fits_wfhook_defaults() {
    let site = std::fs::read_to_string(SITE).expect("deploy/nginx/wfhook.conf");
    let help = common::help();
    let max_upload: u64 = help_default(&help, "max-upload-bytes").parse().unwrap();
    assert_eq!(nginx_size(&directive(&site, "client_max_body_size")), max_upload, "nginx's body limit != wfhook's");
    assert_eq!(directive(&site, "proxy_request_buffering"), "off", "uploads must stream");
    assert_eq!(directive(&site, "proxy_buffering"), "off", "downloads must stream");
    assert_eq!(directive(&site, "proxy_http_version"), "1.1");
    assert!(directives(&site, "proxy_set_header").contains(&"Connection \"\"".to_string()), "Connection not cleared");
    assert!(directive(&site, "limit_conn").starts_with("wfhook_per_ip "));
    assert!(directives(&site, "listen").iter().any(|l| l == "443 ssl"), "the site does not listen on 443 ssl");
    for bounded in [
        "client_header_buffer_size",
        "large_client_header_buffers",
        "client_header_timeout",
        "client_body_timeout",
        "send_timeout",
        "keepalive_timeout",
    ] {
        assert!(!directives(&site, bounded).is_empty(), "the site does not set {bounded}");
    }
    // An action may run for --action-timeout before wfhook answers.
    let action = seconds(&help_default(&help, "action-timeout"));
    assert!(seconds(&directive(&site, "proxy_read_timeout")) > action, "proxy_read_timeout <= --action-timeout");
    // nginx must close an idle upstream connection before wfhook drops it,
    // and time out a stalled client before wfhook times out nginx.
    let io = seconds(&help_default(&help, "io-timeout"));
    let idle = directives(&site, "keepalive_timeout").iter().map(|v| seconds(v)).fold(f64::MAX, f64::min);
    assert!(idle < io, "the upstream keepalive_timeout must be under wfhook's --io-timeout ({io} s)");
    for stall in ["client_body_timeout", "send_timeout"] {
        assert!(seconds(&directive(&site, stall)) < io, "{stall} must be under wfhook's --io-timeout ({io} s)");
    }
    assert!(directive(&site, "limit_req").starts_with("zone=wfhook_rate "));
}

/// The value of `Key=` lines of the unit, comments skipped.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .collect()
}

#[test]
fn the_systemd_unit_runs_wfhook_as_the_nginx_site_expects() {
    let unit = std::fs::read_to_string(UNIT).expect("deploy/wfhook.service");
    let site = std::fs::read_to_string(SITE).expect("deploy/nginx/wfhook.conf");
    let help = common::help();
    let exec = unit_values(&unit, "ExecStart");
    assert_eq!(exec.len(), 1, "{exec:?}");
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert!(words[0].ends_with("/wfhook") && words[1] == "serve", "{exec:?}");
    let mut args = std::collections::HashMap::new();
    for pair in words[2..].chunks(2) {
        let flag = pair[0].strip_prefix("--").unwrap_or_else(|| panic!("not a flag: {}", pair[0]));
        assert!(help_flags(&help).contains(flag), "ExecStart uses --{flag}, which wfhook does not have");
        args.insert(flag, *pair.get(1).unwrap_or_else(|| panic!("--{flag} without a value")));
    }
    // nginx proxies to the address wfhook listens on, for the host it serves.
    assert_eq!(directives(&site, "server"), vec![args["listen"].to_string()], "upstream != --listen");
    let public = args["public-url"].strip_prefix("https://").expect("--public-url is https://");
    for name in directives(&site, "server_name") {
        assert_eq!(name, public.trim_end_matches('/'), "server_name != the host of --public-url");
    }
    // The root is the state directory, and the only writable place.
    let root = args["root"];
    assert_eq!(unit_values(&unit, "StateDirectory"), vec![root.trim_start_matches("/var/lib/").to_string()]);
    assert_eq!(unit_values(&unit, "ReadWritePaths"), vec![root.to_string()]);
    for (key, value) in [("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("KillSignal", "SIGTERM")] {
        assert_eq!(unit_values(&unit, key), vec![value.to_string()], "{key}=");
    }
    assert!(
        unit_values(&unit, "DynamicUser") == ["yes"] || !unit_values(&unit, "User").is_empty(),
        "neither DynamicUser=yes nor a dedicated User="
    );
    // The key comes from a file, never from the unit itself.
    assert_eq!(unit_values(&unit, "EnvironmentFile"), vec!["-/etc/wfhook/env".to_string()]);
    for line in unit.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(!line.contains("WFHOOK_API_KEY") && !line.contains("--api-key "), "a key in the unit: {line}");
    }
    // In-flight requests, actions included, get to finish on stop.
    let stop = seconds(&unit_values(&unit, "TimeoutStopSec")[0]);
    assert!(stop > seconds(&help_default(&help, "action-timeout")), "TimeoutStopSec <= --action-timeout");
}

// ---------------------------------------------------------------------------
// The live test: nginx with the shipped site in front of a real wfhook.

/// The shipped site with only what a test must change: listen on loopback
/// ports (IPv4 only), a test certificate, and the test server as upstream.
/// Every rewritten line must be found exactly once, so the test follows the
/// site's shape instead of silently testing something else.
fn localize(site: &str, https: u16, http: u16, cert: &Path, key: &Path, upstream: SocketAddr) -> String {
    let rules: Vec<(&str, String)> = vec![
        ("listen 443 ssl;", format!("listen 127.0.0.1:{https} ssl;")),
        ("listen [::]:443 ssl;", String::new()),
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        ("listen [::]:80;", String::new()),
        ("ssl_certificate ", format!("ssl_certificate \"{}\";", cert.display())),
        ("ssl_certificate_key ", format!("ssl_certificate_key \"{}\";", key.display())),
        ("server 127.0.0.1:8080;", format!("server {upstream};")),
    ];
    let mut hits = vec![0; rules.len()];
    let mut out = String::new();
    for line in site.lines() {
        let code = line.split('#').next().unwrap_or_default().trim();
        match rules.iter().position(|(from, _)| code.starts_with(from)) {
            Some(i) => {
                hits[i] += 1;
                out.push_str(&rules[i].1);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for ((from, _), n) in rules.iter().zip(hits) {
        assert_eq!(n, 1, "deploy/nginx/wfhook.conf: expected one line `{from}…`, found {n}");
    }
    out
}

/// nginx running the shipped site, with a fresh self-signed certificate,
/// from the prefix `dir`.
fn start_site(nginx: &Path, openssl: &Path, dir: &Path, https: u16, http: u16, upstream: SocketAddr) -> Nginx {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "openssl req failed: {}", String::from_utf8_lossy(&made.stderr));
    let site = std::fs::read_to_string(SITE).expect("deploy/nginx/wfhook.conf");
    Nginx::start(nginx, dir, &localize(&site, https, http, &cert, &key, upstream), https)
}

/// A response as curl saw it.
struct Reply {
    status: u16,
    /// The final response's head (after any `100 Continue`).
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {}: not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// The JSON of a 200.
    fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        self.json()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// curl, as Workfront and a browser: HTTPS to the proxy, the test
/// certificate accepted (`--insecure`).
struct Curl {
    bin: PathBuf,
    dir: PathBuf,
}

impl Curl {
    /// `method url`, with Workfront's `apiKey` and `username` headers when
    /// `auth`, and the file `upload` as the body (PUT, with Content-Length).
    fn call(&self, method: &str, url: &str, auth: bool, upload: Option<&Path>, extra: &[&str]) -> Reply {
        let (head, body) = (self.dir.join("curl-head"), self.dir.join("curl-body"));
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--silent", "--show-error", "--insecure", "--max-time", "120", "--request", method])
            .arg("--dump-header")
            .arg(&head)
            .arg("--output")
            .arg(&body)
            .args(["--write-out", "%{http_code}"]);
        if auth {
            cmd.arg("--header").arg(format!("apiKey: {KEY}")).arg("--header").arg(format!("username: {USER}"));
        }
        match upload {
            Some(file) => cmd.arg("--upload-file").arg(file),
            None if extra.is_empty() && (method == "POST" || method == "PUT") => cmd.args(["--data-binary", ""]),
            None => &mut cmd,
        };
        cmd.args(extra).arg(url).stdin(Stdio::null());
        let out = cmd.output().expect("run curl");
        assert!(out.status.success(), "curl {method} {url} failed: {}", String::from_utf8_lossy(&out.stderr));
        let status = String::from_utf8_lossy(&out.stdout).trim().parse().expect("curl wrote the status");
        let heads = std::fs::read_to_string(&head).unwrap_or_default().replace('\r', "");
        let last = heads.trim_end().rsplit("\n\n").next().unwrap_or_default().to_string();
        Reply { status, head: last, body: std::fs::read(&body).unwrap_or_default() }
    }
}

/// `len` reproducible bytes that do not compress.
fn payload(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn workfront_flow_through_nginx_over_https() {
    let Some(tools) = common::tools_or_skip(&["nginx", "openssl", "curl"]) else {
        return;
    };
    let (nginx, openssl, curl) = (&tools[0], &tools[1], &tools[2]);
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let [https, http] = free_ports();
    let base = format!("https://127.0.0.1:{https}");
    let server = TestServer::builder().args(&["--public-url", &base]).start();
    let proxy = start_site(nginx, openssl, tmp.path(), https, http, server.addr);
    let curl = Curl { bin: curl.clone(), dir: tmp.path().to_path_buf() };
    let get = |endpoint: &str, auth: bool| curl.call("GET", &format!("{base}{endpoint}"), auth, None, &[]);
    let call = |method: &str, endpoint: &str| curl.call(method, &format!("{base}{endpoint}"), true, None, &[]);

    // serviceInfo needs no key, and comes back over TLS with the site's HSTS.
    let info = get("/serviceInfo", false);
    let v = info.ok();
    assert_eq!(v["webhookVersion"], "1.2");
    assert!(v["customActions"].as_array().unwrap().iter().any(|a| a["name"] == "ping"), "{v}");
    assert!(info.header("Strict-Transport-Security").is_some(), "{}", info.head);
    // Everything else still needs the key, which reaches wfhook through nginx.
    assert_eq!(get("/metadata?id=%2F", false).status, 403);

    // uploadInit, linked to a Workfront document.
    let (doc, version) = ("WF-DOC-1", "WF-VERSION-1");
    let item = call(
        "POST",
        &format!("/uploadInit?parentId=%2F&filename=report.bin&documentId={doc}&documentVersionId={version}"),
    )
    .ok();
    let id = item["id"].as_str().expect("an id").to_string();
    assert!(item["downloadLink"].as_str().unwrap().starts_with(&format!("{base}/download?")), "{item}");

    // A few MiB, streamed through nginx.
    let bytes = payload(3 * 1024 * 1024 + 12_345);
    let file = tmp.path().join("upload.bin");
    std::fs::write(&file, &bytes).unwrap();
    let up = curl.call("PUT", &format!("{base}/upload?id={}", enc(&id)), true, Some(&file), &[]).ok();
    assert_eq!(up["result"], "success", "{up}");
    assert_eq!(up["size"], bytes.len() as u64);
    assert_eq!(up["sha256"], sha256_hex(&bytes));

    let meta = get(&format!("/metadata?id={}", enc(&id)), true).ok();
    assert_eq!((meta["title"].as_str(), meta["size"].as_u64()), (Some("report.bin"), Some(bytes.len() as u64)));

    // A browser opens the signed downloadLink with no key at all.
    let link = meta["downloadLink"].as_str().expect("a downloadLink");
    assert!(link.starts_with(&base), "{link}");
    let down = curl.call("GET", link, false, None, &[]);
    assert_eq!(down.status, 200, "{}", String::from_utf8_lossy(&down.body));
    assert!(down.body == bytes, "downloaded {} bytes that differ from the {} uploaded", down.body.len(), bytes.len());

    // Custom actions.
    let ping = get("/customAction?name=ping", true).ok();
    assert_eq!(ping["status"], "success", "{ping}");
    let sum = get(&format!("/customAction?name=checksum&documentId={doc}&documentVersionId={version}"), true).ok();
    assert_eq!((sum["status"].as_str(), sum["sha256"].as_str()), (Some("success"), Some(sha256_hex(&bytes).as_str())));

    // rename keeps the id; delete by Workfront's documentId parameter.
    assert_eq!(call("PUT", &format!("/rename?id={}&name=renamed.bin", enc(&id))).ok()["status"], "success");
    assert_eq!(get(&format!("/metadata?id={}", enc(&id)), true).ok()["title"], "renamed.bin");
    assert_eq!(call("PUT", &format!("/delete?documentId={}", enc(&id))).ok()["status"], "success");
    assert_eq!(get(&format!("/metadata?id={}", enc(&id)), true).status, 404);
    assert!(!server.root.join("renamed.bin").exists());

    // Plain HTTP only redirects to HTTPS.
    let plain = curl.call("GET", &format!("http://127.0.0.1:{http}/serviceInfo"), false, None, &[]);
    assert_eq!(plain.status, 301);
    assert_eq!(plain.header("Location"), Some("https://127.0.0.1/serviceInfo"));

    // Nothing went wrong, and the upload was not spooled to nginx's disk
    // first: with request buffering on, nginx warns "a client request body
    // is buffered to a temporary file". (Socket buffers hide a buffered
    // download of this size; the_nginx_site_fits_wfhook_defaults checks it.)
    let trouble = proxy.trouble();
    assert!(trouble.is_empty(), "nginx:\n{}", trouble.join("\n"));

    // nginx itself refuses a body over wfhook's limit, before wfhook sees it.
    let big = curl.call(
        "PUT",
        &format!("{base}/upload?id=0123456789abcdef"),
        true,
        None,
        &["--header", "Content-Length: 2147483649", "--data-binary", "x"],
    );
    assert_eq!(big.status, 413);
    assert!(big.header("Content-Type").is_some_and(|c| c.starts_with("text/html")), "not nginx's: {}", big.head);
    let refused = |e: &serde_json::Value| e["endpoint"] == "upload" && e["status"] == 413;
    assert!(!server.journal_lines().iter().any(refused), "the refused upload reached wfhook");
}
