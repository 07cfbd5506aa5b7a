//! Asks Workfront which file of this store a Workfront document is.
//!
//! `/customAction` names a Workfront document by Workfront's own ids, and
//! wfhook learns the link itself only when Workfront sends a document
//! through `uploadInit`. A file linked the other way (browsed in wfhook and
//! linked into Workfront) is known to Workfront's REST API instead: the
//! document version's external storage id is the id wfhook gave the file.
//!
//! This module owns that lookup and nothing else: the one place that spells
//! Workfront's object and field names ([`names`]), the outbound client
//! (timeouts, proxy from the environment, the system's roots plus an
//! optional CA file), the cap on lookups at once (past it a lookup fails at
//! once, never queues), and a short memory of the documents Workfront does
//! not know. It holds no lock while it waits on the network. The caller
//! checks that the id is one of this store's and records the link.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::store::DocumentRef;

/// The Workfront API key, when no `--workfront-api-key-file` is given.
pub const API_KEY_VAR: &str = "WFHOOK_WORKFRONT_API_KEY";

/// Workfront's names for what is asked, as its API explorer spells them:
/// a name that changes is changed here.
pub mod names {
    /// The document version object (`DOCV`), by id.
    pub const VERSION: &str = "docv";
    /// The document object (`DOCU`), by id, when no version is sent.
    pub const DOCUMENT: &str = "document";
    /// A document's reference to its current version.
    pub const CURRENT_VERSION: &str = "currentVersion";
    /// A version's document id.
    pub const DOCUMENT_ID: &str = "documentID";
    /// The provider's id for the version's file.
    pub const STORAGE_ID: &str = "externalStorageID";
    /// Which kind of integration stores the file.
    pub const INTEGRATION: &str = "externalIntegrationType";
    /// The integration type of custom (webhook) document providers:
    /// `WEBHOOKS` in Adobe's migration guide, `WEBHOOK` taken as well.
    pub const WEBHOOK_TYPES: &[&str] = &["WEBHOOKS", "WEBHOOK"];
    /// The header that carries the API key (never the query, which
    /// proxies and Workfront's own logs keep).
    pub const KEY_HEADER: &str = "apiKey";
}

/// How long Workfront's "no such document" (or "not ours") is believed:
/// repeated clicks cost one lookup, and a link made a moment later in
/// Workfront is seen soon.
const FORGET_AFTER: Duration = Duration::from_secs(30);
/// The most documents remembered as unknown at once.
const REMEMBERED: usize = 10_000;
/// The largest answer read from Workfront.
const MAX_ANSWER: u64 = 256 * 1024;

/// What `serve` was told about Workfront.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Such as `https://acme.my.workfront.com`, without a trailing slash.
    pub url: String,
    /// Such as `19.0`.
    pub api_version: String,
    pub key: KeySource,
    pub ca_file: Option<PathBuf>,
    /// Connect timeout, and the longest a whole lookup may take.
    pub timeout: Duration,
}

/// Where the Workfront API key comes from.
#[derive(Clone, PartialEq)]
pub enum KeySource {
    File(PathBuf),
    Env(String),
}

// Never the key itself, in a log or a panic.
impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            KeySource::Env(_) => f.write_str("Env(<redacted>)"),
        }
    }
}

/// Why a lookup gave no id. The messages are what a Workfront user reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// No `--workfront-url`: nothing to ask.
    NotConfigured,
    /// As many lookups as allowed are under way.
    Busy,
    /// Workfront could not be reached (connection, DNS, TLS, proxy); the
    /// detail is for the log.
    Unreachable(String),
    /// Workfront did not answer within the timeout.
    TimedOut,
    /// Workfront refused the API key.
    KeyRefused,
    /// The key's Workfront user may not view the document.
    NoAccess,
    /// Workfront answered something else than a document; the detail is
    /// for the log.
    BadAnswer(String),
    /// Workfront does not know the document (or the id cannot be one).
    UnknownDocument,
    /// The document is stored by another provider.
    OtherProvider,
    /// Workfront names a file that this store does not have.
    NotHere,
}

