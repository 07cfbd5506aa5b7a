//! The page a folder's `viewLink` opens in a browser: a breadcrumb back up
//! the tree, the folder's items in a table sortable by name, size and date
//! (folders first), a thumbnail or icon and a download button beside each,
//! [`PER_PAGE`] items a page.
//!
//! What keeps it safe to open from anywhere: no script at all; one inline
//! stylesheet, allowed by its hash and nothing else ([`csp`]); every name
//! escaped; every link on it signed, expiring no later than the page's own
//! link (an old link never mints younger ones). `sort`, `order`, `page` and
//! a thumbnail's `size` stay outside the signature: they choose how to show
//! what the link already grants.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::SystemTime;

use super::errors::HttpError;
use super::links::Links;
use super::request::Params;
use super::response::{Reply, html_escape};
use super::{App, Call};
use crate::store::{Column, Item, Kind, Page, ROOT_ID, Sort};

/// Items on one page: a screenful or two on a desktop, light on a phone.
pub const PER_PAGE: usize = 100;

/// The thumbnails' size in pixels: shown at 32 CSS pixels, sharp on
/// screens of two device pixels to one.
pub const THUMBNAIL_SIZE: u32 = 64;

/// What a folder page shows of its folder: the order, and which page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub sort: Sort,
    /// From 1.
    pub page: usize,
}

impl Default for View {
    fn default() -> View {
        View { sort: Sort::default(), page: 1 }
    }
}

impl View {
    /// `sort`, `order` and `page`, each optional. A value the page never
    /// writes is a 400 that says which values are right: a link that was
    /// edited by hand should not quietly show something else.
    pub fn from_params(params: &Params) -> Result<View, HttpError> {
        let given = |name: &str| params.get(name).map(str::trim).filter(|v| !v.is_empty());
        let by = match given("sort") {
            None => Column::Name,
            Some(v) => Column::parse(v)
                .ok_or_else(|| HttpError::BadRequest("invalid sort: use name, size or modified".into()))?,
        };
        let descending = match given("order") {
            None => first_descending(by),
            Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(HttpError::BadRequest("invalid order: use asc or desc".into())),
        };
        let page = match given("page") {
            None => 1,
            Some(v) => v
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| v.parse::<usize>().ok())
                .flatten()
                .filter(|&n| n >= 1)
                .ok_or_else(|| HttpError::BadRequest("invalid page: a whole number from 1".into()))?,
        };
        Ok(View { sort: Sort { by, descending }, page })
    }

    /// What a link to this view adds to the folder's signed link: nothing
    /// for the first page in name order.
    fn query(self) -> String {
        let mut q = String::new();
        if self.sort != Sort::default() {
            let order = if self.sort.descending { "desc" } else { "asc" };
            let _ = write!(q, "&sort={}&order={order}", self.sort.by.as_str());
        }
        if self.page > 1 {
            let _ = write!(q, "&page={}", self.page);
        }
        q
    }

    /// The window of the listing this page shows.
    fn window(self) -> Page {
        Page { offset: (self.page - 1).saturating_mul(PER_PAGE), max: Some(PER_PAGE) }
    }
}

/// The direction a column sorts in when its header is first clicked: names
/// A to Z, the largest and the newest first.
fn first_descending(by: Column) -> bool {
    by != Column::Name
}

/// The page of folder `folder` for `call`.
pub fn reply(app: &App, call: &Call, folder: &Item) -> Result<Reply, HttpError> {
    let mut view = View::from_params(&call.params)?;
    let (mut items, mut total) = app.store.list_sorted(&folder.id, view.sort, view.window())?;
    // A page past the end (the folder shrank since the link was made) shows
    // the last page instead of nothing.
    let last = total.div_ceil(PER_PAGE).max(1);
    if view.page > last {
        view.page = last;
        (items, total) = app.store.list_sorted(&folder.id, view.sort, view.window())?;
    }
    let ancestors = app.store.ancestors(&folder.id)?;
    let listing = Listing { publisher: &app.cfg.publisher, folder, ancestors: &ancestors, items: &items, total, view };
    let until = call.link_expires.unwrap_or(u64::MAX);
    Ok(Reply::Html { body: render(&listing, &app.links, until), csp: csp(&app.links) })
}

