//! The page a folder's `viewLink` opens in a browser: its breadcrumb, its
//! columns sorted both ways (from the index and from the disk), its pages,
//! its links (all signed, none outliving the page's own), its policy; and
//! the page in a real browser (headless Chromium) at a phone's width and a
//! desktop's, with no console message, every thumbnail loaded, and
//! screenshots kept.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// `&amp;` and the other escapes the page writes, undone.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// Every URL the page links to or loads: `href` and `src` values.
fn urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [" href=\"", " src=\""] {
        for rest in html.split(attr).skip(1) {
            out.push(unescape(rest.split('"').next().unwrap()));
        }
    }
    out
}

/// The names in the table, in order.
fn names(html: &str) -> Vec<String> {
    html.split("<th scope=row><a href=\"")
        .skip(1)
        .map(|rest| unescape(rest.split_once("\">").unwrap().1.split("</a>").next().unwrap()))
        .collect()
}

/// The part of the page between `from` and the next `to`.
fn between<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html.find(from).unwrap_or_else(|| panic!("no {from:?} in:\n{html}")) + from.len();
    let len = html[start..].find(to).unwrap_or_else(|| panic!("no {to:?} after {from:?} in:\n{html}"));
    &html[start..start + len]
}

/// The (url, text) of each link in the breadcrumb.
fn crumbs(html: &str) -> Vec<(String, String)> {
    between(html, "aria-label=\"Breadcrumb\">", "</nav>")
        .split("<a href=\"")
        .skip(1)
        .map(|rest| {
            let (url, rest) = rest.split_once('"').unwrap();
            let text = rest.split_once('>').unwrap().1.split("</a>").next().unwrap();
            (unescape(url), unescape(text))
        })
        .collect()
}

/// A folder page, which must be a 200 page.
fn page(s: &TestServer, link: &str) -> String {
    let r = s.fetch_link(link);
    assert_eq!(r.status, 200, "{link}: {}", r.text());
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    r.text()
}

/// The id of the folder named `name` in folder `parent`.
fn folder_id(s: &TestServer, parent: &str, name: &str) -> String {
    find(&s.files(parent), name).unwrap_or_else(|| panic!("no {name} in {parent}"))["id"].as_str().unwrap().to_string()
}

fn set_mtime(path: &Path, secs: u64) {
    File::open(path).unwrap().set_modified(UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
}

/// Waits out the quiet time after which the index trusts a folder's date.
fn let_folders_settle() {
    std::thread::sleep(Duration::from_millis(2200));
}

#[test]
fn the_breadcrumb_leads_back_up_the_tree_through_signed_links() {
    let s = TestServer::start(&["--publisher", "Ann's <docs>"]);
    let a = s.mkdir("/", "Projects");
    let b = s.mkdir(&a, "2025 & after");
    let c = s.mkdir(&b, "Q1");
    let link = s.view_link(&c);
    let expires: u64 = link_param(&link, "expires").unwrap().parse().unwrap();
    let html = page(&s, &link);
    let trail = crumbs(&html);
    let texts: Vec<&str> = trail.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["Ann's <docs>", "Projects", "2025 & after", "Q1"]);
    assert!(html.contains("aria-current=page>Q1</a>"), "{html}");
    let ids: Vec<String> = trail.iter().map(|(u, _)| link_param(u, "id").unwrap()).collect();
    assert_eq!(ids, ["/", a.as_str(), b.as_str(), c.as_str()]);
    // Each leads to its folder's page, signed, and dies with this page.
    for ((url, text), id) in trail.iter().zip(&ids) {
        assert!(url.starts_with(&format!("http://{}/view?", s.addr)), "{url}");
        let e: u64 = link_param(url, "expires").unwrap().parse().unwrap();
        assert!(e <= expires, "{url}");
        let sig = s.signer().sign(&["view", id, &e.to_string()]);
        assert_eq!(link_param(url, "sig").unwrap(), sig, "{url}");
        let up = page(&s, url);
        assert_eq!(unescape(between(&up, "<h1>", "</h1>")), *text);
    }
    // The root's page has a breadcrumb of one: itself, named after the publisher.
    let root = page(&s, &trail[0].0);
    assert_eq!(crumbs(&root).len(), 1);
    assert!(root.contains("<title>Ann&#39;s &lt;docs&gt;</title>"), "{root}");
    assert_eq!(names(&root), ["Projects"]);
}

