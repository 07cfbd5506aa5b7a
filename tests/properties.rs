//! Property tests over everything that turns untrusted text into a place
//! on disk or a value: ids, names and relative paths, the folder store's
//! resolution (with ids from the network and paths from a hostile state
//! log), query decoding, and journal reading.
//!
//! What must hold for every input: nothing panics, bad input is an error,
//! nothing outside the root (or inside the state folder) is read, written or
//! removed, the first value of a repeated parameter wins, and a journal
//! reads back every whole event whatever else the file holds.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm};
use wfhook::events::Event;
use wfhook::http::request::{Params, split_target};
use wfhook::journal::{self, Journal};
use wfhook::state_dir::{self, LAYOUT, StateDir};
use wfhook::store::fs::FsStore;
use wfhook::store::paths::{self, ID_LEN};
use wfhook::store::state::Record;
use wfhook::store::{DocumentRef, ROOT_ID, Store, StoreError};

/// `cases` random inputs per property. XorShift instead of the default
/// ChaCha, which dominates the run time in an unoptimised test build.
fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, rng_algorithm: RngAlgorithm::XorShift, ..Config::default() }
}

// ---------------------------------------------------------------- strategies

/// Pieces that path attacks are made of.
const FRAGMENTS: &[&str] = &[
    "..",
    ".",
    "/",
    "\\",
    "\0",
    "%2e",
    "%2E%2e",
    "%2f",
    "%2F",
    "%5c",
    "%00",
    "%252e%252e%252f",
    "..%2f",
    "..\\",
    "../",
    "./",
    "//",
    "outside",
    "secret.txt",
    "link",
    "docs",
    "a.txt",
    "é",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    "𝄞",
    "\r\n",
    "\t",
    " ",
    "~",
    "$HOME",
    "0123456789abcdef",
    "aaaaaaaaaaaaaaaa",
    "1111111111111111",
    "f",
    "0",
    "A",
];

/// [`FRAGMENTS`], the state folder's name and every name in it.
fn fragments() -> Vec<&'static str> {
    FRAGMENTS.iter().copied().chain([state_dir::NAME]).chain(LAYOUT.iter().map(|e| e.name)).collect()
}

/// Strings a hostile client might send as an id, a name or a path.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(fragments()), 0..8).prop_map(|v| v.concat()),
        2 => any::<String>(),
        1 => "[0-9a-f]{16}",
        1 => "[0-9a-fA-F/.]{0,20}",
        1 => (1usize..6000).prop_map(|n| "a".repeat(n)),
        1 => (1usize..2000).prop_map(|n| "../".repeat(n)),
        1 => (250usize..260).prop_map(|n| "é".repeat(n / 2)),
    ]
}

