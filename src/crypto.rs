//! Hashing, link signing, random secrets and constant-time comparison: the
//! few places where a mistake is a security hole, kept together.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    // A table, not `write!` per byte: every item's two signed links pass here.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// A running SHA-256 over streamed bytes.
#[derive(Default)]
pub struct Sha256Hasher(Sha256);

impl Sha256Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish_hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// So that `io::copy` can hash a file.
impl std::io::Write for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 of `bytes` in standard base64 with padding: how a
/// Content-Security-Policy names an inline stylesheet it allows.
pub fn sha256_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// `n` random bytes from the OS as hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the OS random source failed");
    hex(&buf)
}

/// Equal in time independent of where the inputs differ. Lengths may leak,
/// which is fine for keys of a fixed format.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A signature's length in bytes (HMAC-SHA256); in hex, twice that.
pub const SIGNATURE_BYTES: usize = 32;

/// HMAC-SHA256 signatures for links that browsers open without a key.
#[derive(Clone)]
pub struct Signer {
    /// Keyed once: a listing signs two links per item, and setting up the
    /// key costs about as much hashing as signing a short link.
    keyed: Hmac<Sha256>,
}

impl Signer {
    pub fn new(secret: &[u8]) -> Signer {
        Signer { keyed: <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length") }
    }

    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        #[cfg(test)]
        MACS.with(|n| n.set(n.get() + 1));
        let mut mac = self.keyed.clone();
        for p in parts {
            // Length-prefixed so that ("ab","c") and ("a","bc") differ.
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p.as_bytes());
        }
        mac
    }

    /// Hex signature over the parts.
    pub fn sign(&self, parts: &[&str]) -> String {
        hex(&self.mac(parts).finalize().into_bytes())
    }

    /// Checks a hex signature in constant time. Only the spelling [`Signer::sign`]
    /// writes is accepted, lower-case hex of the exact length, and that is
    /// judged before any hashing: a malformed signature costs no HMAC, and
    /// no link has a second spelling.
    pub fn verify(&self, parts: &[&str], sig_hex: &str) -> bool {
        let Some(sig) = unhex_signature(sig_hex) else {
            return false;
        };
        self.mac(parts).verify_slice(&sig).is_ok()
    }
}

/// The bytes of a signature written as [`hex`] writes it; `None` for any
/// other spelling (upper case, a sign, spaces, another length).
fn unhex_signature(s: &str) -> Option<[u8; SIGNATURE_BYTES]> {
    fn nibble(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    if s.len() != 2 * SIGNATURE_BYTES {
        return None;
    }
    let mut out = [0u8; SIGNATURE_BYTES];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
thread_local! {
    /// HMACs computed on this thread, so that a test can see that a
    /// malformed link is refused before any.
    static MACS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// HMACs computed so far on this thread (tests only).
#[cfg(test)]
pub(crate) fn macs_computed() -> u64 {
    MACS.with(std::cell::Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn sha256_of_abc() {
        let mut h = Sha256Hasher::default();
        std::io::copy(&mut &b"abc"[..], &mut h).unwrap();
        assert_eq!(h.finish_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn sha256_in_base64_as_csp_hashes_are_written() {
        // Known digests (FIPS 180-2), in the spelling browsers print.
        assert_eq!(sha256_base64(b""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert_eq!(sha256_base64(b"abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        // What Chromium asked for when it refused `<style>body{color:red}</style>`.
        assert_eq!(sha256_base64(b"body{color:red}"), "FcQqt3aNlV7AZnGV4zkQRVeCeJOxbMPnQSx258L803E=");
    }

    #[test]
    fn signatures_bind_every_part() {
        let s = Signer::new(b"secret");
        let sig = s.sign(&["view", "abc", "100"]);
        assert!(s.verify(&["view", "abc", "100"], &sig));
        assert!(!s.verify(&["view", "abc", "101"], &sig));
        assert!(!s.verify(&["download", "abc", "100"], &sig));
        assert!(!s.verify(&["view", "ab", "c100"], &sig));
        assert!(!Signer::new(b"other").verify(&["view", "abc", "100"], &sig));
        assert!(!s.verify(&["view", "abc", "100"], "zz"));
        assert!(!s.verify(&["view", "abc", "100"], ""));
    }

    #[test]
    fn only_the_signed_spelling_is_accepted_and_judged_before_any_hmac() {
        let s = Signer::new(b"secret");
        let sig = s.sign(&["view", "abc", "100"]);
        assert_eq!(sig.len(), 2 * SIGNATURE_BYTES);
        let upper = sig.to_ascii_uppercase();
        let letter = sig.find(|c: char| c.is_ascii_lowercase()).unwrap();
        let mixed = format!("{}{}{}", &sig[..letter], sig[letter..=letter].to_ascii_uppercase(), &sig[letter + 1..]);
        // `u8::from_str_radix` would take "+a" for a byte: no such shortcut here.
        let plus = format!("+{}", &sig[1..]);
        let spelled_otherwise = [
            upper.as_str(),
            &mixed,
            &plus,
            &format!(" {}", &sig[1..]),
            &format!("{sig} "),
            &format!("{sig}00"),
            &sig[..sig.len() - 2],
            &sig[..sig.len() - 1],
            "",
            "zz",
            &"g".repeat(2 * SIGNATURE_BYTES),
        ];
        for other in spelled_otherwise {
            let before = macs_computed();
            assert!(!s.verify(&["view", "abc", "100"], other), "{other:?}");
            assert_eq!(macs_computed(), before, "{other:?} was refused before any HMAC");
        }
        let before = macs_computed();
        assert!(s.verify(&["view", "abc", "100"], &sig));
        assert_eq!(macs_computed(), before + 1);
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"key", b"key"));
        assert!(!ct_eq(b"key", b"kez"));
        assert!(!ct_eq(b"key", b"keys"));
        assert_eq!(random_hex(16).len(), 32);
    }
}
