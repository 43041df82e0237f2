//! The health check that container images run (`HEALTHCHECK`): ask a
//! running process for a path on its own port and succeed on a 200. The
//! images start FROM scratch, with no shell and (for most) no curl, so the
//! program itself is the checker; it is plain blocking std I/O, with no
//! runtime to start, because Docker runs it every few seconds.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, write and read each get this long. Docker and the Kubernetes
/// manifests give a check 2 s in all; a healthy service answers in
/// microseconds.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// The status line is all we read; a longer one is not HTTP.
const MAX_STATUS_LINE: usize = 256;

/// Where a process listening on `listen` is reached from inside its own
/// container: an unspecified address (`[::]`, `0.0.0.0`) by loopback.
/// `[::]` is dual-stack, so 127.0.0.1 reaches it even where IPv6 is off.
pub fn local_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip == Ipv6Addr::LOCALHOST => IpAddr::V6(ip),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// `GET path` from `authority` (`host:port`); Ok when the answer is 200.
pub fn probe(authority: &str, path: &str) -> Result<(), String> {
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .collect();
    let mut last = format!("{authority} has no address");
    for addr in addrs {
        match probe_addr(addr, authority, path) {
            Ok(()) => return Ok(()),
            Err(error) => last = error,
        }
    }
    Err(last)
}

fn probe_addr(addr: SocketAddr, authority: &str, path: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let io = |e: std::io::Error| format!("{addr}: {e}");
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(io)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut head = Vec::with_capacity(64);
    let mut byte = [0u8; 1];
    while head.len() < MAX_STATUS_LINE && !head.ends_with(b"\r\n") {
        match stream.read(&mut byte).map_err(io)? {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.trim_end();
    match line.split(' ').nth(1) {
        Some("200") => Ok(()),
        Some(_) => Err(format!("GET {path} from {addr}: {line}")),
        None => Err(format!("GET {path} from {addr}: no HTTP answer")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_probed_on_loopback() {
        let probed = |listen: &str| local_addr(listen.parse().unwrap()).to_string();
        assert_eq!(probed("[::]:9080"), "127.0.0.1:9080");
        assert_eq!(probed("0.0.0.0:9081"), "127.0.0.1:9081");
        assert_eq!(probed("[::1]:9080"), "[::1]:9080");
        assert_eq!(probed("10.1.2.3:9080"), "10.1.2.3:9080");
    }
}