fn is_well_formed_id(id: &str) -> bool {
    id == ROOT_ID || (id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

// ------------------------------------------------------- ids, names, paths

proptest! {
    #![proptest_config(config(1000))]

    /// An id is `/` or 16 lowercase hex digits; everything else is refused.
    #[test]
    fn check_id_accepts_exactly_the_ids_the_store_hands_out(id in hostile()) {
        prop_assert_eq!(paths::check_id(&id).is_ok(), is_well_formed_id(&id));
    }

    /// A name that passes is one plain component: joined below any folder it
    /// stays there, and it can never be or reach the state folder.
    #[test]
    fn check_name_lets_through_only_single_plain_components(name in hostile(), parent in "[a-z]{1,5}(/[a-z]{1,5}){0,3}") {
        let Ok(()) = paths::check_name(&name) else { return Ok(()) };
        prop_assert!(!name.is_empty() && name.len() <= 255);
        prop_assert!(name != "." && name != ".." && name != state_dir::NAME);
        prop_assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
        let root = Path::new("/srv/root");
        let joined = root.join(&name);
        prop_assert_eq!(joined.parent(), Some(root));
        prop_assert_eq!(joined.file_name().and_then(|n| n.to_str()), Some(name.as_str()));
        for base in ["", parent.as_str()] {
            let rel = paths::join(base, &name);
            let comps = paths::components(&rel).expect("a checked name joins into a checked path");
            prop_assert_eq!(comps.last().copied(), Some(name.as_str()));
            prop_assert_eq!(paths::parent(&rel), base);
            prop_assert_eq!(paths::file_name(&rel), name.as_str());
            prop_assert!(paths::is_within(&rel, base));
        }
    }

    /// Whatever `components` accepts, pushed onto a root as the disk
    /// spells it, stays below it: no component is empty, `.`, `..`, or
    /// holds a `/` or a NUL once the state log's escapes (a NUL and
    /// two hex digits, for bytes that are not UTF-8) are undone, and the
    /// path gains exactly one level per component.
    #[test]
    fn components_never_climb_out(rel in hostile()) {
        use std::os::unix::ffi::OsStrExt;
        let Ok(comps) = paths::components(&rel) else { return Ok(()) };
        let root = Path::new("/srv/root");
        let mut p = root.to_path_buf();
        for c in &comps {
            let disk = paths::decode(c).expect("an accepted component decodes");
            prop_assert!(!disk.is_empty() && disk != b"." && disk != b"..");
            prop_assert!(!disk.contains(&b'/') && !disk.contains(&0));
            prop_assert_eq!(paths::encode(&disk), c.to_string(), "one spelling per name");
            p.push(std::ffi::OsStr::from_bytes(&disk));
        }
        prop_assert!(p.starts_with(root));
        prop_assert_eq!(p.components().count(), root.components().count() + comps.len());
        prop_assert_eq!(comps.join("/"), rel);
    }

    /// The helpers on relative paths never panic, whatever they are given.
    #[test]
    fn path_helpers_never_panic(a in hostile(), b in hostile(), n in 0u32..20) {
        let _ = paths::join(&a, &b);
        let _ = paths::parent(&a);
        let _ = paths::file_name(&a);
        let _ = paths::is_within(&a, &b);
        let numbered = paths::numbered(&a, n);
        if n == 0 {
            prop_assert_eq!(numbered, a);
        }
    }
}

// ------------------------------------------------------------ the store

const DOCS: &str = "aaaaaaaaaaaaaaaa";
const FILE: &str = "bbbbbbbbbbbbbbbb";
/// Ids that the hostile state records below use.
const POOL: [&str; 4] = ["1111111111111111", "2222222222222222", "3333333333333333", "4444444444444444"];
const SECRET: &[u8] = b"SECRET-BYTES";

/// A root with a folder and a file, secrets in its state folder, and a
/// folder beside it (outside) that symlinks inside the root point to.
struct Fixture {
    tmp: tempfile::TempDir,
    root: PathBuf,
    store: FsStore,
    /// Everything outside the root, plus the secrets inside its state folder.
    before: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl Fixture {
    fn new(injected: &[Record]) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(outside.join("dir")).unwrap();
        fs::write(outside.join("secret.txt"), SECRET).unwrap();
        fs::write(outside.join("dir/secret.txt"), SECRET).unwrap();
        let state = StateDir::of_root(&root);
        fs::create_dir_all(root.join("docs")).unwrap();
        fs::create_dir_all(state.path()).unwrap();
        fs::write(root.join("docs/a.txt"), b"inside").unwrap();
        fs::write(state.api_key(), SECRET).unwrap();
        fs::write(state.link_secret(), SECRET).unwrap();
        symlink(&outside, root.join("link")).unwrap();
        symlink(outside.join("secret.txt"), root.join("docs/link")).unwrap();
        symlink(state.path(), root.join("state")).unwrap();
        let mut log = Vec::new();
        let mut records = vec![
            Record::Id { id: DOCS.into(), path: "docs".into() },
            Record::Id { id: FILE.into(), path: "docs/a.txt".into() },
            Record::Link { document_id: "doc".into(), version_id: Some("v1".into()), id: FILE.into() },
        ];
        records.extend_from_slice(injected);
        for r in &records {
            serde_json::to_writer(&mut log, r).unwrap();
            log.push(b'\n');
        }
        fs::write(state.state_log(), log).unwrap();
        let store = FsStore::open(&root).unwrap();
        let mut f = Fixture { root: store.root().to_path_buf(), store, tmp, before: BTreeMap::new() };
        f.before = f.guarded();
        f
    }

    /// What no request may change: every entry outside the root, and the
    /// secrets in the state folder.
    fn state(&self) -> StateDir {
        StateDir::of_root(&self.root)
    }

    fn guarded(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        let mut out = BTreeMap::new();
        walk(self.tmp.path(), &self.tmp.path().join("root"), &mut out);
        let state = self.state();
        for p in [state.api_key(), state.link_secret()] {
            out.insert(p.clone(), fs::read(&p).ok());
        }
        out.insert(self.root.clone(), self.root.is_dir().then(Vec::new));
        out.insert(state.path().to_path_buf(), state.path().is_dir().then(Vec::new));
        out
    }

    fn check_nothing_escaped(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(&self.guarded(), &self.before, "something outside the root or a secret changed");
        // The state folder holds only what the store (and this fixture) put there.
        let state = self.state();
        let snapshots = state.snapshots_of("id").parent().unwrap().to_path_buf();
        let archive = state.archive_shelf("id").parent().unwrap().to_path_buf();
        let known = [
            state.state_log(),
            state.state_lock(),
            state.tmp(),
            archive,
            snapshots.clone(),
            state.api_key(),
            state.link_secret(),
        ];
        for e in fs::read_dir(state.path()).unwrap() {
            let path = e.unwrap().path();
            prop_assert!(known.contains(&path), "unexpected {path:?} in the state folder");
        }
        for e in fs::read_dir(&snapshots).unwrap() {
            let e = e.unwrap();
            prop_assert!(is_well_formed_id(&e.file_name().to_string_lossy()), "{:?}", e.file_name());
            prop_assert!(e.file_type().unwrap().is_dir());
        }
        prop_assert!(common::temp_files(&state.tmp()).is_empty(), "temp files left");
        Ok(())
    }
}

/// Records every path below `dir` except those below `skip`, with the bytes
/// of files (`Some(empty)` for folders and links).
fn walk(dir: &Path, skip: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.insert(p.clone(), Some(Vec::new()));
            walk(&p, skip, out);
        } else if meta.file_type().is_symlink() {
            out.insert(p.clone(), Some(fs::read_link(&p).unwrap().into_os_string().into_encoded_bytes()));
        } else {
            out.insert(p.clone(), Some(fs::read(&p).unwrap()));
        }
    }
}