/// The folder `sorted` in a root made before the server starts: two
/// folders and five files of known sizes and dates, two of which tie on
/// both.
fn sorted_root(root: &Path) {
    let dir = root.join("sorted");
    fs::create_dir_all(&dir).unwrap();
    let base = 1_700_000_000;
    for (name, size, at) in
        [("a.txt", 300, 10), ("B.txt", 100, 30), ("c.txt", 200, 20), ("tie1.txt", 50, 5), ("tie2.txt", 50, 5)]
    {
        fs::write(dir.join(name), vec![b'x'; size]).unwrap();
        set_mtime(&dir.join(name), base + at);
    }
    for (name, at) in [("Beta", 1), ("alpha", 40)] {
        fs::create_dir(dir.join(name)).unwrap();
        set_mtime(&dir.join(name), base + at);
    }
}

/// Each order, and the names it shows.
const ORDERS: [(&str, [&str; 7]); 6] = [
    ("sort=name&order=asc", ["alpha", "Beta", "a.txt", "B.txt", "c.txt", "tie1.txt", "tie2.txt"]),
    ("sort=name&order=desc", ["Beta", "alpha", "tie2.txt", "tie1.txt", "c.txt", "B.txt", "a.txt"]),
    ("sort=size&order=asc", ["alpha", "Beta", "tie1.txt", "tie2.txt", "B.txt", "c.txt", "a.txt"]),
    ("sort=size&order=desc", ["alpha", "Beta", "a.txt", "c.txt", "B.txt", "tie1.txt", "tie2.txt"]),
    ("sort=modified&order=asc", ["Beta", "alpha", "tie1.txt", "tie2.txt", "a.txt", "c.txt", "B.txt"]),
    ("sort=modified&order=desc", ["alpha", "Beta", "B.txt", "c.txt", "a.txt", "tie1.txt", "tie2.txt"]),
];

/// `names` with the two files that tie swapped.
fn swapped(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| match *n {
            "tie1.txt" => "tie2.txt".to_string(),
            "tie2.txt" => "tie1.txt".to_string(),
            n => n.to_string(),
        })
        .collect()
}

/// Checks every order of `sorted`'s page; `tampered`: as the index with
/// the ties' positions swapped has them.
fn check_orders(s: &TestServer, link: &str, tampered: bool) {
    for (query, expected) in ORDERS {
        let html = page(s, &format!("{link}&{query}"));
        let want = if tampered { swapped(&expected) } else { expected.iter().map(|n| n.to_string()).collect() };
        assert_eq!(names(&html), want, "{query} (from the {})", if tampered { "index" } else { "disk" });
        // The sorted column says so; a click on it turns it round, on
        // another starts that one.
        let (by, order) =
            (link_param(&format!("?{query}"), "sort").unwrap(), link_param(&format!("?{query}"), "order").unwrap());
        let aria = if order == "asc" { "ascending" } else { "descending" };
        assert!(html.contains(&format!("<th scope=col class={by} aria-sort={aria}>")), "{query}: {html}");
        assert_eq!(html.matches("aria-sort=").count(), 1, "{query}");
        let header = between(&html, "<thead>", "</thead>");
        let flipped = if order == "asc" { "desc" } else { "asc" };
        assert!(header.contains(&format!("&amp;sort={by}&amp;order={flipped}\">")), "{query}: {header}");
    }
}

#[test]
fn every_column_sorts_both_ways_from_the_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    sorted_root(&root);
    let s = TestServer::builder().root(&root).args(&["--index-dir", "off"]).start();
    let link = s.view_link(&folder_id(&s, "/", "sorted"));
    check_orders(&s, &link, false);
    // Sizes and dates shown are the disk's.
    let html = page(&s, &link);
    assert!(html.contains("<data value=300>300 B</data>"), "{html}");
    assert!(html.contains("<time datetime=\"2023-11-14T22:13:50Z\">2023-11-14 22:13</time>"), "{html}");
}