/// The page's stylesheet, inline (one request fewer, and nothing to serve)
/// and allowed by its hash alone. Colours meet WCAG AA contrast (4.5:1 for
/// text, 3:1 for the buttons' edges) in both schemes; below 40em the table's rows become two lines, the
/// name over its size and date.
pub const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--head:#f6f8fa;--hover:#f6f8fa;--link:#0550ae;--focus:#0969da;--button:#f6f8fa;--button-line:#818b98}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--head:#151b23;--hover:#151b23;--link:#58a6ff;--focus:#79c0ff;--button:#212830;--button-line:#656c76}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header,main,footer{max-width:72rem;margin:0 auto;padding:0 1rem}
a{color:var(--link);text-underline-offset:.15em}
a:focus-visible{outline:3px solid var(--focus);outline-offset:2px;border-radius:3px}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.crumbs ol{display:flex;flex-wrap:wrap;gap:.25rem .5rem;list-style:none;margin:0;padding:1rem 0 0}
.crumbs li{overflow-wrap:anywhere}
.crumbs li+li::before{content:"/";content:"/"/"";color:var(--muted);margin-right:.5rem}
.crumbs [aria-current]{color:var(--fg);text-decoration:none}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse}
caption{text-align:left;color:var(--muted);padding:0 0 .5rem}
th,td{padding:.375rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
thead th{background:var(--head);font-weight:600;white-space:nowrap}
thead a{color:var(--fg)}
thead [aria-sort] a{color:var(--link)}
tbody th{font-weight:400;width:100%;overflow-wrap:anywhere}
tbody tr:hover{background:var(--hover)}
.icon{width:3rem;padding-right:0}
.icon img{display:block;width:32px;height:32px;object-fit:contain;border-radius:4px;overflow:hidden;font-size:.625rem;color:var(--muted)}
.size,.modified{white-space:nowrap;color:var(--muted);font-variant-numeric:tabular-nums}
td.size{text-align:right}
.button{display:inline-block;padding:.25rem .75rem;border:1px solid var(--button-line);border-radius:6px;background:var(--button);color:var(--fg);text-decoration:none;white-space:nowrap}
.button:hover{border-color:var(--fg)}
.pages{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;margin:1rem 0}
.pages .here{color:var(--muted)}
footer{color:var(--muted);font-size:.875rem;padding-top:1rem;padding-bottom:2rem}
@media (max-width:40em){
thead tr{display:flex;flex-wrap:wrap;gap:0 1.25rem;background:var(--head);padding:.25rem .5rem}
thead th{background:none;border:0;padding:.25rem 0}
thead .icon,thead .actions{display:none}
tbody tr{display:grid;grid-template-columns:2.75rem auto 1fr auto;grid-template-areas:"icon name name actions" "icon size modified actions";padding:.5rem 0;border-bottom:1px solid var(--line)}
tbody th,tbody td{border:0;padding:0;width:auto}
tbody .icon{grid-area:icon;align-self:center}
tbody th{grid-area:name}
td.size{grid-area:size;text-align:left;font-size:.875rem;padding-right:.5rem}
td.size:empty{padding:0}
td.modified{grid-area:modified;font-size:.875rem}
td.actions{grid-area:actions;align-self:center;padding-left:.5rem}
}
"#;

/// `'sha256-…'`: the one inline stylesheet the policy allows, [`CSS`].
static STYLE_HASH: LazyLock<String> =
    LazyLock::new(|| format!("'sha256-{}'", crate::crypto::sha256_base64(CSS.as_bytes())));

/// The page's Content-Security-Policy: nothing but its own stylesheet and
/// the thumbnails, no script, no form, no `<base>`, no framing (a page of
/// signed links must not be clicked through someone else's).
pub fn csp(links: &Links) -> String {
    let images = links.csp_origin().map_or_else(|| "'self'".to_string(), |origin| format!("{origin} 'self'"));
    format!(
        "default-src 'none'; img-src {images}; style-src {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        *STYLE_HASH
    )
}

/// What one page shows.
struct Listing<'a> {
    publisher: &'a str,
    folder: &'a Item,
    /// From the root down to the folder's parent.
    ancestors: &'a [Item],
    /// This page's items.
    items: &'a [Item],
    /// Items in the folder.
    total: usize,
    view: View,
}