/// An id argument: a fixed string, or the n-th id this case was handed.
#[derive(Clone, Debug)]
enum IdArg {
    Text(String),
    Handed(usize),
}

fn id_arg() -> impl Strategy<Value = IdArg> {
    prop_oneof![
        3 => hostile().prop_map(IdArg::Text),
        2 => prop::sample::select(vec![ROOT_ID, DOCS, FILE, POOL[0], POOL[1], POOL[2], POOL[3]])
            .prop_map(|s| IdArg::Text(s.to_string())),
        2 => (0usize..4).prop_map(IdArg::Handed),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Metadata(IdArg),
    List(IdArg),
    Search(String, Option<IdArg>),
    Open(IdArg),
    UploadInit(IdArg, String, Option<(String, Option<String>)>),
    Upload(IdArg, Vec<u8>),
    CreateFolder(IdArg, String),
    Rename(IdArg, String),
    Delete(IdArg),
    Lock(IdArg, bool),
    Checksum(IdArg),
    Archive(IdArg),
    Snapshot(IdArg, String),
    Resolve(String, Option<String>),
}

fn op() -> impl Strategy<Value = Op> {
    let name = || prop_oneof![2 => hostile(), 1 => "[a-z]{1,8}(\\.txt)?"];
    prop_oneof![
        id_arg().prop_map(Op::Metadata),
        id_arg().prop_map(Op::List),
        (hostile(), prop::option::of(id_arg())).prop_map(|(q, p)| Op::Search(q, p)),
        id_arg().prop_map(Op::Open),
        (id_arg(), name(), prop::option::of((hostile(), prop::option::of(hostile()))))
            .prop_map(|(p, n, l)| Op::UploadInit(p, n, l)),
        (id_arg(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(i, b)| Op::Upload(i, b)),
        (id_arg(), name()).prop_map(|(p, n)| Op::CreateFolder(p, n)),
        (id_arg(), name()).prop_map(|(i, n)| Op::Rename(i, n)),
        id_arg().prop_map(Op::Delete),
        (id_arg(), any::<bool>()).prop_map(|(i, l)| Op::Lock(i, l)),
        id_arg().prop_map(Op::Checksum),
        id_arg().prop_map(Op::Archive),
        (id_arg(), name()).prop_map(|(i, v)| Op::Snapshot(i, v)),
        (hostile(), prop::option::of(hostile())).prop_map(|(d, v)| Op::Resolve(d, v)),
    ]
}

/// Hostile records as a damaged or forged state log could hold them.
fn injected_record() -> impl Strategy<Value = Record> {
    let pool = || prop::sample::select(POOL.to_vec()).prop_map(str::to_string);
    // Paths relative to the root that lead at or through the state folder.
    let rel = StateDir::of_root(Path::new(""));
    let text = |p: &Path| p.to_str().unwrap().to_string();
    let (state, key) = (text(rel.path()), text(&rel.api_key()));
    let key_name = text(Path::new(rel.api_key().file_name().unwrap()));
    let shelf = text(&rel.archive_shelf(POOL[0]));
    let archive = text(rel.archive_shelf(POOL[0]).parent().unwrap());
    let paths: Vec<String> = vec![
        "".into(),
        "..".into(),
        "../outside/secret.txt".into(),
        "link/secret.txt".into(),
        "link".into(),
        "docs/link".into(),
        format!("state/{key_name}"),
        state,
        key.clone(),
        archive.clone(),
        shelf.clone(),
        format!("{shelf}/../../{key_name}"),
        format!("{archive}/../{key_name}"),
        text(&rel.tmp()),
        "docs".into(),
        "docs/a.txt".into(),
        format!("docs/../{key}"),
    ];
    let path = move || prop_oneof![4 => hostile(), 2 => prop::sample::select(paths.clone())];
    prop_oneof![
        4 => (pool(), path()).prop_map(|(id, path)| Record::Id { id, path }),
        1 => (path(), path()).prop_map(|(from, to)| Record::Move { from, to }),
        1 => path().prop_map(|path| Record::Gone { path }),
        1 => pool().prop_map(|id| Record::Archive { id }),
        1 => (pool(), any::<bool>()).prop_map(|(id, locked)| Record::Lock { id, locked }),
        1 => (hostile(), prop::option::of(hostile()), pool())
            .prop_map(|(document_id, version_id, id)| Record::Link { document_id, version_id, id }),
    ]
}

/// Runs one operation; checks what it returned, never what it refused.
fn run(f: &Fixture, handed: &mut Vec<String>, op: &Op) -> Result<(), TestCaseError> {
    let s = &f.store;
    let id_of = |a: &IdArg| match a {
        IdArg::Text(t) => t.clone(),
        IdArg::Handed(n) => handed.get(*n).cloned().unwrap_or_else(|| ROOT_ID.to_string()),
    };
    let refused_if_malformed = |id: &str, r: Result<(), &StoreError>| -> Result<(), TestCaseError> {
        if !is_well_formed_id(id) {
            prop_assert!(matches!(r, Err(StoreError::BadId)), "{id:?} was not refused as a bad id: {r:?}");
        }
        Ok(())
    };
    match op {
        Op::Metadata(a) => {
            let id = id_of(a);
            let r = s.metadata(&id);
            refused_if_malformed(&id, r.as_ref().map(|_| ()))?;
            if let Ok(item) = r {
                prop_assert_ne!(item.title.as_str(), state_dir::NAME);
            }
        }
        Op::List(a) => {
            let id = id_of(a);
            let r = s.list(&id);
            refused_if_malformed(&id, r.as_ref().map(|_| ()))?;
            // The symlinks the fixture planted are never listed.
            let links: &[&str] = match id.as_str() {
                ROOT_ID => &["link", "state"],
                DOCS => &["link"],
                _ => &[],
            };
            for item in r.unwrap_or_default() {
                prop_assert_ne!(item.title.as_str(), state_dir::NAME);
                prop_assert!(!links.contains(&item.title.as_str()), "a symlink was listed: {item:?}");
            }
        }
        Op::Search(q, p) => {
            let p = p.as_ref().map(id_of);
            for item in s.search(q, p.as_deref()).unwrap_or_default() {
                prop_assert_ne!(item.title.as_str(), state_dir::NAME);
                prop_assert!(s.metadata(&item.id).is_ok(), "{item:?} was found but does not resolve");
            }
        }
        Op::Open(a) => {
            let id = id_of(a);
            let r = s.open(&id);
            refused_if_malformed(&id, r.as_ref().map(|_| ()))?;
            if let Ok((_, mut file)) = r {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).unwrap();
                prop_assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET), "a secret was served");
            }
        }
        Op::UploadInit(p, name, link) => {
            let link = link.as_ref().map(|(d, v)| DocumentRef { document_id: d.clone(), version_id: v.clone() });
            if let Ok(item) = s.upload_init(&id_of(p), name, link.as_ref()) {
                prop_assert!(paths::check_name(&item.title).is_ok());
                handed.push(item.id);
            }
        }
        Op::Upload(a, body) => {
            let _ = s.upload(&id_of(a), &mut &body[..]);
        }
        Op::CreateFolder(p, name) => {
            if let Ok(item) = s.create_folder(&id_of(p), name) {
                prop_assert_eq!(&item.title, name);
                handed.push(item.id);
            }
        }
        Op::Rename(a, name) => {
            let id = id_of(a);
            if s.rename(&id, name).is_ok() {
                prop_assert!(paths::check_name(name).is_ok());
                prop_assert_eq!(&s.metadata(&id).unwrap().title, name);
            }
        }
        Op::Delete(a) => {
            let _ = s.delete(&id_of(a));
        }
        Op::Lock(a, locked) => {
            let _ = s.set_locked(&id_of(a), *locked);
        }
        Op::Checksum(a) => {
            let _ = s.checksum(&id_of(a));
        }
        Op::Archive(a) => {
            let _ = s.archive(&id_of(a));
        }
        Op::Snapshot(a, version) => {
            let _ = s.snapshot(&id_of(a), version);
        }
        Op::Resolve(d, v) => {
            let _ = s.resolve_document(&DocumentRef { document_id: d.clone(), version_id: v.clone() });
        }
    }
    f.check_nothing_escaped()
}