#[test]
fn dates_past_2262_sort_last_and_never_break_the_page() {
    // Nanoseconds since 1970 past i64 (found by review: a 500 from an
    // overflow); ext4 stores dates up to 2446.
    let s = TestServer::start(&[]);
    s.put_file("/", "today.txt", b"now", None);
    let future = s.put_file("/", "future.txt", b"later", None);
    File::options()
        .write(true)
        .open(s.root.join("future.txt"))
        .unwrap()
        .set_modified(UNIX_EPOCH + Duration::from_secs(15_000_000_000))
        .unwrap();
    assert_eq!(s.metadata(&future)["title"], "future.txt");
    let link = s.view_link("/");
    for order in ["asc", "desc"] {
        let html = page(&s, &format!("{link}&sort=modified&order={order}"));
        let listed = names(&html);
        let (t, f) = (listed.iter().position(|n| n == "today.txt"), listed.iter().position(|n| n == "future.txt"));
        assert_eq!(t.zip(f).map(|(t, f)| f > t), Some(order == "asc"), "{order}: {listed:?}");
    }
}

#[test]
fn every_column_sorts_both_ways_from_the_index_while_it_holds_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let index = tmp.path().join("index");
    sorted_root(&root);
    // No notification: only what this test does changes the index.
    let s = TestServer::builder()
        .root(&root)
        .args(&["--index-watch", "off", "--index-dir", index.to_str().unwrap()])
        .start();
    wait_for("the index to be ready", || s.stderr().contains("index ready:"));
    let sorted = folder_id(&s, "/", "sorted");
    let link = s.view_link(&sorted);
    let_folders_settle();
    // Read once now that the folder has settled: the index holds it exactly.
    check_orders(&s, &link, false);

    // Proof of where an order comes from: the index's positions of the two
    // files that tie are swapped behind the server's back. Only an answer
    // from the index shows them swapped.
    let db = rusqlite::Connection::open(index.join("index.sqlite")).unwrap();
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    let ord =
        |path: &str| -> i64 { db.query_row("SELECT ord FROM items WHERE path = ?1", [path], |r| r.get(0)).unwrap() };
    let (one, two) = (ord("sorted/tie1.txt"), ord("sorted/tie2.txt"));
    db.execute("UPDATE items SET ord = ?1 WHERE path = 'sorted/tie1.txt'", [two]).unwrap();
    db.execute("UPDATE items SET ord = ?1 WHERE path = 'sorted/tie2.txt'", [one]).unwrap();
    check_orders(&s, &link, true);

    // A file rewritten in place (no folder's date changes): an order by
    // size or date in the index would be stale, so those come from the
    // disk, which the index learns again (its ties in their own order).
    fs::write(root.join("sorted/c.txt"), vec![b'x'; 400]).unwrap();
    set_mtime(&root.join("sorted/c.txt"), 1_700_000_000 + 20);
    let html = page(&s, &format!("{link}&sort=size&order=desc"));
    assert_eq!(names(&html), ["alpha", "Beta", "c.txt", "a.txt", "B.txt", "tie1.txt", "tie2.txt"]);

    // A folder changed since the index read it is read from the disk.
    fs::write(root.join("sorted/new.txt"), b"").unwrap();
    let html = page(&s, &link);
    assert_eq!(names(&html), ["alpha", "Beta", "a.txt", "B.txt", "c.txt", "new.txt", "tie1.txt", "tie2.txt"]);
}

