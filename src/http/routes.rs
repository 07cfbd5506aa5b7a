//! The endpoint table and one handler per endpoint. `/serviceInfo`'s
//! `availableEndpoints` is read from this table, and its `customActions`
//! from the action registry, so neither can drift from what is served.

use std::io::{Seek, Write};
use std::sync::Arc;
use std::time::Instant;

use compact_str::CompactString;
use serde_json::{Map, Value, json};
use tiny_http::Method;

use super::errors::HttpError;
use super::request::{Limited, declared_length, header};
use super::response::{Browser, Caching, Reply, Style};
use super::{App, Call, browser, folder_page};
use crate::actions::{self, ACTIONS, ActionError};
use crate::store::{DocumentRef, Item, Kind, Page, ROOT_ID, SEARCH_LIMIT, StoreError};
use crate::thumbnail::{self, Outcome};
use crate::workfront::LookupError;

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (serviceInfo).
    Public,
    /// `apiKey` and `username` headers.
    Key,
    /// A key, or a signed link (what browsers open).
    KeyOrLink,
}

/// The body a route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    None,
    /// An urlencoded form, up to `MAX_FORM_BYTES`.
    Form,
    /// A file's bytes, up to `--max-upload-bytes`.
    Upload,
}

pub type Handler = fn(&App, &mut Call) -> Result<Reply, HttpError>;

pub struct Route {
    pub name: &'static str,
    pub methods: &'static [Method],
    pub access: Access,
    pub style: Style,
    /// The body it takes, which the connection layer reads for it (once
    /// the key is checked); a form's fields are parameters too.
    pub body: Body,
    /// May change documents: journaled before it is answered as well.
    pub changes: bool,
    /// Listed in `availableEndpoints`: a Workfront endpoint, not a link target.
    pub advertised: bool,
    pub handler: Handler,
}

const GET: &[Method] = &[Method::Get, Method::Head];
const POST: &[Method] = &[Method::Post];
const PUT: &[Method] = &[Method::Put];

const fn route(name: &'static str, methods: &'static [Method], access: Access, handler: Handler) -> Route {
    Route { name, methods, access, style: Style::Error, body: Body::None, changes: false, advertised: true, handler }
}

/// A route that reads parameters from an urlencoded body too.
const fn form(r: Route) -> Route {
    Route { body: Body::Form, ..r }
}

pub static ROUTES: &[Route] = &[
    route("serviceInfo", GET, Access::Public, service_info),
    // An action may change documents (lock, archive, snapshot…).
    Route {
        style: Style::Failure,
        methods: &[Method::Get],
        changes: true,
        ..route("customAction", GET, Access::Key, custom_action)
    },
    route("metadata", GET, Access::Key, metadata),
    route("files", GET, Access::Key, files),
    route("search", GET, Access::Key, search),
    route("download", GET, Access::KeyOrLink, download),
    // Workfront's document panel shows it; the folder page links it.
    route("thumbnail", GET, Access::KeyOrLink, thumbnail),
    Route { changes: true, ..form(route("uploadInit", POST, Access::Key, upload_init)) },
    Route { style: Style::Result, body: Body::Upload, changes: true, ..route("upload", PUT, Access::Key, upload) },
    Route { changes: true, ..form(route("createFolder", POST, Access::Key, create_folder)) },
    Route { style: Style::Failure, changes: true, ..form(route("delete", PUT, Access::Key, delete)) },
    Route { style: Style::Failure, changes: true, ..form(route("rename", PUT, Access::Key, rename)) },
    Route { advertised: false, ..route("view", GET, Access::KeyOrLink, view) },
];

/// The route named by the last path segment.
pub fn find(name: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.name == name)
}

fn service_info(app: &App, _: &mut Call) -> Result<Reply, HttpError> {
    Ok(Reply::Json(200, service_info_body(&app.cfg.publisher)))
}