/// The page's HTML. Every link is made here, signed to expire by `until`.
fn render(l: &Listing, links: &Links, until: u64) -> String {
    let name = |item: &Item| if item.id == ROOT_ID { l.publisher.to_string() } else { item.title.clone() };
    let here = links.make_until("view", &l.folder.id, until);
    let title = name(l.folder);
    let mut out = String::with_capacity(4096 + l.items.len() * 1200);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\n\
         <meta name=color-scheme content=\"light dark\">\n\
         <meta name=referrer content=no-referrer>\n<title>{}</title>\n<link rel=icon href=\"{}\">\n<style>{CSS}</style>\n</head>\n<body>\n",
        html_escape(&page_title(&title, l.publisher)),
        html_escape(&thumbnail(links, &l.folder.id, until)),
    );

    // The breadcrumb: every folder from the root down, then this one.
    out.push_str("<header>\n<nav class=crumbs aria-label=\"Breadcrumb\">\n<ol>\n");
    for a in l.ancestors {
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            html_escape(&links.make_until("view", &a.id, until)),
            html_escape(&name(a))
        );
    }
    let _ = write!(
        out,
        "<li><a href=\"{}\" aria-current=page>{}</a></li>\n</ol>\n</nav>\n</header>\n",
        html_escape(&here),
        html_escape(&title)
    );

    let _ = write!(out, "<main>\n<h1>{}</h1>\n<table>\n<caption>{}</caption>\n", html_escape(&title), caption(l));
    table_head(&mut out, l.view.sort, &here);
    for item in l.items {
        row(&mut out, item, links, until);
    }
    out.push_str("</tbody>\n</table>\n");
    pages_nav(&mut out, l, &here);
    out.push_str("</main>\n");

    let (stamp, shown) = timestamp(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(links.expiry_until(until)));
    let _ = write!(
        out,
        "<footer>\n<p>The links on this page work until <time datetime=\"{stamp}\">{shown}</time> UTC.</p>\n</footer>\n</body>\n</html>\n"
    );
    out
}

/// A signed link to the thumbnail of `id`, its size outside the signature.
fn thumbnail(links: &Links, id: &str, until: u64) -> String {
    format!("{}&size={THUMBNAIL_SIZE}", links.make_until("thumbnail", id, until))
}

/// The header row: a sort link per column; the sorted one says so.
fn table_head(out: &mut String, sort: Sort, here: &str) {
    out.push_str("<thead>\n<tr><th scope=col class=icon><span class=vh>Type</span></th>");
    for (by, label) in [(Column::Name, "Name"), (Column::Size, "Size"), (Column::Modified, "Modified (UTC)")] {
        let sorted = sort.by == by;
        let descending = if sorted { !sort.descending } else { first_descending(by) };
        // `sort` and `order` always, so that a click on Name in name order turns it round.
        let href = format!("{here}&sort={}&order={}", by.as_str(), if descending { "desc" } else { "asc" });
        let (aria, arrow) = match (sorted, sort.descending) {
            (false, _) => ("", ""),
            (true, false) => (" aria-sort=ascending", " ▲"),
            (true, true) => (" aria-sort=descending", " ▼"),
        };
        let _ = write!(
            out,
            "<th scope=col class={}{aria}><a href=\"{}\">{label}<span aria-hidden=true>{arrow}</span></a></th>",
            by.as_str(),
            html_escape(&href)
        );
    }
    out.push_str("<th scope=col class=actions><span class=vh>Download</span></th></tr>\n</thead>\n<tbody>\n");
}

