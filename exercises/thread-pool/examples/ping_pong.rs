//! Lab: what a context switch costs. Two threads hand a token back and forth
//! through a `Mutex` and a `Condvar`; each hand-over puts one thread to
//! sleep and wakes the other. Prints round trips per second and, from that,
//! an estimate of one switch. Runs twice: once wherever the scheduler puts
//! the threads, once with both pinned to one CPU (Linux only), where
//! every hand-over must be a real switch on that CPU.
//!
//! Run it with `cargo run --release -p thread-pool --example ping_pong`.
//! It does not use any of the exercise's blanks.

use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const ROUND_TRIPS: u32 = 100_000;

// ANCHOR: ping_pong
/// Whose turn it is, and a bell to wake the other player.
struct Table {
    ping_to_play: Mutex<bool>,
    turn_changed: Condvar,
}

impl Table {
    /// Waits until it is this player's turn, then hands the turn over.
    fn play(&self, i_am_ping: bool) {
        let mut ping_to_play = self.ping_to_play.lock().unwrap();
        while *ping_to_play != i_am_ping {
            ping_to_play = self.turn_changed.wait(ping_to_play).unwrap();
        }
        *ping_to_play = !i_am_ping;
        self.turn_changed.notify_one();
    }
}

/// Plays `ROUND_TRIPS` round trips between two threads and returns how long
/// they took. `pin` runs first on each thread (to choose its CPU).
fn rally(pin: fn()) -> Duration {
    let table = Table {
        ping_to_play: Mutex::new(true),
        turn_changed: Condvar::new(),
    };
    let started = Instant::now();
    thread::scope(|scope| {
        for i_am_ping in [true, false] {
            let table = &table;
            scope.spawn(move || {
                pin();
                for _ in 0..ROUND_TRIPS {
                    table.play(i_am_ping);
                }
            });
        }
    });
    started.elapsed()
}
// ANCHOR_END: ping_pong

fn anywhere() {}

/// Restricts the calling thread to the lowest-numbered CPU it may run on.
#[cfg(target_os = "linux")]
fn on_one_cpu() {
    // SAFETY: `cpu_set_t` is a plain bit set, valid when zeroed.
    let mut allowed: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = size_of::<libc::cpu_set_t>();
    // SAFETY: pid 0 means the calling thread; `allowed` is writable and `size` long.
    let status = unsafe { libc::sched_getaffinity(0, size, &mut allowed) };
    assert_eq!(
        status,
        0,
        "sched_getaffinity: {}",
        std::io::Error::last_os_error()
    );
    let first = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of bits in the set.
        .find(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) })
        .expect("this thread may run on no CPU at all");
    // SAFETY: as above, zeroed is a valid empty set.
    let mut only: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `first` came from the range above, so it is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(first, &mut only) };
    // SAFETY: pid 0 means the calling thread; `only` is a valid set of `size` bytes.
    let status = unsafe { libc::sched_setaffinity(0, size, &only) };
    assert_eq!(
        status,
        0,
        "sched_setaffinity: {}",
        std::io::Error::last_os_error()
    );
}

fn report(placement: &str, took: Duration) {
    let round_trip_ns = took.as_nanos() as f64 / f64::from(ROUND_TRIPS);
    println!(
        "{placement:<28} {:>9.0} round trips/s   {round_trip_ns:>7.0} ns per round trip   \
         ~{:>6.0} ns per switch",
        f64::from(ROUND_TRIPS) / took.as_secs_f64(),
        round_trip_ns / 2.0
    );
}

fn main() {
    println!(
        "{ROUND_TRIPS} round trips (two hand-overs each), {} CPUs available\n",
        thread::available_parallelism().map_or(1, |n| n.get())
    );
    report("threads where they fall", rally(anywhere));
    #[cfg(target_os = "linux")]
    report("both threads on one CPU", rally(on_one_cpu));
    println!(
        "\nOne switch is estimated as half a round trip. It includes the whole wake-up \
         path (the notify system call, the scheduler, the woken thread getting the lock), \
         not just saving and restoring registers."
    );
}
