//! `dns verify DOMAIN --token T`: the check Kiro makes, made here, with every server's answer.
//! Needs no plan file and no AWS. Exits 0 when every authoritative server serves the token,
//! 2 when not, 1 on error (including "no DNS server answered at all").

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::clients::dns::{self, DnsSettings, ServerReport, Verification};
use crate::engine::json::FORMAT_VERSION;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::output::{BOLD, GREEN, RED, YELLOW, paint};
use crate::plan::domain;
use crate::printer::Printer;

pub struct Options {
    pub domain: String,
    pub token: String,
    pub record: String,
    pub resolvers: Vec<String>,
    pub wait: Option<Duration>,
}

/// First pause between two checks with `--wait`; it grows to `MAX_INTERVAL`.
const FIRST_INTERVAL: Duration = Duration::from_secs(2);
const MAX_INTERVAL: Duration = Duration::from_secs(15);

pub async fn run(options: Options, printer: &Printer) -> Result<ExitStatus, Error> {
    let name = domain::normalize(&options.domain)
        .and_then(|name| domain::check_public(&name).map(|()| name))
        .map_err(|e| Error::Precondition { message: e.message, hint: e.hint })?;
    let record = domain::normalize_record(&options.record)
        .map_err(|e| Error::Precondition { message: e.message, hint: e.hint })?;
    if options.token.trim().is_empty() {
        return Err(Error::Usage("--token is empty; copy the verification token from the Kiro console".into()));
    }
    let fqdn = domain::fqdn(&record, &name);
    let settings = DnsSettings::new(&options.resolvers)?;

    let started = Instant::now();
    let progress = printer.progress();
    let mut attempts = 1;
    let mut verification = dns::verify(&settings, &fqdn, &options.token).await;
    if let Some(limit) = options.wait {
        let waiting = progress.waiting(&format!("dns verify {fqdn}"));
        let mut interval = FIRST_INTERVAL;
        while !verification.verified && started.elapsed() + interval <= limit {
            waiting.update(&format!(
                "{} (check {attempts}, waited {} of {})",
                verification.summary(),
                short(started.elapsed()),
                short(limit)
            ));
            tokio::time::sleep(interval).await;
            interval = (interval * 3 / 2).min(MAX_INTERVAL);
            attempts += 1;
            verification = dns::verify(&settings, &fqdn, &options.token).await;
        }
        waiting.finish(&format!(
            "{} after {} check(s) in {}",
            if verification.verified { "verified" } else { "not verified" },
            attempts,
            short(started.elapsed())
        ));
    }

    let unreachable = !verification.verified && !verification.resolvers_reachable;
    let document = || {
        let mut document = json!({
            "format_version": FORMAT_VERSION,
            "command": "dns verify",
            "domain": name,
            "record": record,
            "token": options.token,
            "checks": attempts,
            "seconds": started.elapsed().as_secs_f64(),
        });
        if let (Some(object), Ok(serde_json::Value::Object(fields))) =
            (document.as_object_mut(), serde_json::to_value(&verification))
        {
            object.extend(fields);
        }
        if unreachable {
            document["error"] = json!({"message": unreachable_message(&verification), "hint": UNREACHABLE_HINT});
        }
        document
    };
    printer.result(document, || printer.prose(&render(&verification, &options.token, &settings)));
    if unreachable {
        crate::output::error(&unreachable_message(&verification), Some(UNREACHABLE_HINT));
        return Ok(ExitStatus::Failure);
    }
    if verification.verified {
        return Ok(ExitStatus::Success);
    }
    printer.hint(if options.wait.is_some() {
        "the record has not reached every authoritative server in time; check the record at your DNS provider, then run this again"
    } else {
        "DNS changes take time to reach every server; add --wait 10m to keep checking"
    });
    Ok(ExitStatus::Attention)
}

const UNREACHABLE_HINT: &str = "check that this machine can reach DNS servers over UDP and TCP port 53 (firewalls often block it), or name reachable resolvers with --resolver IP[:PORT]";

fn unreachable_message(verification: &Verification) -> String {
    match &verification.discovery_problem {
        Some(problem) => format!("could not check {}: {problem}", verification.name),
        None => format!("could not check {}: no DNS server answered", verification.name),
    }
}

fn short(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else if seconds >= 60 {
        format!("{}m{}s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds}s")
    }
}

fn line(out: &mut String, report: &ServerReport, timeout: Duration) {
    let label = match report.label() {
        "ok" => paint(GREEN.bold(), format!("{:<11}", "ok")),
        "absent" | "nxdomain" | "no data" => paint(YELLOW.bold(), format!("{:<11}", report.label())),
        other => paint(RED.bold(), format!("{other:<11}")),
    };
    let _ = writeln!(out, "  {label} {}: {}", report.who(), report.describe(timeout));
}

fn render(verification: &Verification, token: &str, settings: &DnsSettings) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} TXT {:?}\n", paint(BOLD, &verification.name), token);
    match (&verification.zone, &verification.discovery_problem) {
        (Some(zone), _) => {
            let _ = writeln!(out, "Authoritative servers of {zone} (asked directly: no recursion, no cache):");
            for report in &verification.authoritative {
                line(&mut out, report, settings.timeout);
            }
        }
        (None, Some(problem)) => {
            let _ = writeln!(out, "Authoritative servers: not found: {problem}");
        }
        (None, None) => {}
    }
    let _ = writeln!(out, "\nPublic resolvers (what a lookup sees now; answers may come from their caches):");
    for report in &verification.resolvers {
        line(&mut out, report, settings.timeout);
    }
    out.push('\n');
    if verification.verified {
        let _ = write!(
            out,
            "{}: {}. Kiro's check will find it; the domain turns \"Verified\" in the Kiro console.",
            paint(GREEN.bold(), "Verified"),
            verification.summary()
        );
    } else {
        let _ = write!(out, "{}: {}.", paint(RED.bold(), "Not verified"), verification.summary());
    }
    out
}