proptest! {
    #![proptest_config(config(256))]

    /// Sequences of store calls with hostile ids and names: nothing panics,
    /// malformed ids are refused as such, and nothing outside the root (or
    /// a secret in the state folder) is read, changed or removed.
    #[test]
    fn store_calls_with_hostile_ids_and_names_stay_inside_the_root(
        ops in prop::collection::vec(op(), 1..12)
    ) {
        let f = Fixture::new(&[]);
        let mut handed = Vec::new();
        for op in &ops {
            run(&f, &mut handed, op)?;
        }
    }

    /// The same, on a root whose state log was damaged or forged: ids that
    /// it maps to `..`, to symlinks, to the root itself or into the state
    /// folder resolve to nothing that lies outside.
    #[test]
    fn a_forged_state_log_cannot_lead_outside_the_root(
        injected in prop::collection::vec(injected_record(), 1..8),
        ops in prop::collection::vec(op(), 1..12),
    ) {
        let f = Fixture::new(&injected);
        let mut handed = Vec::new();
        for id in POOL {
            run(&f, &mut handed, &Op::Open(IdArg::Text(id.into())))?;
            run(&f, &mut handed, &Op::List(IdArg::Text(id.into())))?;
        }
        for op in &ops {
            run(&f, &mut handed, op)?;
        }
        for id in POOL {
            for op in [
                Op::Rename(IdArg::Text(id.into()), "renamed".into()),
                Op::Upload(IdArg::Text(id.into()), b"overwritten".to_vec()),
                Op::Snapshot(IdArg::Text(id.into()), "v1".into()),
                Op::Archive(IdArg::Text(id.into())),
                Op::Delete(IdArg::Text(id.into())),
            ] {
                run(&f, &mut handed, &op)?;
            }
        }
        // The store reopens on what the operations left.
        FsStore::open(&f.root).unwrap();
    }
}