/// One item's row: its thumbnail, its name (which opens it), its size and
/// date, and a download button for a file.
fn row(out: &mut String, item: &Item, links: &Links, until: u64) {
    let _ = write!(
        out,
        "<tr><td class=icon><img src=\"{}\" alt=\"{}\" width=32 height=32 loading=lazy></td>\
         <th scope=row><a href=\"{}\">{}</a></th>",
        html_escape(&thumbnail(links, &item.id, until)),
        html_escape(&kind_label(item)),
        html_escape(&links.make_until("view", &item.id, until)),
        html_escape(&item.title)
    );
    match item.size {
        Some(bytes) if item.kind == Kind::File => {
            let _ = write!(out, "<td class=size><data value={bytes}>{}</data></td>", human_size(bytes));
        }
        _ => out.push_str("<td class=size></td>"),
    }
    let (stamp, shown) = timestamp(item.modified);
    let _ = write!(out, "<td class=modified><time datetime=\"{stamp}\">{shown}</time></td>");
    if item.kind == Kind::File {
        let _ = writeln!(
            out,
            "<td class=actions><a class=button href=\"{}\" download>Download<span class=vh> {}</span></a></td></tr>",
            html_escape(&links.make_until("download", &item.id, until)),
            html_escape(&item.title)
        );
    } else {
        out.push_str("<td class=actions></td></tr>\n");
    }
}

/// `Folder — Publisher`, or the publisher alone for the root.
fn page_title(title: &str, publisher: &str) -> String {
    if title == publisher { title.to_string() } else { format!("{title} — {publisher}") }
}

/// What the table holds: which items of how many, in which order.
fn caption(l: &Listing) -> String {
    if l.total == 0 {
        return "This folder is empty.".into();
    }
    let first = (l.view.page - 1) * PER_PAGE + 1;
    let last = (first + l.items.len()).saturating_sub(1).max(first);
    let which = if l.total == 1 {
        "1 item".to_string()
    } else if first == 1 && last == l.total {
        format!("{} items", grouped(l.total))
    } else {
        format!("Items {}–{} of {}", grouped(first), grouped(last), grouped(l.total))
    };
    let order = match (l.view.sort.by, l.view.sort.descending) {
        (Column::Name, false) => "by name, A to Z",
        (Column::Name, true) => "by name, Z to A",
        (Column::Size, false) => "by size, smallest first",
        (Column::Size, true) => "by size, largest first",
        (Column::Modified, false) => "by date, oldest first",
        (Column::Modified, true) => "by date, newest first",
    };
    format!("{which}, folders first, {order}")
}

/// Previous and next (and first and last, further away), and where this
/// page is; nothing for a folder that fits one page.
fn pages_nav(out: &mut String, l: &Listing, here: &str) {
    let pages = l.total.div_ceil(PER_PAGE);
    if pages <= 1 {
        return;
    }
    let page = l.view.page;
    let link = |n: usize, rel: &str, text: &str| {
        let href = format!("{here}{}", View { page: n, ..l.view }.query());
        format!("<a href=\"{}\"{rel}>{text}</a>", html_escape(&href))
    };
    out.push_str("<nav class=pages aria-label=\"Pages\">\n");
    if page > 2 {
        out.push_str(&link(1, "", "« First"));
    }
    if page > 1 {
        out.push_str(&link(page - 1, " rel=prev", "‹ Previous"));
    }
    let first = (page - 1) * PER_PAGE + 1;
    let last = (first + l.items.len()).saturating_sub(1).max(first);
    let _ = write!(
        out,
        "<span class=here>Page {} of {}: items {}–{} of {}</span>",
        grouped(page),
        grouped(pages),
        grouped(first),
        grouped(last),
        grouped(l.total)
    );
    if page < pages {
        out.push_str(&link(page + 1, " rel=next", "Next ›"));
    }
    if page + 1 < pages {
        out.push_str(&link(pages, "", "Last »"));
    }
    out.push_str("\n</nav>\n");
}

/// What an item is, for its thumbnail's `alt`: `folder`, the extension
/// in capitals (`PDF`), or `file`.
fn kind_label(item: &Item) -> String {
    if item.kind == Kind::Folder {
        return "folder".into();
    }
    match item.title.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty() && (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            ext.to_ascii_uppercase()
        }
        _ => "file".into(),
    }
}