#[test]
fn a_folder_of_250_files_comes_in_pages_of_100_in_every_order() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "big");
    let disk = s.root.join("big");
    // Sizes in another order than the names.
    for i in 0..250usize {
        fs::write(disk.join(format!("f{i:03}.txt")), vec![b'x'; (i * 37) % 250 + 1]).unwrap();
    }
    fs::create_dir(disk.join("sub")).unwrap();
    let link = s.view_link(&dir);
    let expires: u64 = link_param(&link, "expires").unwrap().parse().unwrap();

    for query in ["", "&sort=size&order=asc", "&sort=name&order=desc"] {
        let mut seen = Vec::new();
        let mut at = format!("{link}{query}");
        for n in 1..=3 {
            let html = page(&s, &at);
            let shown = names(&html);
            assert_eq!(shown.len(), if n < 3 { 100 } else { 51 }, "page {n} of {query:?}");
            let (first, last) = ((n - 1) * 100 + 1, (n - 1) * 100 + shown.len());
            assert!(html.contains(&format!("Page {n} of 3: items {first}–{last} of 251")), "{html}");
            assert!(html.contains(&format!("<caption>Items {first}–{last} of 251, folders first, ")), "{html}");
            seen.extend(shown);
            let nav = between(&html, "<nav class=pages aria-label=\"Pages\">", "</nav>");
            assert_eq!(nav.contains("rel=prev"), n > 1, "{nav}");
            assert_eq!(nav.contains("rel=next"), n < 3, "{nav}");
            // Every page link keeps the order, and is signed like the page.
            for url in urls(nav) {
                assert!(url.contains(query), "{url} lost {query:?}");
                assert_eq!(link_param(&url, "id").unwrap(), dir);
                assert!(link_param(&url, "expires").unwrap().parse::<u64>().unwrap() <= expires);
            }
            if n < 3 {
                let before_next = &nav[..nav.find("\" rel=next>").unwrap()];
                at = unescape(before_next.rsplit("<a href=\"").next().unwrap());
                assert_eq!(link_param(&at, "page").unwrap(), (n + 1).to_string());
            }
        }
        // The pages are the whole folder, once each, folder first.
        assert_eq!(seen.len(), 251);
        assert_eq!(seen[0], "sub");
        let unique: std::collections::HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), 251, "{query}: an item on two pages");
        let files = &seen[1..];
        match query {
            "" => assert!(files.windows(2).all(|w| w[0] < w[1])),
            "&sort=name&order=desc" => assert!(files.windows(2).all(|w| w[0] > w[1])),
            _ => {
                let size = |n: &String| -> usize {
                    let i: usize = n[1..4].parse().unwrap();
                    (i * 37) % 250 + 1
                };
                assert!(files.windows(2).all(|w| size(&w[0]) <= size(&w[1])), "{files:?}");
            }
        }
    }
    // Past the end: the last page; nonsense: a 400 that says what is right.
    let html = page(&s, &format!("{link}&page=99"));
    assert!(html.contains("Page 3 of 3: items 201–251 of 251"), "{html}");
    for (query, says) in [
        ("&page=0", "invalid page"),
        ("&page=two", "invalid page"),
        ("&sort=colour", "invalid sort: use name, size or modified"),
        ("&order=up", "invalid order: use asc or desc"),
    ] {
        let r = s.fetch_link(&format!("{link}{query}"));
        r.assert_error(400, "error");
        assert!(r.error().starts_with(says), "{query}: {}", r.error());
    }
}

#[test]
fn every_link_is_signed_and_expires_no_later_than_the_page() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "shared");
    let inner = s.mkdir(&dir, "inner");
    let file = s.put_file(&dir, "a.txt", b"A", None);
    // A page link a minute from its end, signed as the server signs.
    let expires = now_secs() + 60;
    let sig = s.signer().sign(&["view", &dir, &expires.to_string()]);
    let r = request(s.addr, "GET", &format!("/view?id={dir}&expires={expires}&sig={sig}&sort=size"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    let all = urls(&html);
    let signer = s.signer();
    let mut endpoints = std::collections::BTreeMap::new();
    for url in &all {
        let (path, _) = url.split_once('?').unwrap_or_else(|| panic!("{url} has no query"));
        let endpoint = path.rsplit('/').next().unwrap();
        *endpoints.entry(endpoint.to_string()).or_insert(0) += 1;
        let id = link_param(url, "id").unwrap();
        let e = link_param(url, "expires").unwrap();
        assert!(e.parse::<u64>().unwrap() <= expires, "{url} outlives the page ({expires})");
        assert_eq!(link_param(url, "sig").unwrap(), signer.sign(&[endpoint, &id, &e]), "{url}");
        assert!(url.starts_with(&format!("http://{}/", s.addr)), "{url}");
    }
    // Breadcrumb 2 and sort 3 (view), the two items' names; a download for
    // the file; a thumbnail for each item and the tab's icon.
    let counts: Vec<(&str, i32)> = endpoints.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(counts, [("download", 1), ("thumbnail", 3), ("view", 7)], "{all:#?}");
    for url in &all {
        let r = s.fetch_link(url);
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        if url.contains("/thumbnail?") {
            // An image for a file and for a folder alike.
            assert!(url.ends_with("&size=64"), "{url}");
            assert!(matches!(r.header("Content-Type"), Some("image/png" | "image/jpeg")), "{url}: {:?}", r.headers);
        }
    }
    let download = all.iter().find(|u| u.contains("/download?")).unwrap();
    assert_eq!(link_param(download, "id").unwrap(), file);
    assert_eq!(s.fetch_link(download).body, b"A");
    assert!(all.iter().any(|u| u.contains("/view?") && link_param(u, "id").unwrap() == inner));
}

#[test]
fn an_expired_or_forged_page_link_is_403_and_the_order_is_not_signed() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "shared");
    let signer = s.signer();
    let past = now_secs() - 60;
    let sig = signer.sign(&["view", &dir, &past.to_string()]);
    for query in ["", "&sort=size&order=desc&page=2"] {
        let r = request(s.addr, "GET", &format!("/view?id={dir}&expires={past}&sig={sig}{query}"), &[], b"");
        r.assert_error(403, "error");
        assert!(!r.text().contains("<html"), "{}", r.text());
    }
    // A page link with an order and a page of the reader's choosing is
    // still the same link; its signature is not.
    let link = s.view_link(&dir);
    assert_eq!(s.fetch_link(&format!("{link}&sort=modified&order=asc&page=3")).status, 200);
    let forged = link.replace(&dir, &s.mkdir("/", "other"));
    s.fetch_link(&forged).assert_error(403, "error");
}

