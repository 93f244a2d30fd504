//! Pseudo-terminals, for tests that run a program as a user at a terminal
//! would: the shell's job control (Ctrl-C, Ctrl-Z, `fg`), the checker's
//! watch mode and its raw keys.
//!
//! [`open`] makes a terminal whose two ends are close-on-exec from the
//! start, so that programs other tests start at the same moment (on other
//! threads) cannot inherit them: a terminal ends (reads of its master fail)
//! only once every copy of its slave side is closed, and a stray copy in
//! another test's shell would keep it open. [`Pty::connect`] gives the slave
//! to a command as its standard input, output and error; in the child,
//! [`lead_session_on_stdin`] (or `setsid` and [`control_stdin`]) makes it the
//! controlling terminal of a new session, which a job-control shell needs.
//! [`Pty::into_terminal`] then keeps only the master: a [`Terminal`] that
//! is typed into and collects everything shown, on a thread of its own.

use nix::fcntl::OFlag;
use nix::pty::PtyMaster;
use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Both ends of a new pseudo-terminal.
#[derive(Debug)]
pub struct Pty {
    master: PtyMaster,
    slave: OwnedFd,
}

/// Opens a pseudo-terminal: its master and slave sides, both close-on-exec.
/// The slave is not the caller's controlling terminal.
pub fn open() -> io::Result<Pty> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    // The standard library opens every file close-on-exec.
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(name)?;
    Ok(Pty {
        master,
        slave: slave.into(),
    })
}

impl Pty {
    /// Turns echo off (what is typed is not shown back), keeping line
    /// editing and the keys that send signals (Ctrl-C, Ctrl-Z): what is read
    /// from the terminal is then only what the programs on it print.
    pub fn without_echo(&self) -> io::Result<()> {
        let mut settings = tcgetattr(&self.slave)?;
        settings.local_flags &= !(LocalFlags::ECHO | LocalFlags::ECHOCTL);
        settings.local_flags |= LocalFlags::ISIG | LocalFlags::ICANON;
        tcsetattr(&self.slave, SetArg::TCSANOW, &settings)?;
        Ok(())
    }

    /// Makes the slave side `command`'s standard input, output and error
    /// (copies of it, which the command holds until it is dropped: drop it
    /// once the program is started).
    pub fn connect(&self, command: &mut Command) -> io::Result<()> {
        command
            .stdin(Stdio::from(self.slave.try_clone()?))
            .stdout(Stdio::from(self.slave.try_clone()?))
            .stderr(Stdio::from(self.slave.try_clone()?));
        Ok(())
    }

    /// Closes the slave side (the programs started on it hold their own
    /// copies) and starts collecting what the terminal shows.
    pub fn into_terminal(self, carriage_returns: CarriageReturns) -> io::Result<Terminal> {
        drop(self.slave);
        Terminal::new(self.master, carriage_returns)
    }
}

/// For a `pre_exec` closure: starts a new session whose controlling
/// terminal is standard input (a [`Pty`]'s slave given with
/// [`Pty::connect`]). Makes only async-signal-safe system calls.
pub fn lead_session_on_stdin() -> io::Result<()> {
    nix::unistd::setsid()?;
    control_stdin()
}

/// For a `pre_exec` closure, in a process that has just started a session
/// (`setsid`): makes standard input, a terminal, the session's controlling
/// terminal. Makes only one system call, async-signal-safe.
pub fn control_stdin() -> io::Result<()> {
    // nix has no function for TIOCSCTTY (only a macro that declares one).
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal the
    // terminal from another session) and touches no memory of ours.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether a [`Terminal`] keeps the `\r` the terminal sends before each
/// `\n` (its default output settings turn `\n` into `\r\n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarriageReturns {
    /// Keep them: what was shown, byte for byte.
    Keep,
    /// Drop them: lines end in `\n` alone.
    Drop,
}

/// Why [`Terminal::expect`] did not find what it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// It did not appear within the patience given.
    Timeout,
    /// Every process that had the terminal open has closed it (or exited):
    /// nothing more will be shown.
    Closed,
}

/// The master side of a pseudo-terminal: what is typed into it, and
/// everything it has shown, collected as it comes on a thread of its own
/// (so that a program writing to the terminal never blocks on a full
/// buffer while the test is busy elsewhere).
#[derive(Debug)]
pub struct Terminal {
    master: PtyMaster,
    shown: Arc<Shown>,
    /// How much of the text [`Terminal::expect`] has consumed.
    cursor: usize,
}

