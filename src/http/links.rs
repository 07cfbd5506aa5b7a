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
        let expires =
            (SystemTime::now() + self.ttl).duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().to_string();
        let sig = self.signer.sign(&[endpoint, id, &expires]);
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("id", id)
            .append_pair("expires", &expires)
            .append_pair("sig", &sig)
            .finish();
        format!("{}/{endpoint}?{query}", self.prefix)
    }

    /// Accepts a request to `endpoint` whose `sig` and `expires` are right.
    pub fn verify(&self, endpoint: &str, params: &Params) -> Result<(), HttpError> {
        let bad = HttpError::Forbidden("invalid or expired link");
        let (Some(id), Some(expires), Some(sig)) = (params.get("id"), params.get("expires"), params.get("sig")) else {
            return Err(bad);
        };
        if !self.signer.verify(&[endpoint, id, expires], sig) {
            return Err(bad);
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        match expires.parse::<u64>() {
            Ok(t) if t >= now => Ok(()),
            _ => Err(bad),
        }
    }
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
}
