//! Client sockets shaped the way hostile clients shape theirs: from a
//! chosen loopback address (the per-client cap counts by address) and with
//! a small receive buffer (so that hundreds of stalled downloads do not
//! exhaust the kernel's socket memory). Uses rustix and the wfhook crate,
//! so the benches do not include this file.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};

/// A connection from `from` (any address of 127.0.0.0/8), with a 4 KiB
/// receive buffer.
pub fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket, sockopt};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).expect("a socket");
    sockopt::set_socket_recv_buffer_size(&fd, 4096).expect("a small receive buffer");
    bind(&fd, &SocketAddrV4::new(from, 0)).expect("a loopback source address");
    connect(&fd, &to).expect("connect");
    TcpStream::from(fd)
}

/// Raises this process's open-file limit to its maximum, for tests that
/// hold well over a thousand sockets: what `serve` does for itself.
pub use wfhook::serve::raise_open_file_limit;
