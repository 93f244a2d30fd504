//! File descriptors: an echo server on epoll, level-triggered, one thread
//! for any number of clients. It listens on 127.0.0.1:7878 until stopped
//! (Ctrl-C); talk to it with bash's `/dev/tcp` or `nc`.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

// ANCHOR: epoll
/// An epoll instance: a descriptor holding an interest list and a ready
/// list. Dropping it closes it.
struct Epoll(OwnedFd);

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// `epoll_ctl`: registers (`EPOLL_CTL_ADD`) or removes
    /// (`EPOLL_CTL_DEL`) `fd`, watched for reading; `data` comes back
    /// with each of its events.
    fn ctl(&self, op: i32, fd: RawFd, data: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: data,
        };
        let epfd = self.0.as_raw_fd();
        // SAFETY: `event` is a valid epoll_event that outlives the call.
        let r = unsafe { libc::epoll_ctl(epfd, op, fd, &mut event) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// `epoll_wait` with no timeout: sleeps until at least one registered
    /// descriptor is ready, fills `events`, returns how many it filled.
    fn wait(&self, events: &mut [libc::epoll_event]) -> io::Result<usize> {
        let (epfd, max) = (self.0.as_raw_fd(), events.len() as i32);
        loop {
            let buf = events.as_mut_ptr();
            // SAFETY: the kernel writes at most `max` entries into `buf`,
            // which has room for exactly `max`.
            let n = unsafe { libc::epoll_wait(epfd, buf, max, -1) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
// ANCHOR_END: epoll

// ANCHOR: main
/// The listener's user data: no client descriptor can have it.
const LISTENER: u64 = u64::MAX;

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:7878")?;
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new()?;
    epoll.ctl(libc::EPOLL_CTL_ADD, listener.as_raw_fd(), LISTENER)?;

    let mut clients: HashMap<RawFd, TcpStream> = HashMap::new();
    let empty = libc::epoll_event { events: 0, u64: 0 };
    let mut events = [empty; 64];
    loop {
        let ready = epoll.wait(&mut events)?;
        for event in &events[..ready] {
            let data = event.u64; // a copy: the struct is packed
            if data == LISTENER {
                accept_all(&listener, &epoll, &mut clients)?;
                continue;
            }
            let fd = data as RawFd;
            let Some(stream) = clients.get_mut(&fd) else {
                continue;
            };
            if !echo(stream) {
                // Deregister before the close; dropping closes the fd.
                epoll.ctl(libc::EPOLL_CTL_DEL, fd, 0)?;
                clients.remove(&fd);
            }
        }
    }
}

/// Accepts every pending connection (until `WouldBlock`), registering each.
fn accept_all(
    listener: &TcpListener,
    epoll: &Epoll,
    clients: &mut HashMap<RawFd, TcpStream>,
) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                stream.set_nonblocking(true)?;
                let fd = stream.as_raw_fd();
                epoll.ctl(libc::EPOLL_CTL_ADD, fd, fd as u64)?;
                clients.insert(fd, stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e), // EMFILE would land here
        }
    }
}

/// Reads what the client sent, until `WouldBlock`, and writes it back.
/// Returns `false` once the connection is finished (EOF or an error).
/// A sketch: an echo that does not fit in the socket's buffer ends the
/// connection, where a real server would queue it and wait for EPOLLOUT.
fn echo(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return false, // EOF: the client closed
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}
// ANCHOR_END: main
