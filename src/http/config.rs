//! What `serve` was told about the HTTP side, after defaults, and the
//! connection bounds it hands to the vendored tiny_http.

use std::time::Duration;

/// What `serve` was told, after defaults.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: String,
    /// `""` or `/api/v1`: no trailing slash.
    pub base_path: String,
    pub public_url: Option<String>,
    pub publisher: String,
    pub workers: usize,
    pub max_upload_bytes: u64,
    pub action_timeout: Duration,
    pub link_ttl: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one peer address at most.
    pub max_connections_per_client: usize,
    /// Longest a socket may stay silent.
    pub io_timeout: Duration,
    /// Bytes a second, over tiny_http's rate window, below which a
    /// transfer is cut; 0: no minimum.
    pub min_transfer_rate: u64,
}

impl Config {
    /// The connection and request-head bounds the server layer enforces.
    pub fn limits(&self) -> tiny_http::Limits {
        let defaults = tiny_http::Limits::default();
        tiny_http::Limits {
            max_connections: self.max_connections,
            max_connections_per_client: self.max_connections_per_client,
            min_transfer_rate: self.min_transfer_rate,
            io_timeout: self.io_timeout,
            // A head may never take longer than one stalled read would.
            header_timeout: defaults.header_timeout.min(self.io_timeout),
            ..defaults
        }
    }
}

impl Config {
    /// Workfront's Base API URL: the public URL plus the base path, unless
    /// the public URL already ends with it (an administrator who gives
    /// `https://host/api/v1`, the very URL pasted into Workfront). Known
    /// once the server is bound (the public URL defaults to its address).
    pub fn base_api_url(&self) -> String {
        let public = self.public_url.as_deref().unwrap_or_default().trim_end_matches('/');
        // The path starts at the first `/` after `scheme://`.
        let path = public.split_once("://").and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]));
        // The base path starts with `/`, so a match ends on a whole segment.
        if self.base_path.is_empty() || path.is_some_and(|p| p.ends_with(self.base_path.as_str())) {
            public.to_string()
        } else {
            format!("{public}{}", self.base_path)
        }
    }
}

/// Normalizes a base path to `""` or `/a/b`.
pub fn normalize_base_path(p: &str) -> Result<String, String> {
    let trimmed = p.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.split('/').any(|c| {
        c.is_empty() || c == "." || c == ".." || !c.bytes().all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
    }) {
        return Err(format!("invalid base path {p:?}"));
    }
    Ok(format!("/{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("/").unwrap(), "");
        assert_eq!(normalize_base_path("").unwrap(), "");
        assert_eq!(normalize_base_path("api/v1/").unwrap(), "/api/v1");
        assert_eq!(normalize_base_path("/api/v1").unwrap(), "/api/v1");
        assert!(normalize_base_path("/a/../b").is_err());
        assert!(normalize_base_path("/a//b").is_err());
        assert!(normalize_base_path("/a?b").is_err());
    }

    #[test]
    fn the_base_api_url_never_doubles_the_base_path() {
        let url = |public: &str, base: &str| {
            let cfg = Config {
                listen: String::new(),
                base_path: normalize_base_path(base).unwrap(),
                public_url: Some(public.into()),
                publisher: String::new(),
                workers: 1,
                max_upload_bytes: 0,
                action_timeout: Duration::ZERO,
                link_ttl: Duration::ZERO,
                max_connections: 16,
                max_connections_per_client: 1,
                io_timeout: Duration::ZERO,
                min_transfer_rate: 0,
            };
            cfg.base_api_url()
        };
        assert_eq!(url("https://h", "/api/v1"), "https://h/api/v1");
        assert_eq!(url("https://h/", "/api/v1"), "https://h/api/v1");
        assert_eq!(url("https://h/api/v1", "/api/v1"), "https://h/api/v1");
        assert_eq!(url("https://h/api/v1/", "api/v1"), "https://h/api/v1");
        assert_eq!(url("https://h/docs/api/v1", "/api/v1"), "https://h/docs/api/v1");
        // Only whole segments: `/xapi/v1` does not end with `/api/v1`.
        assert_eq!(url("https://h/xapi/v1", "/api/v1"), "https://h/xapi/v1/api/v1");
        assert_eq!(url("https://h/api", "/api/v1"), "https://h/api/api/v1");
        assert_eq!(url("https://h/api/v1", "/"), "https://h/api/v1");
        // A host that merely looks like the path is no path.
        assert_eq!(url("http://api", "/api"), "http://api/api");
    }
}
