//! Helpers shared by the benches: loopback ports, waiting for a server,
//! medians, and installing a load tool from Debian's packages.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A numeric setting from the environment.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not come up on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The median of some measurements (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// True when `tool` runs (`probe` is an argument it answers quickly),
/// installing Debian's `package` first when it is missing.
pub fn ensure_tool(tool: &str, probe: &str, package: &str) -> bool {
    let runs = || Command::new(tool).arg(probe).output().is_ok();
    if runs() {
        return true;
    }
    eprintln!("{tool} is missing: installing {package} from Debian's packages");
    let ok = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    ok(Command::new("apt-get").arg("update").arg("-qq"))
        && ok(Command::new("apt-get").args(["install", "-y", "-qq", package]))
        && runs()
}
