//! Signed `viewLink`/`downloadLink` URLs, which a browser opens without an
//! `apiKey`: an HMAC over the endpoint, the id and the expiry, with a secret
//! kept in the root so that every instance sharing it accepts the links.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::errors::HttpError;
use super::request::Params;
use crate::crypto::Signer;

pub struct Links {
    /// Public URL plus base path, without a trailing slash.
    prefix: String,
    signer: Signer,
    ttl: Duration,
}

impl Links {
    pub fn new(prefix: String, secret: &[u8], ttl: Duration) -> Links {
        Links { prefix, signer: Signer::new(secret), ttl }
    }

    /// A link to `endpoint` for `id`, valid for the configured time.
    pub fn make(&self, endpoint: &str, id: &str) -> String {
        self.make_until(endpoint, id, u64::MAX)
    }

    /// A link to `endpoint` for `id` that expires at `expires` (seconds since
    /// the epoch) or after the configured time, whichever comes first: the
    /// links on a page opened through a link die with it.
    pub fn make_until(&self, endpoint: &str, id: &str, expires: u64) -> String {
        let expires = self.expiry_until(expires).to_string();
        let sig = self.signer.sign(&[endpoint, id, &expires]);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .append_pair("expires", &expires)
            .append_pair("sig", &sig)
            .finish();
        format!("{}/{endpoint}?{query}", self.prefix)
    }

    /// When a link made now by [`Links::make_until`] with `expires` expires.
    pub fn expiry_until(&self, expires: u64) -> u64 {
        let longest = (SystemTime::now() + self.ttl).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        expires.min(longest)
    }

    /// The origin the links point to (`https://docs.example.com:8443`) as a
    /// Content-Security-Policy source; `None` when it cannot be spelled as
    /// one (an IPv6 address), where `'self'` has to do.
    pub fn csp_origin(&self) -> Option<&str> {
        let (scheme, rest) = self.prefix.split_once("://")?;
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let origin = &self.prefix[..scheme.len() + 3 + authority.len()];
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let scheme_ok = matches!(scheme, "http" | "https");
        (scheme_ok && host_ok && port_ok).then_some(origin)
    }

    /// Accepts a request to `endpoint` whose `sig` and `expires` are right,
    /// and answers when the link expires.
    pub fn verify(&self, endpoint: &str, params: &Params) -> Result<u64, HttpError> {
        let bad = HttpError::Forbidden("invalid or expired link");
        let (Some(id), Some(expires), Some(sig)) = (params.get("id"), params.get("expires"), params.get("sig")) else {
            return Err(bad);
        };
        // Judged before the signature, which costs an HMAC: only the
        // spelling `make` writes, and a time still to come.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        match canonical_expiry(expires) {
            Some(t) if t >= now && self.signer.verify(&[endpoint, id, expires], sig) => Ok(t),
            _ => Err(bad),
        }
    }
}

