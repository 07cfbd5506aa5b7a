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
}