impl LookupError {
    /// The HTTP status the client gets.
    pub fn status(&self) -> u16 {
        match self {
            LookupError::NotConfigured
            | LookupError::UnknownDocument
            | LookupError::OtherProvider
            | LookupError::NotHere => 404,
            LookupError::Busy => 503,
            LookupError::Unreachable(_)
            | LookupError::KeyRefused
            | LookupError::NoAccess
            | LookupError::BadAnswer(_) => 502,
            LookupError::TimedOut => 504,
        }
    }

    /// What the log should say beyond the client's message.
    pub fn detail(&self) -> Option<&str> {
        match self {
            LookupError::Unreachable(d) | LookupError::BadAnswer(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LookupError::NotConfigured => {
                "this Workfront document was linked without uploadInit (by browsing), so wfhook cannot tell which \
                 file it is; an administrator can set --workfront-url and a Workfront API key to let wfhook ask \
                 Workfront"
            }
            LookupError::Busy => "too many Workfront lookups are under way; try again in a moment",
            LookupError::Unreachable(_) => {
                "Workfront could not be reached to find this document's file; try again later, or ask an \
                 administrator to check --workfront-url and the proxy settings"
            }
            LookupError::TimedOut => "Workfront did not answer in time when asked for this document's file",
            LookupError::KeyRefused => "Workfront refused wfhook's Workfront API key; an administrator must renew it",
            LookupError::NoAccess => {
                "the Workfront user of wfhook's Workfront API key may not view this document; an administrator \
                 can give that user view access"
            }
            LookupError::BadAnswer(_) => "Workfront's answer about this document could not be understood",
            LookupError::UnknownDocument => "Workfront does not know this document",
            LookupError::OtherProvider => "this document is stored by another document provider, not by wfhook",
            LookupError::NotHere => "this document's file is not in this wfhook's document folder",
        })
    }
}

impl std::error::Error for LookupError {}

/// The Workfront lookups of one server.
pub struct Resolver {
    client: Option<Client>,
    /// Lookups under way, and the most allowed at once.
    busy: AtomicUsize,
    max_at_once: usize,
    /// Documents Workfront did not know (or that were not ours), until when.
    unknown: Mutex<HashMap<DocumentRef, (Instant, LookupError)>>,
}

struct Client {
    agent: ureq::Agent,
    /// `{url}/attask/api/v{version}`.
    api: String,
    key: RwLock<Arc<str>>,
    key_file: Option<PathBuf>,
}

impl Resolver {
    /// A resolver that is not configured: every lookup says so.
    pub fn disabled() -> Resolver {
        Resolver::with(None, 1)
    }

