//! A private `redis-server` for one test or lab: started in a temporary
//! directory with persistence off, listening on a Unix socket (and, when
//! asked, on a free TCP port of the loopback interface), ready when it
//! answers `PING`, and always stopped.
//!
//! Nothing is left running: [`RedisServer`] kills and reaps the server when
//! it is dropped (also while a failing test unwinds), and the server is
//! started with `PR_SET_PDEATHSIG` set to `SIGKILL`, so the kernel kills it
//! when the thread that started it dies, even by `SIGKILL`. It stays in the
//! caller's process group, so the checker's sweep of a test's group (a
//! timeout, Ctrl-C) reaches it too.
//!
//! The death signal follows the *thread* that started the server: keep the
//! [`RedisServer`] on the thread that created it (a test's own thread).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program started, looked up on `PATH`.
pub const PROGRAM: &str = "redis-server";

/// What to tell someone whose machine has no `redis-server`.
pub const MISSING: &str = "this stage needs redis-server: apt-get install redis-server";

/// How long a server may take to answer its first `PING`.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(10);

/// A `redis-server` of this process's own, in a temporary directory.
#[derive(Debug)]
pub struct RedisServer {
    /// Holds the socket, the log and the (unused) data directory; removed
    /// on drop, after the server is stopped.
    dir: tempfile::TempDir,
    socket: PathBuf,
    log: PathBuf,
    port: Option<u16>,
    child: Option<Child>,
}

/// Whether `redis-server` can be found on `PATH`.
pub fn available() -> bool {
    find_program().is_some()
}

fn find_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(PROGRAM))
        .find(|candidate| candidate.is_file())
}

impl RedisServer {
    /// Starts a server listening only on a Unix socket (`port 0` turns TCP
    /// off) and waits until it answers `PING`.
    ///
    /// # Errors
    /// When `redis-server` is not on `PATH` (the message says how to install
    /// it), cannot start, or does not answer within [`STARTUP_DEADLINE`]
    /// (the message quotes what it printed).
    pub fn start() -> io::Result<RedisServer> {
        RedisServer::start_with(false)
    }

    /// Starts a server listening on a Unix socket and on a free TCP port of
    /// 127.0.0.1, and waits until it answers `PING` on both.
    ///
    /// # Errors
    /// As [`RedisServer::start`].
    pub fn start_with_tcp() -> io::Result<RedisServer> {
        RedisServer::start_with(true)
    }

    fn start_with(tcp: bool) -> io::Result<RedisServer> {
        let dir = temp_dir()?;
        let socket = dir.path().join("redis.sock");
        let log = dir.path().join("redis.log");
        let mut server = RedisServer {
            dir,
            socket,
            log,
            port: None,
            child: None,
        };
        // A free port can be taken by someone else between our probe and
        // the server's bind; then the server exits at once, and we try again.
        let mut attempts = if tcp { 5 } else { 1 };
        loop {
            server.port = if tcp { Some(free_port()?) } else { None };
            match server.launch() {
                Ok(()) => return Ok(server),
                Err(e) if attempts > 1 && server.log_text().contains("in use") => {
                    attempts -= 1;
                    let _ = e;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts the server process (the same socket and port as before) and
    /// waits until it answers.
    fn launch(&mut self) -> io::Result<()> {
        let program =
            find_program().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, MISSING))?;
        let _ = std::fs::remove_file(&self.socket);
        let log = File::create(&self.log)?;
        let port = self.port.unwrap_or(0).to_string();
        let mut command = Command::new(program);
        command
            .args(["--port", &port, "--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(&self.socket)
            .args(["--unixsocketperm", "700"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--daemonize", "no", "--logfile", ""])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before the prctl: then no signal
                // comes, so do not start at all.
                if libc::getppid() != parent {
                    return Err(io::Error::other(
                        "the parent died before redis-server started",
                    ));
                }
                Ok(())
            });
        }
        self.child = Some(command.spawn()?);
        self.wait_until_ready()
    }

    fn wait_until_ready(&mut self) -> io::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    return Err(io::Error::other(format!(
                        "redis-server exited ({status}) before answering PING; it printed:\n{}",
                        self.log_text()
                    )));
                }
            }
            let unix = ping_unix(&self.socket).is_ok();
            let tcp = self.port.is_none_or(|port| ping_tcp(port).is_ok());
            if unix && tcp {
                return Ok(());
            }
            if start.elapsed() > STARTUP_DEADLINE {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "redis-server did not answer PING within {STARTUP_DEADLINE:?}; it printed:\n{}",
                        self.log_text()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the server printed so far (its log).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The Unix socket's path.
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The URL of the Unix socket, for `redis::Client::open`.
    pub fn unix_url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The URL of the TCP port, if the server was started with one.
    pub fn tcp_url(&self) -> Option<String> {
        self.port.map(|port| format!("redis://127.0.0.1:{port}/"))
    }

    /// The TCP port, if the server was started with one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the server process is running (or stopped by [`pause`](Self::pause)).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (`SIGKILL`: no goodbye to its clients) and reaps it.
    /// Its clients' connections break; new ones are refused. Does nothing if
    /// it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, and starts a new one on the same socket
    /// (and port): an empty server, with no keys and no scripts.
    ///
    /// # Errors
    /// As [`RedisServer::start`].
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.launch()
    }

    /// Freezes the server (`SIGSTOP`): connections are still accepted by the
    /// kernel, but nothing is answered until [`resume`](Self::resume). A
    /// stand-in for a server that is overloaded or stuck.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused server run again (`SIGCONT`).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.pid() {
            // SAFETY: kill has no memory-safety preconditions; the child is
            // not reaped yet, so its pid cannot have been reused.
            unsafe { libc::kill(pid as libc::pid_t, signal) };
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a paused server too.
        self.stop();
    }
}

/// A fresh temporary directory whose socket path fits in `sun_path` (108
/// bytes): under `$TMPDIR` when that is short enough, else under `/tmp`.
fn temp_dir() -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("oslings-redis-")
        .tempdir()?;
    if dir.path().join("redis.sock").as_os_str().len() < 100 {
        return Ok(dir);
    }
    tempfile::Builder::new()
        .prefix("oslings-redis-")
        .tempdir_in("/tmp")
}

/// A TCP port of 127.0.0.1 that nobody listens on right now.
fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn ping(mut stream: impl Read + Write) -> io::Result<()> {
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "PING answered {:?}",
            String::from_utf8_lossy(&reply)
        )))
    }
}

fn ping_unix(socket: &Path) -> io::Result<()> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    ping(stream)
}

fn ping_tcp(port: u16) -> io::Result<()> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    ping(stream)
}
