//! The browser path of a file (`download`, and `view` of a file): its
//! validators (`ETag`, `Last-Modified`), conditional requests
//! (`If-None-Match`, `If-Modified-Since` → 304) and single byte ranges
//! (`Range` → 206, 416 past the end, `If-Range`), as RFC 9110 has them.
//! Pure: the handler gives the request's headers and the file's identity,
//! and gets what to answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What identifies a version of a file's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validators {
    /// Strong: a digest of the inode, size and modification time in
    /// nanoseconds, so that any replacement or write changes it (and the
    /// server's inode numbers stay its own). Not the device, which differs
    /// between hosts mounting one share, and across a remount.
    pub etag: String,
    /// The modification time in whole seconds, when it is at least a
    /// second old and not in the future: a date a second write in the same
    /// second could not leave unchanged (RFC 9110, 8.8.2.2).
    pub modified: Option<SystemTime>,
}

impl Validators {
    pub fn of(meta: &std::fs::Metadata) -> Validators {
        use std::os::unix::fs::MetadataExt;
        let mtime_ns = crate::store::stat_nanos(meta.mtime(), meta.mtime_nsec());
        let mut digest = crate::crypto::Sha256Hasher::default();
        let identity = format!("{:x}-{:x}-{:x}", meta.ino(), meta.size(), mtime_ns);
        std::io::Write::write_all(&mut digest, identity.as_bytes()).expect("hashing never fails");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let exact = Duration::from_secs(meta.mtime().max(0) as u64) + Duration::from_nanos(meta.mtime_nsec() as u64);
        let settled = meta.mtime() >= 0 && exact + Duration::from_secs(1) <= now;
        let modified = settled.then(|| UNIX_EPOCH + Duration::from_secs(meta.mtime() as u64));
        Validators { etag: format!("\"{}\"", &digest.finish_hex()[..32]), modified }
    }

    /// `Last-Modified`, as HTTP spells a date, when there is one to give.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// The request headers that decide the answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Asked<'a> {
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub range: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

/// What to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// 200, the whole file.
    Whole,
    /// 206, bytes `start..=end` of `total`.
    Part { start: u64, end: u64 },
    /// 304: the client's copy is current.
    NotModified,
    /// 416: the range starts past the end.
    Unsatisfiable,
}

/// What to answer a GET or HEAD of a file of `size` bytes.
pub fn plan(asked: &Asked<'_>, v: &Validators, size: u64) -> Plan {
    // If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
    match asked.if_none_match {
        Some(list) if etag_listed(list, &v.etag) => return Plan::NotModified,
        Some(_) => {}
        // Only the very date given: an earlier one means changed, a later
        // one is some other clock's (a file put back with an older date,
        // or a client's guess).
        None => {
            if let (Some(since), Some(modified)) =
                (asked.if_modified_since.and_then(|d| httpdate::parse_http_date(d).ok()), v.modified)
                && since == modified
            {
                return Plan::NotModified;
            }
        }
    }
    // An empty file has no bytes to range over: the whole (empty) file.
    let Some(range) = asked.range.filter(|_| size > 0) else { return Plan::Whole };
    // A range of another version of the file is no range of this one. Only
    // a tag says which version strongly enough: a date gets the whole file.
    if let Some(cond) = asked.if_range
        && cond.trim() != v.etag
    {
        return Plan::Whole;
    }
    match parse_range(range, size) {
        Some(Ok((start, end))) => Plan::Part { start, end },
        Some(Err(())) => Plan::Unsatisfiable,
        None => Plan::Whole,
    }
}

/// Whether `etag` is in an `If-None-Match` list (weak comparison: `W/`
/// prefixes are ignored), or the list is `*`.
fn etag_listed(list: &str, etag: &str) -> bool {
    list.trim() == "*" || list.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag)
}