    /// A resolver for `settings`, with at most `max_at_once` lookups at once.
    /// Fails on a key or CA file that cannot be read.
    pub fn new(settings: &Settings, max_at_once: usize) -> Result<Resolver, String> {
        let key = match &settings.key {
            KeySource::File(path) => read_key_file(path)?,
            KeySource::Env(key) => key.trim().to_string(),
        };
        if key.is_empty() {
            return Err(format!("{API_KEY_VAR} is empty"));
        }
        let roots = roots(settings.ca_file.as_deref(), settings.url.starts_with("https://"))?;
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(settings.timeout))
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            // An answer is JSON or nothing: a redirect is a wrong URL.
            .max_redirects(0)
            .user_agent(concat!("wfhook/", env!("CARGO_PKG_VERSION")))
            .proxy(ureq::Proxy::try_from_env())
            .tls_config(tls)
            .build()
            .new_agent();
        let client = Client {
            agent,
            api: format!("{}/attask/api/v{}", settings.url, settings.api_version),
            key: RwLock::new(key.into()),
            key_file: match &settings.key {
                KeySource::File(p) => Some(p.clone()),
                KeySource::Env(_) => None,
            },
        };
        Ok(Resolver::with(Some(client), max_at_once))
    }

    fn with(client: Option<Client>, max_at_once: usize) -> Resolver {
        Resolver {
            client,
            busy: AtomicUsize::new(0),
            max_at_once: max_at_once.max(1),
            unknown: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// Reads `--workfront-api-key-file` again (SIGHUP). `Ok(false)` when
    /// the key does not come from a file.
    pub fn reload_key(&self) -> Result<bool, String> {
        let Some(client) = &self.client else { return Ok(false) };
        let Some(path) = &client.key_file else { return Ok(false) };
        let key = read_key_file(path)?;
        *client.key.write().unwrap_or_else(|p| p.into_inner()) = key.into();
        Ok(true)
    }

    /// The id that Workfront says this provider stores `doc` under, when
    /// the integration is a webhook one. The caller checks the id.
    pub fn provider_id(&self, doc: &DocumentRef) -> Result<String, LookupError> {
        let client = self.client.as_ref().ok_or(LookupError::NotConfigured)?;
        // Workfront ids are 32 hex digits; anything else never reaches a
        // URL (where `../` or `?` would ask Workfront something else).
        if !is_workfront_id(&doc.document_id) || doc.version_id.as_deref().is_some_and(|v| !is_workfront_id(v)) {
            return Err(LookupError::UnknownDocument);
        }
        if let Some(e) = self.remembered(doc) {
            return Err(e);
        }
        let _slot = self.slot().ok_or(LookupError::Busy)?;
        let answer = client.ask(doc);
        if let Err(e @ (LookupError::UnknownDocument | LookupError::OtherProvider)) = &answer {
            self.remember(doc, e.clone());
        }
        answer
    }

    /// Remembers, for a while, that Workfront names a file this store does
    /// not have.
    pub fn remember_not_here(&self, doc: &DocumentRef) {
        self.remember(doc, LookupError::NotHere);
    }

    fn remembered(&self, doc: &DocumentRef) -> Option<LookupError> {
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        match unknown.get(doc) {
            Some((until, e)) if *until > Instant::now() => Some(e.clone()),
            Some(_) => {
                unknown.remove(doc);
                None
            }
            None => None,
        }
    }

    fn remember(&self, doc: &DocumentRef, e: LookupError) {
        let now = Instant::now();
        let mut unknown = self.unknown.lock().unwrap_or_else(|p| p.into_inner());
        if unknown.len() >= REMEMBERED {
            unknown.retain(|_, (until, _)| *until > now);
            if unknown.len() >= REMEMBERED {
                unknown.clear();
            }
        }
        unknown.insert(doc.clone(), (now + FORGET_AFTER, e));
    }

    /// One of the lookup slots, or `None` when all are taken.
    fn slot(&self) -> Option<Slot<'_>> {
        let taken = self.busy.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(&self.busy);
        (taken < self.max_at_once).then_some(slot)
    }
}

/// A lookup under way; the slot is free again when it drops.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Client {
    fn ask(&self, doc: &DocumentRef) -> Result<String, LookupError> {
        use names::*;
        let url = match &doc.version_id {
            Some(v) => format!("{}/{VERSION}/{v}?fields={DOCUMENT_ID},{STORAGE_ID},{INTEGRATION}", self.api),
            None => format!(
                "{}/{DOCUMENT}/{}?fields={CURRENT_VERSION}:{DOCUMENT_ID},{CURRENT_VERSION}:{STORAGE_ID},\
                 {CURRENT_VERSION}:{INTEGRATION}",
                self.api, doc.document_id
            ),
        };
        let key = Arc::clone(&self.key.read().unwrap_or_else(|p| p.into_inner()));
        let mut answer = self.agent.get(&url).header(KEY_HEADER, &*key).call().map_err(transport_error)?;
        let status = answer.status().as_u16();
        let body = answer.body_mut().with_config().limit(MAX_ANSWER).read_to_string().map_err(transport_error)?;
        version_of_answer(status, &body, doc)
    }
}