/// The directives of a policy, by name.
fn directives(csp: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_ascii_whitespace();
            Some((words.next()?.to_ascii_lowercase(), words.map(str::to_string).collect()))
        })
        .collect()
}

#[test]
fn the_page_carries_a_strict_content_security_policy() {
    let s = TestServer::start(&[]);
    let dir = s.mkdir("/", "shared");
    s.put_file(&dir, "a.txt", b"A", None);
    let link = s.view_link(&dir);
    for method in ["GET", "HEAD"] {
        let target = link.strip_prefix(&format!("http://{}", s.addr)).unwrap();
        let r = request(s.addr, method, target, &[], b"");
        assert_eq!(r.status, 200);
        let policies: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Content-Security-Policy"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(policies.len(), 1, "{:?}", r.headers);
        let d = directives(policies[0]);
        let origin = format!("http://{}", s.addr);
        assert_eq!(d["default-src"], ["'none'"]);
        assert_eq!(d["img-src"], [origin.as_str(), "'self'"]);
        assert_eq!(d["base-uri"], ["'none'"]);
        assert_eq!(d["form-action"], ["'none'"]);
        assert_eq!(d["frame-ancestors"], ["'none'"]);
        assert_eq!(d["style-src"].len(), 1, "{policies:?}");
        // No script of any kind, nor a way around the hash.
        assert!(!d.contains_key("script-src"), "{policies:?}");
        assert!(!policies[0].contains("unsafe") && !policies[0].contains("data:") && !policies[0].contains('*'));
        if method == "GET" {
            // The hash is the page's one stylesheet's.
            let html = r.text();
            let css = between(&html, "<style>", "</style>");
            assert_eq!(html.matches("<style").count(), 1);
            assert_eq!(d["style-src"][0], format!("'sha256-{}'", wfhook::crypto::sha256_base64(css.as_bytes())));
            assert!(!html.contains("<script") && !html.contains(" style="), "{html}");
        }
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    }
}

// ---- In a real browser ---------------------------------------------------

/// Chromium's path; `None`, said on stderr, where it is not installed
/// (Debian and Ubuntu: `apt-get install chromium fonts-dejavu-core`), and
/// a failure under CI, which installs it (see `.ci/run`).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file());
    if found.is_none() {
        skip_unless_ci("needs headless Chromium (apt-get install chromium fonts-dejavu-core)");
    }
    found
}

/// What one headless run of Chromium left: its stdout (the DOM, for
/// `--dump-dom`) and its stderr (the log, console messages included).
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// The console messages Chromium logged: any is a failure, since the
    /// page has no script; a refused stylesheet or image (a policy
    /// violation) is one of them.
    fn console(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Content Security Policy")).collect()
    }
}

/// How long one run of Chromium may take: a second or two on an idle
/// machine, ten times more and some on a loaded one.
const BROWSER_WAIT: Duration = Duration::from_secs(120);