/// An expiry spelled as `make` spells it: decimal digits, without a sign,
/// spaces or leading zeros ("0" alone is zero). Any other spelling is `None`,
/// so that one signed link has one spelling.
fn canonical_expiry(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_of(link: &str) -> Params {
        Params::from_query(link.split_once('?').unwrap().1)
    }

    #[test]
    fn links_verify_only_as_signed() {
        let l = Links::new("http://h/api".into(), b"s", Duration::from_secs(60));
        let link = l.make("view", "0123456789abcdef");
        assert!(link.starts_with("http://h/api/view?id=0123456789abcdef&expires="));
        assert!(l.verify("view", &params_of(&link)).is_ok());
        assert!(l.verify("download", &params_of(&link)).is_err());
        let forged = link.replace("0123456789abcdef", "fedcba9876543210");
        assert!(l.verify("view", &params_of(&forged)).is_err());
        let other = Links::new("http://h/api".into(), b"t", Duration::from_secs(60));
        assert!(other.verify("view", &params_of(&link)).is_err());
    }

    #[test]
    fn expired_links_are_refused() {
        let l = Links::new(String::new(), b"s", Duration::ZERO);
        let link = l.make("view", "/");
        let p = params_of(&link);
        let expires: u64 = p.get("expires").unwrap().parse().unwrap();
        // Re-sign an expiry in the past: the signature is right, the time is not.
        let sig = l.signer.sign(&["view", "/", &(expires - 10).to_string()]);
        let past = Params::from_query(&format!("id=%2F&expires={}&sig={sig}", expires - 10));
        assert!(l.verify("view", &past).is_err());
    }

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn verify_answers_the_expiry_it_checked() {
        let l = Links::new(String::new(), b"s", Duration::from_secs(60));
        let p = params_of(&l.make("view", "i"));
        let expires: u64 = p.get("expires").unwrap().parse().unwrap();
        assert_eq!(l.verify("view", &p).unwrap(), expires);
    }

    #[test]
    fn only_the_canonical_expiry_is_accepted() {
        assert_eq!(canonical_expiry("0"), Some(0));
        assert_eq!(canonical_expiry("1700000000"), Some(1_700_000_000));
        assert_eq!(canonical_expiry("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "+1700000000", "-1", "01700000000", "00", " 1700000000", "1700000000 ", "17e8", "0x10", "١٢"]
        {
            assert_eq!(canonical_expiry(bad), None, "{bad:?}");
        }
        assert_eq!(canonical_expiry("18446744073709551616"), None, "past u64");
    }

    #[test]
    fn another_spelling_of_a_signed_link_is_refused_before_any_hmac() {
        let l = Links::new(String::new(), b"s", Duration::from_secs(60));
        let t = (now() + 3600).to_string();
        // Each is signed as spelled, so only its spelling can refuse it.
        for expires in [format!("+{t}"), format!("0{t}"), format!(" {t}"), format!("{t} ")] {
            let sig = l.signer.sign(&["view", "i", &expires]);
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("id", "i")
                .append_pair("expires", &expires)
                .append_pair("sig", &sig)
                .finish();
            let p = Params::from_query(&query);
            assert_eq!(p.get("expires"), Some(expires.as_str()));
            let before = crate::crypto::macs_computed();
            assert!(l.verify("view", &p).is_err(), "{expires:?}");
            assert_eq!(crate::crypto::macs_computed(), before, "{expires:?} cost an HMAC");
        }
        // A `+` in a query is a space once decoded; `%2B` is a plus: both refused.
        let sig = l.signer.sign(&["view", "i", &t]);
        for query in [format!("id=i&expires=+{t}&sig={sig}"), format!("id=i&expires=%2B{t}&sig={sig}")] {
            assert!(l.verify("view", &Params::from_query(&query)).is_err(), "{query}");
        }
        // The signature's spelling: upper case is the same bytes, and refused.
        let upper = sig.to_ascii_uppercase();
        assert_ne!(upper, sig);
        let before = crate::crypto::macs_computed();
        assert!(l.verify("view", &Params::from_query(&format!("id=i&expires={t}&sig={upper}"))).is_err());
        assert_eq!(crate::crypto::macs_computed(), before);
        // An expired link is refused before its HMAC too.
        let past = (now() - 10).to_string();
        let sig_past = l.signer.sign(&["view", "i", &past]);
        let before = crate::crypto::macs_computed();
        assert!(l.verify("view", &Params::from_query(&format!("id=i&expires={past}&sig={sig_past}"))).is_err());
        assert_eq!(crate::crypto::macs_computed(), before);
        // …while the canonical spelling passes.
        assert_eq!(
            l.verify("view", &Params::from_query(&format!("id=i&expires={t}&sig={sig}"))).unwrap().to_string(),
            t
        );
    }

    #[test]
    fn the_origin_of_the_links_is_a_csp_source_when_it_can_be() {
        let origin =
            |prefix: &str| Links::new(prefix.into(), b"s", Duration::from_secs(1)).csp_origin().map(str::to_string);
        assert_eq!(origin("http://127.0.0.1:8080").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("https://docs.example.com/api/v1").as_deref(), Some("https://docs.example.com"));
        assert_eq!(origin("https://docs-1.example.com:8443/x").as_deref(), Some("https://docs-1.example.com:8443"));
        // What a policy cannot name, or would read as more than a source.
        for bad in ["http://[::1]:8080", "", "docs.example.com", "ftp://h", "http://a b", "http://h;x", "http://h:"] {
            assert_eq!(origin(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn links_made_until_a_time_expire_no_later_than_it() {
        let l = Links::new(String::new(), b"s", Duration::from_secs(3600));
        let folder_expires = now() + 30;
        let child = params_of(&l.make_until("view", "c", folder_expires));
        assert_eq!(l.verify("view", &child).unwrap(), folder_expires);
        // Never later than the configured time either, as `make` makes them.
        let makers: [&dyn Fn() -> String; 2] = [&|| l.make_until("view", "c", u64::MAX), &|| l.make("view", "c")];
        for make in makers {
            let before = now();
            let link = make();
            let after = now();
            let t = l.verify("view", &params_of(&link)).unwrap();
            assert!((before + 3600..=after + 3600).contains(&t), "{t}");
        }
    }
}