/// `/serviceInfo`'s answer, built value by value: `json!` would build the
/// lists, then copy them whole into the answer.
fn service_info_body(publisher: &str) -> Value {
    let endpoints = ROUTES.iter().filter(|r| r.advertised).map(|r| Value::from(r.name)).collect();
    let custom = ACTIONS
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("name".into(), a.name().into());
            m.insert("displayName".into(), a.display_name().into());
            Value::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("webhookVersion".into(), "1.2".into());
    m.insert("version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("publisher".into(), publisher.into());
    m.insert("availableEndpoints".into(), Value::Array(endpoints));
    m.insert("customActions".into(), Value::Array(custom));
    Value::Object(m)
}

fn custom_action(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let name = call.params.require("name")?;
    call.event.action = Some(clip(name));
    let action = actions::find(name).ok_or(ActionError::Unknown)?;
    let (document_id, version_id) = call.record_document().unwrap_or_default();
    if action.needs_document() && document_id.is_empty() {
        return Err(HttpError::MissingParameter("documentId".into()));
    }
    let document = DocumentRef { document_id, version_id };
    // An unknown document is a 404 before anything else is asked of it.
    let id = if action.needs_document() { Some(document_file(app, &document)?) } else { None };
    if action.needs_version() && document.version_id.is_none() {
        return Err(HttpError::MissingParameter("documentVersionId".into()));
    }
    let ctx = actions::Context {
        store: Arc::clone(&app.store),
        document,
        id,
        username: call.event.username.clone().unwrap_or_default(),
        request_id: call.event.request_id.clone(),
    };
    let success = app.runner.run(action, ctx)?;
    let mut body = Map::new();
    body.insert("status".into(), "success".into());
    body.extend(success.0);
    Ok(Reply::Json(200, Value::Object(body)))
}

/// Our id for a Workfront document: from the links uploadInit (or an
/// earlier lookup) recorded, else from Workfront's API, trusted only for a
/// file of this store and then recorded, so that Workfront is asked once
/// per document (by every instance sharing the root).
fn document_file(app: &App, document: &DocumentRef) -> Result<String, HttpError> {
    match app.store.resolve_document(document) {
        Err(StoreError::NotFound(_)) => {}
        known => return Ok(known?),
    }
    let asked = Instant::now();
    let id = app.workfront.provider_id(document)?;
    match app.store.link_document(document, &id) {
        Ok(()) => {
            log::info!(
                "Workfront document {} is file {id} (asked Workfront in {} ms); the link is recorded",
                document.document_id,
                asked.elapsed().as_millis()
            );
            Ok(id)
        }
        Err(StoreError::BadId | StoreError::NotFound(_)) => {
            app.workfront.remember_not_here(document);
            Err(LookupError::NotHere.into())
        }
        Err(e) => Err(e.into()),
    }
}

fn metadata(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    let item = app.store.metadata(&id)?;
    Ok(Reply::Json(200, item_json(app, &item)))
}

fn files(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let parent = call.record_folder_id("parentId");
    let page = page(call, None)?;
    let mut out = JsonArray::new(app);
    app.store.list_each(&parent, page, &mut |item| out.push(&item_json(app, item)))?;
    out.finish().map_err(|e| StoreError::Io(e).into())
}

fn search(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let query = call.params.require("query")?.to_string();
    let parent = call.params.get("parentId").filter(|p| !p.is_empty()).map(str::to_string);
    call.event.id = parent.as_deref().map(clip);
    let page = page(call, Some(SEARCH_LIMIT))?;
    items_reply(app, &app.store.search_page(&query, parent.as_deref(), page)?)
}

/// The window a listing asks for with `max` and `offset` (Adobe's
/// per-endpoint pages), `default_max` when it sends no `max`.
fn page(call: &Call, default_max: Option<usize>) -> Result<Page, HttpError> {
    let number = |name: &str| match call.params.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| v.parse::<usize>().ok())
            .flatten()
            .map(Some)
            .ok_or_else(|| HttpError::BadRequest(format!("invalid {name}: not a whole number"))),
    };
    Ok(Page { offset: number("offset")?.unwrap_or(0), max: number("max")?.or(default_max) })
}

/// A JSON array of items.
fn items_reply(app: &App, items: &[Item]) -> Result<Reply, HttpError> {
    let mut out = JsonArray::new(app);
    for item in items {
        out.push(&item_json(app, item)).map_err(StoreError::Io)?;
    }
    out.finish().map_err(|e| StoreError::Io(e).into())
}

/// JSON past this many bytes is written to a temp file and sent from there.
const SPOOL_BYTES: usize = 256 * 1024;

/// A JSON array written element by element: in memory while short, then
/// in a nameless temp file, so that a listing of 100 000 items never holds
/// its 50 MB of JSON (nor a `Value` per item) in memory.
struct JsonArray<'a> {
    app: &'a App,
    bytes: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    empty: bool,
}

