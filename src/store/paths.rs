//! Checks for everything path-shaped that comes from the network or from the
//! state log: ids, item names, relative paths. Nothing here touches the disk.

use super::{ROOT_ID, StoreError};
use crate::state_dir;

/// Length of the ids this store hands out (hex digits).
pub const ID_LEN: usize = 16;

/// An id is the root's `/` or exactly `ID_LEN` lowercase hex digits.
pub fn check_id(id: &str) -> Result<(), StoreError> {
    if id == ROOT_ID || (id.len() == ID_LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))) {
        Ok(())
    } else {
        Err(StoreError::BadId)
    }
}

/// A fresh random id.
pub fn new_id() -> String {
    let n = getrandom::u64().expect("the OS random source failed");
    format!("{n:016x}")
}

/// A name for a new file or folder, as given by a client.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::BadName("empty"));
    }
    if name.len() > 255 {
        return Err(StoreError::BadName("longer than 255 bytes"));
    }
    if name == "." || name == ".." {
        return Err(StoreError::BadName("'.' and '..' are not names"));
    }
    if name.contains(['/', '\\']) {
        return Err(StoreError::BadName("contains a path separator"));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::BadName("contains a control character"));
    }
    if name.chars().any(is_bidi_control) {
        // U+202E and its kin reorder what a browser shows: `gpj.exe` would
        // read as `exe.jpg`.
        return Err(StoreError::BadName("contains a bidirectional text control"));
    }
    if name == state_dir::NAME {
        return Err(StoreError::BadName("reserved"));
    }
    if name.trim() != name {
        return Err(StoreError::BadName("starts or ends with white space"));
    }
    Ok(())
}

/// The characters that change the direction of the text around them.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Splits a relative path from the state log into checked components.
/// `""` is the root. Refuses anything that could leave the root, and any
/// escape that [`encode`] would not have written.
pub fn components(rel: &str) -> Result<Vec<&str>, StoreError> {
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    rel.split('/')
        .map(|c| {
            let canonical = !c.contains('\0') || decode(c).is_some_and(|bytes| encode(&bytes) == c);
            // A backslash is a character like any other in a Unix name
            // (an old share's `a\\b.txt`); only `/` separates.
            if c.is_empty() || c == "." || c == ".." || !canonical { Err(StoreError::BadId) } else { Ok(c) }
        })
        .collect()
}

/// A name or path as the state log spells it: the disk's bytes where they
/// are UTF-8, and each byte of an invalid sequence as a NUL followed by two
/// lowercase hex digits. A file name never holds a NUL, so the form is
/// unambiguous, and the names of old SMB and NFS shares in Latin-1 and
/// other encodings survive the round trip.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\0{b:02x}"));
        }
    }
    out
}

/// The disk's bytes of a name or path that [`encode`] wrote; `None` for a
/// NUL that does not start an escape.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&b| b == 0) {
        out.extend_from_slice(&rest[..at]);
        let hex = std::str::from_utf8(rest.get(at + 1..at + 3)?).ok()?;
        if !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        out.push(u8::from_str_radix(hex, 16).ok()?);
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// Joins a parent relative path and a checked name.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}/{name}") }
}

/// The parent of a relative path (`""` for top-level items).
pub fn parent(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(p, _)| p)
}

/// The last component of a relative path.
pub fn file_name(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(_, n)| n)
}

/// True when `rel` is `base` or lies below it.
pub fn is_within(rel: &str, base: &str) -> bool {
    base.is_empty() || rel == base || (rel.starts_with(base) && rel.as_bytes().get(base.len()) == Some(&b'/'))
}

/// Candidate names for a file whose name is taken: `a.pdf`, `a (1).pdf`…
pub fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_string();
    }
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("/").is_ok());
        assert!(check_id(&new_id()).is_ok());
        for bad in
            ["", "..", "../etc", "0123456789ABCDEF", "0123456789abcde", "/etc/passwd", "0123456789abcdef0", "%2e%2e"]
        {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(check_name("report (final).pdf").is_ok());
        assert!(check_name("été.txt").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b", "a\r\nb", ".wfhook", " a", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for spoof in ["invoice\u{202E}fdp.exe", "a\u{2066}b", "a\u{2069}", "a\u{200F}b", "a\u{061C}b", "a\u{202A}"] {
            assert!(matches!(check_name(spoof), Err(StoreError::BadName(_))), "{spoof:?}");
        }
        // Other scripts and joiners are names like any other.
        assert!(check_name("\u{5d0}\u{5d1}.txt").is_ok() && check_name("a\u{200D}b").is_ok());
    }

    #[test]
    fn names_that_are_not_utf8_round_trip_through_one_canonical_form() {
        let latin1 = b"caf\xe9 \xff.txt";
        let text = encode(latin1);
        assert_eq!(text, "caf\0e9 \0ff.txt");
        assert_eq!(decode(&text).unwrap(), latin1);
        assert_eq!(encode("été.txt".as_bytes()), "été.txt");
        assert_eq!(decode("été.txt").unwrap(), "été.txt".as_bytes());
        assert_eq!(components(&format!("a/{text}")).unwrap(), ["a", text.as_str()]);
        // Only what `encode` writes: no escape of a valid byte, no upper
        // case, no bare NUL.
        for bad in ["\u{0}41", "\u{0}E9", "\u{0}e", "a\u{0}", "\u{0}zz"] {
            assert!(components(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn relative_paths() {
        assert_eq!(components("").unwrap(), Vec::<&str>::new());
        assert_eq!(components("a/b").unwrap(), ["a", "b"]);
        for bad in ["/a", "a//b", "a/../b", "..", "a/."] {
            assert!(components(bad).is_err(), "{bad}");
        }
        assert_eq!(components("a/back\\slash.txt").unwrap(), ["a", "back\\slash.txt"]);
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a", "b"), "a/b");
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(file_name("a/b"), "b");
        assert!(is_within("a/b", "a"));
        assert!(is_within("a", "a"));
        assert!(!is_within("ab", "a"));
        assert!(is_within("x", ""));
    }

    #[test]
    fn numbering() {
        assert_eq!(numbered("a.pdf", 0), "a.pdf");
        assert_eq!(numbered("a.pdf", 2), "a (2).pdf");
        assert_eq!(numbered("README", 1), "README (1)");
        assert_eq!(numbered(".profile", 1), ".profile (1)");
    }
}