/// A size as people read it: bytes, then kB, MB, GB, TB (powers of 1000),
/// with one decimal below 10.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    // Rounded as shown: 999.96 kB reads "1.0 MB", not "1000 kB".
    while unit + 1 < UNITS.len() && (if value < 10.0 { (value * 10.0).round() / 10.0 } else { value.round() }) >= 1000.0
    {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 { format!("{value:.1} {}", UNITS[unit]) } else { format!("{value:.0} {}", UNITS[unit]) }
}

/// A number with thousands apart: `12,345`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A time as `datetime` wants it, and as shown: `2025-01-02 13:04`, UTC
/// (a page without script cannot know the reader's zone).
fn timestamp(t: SystemTime) -> (String, String) {
    let stamp = humantime::format_rfc3339_seconds(t).to_string();
    let shown = stamp.get(..16).map_or_else(|| stamp.clone(), |s| s.replacen('T', " ", 1));
    (stamp, shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn links() -> Links {
        Links::new("http://127.0.0.1:8080".into(), b"s", Duration::from_secs(3600))
    }

    fn item(id: &str, title: &str, kind: Kind, size: u64) -> Item {
        Item {
            id: id.into(),
            title: title.into(),
            kind,
            size: (kind == Kind::File).then_some(size),
            modified: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            mime_type: None,
            read_only: false,
        }
    }

    fn page_of(folder: &Item, ancestors: &[Item], items: &[Item], total: usize, view: View) -> String {
        let l = Listing { publisher: "Ann's <docs>", folder, ancestors, items, total, view };
        render(&l, &links(), u64::MAX)
    }

    fn params(q: &str) -> Params {
        Params::from_query(q)
    }

    #[test]
    fn sort_order_and_page_are_parsed_or_refused_with_the_right_values() {
        assert_eq!(View::from_params(&params("id=x")).unwrap(), View::default());
        let v = View::from_params(&params("sort=size")).unwrap();
        assert_eq!(v.sort, Sort { by: Column::Size, descending: true }, "largest first, unless asked");
        let v = View::from_params(&params("sort=modified&order=asc&page=3")).unwrap();
        assert_eq!(v, View { sort: Sort { by: Column::Modified, descending: false }, page: 3 });
        assert_eq!(View::from_params(&params("order=desc")).unwrap().sort, Sort { by: Column::Name, descending: true });
        assert_eq!(View::from_params(&params("sort=&order=&page=")).unwrap(), View::default(), "empty is absent");
        for (q, says) in [
            ("sort=date", "invalid sort: use name, size or modified"),
            ("sort=NAME", "invalid sort"),
            ("order=up", "invalid order: use asc or desc"),
            ("page=0", "invalid page: a whole number from 1"),
            ("page=-1", "invalid page"),
            ("page=%2B2", "invalid page"),
            ("page=1.5", "invalid page"),
            ("page=99999999999999999999999", "invalid page"),
        ] {
            let e = View::from_params(&params(q)).unwrap_err();
            let (status, message) = e.status_and_message();
            assert_eq!(status, 400, "{q}");
            assert!(message.starts_with(says), "{q}: {message}");
        }
        // A huge page is a window past the end, never an overflow.
        let v = View { page: usize::MAX, ..View::default() };
        assert_eq!(v.window().offset, usize::MAX);
    }

    #[test]
    fn links_to_a_view_keep_its_order() {
        assert_eq!(View::default().query(), "");
        assert_eq!(View { page: 2, ..View::default() }.query(), "&page=2");
        let v = View { sort: Sort { by: Column::Size, descending: false }, page: 3 };
        assert_eq!(v.query(), "&sort=size&order=asc&page=3");
    }

    #[test]
    fn the_policy_allows_exactly_this_stylesheet() {
        let expected = format!("'sha256-{}'", crate::crypto::sha256_base64(CSS.as_bytes()));
        let policy = csp(&links());
        assert_eq!(
            policy,
            format!(
                "default-src 'none'; img-src http://127.0.0.1:8080 'self'; style-src {expected}; base-uri 'none'; \
                 form-action 'none'; frame-ancestors 'none'"
            )
        );
        // The page's one stylesheet is exactly the hashed text.
        let page = page_of(&item(ROOT_ID, "", Kind::Folder, 0), &[], &[], 0, View::default());
        let styles: Vec<&str> = page.split("<style>").skip(1).map(|s| s.split("</style>").next().unwrap()).collect();
        assert_eq!(styles, [CSS]);
        assert!(!page.contains("style=") && !page.contains("<script"), "no inline style attribute, no script");
        assert!(CSS.contains(":focus-visible") && CSS.contains("prefers-color-scheme:dark"));
        // Where the links' origin cannot be a source, `'self'` alone.
        let v6 = Links::new("http://[::1]:8080".into(), b"s", Duration::from_secs(1));
        assert!(csp(&v6).contains("img-src 'self';"), "{}", csp(&v6));
    }

    #[test]
    fn the_page_has_landmarks_a_breadcrumb_and_a_table_with_headers() {
        let root = item(ROOT_ID, "", Kind::Folder, 0);
        let a = item("aaaaaaaaaaaaaaaa", "Projects", Kind::Folder, 0);
        let folder = item("bbbbbbbbbbbbbbbb", "2025", Kind::Folder, 0);
        let items = [
            item("cccccccccccccccc", "Drafts", Kind::Folder, 0),
            item("dddddddddddddddd", "plan.pdf", Kind::File, 1_234_567),
        ];
        let page = page_of(&folder, &[root, a], &items, 2, View::default());
        for needle in [
            "<html lang=en>",
            "<meta name=viewport content=\"width=device-width, initial-scale=1\">",
            "<title>2025 — Ann&#39;s &lt;docs&gt;</title>",
            "<nav class=crumbs aria-label=\"Breadcrumb\">",
            ">Ann&#39;s &lt;docs&gt;</a></li>",
            ">Projects</a></li>",
            "aria-current=page>2025</a>",
            "<main>",
            "<h1>2025</h1>",
            "<caption>2 items, folders first, by name, A to Z</caption>",
            "<th scope=col class=name aria-sort=ascending>",
            "<th scope=col class=size>",
            "<th scope=col class=modified>",
            "alt=\"folder\" width=32 height=32 loading=lazy>",
            "alt=\"PDF\" width=32 height=32 loading=lazy>",
            "<data value=1234567>1.2 MB</data>",
            "<time datetime=\"2023-11-14T22:13:20Z\">2023-11-14 22:13</time>",
            " download>Download<span class=vh> plan.pdf</span></a>",
        ] {
            assert!(page.contains(needle), "{needle:?} is missing from:\n{page}");
        }
        // The breadcrumb goes root, parent, this folder; one download, for the file.
        let crumbs = page.split("<ol>").nth(1).unwrap().split("</ol>").next().unwrap();
        assert_eq!(crumbs.matches("<li>").count(), 3, "{crumbs}");
        assert!(crumbs.find("Ann&#39;s").unwrap() < crumbs.find("Projects").unwrap());
        assert_eq!(page.matches("/download?").count(), 1);
        assert_eq!(page.matches("<img ").count(), 2);
        // Sorting by name again turns it round; other columns start largest, newest.
        assert!(page.contains("&amp;sort=name&amp;order=desc\">Name<span aria-hidden=true> ▲</span>"), "{page}");
        assert!(page.contains("&amp;sort=size&amp;order=desc\">Size<"), "{page}");
        assert!(page.contains("&amp;sort=modified&amp;order=desc\">Modified (UTC)<"), "{page}");
        assert!(!page.contains("class=pages"), "one page: no page links");
    }

    #[test]
    fn every_link_is_signed_and_expires_with_the_page() {
        let links = links();
        let until = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 90;
        let folder = item("bbbbbbbbbbbbbbbb", "F", Kind::Folder, 0);
        let items: Vec<Item> = (0..PER_PAGE)
            .map(|i| item(&format!("{i:016x}"), &format!("f{i}.txt"), if i < 3 { Kind::Folder } else { Kind::File }, 9))
            .collect();
        let view = View { page: 2, ..View::default() };
        let l = Listing {
            publisher: "p",
            folder: &folder,
            ancestors: &[item(ROOT_ID, "", Kind::Folder, 0)],
            items: &items,
            total: 250,
            view,
        };
        let page = render(&l, &links, until);
        let urls: Vec<String> =
            page.split(['"']).filter(|s| s.starts_with("http")).map(|s| s.replace("&amp;", "&")).collect();
        // Breadcrumb 2, sort 3, icon 1; per item an open link and a
        // thumbnail, per file a download; pages: first, previous, next, last… here 3.
        assert_eq!(urls.len(), 2 + 3 + 1 + 2 * PER_PAGE + (PER_PAGE - 3) + 2, "{urls:#?}");
        for url in &urls {
            let (path, query) = url.split_once('?').unwrap();
            let endpoint = path.rsplit('/').next().unwrap();
            let p = Params::from_query(query);
            let expires = links.verify(endpoint, &p).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(expires <= until, "{url}");
        }
        assert!(page.contains("rel=prev>‹ Previous</a>") && page.contains("rel=next>Next ›</a>"), "{page}");
        assert!(page.contains("Page 2 of 3: items 101–200 of 250"), "{page}");
        assert!(page.contains("<caption>Items 101–200 of 250, folders first, by name, A to Z</caption>"));
        assert_eq!(urls.iter().filter(|u| u.contains("&page=3")).count(), 1);
        assert_eq!(urls.iter().filter(|u| u.ends_with("&size=64")).count(), PER_PAGE + 1);
    }

    #[test]
    fn hostile_names_are_text() {
        let hostile = [
            "<script>alert(1)</script>.pdf",
            "\"><img src=x onerror=alert(1)>",
            "' onmouseover='alert(1)",
            "a&amp;b",
            "not \u{FFFD} UTF-8",
        ];
        let items: Vec<Item> =
            hostile.iter().enumerate().map(|(i, t)| item(&format!("{i:016x}"), t, Kind::File, 1)).collect();
        let folder = item("bbbbbbbbbbbbbbbb", "</title><script>x</script>", Kind::Folder, 0);
        let page = page_of(&folder, &[item(ROOT_ID, "", Kind::Folder, 0)], &items, items.len(), View::default());
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(!page.contains("' onmouseover"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.pdf"), "{page}");
        assert!(page.contains("a&amp;amp;b"));
        assert!(page.contains("not \u{FFFD} UTF-8"));
        assert!(page.contains("<title>&lt;/title&gt;&lt;script&gt;x&lt;/script&gt; — Ann&#39;s &lt;docs&gt;</title>"));
        // Every attribute value is quoted or a fixed word: none ends early.
        for (i, _) in hostile.iter().enumerate() {
            assert!(page.contains(&format!("id={i:016x}&amp;")), "{page}");
        }
    }

    #[test]
    fn sizes_dates_and_counts_read_well() {
        for (bytes, shown) in [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (1_234_567, "1.2 MB"),
            (12_345_678, "12 MB"),
            (999_960, "1.0 MB"),
            (999_499, "999 kB"),
            (u64::MAX, "18447 PB"),
        ] {
            assert_eq!(human_size(bytes), shown, "{bytes}");
        }
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(timestamp(UNIX_EPOCH).1, "1970-01-01 00:00");
        let label = |t: &str| kind_label(&item("0000000000000000", t, Kind::File, 0));
        assert_eq!(label("a.pdf"), "PDF");
        assert_eq!(label("archive.tar.gz"), "GZ");
        assert_eq!(label("README"), "file");
        assert_eq!(label(".bashrc"), "file");
        assert_eq!(label("x.<b>"), "file");
        assert_eq!(kind_label(&item("0000000000000000", "a.pdf", Kind::Folder, 0)), "folder");
    }

    #[test]
    fn an_empty_folder_says_so() {
        let page = page_of(&item(ROOT_ID, "", Kind::Folder, 0), &[], &[], 0, View::default());
        assert!(page.contains("<caption>This folder is empty.</caption>"), "{page}");
        assert!(page.contains("<title>Ann&#39;s &lt;docs&gt;</title>"), "{page}");
        assert!(page.contains("<h1>Ann&#39;s &lt;docs&gt;</h1>"), "the root is named after the publisher");
    }
}