/// Reads what Workfront answered into the provider's id.
fn version_of_answer(status: u16, body: &str, doc: &DocumentRef) -> Result<String, LookupError> {
    use names::*;
    let json: Option<Value> = serde_json::from_str(body).ok();
    // Workfront answers `{"error": {...}}` on a problem, whatever the
    // status says (its own client reads it even on 200).
    let error = json.as_ref().and_then(|j| j.get("error")).filter(|e| !e.is_null());
    if status != 200 || error.is_some() {
        return Err(refusal(status, error));
    }
    let json = json.ok_or_else(|| LookupError::BadAnswer("the answer is not JSON".into()))?;
    // One object, or (in some of Adobe's examples) a list of one.
    let data = match json.get("data") {
        Some(Value::Array(list)) => list.first().ok_or(LookupError::UnknownDocument)?,
        Some(Value::Null) | None => return Err(LookupError::BadAnswer("no data in the answer".into())),
        Some(data) => data,
    };
    let version = match &doc.version_id {
        Some(_) => data,
        None => match data.get(CURRENT_VERSION) {
            Some(Value::Null) | None => return Err(LookupError::UnknownDocument),
            Some(v) => v,
        },
    };
    let text = |field: &str| version.get(field).and_then(Value::as_str).filter(|s| !s.is_empty());
    // A version of another document than the one named is not this one,
    // and a version must say whose it is.
    match text(DOCUMENT_ID) {
        Some(d) if !d.eq_ignore_ascii_case(&doc.document_id) => return Err(LookupError::UnknownDocument),
        None if doc.version_id.is_some() => {
            return Err(LookupError::BadAnswer(format!("the version has no {DOCUMENT_ID}")));
        }
        _ => {}
    }
    let webhook = text(INTEGRATION).is_some_and(|t| WEBHOOK_TYPES.iter().any(|w| t.eq_ignore_ascii_case(w)));
    match text(STORAGE_ID) {
        Some(id) if webhook => Ok(id.to_string()),
        _ => Err(LookupError::OtherProvider),
    }
}

/// What an error answer means, by its status and the error's class or
/// message (Adobe documents neither the codes nor the classes, so both
/// are read). "No such document" is believed only from Workfront's own
/// JSON error: a 404 page of a proxy, or of a wrong `--workfront-url` or
/// API version, is a bad answer, for the log and never remembered.
fn refusal(status: u16, error: Option<&Value>) -> LookupError {
    let said = error
        .map(|e| {
            let field = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
            format!("{} {}", field("class"), field("message"))
        })
        .unwrap_or_default();
    let says = |words: &[&str]| words.iter().any(|w| said.contains(w));
    if status == 401 || says(&["authentication", "not currently logged in", "invalid session", "api key"]) {
        LookupError::KeyRefused
    } else if status == 403 || says(&["security", "access denied", "not authorized"]) {
        LookupError::NoAccess
    } else if error.is_some() && (matches!(status, 400 | 404 | 410 | 422) || says(&["notfound", "not found"])) {
        LookupError::UnknownDocument
    } else {
        LookupError::BadAnswer(format!(
            "Workfront answered HTTP {status}{}; check --workfront-url and --workfront-api-version",
            if error.is_some() { format!(" ({})", said.trim()) } else { " without a Workfront error".into() }
        ))
    }
}

fn transport_error(e: ureq::Error) -> LookupError {
    match e {
        ureq::Error::Timeout(_) => LookupError::TimedOut,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => LookupError::TimedOut,
        ureq::Error::BodyExceedsLimit(_) => LookupError::BadAnswer("the answer is too large".into()),
        other => LookupError::Unreachable(other.to_string()),
    }
}