impl<'a> JsonArray<'a> {
    fn new(app: &'a App) -> JsonArray<'a> {
        JsonArray { app, bytes: b"[".to_vec(), file: None, empty: true }
    }

    fn push(&mut self, v: &Value) -> std::io::Result<()> {
        if !self.empty {
            self.bytes.push(b',');
        }
        self.empty = false;
        serde_json::to_writer(&mut self.bytes, v)?;
        if self.bytes.len() >= SPOOL_BYTES {
            let file = match &mut self.file {
                Some(f) => f,
                None => self.file.insert(std::io::BufWriter::with_capacity(64 * 1024, self.app.store.body_spool()?)),
            };
            file.write_all(&self.bytes)?;
            self.bytes.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Reply> {
        self.bytes.push(b']');
        let Some(mut file) = self.file else { return Ok(Reply::JsonBytes(self.bytes)) };
        file.write_all(&self.bytes)?;
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        let len = file.stream_position()?;
        file.rewind()?;
        Ok(Reply::JsonFile { file, len })
    }
}

fn download(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    file_reply(app, call, &id, false)
}

fn view(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    let item = app.store.metadata(&id)?;
    if item.kind == Kind::File {
        return file_reply(app, call, &id, true);
    }
    folder_page::reply(app, call, &item)
}

/// A file for a browser: validators, 304 for a current copy, one range
/// (206, or 416 past the end), else the whole file.
fn file_reply(app: &App, call: &Call, id: &str, inline: bool) -> Result<Reply, HttpError> {
    let (item, mut file) = app.store.open(id)?;
    // What was opened, whatever the path holds by now.
    let meta = file.metadata().map_err(StoreError::Io)?;
    let size = meta.len();
    let validators = browser::Validators::of(&meta);
    let asked = asked(call);
    let mime = item.mime_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    let (len, part) = match browser::plan(&asked, &validators, size) {
        browser::Plan::NotModified => return Ok(Reply::NotModified(validators, Caching::NoStore)),
        browser::Plan::Unsatisfiable => return Ok(Reply::Unsatisfiable(size)),
        browser::Plan::Whole => (size, None),
        browser::Plan::Part { start, end } => {
            file.seek(std::io::SeekFrom::Start(start)).map_err(StoreError::Io)?;
            (end - start + 1, Some((start, end, size)))
        }
    };
    let browser = Some(Browser { validators, part });
    Ok(Reply::File { file, len, mime, name: item.title, inline, browser })
}

fn thumbnail(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    let width = thumbnail::width(call.params.get("size"))
        .ok_or_else(|| HttpError::BadRequest("invalid size: a width in pixels, such as 200".into()))?;
    match app.thumbnails.answer(&*app.store, &id, width, header(call.rq, "If-None-Match"))? {
        Outcome::NotModified(etag) => {
            Ok(Reply::NotModified(browser::Validators { etag, modified: None }, Caching::Revalidate))
        }
        Outcome::Image(mut answer) => {
            // A kept thumbnail takes the same ranges as a file; a stand-in
            // icon, which has no tag, is always whole.
            let Some(etag) = answer.etag.clone() else { return Ok(Reply::Image { answer, browser: None }) };
            let size = answer.body.size();
            let validators = browser::Validators { etag, modified: None };
            let part = match browser::plan(&asked(call), &validators, size) {
                browser::Plan::NotModified => return Ok(Reply::NotModified(validators, Caching::Revalidate)),
                browser::Plan::Unsatisfiable => return Ok(Reply::Unsatisfiable(size)),
                browser::Plan::Whole => None,
                browser::Plan::Part { start, end } => {
                    if let thumbnail::Body::File(file, _) = &mut answer.body {
                        file.seek(std::io::SeekFrom::Start(start)).map_err(StoreError::Io)?;
                    }
                    Some((start, end, size))
                }
            };
            Ok(Reply::Image { answer, browser: Some(Browser { validators, part }) })
        }
    }
}

/// The request headers a browser path answers by.
fn asked<'a>(call: &'a Call) -> browser::Asked<'a> {
    browser::Asked {
        if_none_match: header(call.rq, "If-None-Match"),
        if_modified_since: header(call.rq, "If-Modified-Since"),
        range: header(call.rq, "Range"),
        if_range: header(call.rq, "If-Range"),
    }
}

fn upload_init(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let parent = call.record_folder_id("parentId");
    let filename = call.params.require("filename")?.to_string();
    let link = call.record_document().map(|(document_id, version_id)| DocumentRef { document_id, version_id });
    let item = app.store.upload_init(&parent, &filename, link.as_ref())?;
    call.event.id = Some(item.id.as_str().into());
    Ok(Reply::Json(200, item_json(app, &item)))
}

fn upload(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    let limit = app.cfg.max_upload_bytes;
    // Judge the declared size before a byte of the body is read.
    if declared_length(call.rq).is_some_and(|n| n > limit) {
        return Err(HttpError::TooLarge(limit));
    }
    // A body cut short before its Content-Length is an error (the vendored
    // tiny_http's body reader), and so is one that goes on past the limit
    // (chunked): either way the upload never replaces a file.
    let mut body = Limited::new(call.rq.as_reader(), limit);
    let receipt = app.store.upload(&id, &mut body).map_err(|e| body.error_or(e.into()))?;
    Ok(Reply::Json(200, json!({"result": "success", "size": receipt.size, "sha256": receipt.sha256})))
}

fn create_folder(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let parent = call.record_folder_id("parentId");
    let name = call.params.require("name")?.to_string();
    let item = app.store.create_folder(&parent, &name)?;
    call.event.id = Some(item.id.as_str().into());
    Ok(Reply::Json(200, item_json(app, &item)))
}

fn delete(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let key = ["documentId", "folderId", "id"].into_iter().find(|k| call.params.get(k).is_some()).unwrap_or("id");
    let id = call.record_id(key)?;
    app.store.delete(&id)?;
    Ok(Reply::Json(200, json!({"status": "success"})))
}

fn rename(app: &App, call: &mut Call) -> Result<Reply, HttpError> {
    let id = call.record_id("id")?;
    let name = call.params.require("name")?.to_string();
    app.store.rename(&id, &name)?;
    Ok(Reply::Json(200, json!({"status": "success"})))
}

fn title(app: &App, item: &Item) -> String {
    if item.id == ROOT_ID { app.cfg.publisher.clone() } else { item.title.clone() }
}

/// An item as the contract describes it, with signed browser links.
pub fn item_json(app: &App, item: &Item) -> Value {
    let mut m = Map::new();
    m.insert("title".into(), title(app, item).into());
    m.insert("kind".into(), item.kind.as_str().into());
    m.insert("id".into(), item.id.clone().into());
    let view = app.links.make("view", &item.id);
    let download = if item.kind == Kind::File { app.links.make("download", &item.id) } else { view.clone() };
    m.insert("viewLink".into(), view.into());
    m.insert("downloadLink".into(), download.into());
    if let Some(mime) = &item.mime_type {
        m.insert("mimeType".into(), mime.clone().into());
    }
    m.insert("dateModified".into(), humantime::format_rfc3339_seconds(item.modified).to_string().into());
    if let Some(size) = item.size {
        m.insert("size".into(), size.into());
    }
    m.insert("readOnly".into(), item.read_only.into());
    Value::Object(m)
}

/// Caps what an event records of a client-sent value at 255 characters.
pub fn clip(s: &str) -> CompactString {
    first_chars(s, 255).into()
}

/// The first `n` characters of `s`, borrowed.
pub fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(end, _)| &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_route_is_unique_and_answers_some_method() {
        let mut names = HashSet::new();
        for r in ROUTES {
            assert!(names.insert(r.name), "duplicate route {}", r.name);
            assert!(!r.methods.is_empty(), "{}", r.name);
            assert!(std::ptr::eq(find(r.name).unwrap(), r));
            assert_eq!(r.access == Access::Public, r.name == "serviceInfo", "{}", r.name);
        }
    }