/// Opens `url` in headless Chromium at `width`×`height`, with a profile of
/// its own, and either dumps the DOM or writes a screenshot to `shot`.
fn browse(chromium: &Path, url: &str, (width, height): (u32, u32), shot: Option<&Path>) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Console messages (and policy violations, which are console
        // errors) go to stderr as `INFO:CONSOLE…] "message", source: URL`.
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--window-size={width},{height}"))
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match shot {
        Some(file) => cmd.arg(format!("--screenshot={}", file.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let err_file = tempfile::NamedTempFile::new().unwrap();
    let mut child = cmd
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out_file.reopen().unwrap())
        .stderr(err_file.reopen().unwrap())
        .spawn()
        .expect("start chromium");
    let status = poll_within(BROWSER_WAIT, || child.try_wait().unwrap());
    let run = Run {
        stdout: fs::read_to_string(out_file.path()).unwrap_or_default(),
        stderr: fs::read_to_string(err_file.path()).unwrap_or_default(),
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium took more than {BROWSER_WAIT:?} on {url}; its log:\n{}", run.stderr);
    };
    assert!(status.success(), "chromium failed ({status}) on {url}; its log:\n{}", run.stderr);
    run
}

/// A PNG of `w`×`h` pixels, one colour: an image the thumbnail endpoint
/// can shrink. Stored deflate blocks; CRC-32 and Adler-32 by hand.
fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let sum = crc(&out[start..]);
        out.extend(sum.to_be_bytes());
    }
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            // A soft diagonal gradient over the colour.
            let shade = ((x + y) * 64 / (w + h)) as u8;
            raw.extend(rgb.map(|c| c.saturating_sub(shade)));
        }
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend(len.to_le_bytes());
        z.extend((!len).to_le_bytes());
        z.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend((b << 16 | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The width and height a PNG file declares.
fn png_size(file: &Path) -> (u32, u32) {
    let bytes = fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is no PNG", file.display());
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// The opening tags named `name` in a DOM as Chromium serializes it.
fn tags<'a>(dom: &'a str, name: &str) -> Vec<&'a str> {
    dom.split(&format!("<{name}"))
        .skip(1)
        .filter(|rest| rest.starts_with([' ', '>']))
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .collect()
}

/// An attribute's value in an opening tag (Chromium quotes every value).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let rest = tag.split(&format!(" {name}=\"")).nth(1)?;
    rest.split('"').next()
}

/// Serves one page with a stylesheet that its policy does not allow, to
/// every request, for as long as the test runs: the control that shows a
/// violation is seen.
fn serve_a_violation() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "<!doctype html><html lang=en><title>x</title><style>body{color:red}</style><p>x";
            let wrong = format!("'sha256-{}'", wfhook::crypto::sha256_base64(b"body{color:blue}"));
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Security-Policy: default-src 'none'; style-src \
                 {wrong}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/")
}

/// The folder the browser opens: a subfolder, a PDF, a picture, a text and
/// a name that is made of markup, two levels down, by a publisher whose
/// name is markup too.
fn showcase(s: &TestServer) -> String {
    let team = s.mkdir("/", "Marketing");
    let dir = s.mkdir(&team, "Launch 2025");
    s.mkdir(&dir, "Drafts");
    s.mkdir(&dir, "Photos");
    s.put_file(&dir, "Brand guidelines.pdf", b"%PDF-1.4\n%%EOF\n", None);
    s.put_file(&dir, "hero.png", &png(320, 200, [70, 130, 220]), None);
    s.put_file(&dir, "Budget.xlsx", &vec![b'x'; 48_213], None);
    s.put_file(&dir, "notes.txt", b"Launch on Monday.\n", None);
    s.put_file(&dir, "<b>\"quoted\" & 'odd'.txt", b"x", None);
    dir
}