/// One `bytes=` range of a file of `size` bytes, as inclusive bounds.
/// `None`: a header to ignore (another unit, several ranges, a syntax
/// error: the whole file is then sent, as the RFC allows); `Err`: a range
/// that starts past the end (416).
pub fn parse_range(header: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    // Digits past u64 are as good as u64::MAX: a range past any file.
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX))
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => {
            let n = number(last)?;
            if n == 0 || size == 0 {
                return Some(Err(()));
            }
            Some(Ok((size.saturating_sub(n), size - 1)))
        }
        // `a-`: from a to the end.
        (false, true) => {
            let start = number(first)?;
            Some(if start < size { Ok((start, size - 1)) } else { Err(()) })
        }
        // `a-b`
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            if end < start {
                return None;
            }
            Some(if start < size { Ok((start, end.min(size - 1))) } else { Err(()) })
        }
        (true, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> Validators {
        Validators { etag: "\"1-2-3-4\"".into(), modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)) }
    }

    #[test]
    fn ranges_as_the_rfc_has_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-500", 100), Some(Ok((0, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-18446744073709551616", 100), Some(Ok((0, 99))));
        assert_eq!(parse_range("bytes=99999999999999999999-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-99999999999999999999", 100), Some(Ok((0, 99))));
        for ignored in ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=-", "bytes=+1-2", ""] {
            assert_eq!(parse_range(ignored, 100), None, "{ignored}");
        }
    }

    #[test]
    fn conditions() {
        let asked = |inm, ims, range, if_range| Asked { if_none_match: inm, if_modified_since: ims, range, if_range };
        let v = v();
        let date = v.last_modified().unwrap();
        assert_eq!(plan(&asked(Some("\"1-2-3-4\""), None, None, None), &v, 10), Plan::NotModified);
        assert_eq!(plan(&asked(Some("\"x\", W/\"1-2-3-4\""), None, None, None), &v, 10), Plan::NotModified);
        assert_eq!(plan(&asked(Some("*"), None, None, None), &v, 10), Plan::NotModified);
        assert_eq!(plan(&asked(Some("\"old\""), Some(&date), None, None), &v, 10), Plan::Whole);
        assert_eq!(plan(&asked(None, Some(&date), None, None), &v, 10), Plan::NotModified);
        let earlier = httpdate::fmt_http_date(v.modified.unwrap() - Duration::from_secs(1));
        assert_eq!(plan(&asked(None, Some(&earlier), None, None), &v, 10), Plan::Whole);
        // A later date is no proof: the file may have been put back older.
        let later = httpdate::fmt_http_date(v.modified.unwrap() + Duration::from_secs(3600));
        assert_eq!(plan(&asked(None, Some(&later), None, None), &v, 10), Plan::Whole);
        // No date to trust (changed less than a second ago): no 304 by date.
        let fresh = Validators { modified: None, ..v.clone() };
        assert_eq!(plan(&asked(None, Some(&date), None, None), &fresh, 10), Plan::Whole);
        // An empty file: any range gets the whole (empty) file.
        assert_eq!(plan(&asked(None, None, Some("bytes=0-"), None), &v, 0), Plan::Whole);
        assert_eq!(plan(&asked(None, None, Some("bytes=2-3"), None), &v, 10), Plan::Part { start: 2, end: 3 });
        assert_eq!(
            plan(&asked(None, None, Some("bytes=2-3"), Some("\"1-2-3-4\"")), &v, 10),
            Plan::Part { start: 2, end: 3 }
        );
        // A date in If-Range is too weak to join two versions' bytes.
        assert_eq!(plan(&asked(None, None, Some("bytes=2-3"), Some(&date)), &v, 10), Plan::Whole);
        assert_eq!(plan(&asked(None, None, Some("bytes=2-3"), Some("\"old\"")), &v, 10), Plan::Whole);
        assert_eq!(plan(&asked(None, None, Some("bytes=20-"), None), &v, 10), Plan::Unsatisfiable);
    }
}
