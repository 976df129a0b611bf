//! All terminal output goes through here: data to stdout, progress, status and prompts to stderr.
//! Everything is readable without colour; colour is dropped when the stream is not a terminal or
//! `NO_COLOR` is set (anstream decides).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anstyle::{AnsiColor, Style};

pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const RED: Style = AnsiColor::Red.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

/// `text` wrapped in `style`; stripped again by anstream when colour is off.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Writes data to stdout. A closed pipe (`kiro-onboard plan | head`) is not an error.
pub fn data(text: &str) {
    let mut out = anstream::stdout().lock();
    let result = out
        .write_all(text.as_bytes())
        .and_then(|()| if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") })
        .and_then(|()| out.flush());
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: could not write to standard output: {e}");
    }
}

/// The width prose wraps at: `COLUMNS` when set, else the terminal's when `stream` is one; `None`
/// for a pipe or a file, where lines stay whole for the tools that read them.
pub fn width(stdout: bool) -> Option<usize> {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()) {
        return Some(columns.max(20));
    }
    let size = if stdout {
        std::io::stdout().is_terminal().then(|| terminal_size::terminal_size_of(std::io::stdout())).flatten()
    } else {
        std::io::stderr().is_terminal().then(|| terminal_size::terminal_size_of(std::io::stderr())).flatten()
    };
    size.map(|(terminal_size::Width(w), _)| usize::from(w).max(20))
}

/// `text` wrapped for `stdout` (or stderr) when it has a width.
pub fn wrapped(stdout: bool, text: &str) -> String {
    match width(stdout) {
        Some(width) => crate::shared::wrap::wrap(text, width),
        None => text.to_owned(),
    }
}

/// A status line on stderr (`status: what happened`).
pub fn status(quiet: bool, text: &str) {
    if !quiet {
        let _ = writeln!(anstream::stderr().lock(), "{}", wrapped(false, text));
    }
}

/// What the admin must act on (a URL to open, something to paste): shown even with `--quiet`.
pub fn prompt(text: &str) {
    let _ = writeln!(anstream::stderr().lock(), "{}", wrapped(false, text));
}

pub fn error(message: &str, hint: Option<&str>) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{}", wrapped(false, &format!("{}: {message}", paint(RED.bold(), "error"))));
    if let Some(hint) = hint {
        let _ = writeln!(err, "{}", wrapped(false, &hint_line(hint)));
    }
}

/// How every hint reads: `hint: what to do next`.
pub fn hint_line(hint: &str) -> String {
    format!("{}: {hint}", paint(CYAN.bold(), "hint"))
}

/// Something the admin set up on purpose and should keep in mind (`note: …`), not a problem.
pub fn note(text: &str) {
    let _ =
        writeln!(anstream::stderr().lock(), "{}", wrapped(false, &format!("{}: {text}", paint(CYAN.bold(), "note"))));
}

pub fn warning(text: &str) {
    let _ = writeln!(
        anstream::stderr().lock(),
        "{}",
        wrapped(false, &format!("{}: {text}", paint(YELLOW.bold(), "warning")))
    );
}

/// Progress of long work: a bar on a terminal, a start and a finish line otherwise.
#[derive(Clone, Copy)]
pub struct Progress {
    bars: bool,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Progress { bars: !quiet && std::io::stderr().is_terminal(), quiet }
    }

    pub fn task(&self, label: &str, total: u64) -> Task {
        let bar = self.bars.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({rate}, {eta} left)")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&rate(state.per_sec()));
                    })
                    .progress_chars("=> "),
            );
            bar.set_message(label.to_owned());
            bar
        });
        if bar.is_none() {
            status(self.quiet, &format!("{label}: {total} to do"));
        }
        Task {
            bar,
            label: label.to_owned(),
            total,
            done: std::sync::atomic::AtomicU64::new(0),
            started: Instant::now(),
            quiet: self.quiet,
        }
    }
}

/// A rate as people read it: whole numbers from 10 up, one decimal below (indicatif's own
/// `{per_sec}` shows four: `70.8141/s`).
fn rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        "0/s".to_owned()
    } else if per_second >= 10.0 {
        format!("{per_second:.0}/s")
    } else {
        format!("{per_second:.1}/s")
    }
}

pub struct Task {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    total: u64,
    done: std::sync::atomic::AtomicU64,
    started: Instant,
    quiet: bool,
}

impl Task {
    pub fn inc(&self) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let done = self.done.load(std::sync::atomic::Ordering::Relaxed);
        status(
            self.quiet,
            &format!("{}: {done} of {} done in {:.1}s", self.label, self.total, self.started.elapsed().as_secs_f64()),
        );
    }
}

/// Shows a manual step (`heading` over its rendered `text`) and waits until the admin says it is
/// done (`yes`) or leaves it for later (anything else). Returns whether it was done.
pub fn ask_manual(heading: &str, text: &str) -> bool {
    use std::io::BufRead;
    let mut err = anstream::stderr().lock();
    let _ = write!(err, "\n{}\n{}", paint(BOLD, heading), wrapped(false, text));
    let _ = write!(err, "Type yes when it is done, or press Enter to leave it for later: ");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).is_ok() && is_yes(&answer)
}

/// The one confirmation every prompt asks for: the word `yes` typed out (any case).
pub fn is_yes(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case("yes")
}

/// Asks for one line on the terminal; `None` when the admin just presses Enter.
pub fn ask_line(prompt: &str) -> Option<String> {
    use std::io::BufRead;
    let mut err = anstream::stderr().lock();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    drop(err);
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    let answer = answer.trim();
    (!answer.is_empty()).then(|| answer.to_owned())
}

/// Shows the edit that records a step in the plan file and asks whether to write it.
pub fn ask_record(diff: &str, file: &str) -> bool {
    let _ = write!(anstream::stderr().lock(), "\n{diff}");
    ask_line(&format!("Record this in {file}? Only the lines shown change. Type yes to record it: "))
        .is_some_and(|a| is_yes(&a))
}

impl Progress {
    /// A line that says what a wait is waiting for: a spinner redrawn in place on a terminal,
    /// otherwise one line each time the message changes.
    pub fn waiting(&self, label: &str) -> Waiting {
        let spinner = self.bars.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Waiting { spinner, label: label.to_owned(), last: std::sync::Mutex::new(String::new()), quiet: self.quiet }
    }
}

pub struct Waiting {
    spinner: Option<indicatif::ProgressBar>,
    label: String,
    last: std::sync::Mutex<String>,
    quiet: bool,
}

impl Waiting {
    pub fn update(&self, message: &str) {
        match &self.spinner {
            Some(spinner) => spinner.set_message(message.to_owned()),
            None => {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if *last != message {
                    status(self.quiet, &format!("{}: {message}", self.label));
                    *last = message.to_owned();
                }
            }
        }
    }

    /// Clears the spinner; `message` is printed as the final line.
    pub fn finish(&self, message: &str) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
        status(self.quiet, &format!("{}: {message}", self.label));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_are_rounded_as_people_read_them() {
        assert_eq!(super::rate(70.8141), "71/s");
        assert_eq!(super::rate(2.345), "2.3/s");
        assert_eq!(super::rate(f64::NAN), "0/s");
    }
}
