//! Listening sockets kept open across a reload (SIGHUP).
//!
//! A reload stops the running pipeline and starts one with the new configuration. Were the
//! sockets closed in between, UDP datagrams would be dropped and TCP connections refused. So
//! every UDP socket and TCP listener the sources bind is registered here as a duplicate file
//! descriptor: when the old source closes its own, the socket lives on in the kernel — datagrams
//! wait in its receive buffer, connections in its backlog — until the next run's source with the
//! same address takes it up. A socket the new configuration no longer uses is closed once the new
//! run has bound its sources ([`Listeners::begin`], [`Listeners::end`]). Established TCP
//! connections still end with the old run (senders reconnect); unix sockets are bound afresh.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::{TcpListener, UdpSocket};

#[derive(Debug)]
struct Entry {
    /// A duplicate of the socket's descriptor; the key says which kind of socket it is.
    socket: OwnedFd,
    /// Taken up by the run being set up.
    used: bool,
}

/// The sockets kept for the next run, by transport and configured address.
#[derive(Debug, Default, Clone)]
pub struct Listeners(Arc<Mutex<HashMap<String, Entry>>>);

impl Listeners {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves plain data behind: go on with it.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A run begins binding its sources.
    pub fn begin(&self) {
        self.with(|m| m.values_mut().for_each(|e| e.used = false));
    }

    /// The run has bound its sources: sockets it did not take are closed.
    pub fn end(&self) {
        self.with(|m| m.retain(|_, e| e.used));
    }

    /// A duplicate of the socket kept under `key`, now taken up by this run.
    fn take(&self, key: &str) -> Option<io::Result<OwnedFd>> {
        self.with(|m| {
            let e = m.get_mut(key)?;
            e.used = true;
            Some(e.socket.try_clone())
        })
    }

    /// Keeps a duplicate of `socket` under `key` for the next run.
    fn keep(&self, key: String, socket: impl AsFd) -> io::Result<()> {
        let socket = socket.as_fd().try_clone_to_owned()?;
        self.with(|m| m.insert(key, Entry { socket, used: true }));
        Ok(())
    }

    /// A UDP socket on `addr`: the one kept from the last run, or a new one.
    pub async fn udp(&self, addr: SocketAddr) -> io::Result<UdpSocket> {
        let key = format!("udp/{addr}");
        let std = match self.take(&key) {
            Some(fd) => std::net::UdpSocket::from(fd?),
            None => {
                let s = UdpSocket::bind(addr).await?.into_std()?;
                self.keep(key, &s)?;
                s
            }
        };
        UdpSocket::from_std(std)
    }

    /// A TCP listener on `addr`: the one kept from the last run, or a new one.
    pub async fn tcp(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let key = format!("tcp/{addr}");
        let std = match self.take(&key) {
            Some(fd) => std::net::TcpListener::from(fd?),
            None => {
                let s = TcpListener::bind(addr).await?.into_std()?;
                self.keep(key, &s)?;
                s
            }
        };
        TcpListener::from_std(std)
    }

    /// Sockets kept.
    pub fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_udp_socket_outlives_its_source_and_keeps_what_arrives() {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let kept = Listeners::default();
        kept.begin();
        let first = kept.udp(addr).await.unwrap();
        kept.end();
        drop(first);
        // Between the runs: nobody reads, the datagram waits in the socket.
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"during the reload", addr).unwrap();
        kept.begin();
        let second = kept.udp(addr).await.unwrap();
        kept.end();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), second.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"during the reload");
    }

    #[tokio::test]
    async fn a_tcp_listener_keeps_its_backlog_and_unused_ones_close() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let kept = Listeners::default();
        kept.begin();
        let first = kept.tcp(addr).await.unwrap();
        kept.end();
        drop(first);
        // Connecting while no source listens: the kernel completes it into the backlog.
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        std::io::Write::write_all(&mut client, b"hello").unwrap();
        kept.begin();
        let second = kept.tcp(addr).await.unwrap();
        kept.end();
        let (mut conn, _) = second.accept().await.unwrap();
        let mut buf = [0u8; 5];
        tokio::io::AsyncReadExt::read_exact(&mut conn, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf, b"hello");
        // A run that does not take it closes it: the port is free again.
        drop(second);
        kept.begin();
        kept.end();
        assert!(kept.is_empty());
        std::net::TcpListener::bind(addr).unwrap();
    }
}