/// A Workfront object id: 32 hex digits (a little leeway either way).
fn is_workfront_id(s: &str) -> bool {
    (16..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The key in `--workfront-api-key-file`: its first line that is not
/// blank or a `#` comment.
fn read_key_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the Workfront API key file: {e}"))?;
    crate::http::auth::parse_keys_file(&text)
        .into_iter()
        .next()
        .ok_or_else(|| "the Workfront API key file holds no key".to_string())
}

/// The system's root certificates, and those of `--workfront-ca-file`;
/// none at all is an error only when Workfront is asked over TLS.
fn roots(ca_file: Option<&Path>, tls: bool) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let system = rustls_native_certs::load_native_certs();
    let mut roots: Vec<_> =
        system.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read --workfront-ca-file: {e}"))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| format!("--workfront-ca-file: {e}"))? {
                roots.push(c);
            }
        }
        if roots.len() == before {
            return Err("--workfront-ca-file holds no PEM certificate".into());
        }
    } else if roots.is_empty() && tls {
        let why = system.errors.first().map(|e| format!(": {e}")).unwrap_or_default();
        return Err(format!("no system root certificates were found{why}; give --workfront-ca-file"));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "5502082c003a4f30ddec2fb2b739cb7c";
    const VER: &str = "54b598a700e2342d6971597a5df1a8d3";

    /// The stand-in's answers, in the shape of Adobe's documented API
    /// responses: the same file the end-to-end test serves.
    fn fixture(name: &str) -> String {
        let all: Value = serde_json::from_str(include_str!("../tests/fixtures/workfront-api.json")).unwrap();
        let body = all[name].clone();
        assert!(!body.is_null(), "no fixture {name}");
        serde_json::to_string(&body)
            .unwrap()
            .replace("{documentId}", DOC)
            .replace("{versionId}", VER)
            .replace("{storageId}", "0123456789abcdef")
    }

    fn doc(version: Option<&str>) -> DocumentRef {
        DocumentRef { document_id: DOC.into(), version_id: version.map(str::to_string) }
    }

    #[test]
    fn answers_are_read_by_the_documented_names() {
        let by_version = version_of_answer(200, &fixture("versionOfWfhook"), &doc(Some(VER)));
        assert_eq!(by_version.unwrap(), "0123456789abcdef");
        let by_document = version_of_answer(200, &fixture("documentOfWfhook"), &doc(None));
        assert_eq!(by_document.unwrap(), "0123456789abcdef");
        for (name, expected) in [
            ("versionOfAnotherProvider", LookupError::OtherProvider),
            ("versionInWorkfront", LookupError::OtherProvider),
        ] {
            assert_eq!(version_of_answer(200, &fixture(name), &doc(Some(VER))), Err(expected), "{name}");
        }
        assert_eq!(version_of_answer(404, &fixture("notFound"), &doc(Some(VER))), Err(LookupError::UnknownDocument));
        assert_eq!(version_of_answer(401, &fixture("badKey"), &doc(Some(VER))), Err(LookupError::KeyRefused));
        assert!(matches!(version_of_answer(500, "", &doc(None)), Err(LookupError::BadAnswer(_))));
        // A 404 that is not Workfront's (a proxy's page, a wrong URL or
        // API version) is no answer about the document.
        assert!(matches!(version_of_answer(404, "<html>Not Found</html>", &doc(None)), Err(LookupError::BadAnswer(_))));
        let no_owner = fixture("versionOfWfhook").replace(&format!("\"documentID\":\"{DOC}\","), "");
        assert!(matches!(version_of_answer(200, &no_owner, &doc(Some(VER))), Err(LookupError::BadAnswer(_))));
        assert!(matches!(version_of_answer(200, "<html>", &doc(None)), Err(LookupError::BadAnswer(_))));
        // A version that belongs to another document is not this one.
        let other =
            DocumentRef { document_id: "ffffffffffffffffffffffffffffffff".into(), version_id: Some(VER.into()) };
        assert_eq!(version_of_answer(200, &fixture("versionOfWfhook"), &other), Err(LookupError::UnknownDocument));
    }

    #[test]
    fn ids_that_are_not_workfront_ids_never_reach_a_url() {
        assert!(is_workfront_id(DOC));
        for bad in ["", "../user", "5502082c003a4f30ddec2fb2b739cb7c?x=1", "a/b", &"a".repeat(65), "%2e%2e"] {
            assert!(!is_workfront_id(bad), "{bad}");
        }
    }

    #[test]
    fn not_configured_says_what_to_do() {
        let r = Resolver::disabled();
        let e = r.provider_id(&doc(None)).unwrap_err();
        assert_eq!(e, LookupError::NotConfigured);
        assert_eq!(e.status(), 404);
        assert!(e.to_string().contains("--workfront-url") && e.to_string().contains("uploadInit"), "{e}");
    }

    #[test]
    fn lookups_past_the_cap_fail_at_once_and_free_their_slot() {
        let r = Resolver::with(None, 2);
        let a = r.slot().unwrap();
        let _b = r.slot().unwrap();
        assert!(r.slot().is_none());
        drop(a);
        assert!(r.slot().is_some());
        assert_eq!(r.busy.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unknown_documents_are_remembered_for_a_while_and_bounded() {
        let r = Resolver::with(None, 1);
        r.remember_not_here(&doc(Some(VER)));
        assert_eq!(r.remembered(&doc(Some(VER))), Some(LookupError::NotHere));
        assert_eq!(r.remembered(&doc(None)), None);
        for i in 0..REMEMBERED + 5 {
            r.remember(
                &DocumentRef { document_id: format!("{i:032x}"), version_id: None },
                LookupError::UnknownDocument,
            );
        }
        assert!(r.unknown.lock().unwrap().len() <= REMEMBERED);
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let s = KeySource::Env("sekrit-key".into());
        assert!(!format!("{s:?}").contains("sekrit"));
    }
}