#[derive(Debug, Default)]
struct Shown {
    screen: Mutex<Screen>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Screen {
    text: String,
    /// The terminal ended: the last copy of its slave side was closed.
    closed: bool,
}

impl Shown {
    fn lock(&self) -> MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Terminal {
    fn new(master: PtyMaster, carriage_returns: CarriageReturns) -> io::Result<Terminal> {
        let mut reader = File::from(master.as_fd().try_clone_to_owned()?);
        let shown = Arc::new(Shown::default());
        let sink = Arc::clone(&shown);
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 4096];
            loop {
                match reader.read(&mut chunk) {
                    Ok(n) if n > 0 => {
                        let mut text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                        if carriage_returns == CarriageReturns::Drop {
                            text.retain(|c| c != '\r');
                        }
                        sink.lock().text.push_str(&text);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // EIO: every copy of the slave side is closed.
                    _ => {
                        sink.lock().closed = true;
                        sink.changed.notify_all();
                        return;
                    }
                }
                sink.changed.notify_all();
            }
        });
        Ok(Terminal {
            master,
            shown,
            cursor: 0,
        })
    }

    /// Types `text` (`\n` is Enter, `\x03` Ctrl-C, `\x1a` Ctrl-Z).
    pub fn type_text(&mut self, text: &str) -> io::Result<()> {
        self.type_bytes(text.as_bytes())
    }

    /// Types `keys`, raw bytes.
    pub fn type_bytes(&mut self, keys: &[u8]) -> io::Result<()> {
        self.master.write_all(keys)?;
        self.master.flush()
    }

    /// Waits up to `patience` for `needle` to be shown after what earlier
    /// calls consumed; consumes up to its end and returns what was shown
    /// before it.
    pub fn expect(&mut self, needle: &str, patience: Duration) -> Result<String, Missing> {
        let deadline = Instant::now() + patience;
        let mut screen = self.shown.lock();
        loop {
            if let Some(at) = screen.text[self.cursor..].find(needle) {
                let before = screen.text[self.cursor..self.cursor + at].to_string();
                self.cursor += at + needle.len();
                return Ok(before);
            }
            if screen.closed {
                return Err(Missing::Closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Missing::Timeout);
            }
            screen = self
                .shown
                .changed
                .wait_timeout(screen, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Everything the terminal has shown so far, consumed or not.
    pub fn shown(&self) -> String {
        self.shown.lock().text.clone()
    }

    /// Whether the terminal has ended (see [`Missing::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.shown.lock().closed
    }
}

/// The master side, for `tcgetattr` (is the terminal in raw mode?).
impl AsFd for Terminal {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::fd::AsRawFd;

    #[test]
    fn both_ends_are_close_on_exec() {
        let pty = open().unwrap();
        for fd in [pty.master.as_raw_fd(), pty.slave.as_raw_fd()] {
            let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            let flags = nix::fcntl::FdFlag::from_bits_truncate(flags);
            assert!(flags.contains(nix::fcntl::FdFlag::FD_CLOEXEC));
        }
    }

    #[test]
    fn a_program_on_the_terminal_is_typed_to_and_read() {
        let pty = open().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "tty -s && echo on a tty; read line; echo got $line"]);
        pty.connect(&mut command).unwrap();
        // SAFETY: the closure only makes async-signal-safe system calls.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, lead_session_on_stdin);
        }
        let mut child = command.spawn().unwrap();
        drop(command);
        let mut terminal = pty.into_terminal(CarriageReturns::Drop).unwrap();
        let patience = Duration::from_secs(5);
        assert_eq!(terminal.expect("on a tty\n", patience), Ok(String::new()));
        terminal.type_text("hello\n").unwrap();
        // Echo is on: the typed line is shown, then the answer.
        assert_eq!(
            terminal.expect("got hello\n", patience),
            Ok("hello\n".into())
        );
        assert!(child.wait().unwrap().success());
        assert_eq!(terminal.expect("more", patience), Err(Missing::Closed));
        assert!(terminal.is_closed());
        assert_eq!(terminal.shown(), "on a tty\nhello\ngot hello\n");
    }

    #[test]
    fn without_echo_only_the_output_is_shown() {
        let pty = open().unwrap();
        pty.without_echo().unwrap();
        let mut command = Command::new("sh");
        command.args(["-c", "read line; echo got $line"]);
        pty.connect(&mut command).unwrap();
        let mut child = command.spawn().unwrap();
        drop(command);
        let mut terminal = pty.into_terminal(CarriageReturns::Keep).unwrap();
        // `read` waits: nothing is shown yet.
        assert_eq!(
            terminal.expect("got", Duration::from_millis(50)),
            Err(Missing::Timeout)
        );
        terminal.type_text("hi\n").unwrap();
        let patience = Duration::from_secs(5);
        assert_eq!(terminal.expect("got hi\r\n", patience), Ok(String::new()));
        assert!(child.wait().unwrap().success());
    }
}
