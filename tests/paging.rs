//! `max` and `offset` on `files` and `search`: every page is a window of
//! the whole listing, in its order (folders first, then names), so pages
//! never overlap or skip; long listings come whole and valid.

mod common;

use common::*;

/// A folder of files and folders whose names sort in interesting ways.
fn mixed(s: &TestServer, files: usize) -> String {
    let parent = s.mkdir("/", "mixed");
    let dir = s.root.join("mixed");
    for i in 0..files {
        let name = match i % 4 {
            0 => format!("Report {i:04}.txt"),
            1 => format!("report {i:04}.TXT"),
            2 => format!("été {i}.md"),
            _ => format!("b{i}"),
        };
        std::fs::write(dir.join(name), b"x").unwrap();
    }
    for name in ["Zeta", "alpha", "Beta"] {
        std::fs::create_dir(dir.join(name)).unwrap();
    }
    parent
}

fn ids(items: &[serde_json::Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

fn page(s: &TestServer, endpoint: &str, max: usize, offset: usize) -> Vec<serde_json::Value> {
    as_array(s.get_json(&format!("{endpoint}&max={max}&offset={offset}")))
}

#[test]
fn pages_are_windows_of_the_whole_listing() {
    let s = TestServer::start(&[]);
    let parent = mixed(&s, 600);
    let endpoint = format!("/files?parentId={}", enc(&parent));
    // Longer than what is answered from memory: written to a file first.
    let whole = as_array(s.get_json(&endpoint));
    assert_eq!(whole.len(), 603);
    // Folders first, then by name ignoring case.
    let kinds: Vec<&str> = whole.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(kinds[..3].iter().all(|k| *k == "folder") && kinds[3..].iter().all(|k| *k == "file"));
    assert_eq!(titles(&whole[..3]), ["alpha", "Beta", "Zeta"]);
    let lower: Vec<String> = titles(&whole[3..]).iter().map(|t| t.to_lowercase()).collect();
    assert!(lower.windows(2).all(|w| w[0] <= w[1]), "not sorted");

    for size in [1, 7, 100, 603, 1000] {
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let p = page(&s, &endpoint, size, offset);
            assert!(p.len() <= size);
            if p.is_empty() {
                break;
            }
            offset += p.len();
            paged.extend(p);
        }
        assert_eq!(ids(&paged), ids(&whole), "pages of {size}");
    }
    assert!(page(&s, &endpoint, 10, 5000).is_empty(), "past the end");
    assert!(page(&s, &endpoint, 0, 0).is_empty());
    // An offset alone skips; a max alone cuts.
    assert_eq!(ids(&as_array(s.get_json(&format!("{endpoint}&offset=600")))), ids(&whole[600..]));
    assert_eq!(ids(&as_array(s.get_json(&format!("{endpoint}&max=2")))), ids(&whole[..2]));
    for bad in ["max=-1", "max=x", "offset=1.5", "offset=%2B1"] {
        s.get(&format!("{endpoint}&{bad}")).assert_error(400, "error");
    }
}

#[test]
fn search_pages_in_the_same_order_and_stops_at_1000_unless_asked() {
    let s = TestServer::start(&[]);
    mixed(&s, 1500);
    // "report" matches the two report spellings: 750 files (once the index
    // has seen what was written by hand).
    wait_for("search to see every file", || s.search("report").len() == 750);
    let all = s.search("report");
    assert_eq!(all.len(), 750);
    let mut paged = Vec::new();
    for offset in (0..750).step_by(50) {
        paged.extend(page(&s, "/search?query=report", 50, offset));
    }
    assert_eq!(ids(&paged), ids(&all));
    // 1125 names hold a dot: a broad query stops at 1000, unless max asks
    // for more.
    let broad = as_array(s.get_json("/search?query=.")).len();
    assert_eq!(broad, 1000);
    let more = as_array(s.get_json("/search?query=.&max=5000")).len();
    assert_eq!(more, 1125);
}
