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

    /// Checks a hex signature in constant time.
    pub fn verify(&self, parts: &[&str], sig_hex: &str) -> bool {
        let Some(sig) = unhex(sig_hex) else {
            return false;
        };
        self.mac(parts).verify_slice(&sig).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
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
    fn constant_time_equality() {
        assert!(ct_eq(b"key", b"key"));
        assert!(!ct_eq(b"key", b"kez"));
        assert!(!ct_eq(b"key", b"keys"));
        assert_eq!(random_hex(16).len(), 32);
    }
}