// ------------------------------------------------------------ query decoding

/// Percent-encodes every byte, with upper or lower case hex digits.
fn percent_all(s: &str, upper: bool) -> String {
    s.bytes().map(|b| if upper { format!("%{b:02X}") } else { format!("%{b:02x}") }).collect()
}

fn encode(s: &str, how: u8) -> String {
    match how % 3 {
        0 => form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        1 => percent_all(s, true),
        _ => percent_all(s, false),
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any query string decodes without panicking, into valid strings.
    #[test]
    fn any_query_decodes_without_panic(q in prop_oneof![
        any::<String>(),
        "([a-zA-Z%+=&;#?/.]|%[0-9a-fA-FzZ]{0,2}){0,64}",
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ], probe in hostile()) {
        let p = Params::from_query(&q);
        let _ = p.get(&probe);
        let _ = p.require(&probe);
        let (path, query) = split_target(&q);
        prop_assert!(!path.contains('?'));
        if q.contains('?') {
            prop_assert_eq!(format!("{path}?{query}"), q.clone());
        } else {
            prop_assert_eq!((path, query), (q.as_str(), ""));
        }
    }

    /// Encoded pairs come back as sent, whatever the encoding, and the first
    /// value of a repeated name wins; names never sent are absent.
    #[test]
    fn decoding_returns_the_first_value_sent(
        pairs in prop::collection::vec((prop_oneof![hostile(), "[a-c]{1,2}"], hostile(), any::<u8>(), any::<u8>()), 0..12),
        absent in "[xyz]{3,6}",
        empties in 0usize..3,
    ) {
        let mut parts: Vec<String> =
            pairs.iter().map(|(k, v, hk, hv)| format!("{}={}", encode(k, *hk), encode(v, *hv))).collect();
        for _ in 0..empties {
            parts.push(String::new());
        }
        let p = Params::from_query(&parts.join("&"));
        for (k, _, _, _) in &pairs {
            let first = pairs.iter().find(|(k2, _, _, _)| k2 == k).map(|(_, v, _, _)| v.as_str());
            prop_assert_eq!(p.get(k), first);
        }
        if !pairs.iter().any(|(k, _, _, _)| *k == absent) {
            prop_assert_eq!(p.get(&absent), None);
            prop_assert!(p.require(&absent).is_err());
        }
    }
}

// ------------------------------------------------------------ journal reading

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z0-9-]{0,12}", prop::sample::select(fragments()).prop_map(str::to_string)]
}