    #[test]
    fn service_info_lists_the_advertised_routes_and_every_action() {
        let endpoints: Vec<&str> = ROUTES.iter().filter(|r| r.advertised).map(|r| r.name).collect();
        let custom: Vec<Value> =
            ACTIONS.iter().map(|a| json!({"name": a.name(), "displayName": a.display_name()})).collect();
        let expected = json!({
            "webhookVersion": "1.2",
            "version": env!("CARGO_PKG_VERSION"),
            "publisher": "Ann's \"docs\"",
            "availableEndpoints": endpoints,
            "customActions": custom,
        });
        let body = service_info_body("Ann's \"docs\"");
        assert_eq!(body, expected);
        assert_eq!(serde_json::to_string(&body).unwrap(), serde_json::to_string(&expected).unwrap());
        assert!(!endpoints.contains(&"view"));
    }

    #[test]
    fn clip_keeps_255_characters() {
        assert_eq!(clip("ann@example.com"), "ann@example.com");
        assert_eq!(clip(&"a".repeat(300)), "a".repeat(255));
        // 200 two-byte characters are 400 bytes but fewer than 255 characters.
        assert_eq!(clip(&"é".repeat(200)), "é".repeat(200));
        assert_eq!(clip(&"é".repeat(300)).chars().count(), 255);
    }
}
