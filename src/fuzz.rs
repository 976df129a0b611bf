//! A deterministic mutation fuzzer shared by the tests of every parser of hostile input (the plan
//! file, remote responses, key material). Deterministic so that a failure repeats exactly; bounded
//! in time so that it can run on every CI build. No crate: a dozen lines do what is needed, and a
//! failing input is printed, not shrunk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// A tiny xorshift generator: the fuzz run is the same every time, so a failure repeats.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from a name, so each parser explores its own sequence.
    pub fn named(name: &str) -> Self {
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that break JSON in interesting ways: wrong types, huge numbers, escapes, nesting.
pub const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e309",
    "-9223372036854775809",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1.7976931348623157e308",
    "[]",
    "{}",
    "\"\"",
    "\"value\": null",
    "\"value\": {}",
    "\"value\": \"x\"",
    "\"expires_in\": 18446744073709551615",
    "\"interval\": 18446744073709551615",
    "\"Statement\": 7",
    "\u{feff}",
    "é",
    "\0",
    "\n",
];

/// One random edit or a few: delete a run, insert a piece, flip a byte, duplicate a chunk.
pub fn mutate(seed: &[u8], pieces: &[&str], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => bytes.splice(at..at, pieces[rng.below(pieces.len())].bytes()).for_each(drop),
            2 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] = rng.next() as u8;
            }
            3 => bytes.truncate(at),
            _ => {
                let from = rng.below(bytes.len());
                let chunk: Vec<u8> = bytes[from..(from + rng.below(40)).min(bytes.len())].to_vec();
                bytes.splice(at..at, chunk).for_each(drop);
            }
        }
    }
    bytes
}

/// Inputs no server should send and every parser must survive: empty, not UTF-8, not JSON, a
/// giant string, nesting far beyond serde_json's limit, numbers no integer type holds.
pub fn hostile_inputs() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b" \n\t".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x80],
        b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"a string\"".to_vec(),
        b"18446744073709551616".to_vec(),
        b"{\"value\": 1e999999}".to_vec(),
        format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)).into_bytes(),
        format!("{{\"value\": \"{}\"}}", "x".repeat(8 * 1024 * 1024)).into_bytes(),
        format!("{{\"value\": [{}0]}}", "0,".repeat(200_000)).into_bytes(),
    ]
}

/// The CPU time this thread has used: what a parser stuck in a loop burns, and what other
/// processes on a busy machine do not stretch (wall time does: five builds on two cores made a
/// 0.5 s input look like 6 s). Wall time where the clock is not available.
pub struct CpuClock {
    started: Duration,
    wall: Instant,
}

impl CpuClock {
    pub fn start() -> CpuClock {
        CpuClock { started: thread_cpu_time().unwrap_or_default(), wall: Instant::now() }
    }

    pub fn elapsed(&self) -> Duration {
        match thread_cpu_time() {
            Some(now) => now.saturating_sub(self.started),
            None => self.wall.elapsed(),
        }
    }
}

#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer and reads nothing else.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (status == 0).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Feeds `check` the hostile inputs, the seeds and `rounds` mutations of the seeds. Every call must
/// return (not panic) within a few seconds of CPU time, generous for a debug build yet far from a
/// hang; the whole run stops early once `budget` of wall time is spent, so CI time stays bounded
/// whatever the machine.
pub fn run(name: &str, seeds: &[Vec<u8>], pieces: &[&str], rounds: usize, check: impl Fn(&[u8])) {
    let budget = Duration::from_secs(4);
    let started = Instant::now();
    let mut rng = Rng::named(name);
    let fixed = hostile_inputs().into_iter().chain(seeds.iter().cloned());
    let mutated = (0..rounds).map(|round| mutate(&seeds[round % seeds.len()], pieces, &mut rng));
    for (count, input) in fixed.chain(mutated).enumerate() {
        let one = CpuClock::start();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(&input)));
        let shown = String::from_utf8_lossy(&input[..input.len().min(2_000)]).into_owned();
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{name}: input #{count} failed ({message}):\n{shown}");
        }
        assert!(one.elapsed() < Duration::from_secs(5), "{name}: input #{count} took {:?}:\n{shown}", one.elapsed());
        if started.elapsed() > budget {
            break;
        }
    }
}

#[cfg(unix)]
#[test]
fn the_cpu_clock_counts_work_not_waiting() {
    let clock = CpuClock::start();
    std::thread::sleep(Duration::from_millis(300));
    assert!(clock.elapsed() < Duration::from_millis(100), "a sleep costs no CPU time: {:?}", clock.elapsed());
    // A fixed amount of work (not of wall time, which a busy machine stretches).
    let mut x = 0u64;
    for _ in 0..20_000_000 {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    assert!(clock.elapsed() >= Duration::from_millis(20), "a busy loop does: {:?}", clock.elapsed());
}