/// Events with arbitrary text in every field (built from flat vectors: deeply
/// nested strategies overflow a test thread's stack in debug builds).
fn event() -> impl Strategy<Value = Event> {
    (prop::collection::vec(text(), 10), prop::collection::vec(any::<bool>(), 6), any::<u16>(), any::<u64>()).prop_map(
        |(mut t, some, status, latency_us)| {
            let mut opt = |i: usize| {
                let s = std::mem::take(&mut t[i]);
                some[i - 4].then(|| s.into())
            };
            let (action, document_id, document_version_id, id, username, error) =
                (opt(4), opt(5), opt(6), opt(7), opt(8), opt(9));
            let (time, request_id) = (std::mem::take(&mut t[0]).into(), std::mem::take(&mut t[1]).into());
            Event {
                action,
                document_id,
                document_version_id,
                id,
                username,
                status,
                latency_us,
                error,
                ..Event::new(time, request_id, &t[2], &t[3])
            }
        },
    )
}

/// One line of a journal file as the test wrote it.
#[derive(Clone, Debug)]
enum Line {
    Event(Box<Event>),
    /// Bytes without a newline that are not an event.
    Garbage(Vec<u8>),
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Long lines are short random runs repeated: per-byte strategies are slow.
        (prop::collection::vec(any::<u8>(), 0..64), 1usize..50).prop_map(|(b, k)| b.repeat(k)),
        "[ \t\r]{0,4}".prop_map(String::into_bytes),
        "\\{\"time\":[ -~é]{0,40}".prop_map(String::into_bytes),
        Just(b"{}".to_vec()),
        Just(b"[1,2,3]".to_vec()),
        Just(b"null".to_vec()),
    ]
    .prop_map(|mut g| {
        g.retain(|&b| b != b'\n');
        g
    })
    .prop_filter("must not parse as an event", |g| serde_json::from_slice::<Event>(g).is_err())
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![3 => event().prop_map(|e| Line::Event(Box::new(e))), 1 => garbage().prop_map(Line::Garbage)]
}