/// Where the screenshots are kept, printed so that a developer finds them.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("folder-page");
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_page_in_a_real_browser_at_phone_and_desktop_widths() {
    let Some(chromium) = chromium() else { return };

    // The control: a violation is seen, so that silence below means none.
    let control = browse(&chromium, &serve_a_violation(), (800, 600), None);
    assert!(
        control.console().iter().any(|l| l.contains("Content Security Policy")),
        "a stylesheet refused by its policy left no trace in Chromium's log, so the checks below would see \
         nothing either; the log:\n{}",
        control.stderr
    );

    let s = TestServer::start(&["--publisher", "Acme <Docs>"]);
    let dir = showcase(&s);
    let link = s.view_link(&dir);
    let out = artifacts();
    for (label, size) in [("phone", (390, 844)), ("desktop", (1280, 800))] {
        // The DOM as the browser built it.
        let before = s.journal().len();
        let run = browse(&chromium, &link, size, None);
        assert!(run.console().is_empty(), "{label}: console messages:\n{}", run.console().join("\n"));
        let dom = &run.stdout;
        assert!(tags(dom, "html").iter().any(|t| attr(t, "lang") == Some("en")), "{label}: {dom}");
        assert!(tags(dom, "meta").iter().any(|t| attr(t, "name") == Some("viewport")), "{dom}");
        let navs = tags(dom, "nav");
        assert!(navs.iter().any(|t| attr(t, "aria-label") == Some("Breadcrumb")), "{navs:?}");
        assert_eq!(tags(dom, "main").len(), 1, "{dom}");
        let crumb_list = between(dom, "aria-label=\"Breadcrumb\">", "</nav>");
        assert_eq!(crumb_list.matches("<li>").count(), 3, "{crumb_list}");
        assert!(crumb_list.contains("Acme &lt;Docs&gt;"), "{crumb_list}");
        assert_eq!(tags(dom, "table").len(), 1);
        assert_eq!(tags(dom, "caption").len(), 1);
        let headers = tags(dom, "th");
        assert_eq!(headers.iter().filter(|t| attr(t, "scope") == Some("col")).count(), 5, "{headers:?}");
        assert_eq!(headers.iter().filter(|t| attr(t, "aria-sort").is_some()).count(), 1);
        let images = tags(dom, "img");
        assert_eq!(images.len(), 7, "{images:?}");
        for img in &images {
            assert!(attr(img, "alt").is_some_and(|a| !a.trim().is_empty()), "{img}");
            assert_eq!(attr(img, "loading"), Some("lazy"), "{img}");
        }
        let alts: Vec<&str> = images.iter().filter_map(|t| attr(t, "alt")).collect();
        assert_eq!(alts, ["folder", "folder", "TXT", "PDF", "XLSX", "PNG", "TXT"]);
        assert!(between(dom, "<style>", "</style>").contains(":focus-visible"));
        assert!(dom.contains("&lt;b&gt;\"quoted\" &amp; 'odd'.txt"), "{dom}");
        assert_eq!(tags(dom, "b").len(), 0, "a name became markup: {dom}");
        assert_eq!(tags(dom, "a").iter().filter(|t| attr(t, "download").is_some()).count(), 5);

        // Every thumbnail on the page loaded: one 200 each in the journal.
        let wanted: Vec<String> =
            images.iter().map(|t| link_param(&unescape(attr(t, "src").unwrap()), "id").unwrap()).collect();
        let loaded = |records: &[serde_json::Value], id: &str| {
            records[before..]
                .iter()
                .filter(|r| r["endpoint"] == "thumbnail" && r["id"] == id && r["status"] == 200)
                .count()
        };
        let complete = poll(|| {
            let records = s.journal();
            wanted.iter().all(|id| loaded(&records, id) >= 1).then_some(records)
        });
        let records = s.journal();
        let answers: Vec<String> = records[before..]
            .iter()
            .filter(|r| r["endpoint"] == "thumbnail" || r["error"].as_str().is_some_and(|e| e.contains("/thumbnail")))
            .map(|r| format!("{} {} {} {}", r["endpoint"], r["id"], r["status"], r["error"]))
            .collect();
        let records = complete.unwrap_or_else(|| {
            panic!(
                "{label}: not every thumbnail loaded: {} wanted; the journal's thumbnail answers: {answers:#?}",
                wanted.len()
            )
        });
        for id in &wanted {
            assert_eq!(loaded(&records, id), 1, "{label}: thumbnail {id} loaded more than once: {answers:#?}");
        }

        // What the reader sees, kept.
        let shot = out.join(format!("{label}.png"));
        let _ = fs::remove_file(&shot);
        let run = browse(&chromium, &link, size, Some(&shot));
        assert!(run.console().is_empty(), "{label}: console messages:\n{}", run.console().join("\n"));
        assert_eq!(png_size(&shot), size, "{label}");
        say(&format!("folder page screenshot ({label}, {}×{}): {}", size.0, size.1, shot.display()));
    }
}