proptest! {
    #![proptest_config(config(512))]

    /// A journal file of events, garbage lines and a torn last line (a crash
    /// mid-write): reading never fails or panics, returns every whole event
    /// in order, counts what it skipped, and `tail` returns exactly the
    /// newest events of the lines in the part of the file it reads.
    #[test]
    fn journal_reading_skips_what_does_not_parse_and_keeps_every_whole_event(
        lines in prop::collection::vec(line(), 0..40),
        torn in prop::option::of((event(), any::<prop::sample::Index>())),
        keep in 0usize..6,
        n in 1usize..5,
        after in event(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = StateDir::at(dir.path()).journal();
        let mut bytes = Vec::new();
        // (start offset, event if the line is one)
        let mut starts: Vec<(usize, Option<&Event>)> = Vec::new();
        let mut skipped = 0;
        for l in &lines {
            starts.push((bytes.len(), if let Line::Event(e) = l { Some(&**e) } else { None }));
            match l {
                Line::Event(e) => bytes.extend(serde_json::to_vec(e).unwrap()),
                Line::Garbage(g) => {
                    skipped += usize::from(!g.iter().all(u8::is_ascii_whitespace));
                    bytes.extend(g);
                }
            }
            bytes.push(b'\n');
        }
        if let Some((e, at)) = &torn {
            let whole = serde_json::to_vec(e).unwrap();
            starts.push((bytes.len(), None));
            bytes.extend(&whole[..1 + at.index(whole.len() - 1)]);
            skipped += 1;
        }
        fs::write(&path, &bytes).unwrap();
        let events: Vec<&Event> = lines.iter().filter_map(|l| if let Line::Event(e) = l { Some(&**e) } else { None }).collect();

        let back = journal::read(&path, None).unwrap();
        prop_assert_eq!(back.events.iter().collect::<Vec<_>>(), events.clone());
        prop_assert_eq!(back.skipped, skipped);
        let newest = journal::read(&path, Some(keep)).unwrap();
        prop_assert_eq!(newest.events.iter().collect::<Vec<_>>(), events[events.len().saturating_sub(keep)..].to_vec());

        // `tail` reads the last 2048·n bytes: the newest n events among the
        // lines that start inside that window.
        let start = bytes.len().saturating_sub(2048 * n);
        let in_window: Vec<&Event> = starts.iter().filter(|(at, _)| *at >= start).filter_map(|(_, e)| *e).collect();
        let tail = journal::tail(&path, n).unwrap();
        prop_assert_eq!(tail.iter().collect::<Vec<_>>(), in_window[in_window.len().saturating_sub(n)..].to_vec());

        // A server starting on this file appends whole lines after it.
        let j = Journal::open(&StateDir::at(dir.path()).open().unwrap(), journal::Limits::default()).unwrap();
        j.append(&after).unwrap();
        drop(j);
        let again = journal::read(&path, None).unwrap();
        prop_assert_eq!(again.events.last(), Some(&after));
        prop_assert_eq!(again.events.len(), events.len() + 1);
        prop_assert_eq!(again.skipped, skipped);
    }

    /// Arbitrary bytes, whatever they are: reading returns, never panics.
    #[test]
    fn journal_reading_any_bytes_never_fails(bytes in prop::collection::vec(any::<u8>(), 0..8192), n in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let path = StateDir::at(dir.path()).journal();
        fs::File::create(&path).unwrap().write_all(&bytes).unwrap();
        let back = journal::read(&path, None).unwrap();
        prop_assert!(back.events.len() + back.skipped <= bytes.iter().filter(|&&b| b == b'\n').count() + 1);
        let tail = journal::tail(&path, n).unwrap();
        prop_assert!(tail.len() <= n);
    }
}
