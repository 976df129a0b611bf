//! The command line's own reference: completion scripts driven by real shells past the first
//! word, and a manual page (and `--help`) that names every environment variable the source reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Test, repo_root};

/// The completion script for `shell`, written to a file the shell can source.
fn completion_script(test: &Test, shell: &str) -> PathBuf {
    let output = Test::new().args(["completions", shell]).run();
    output.success();
    let path = test.file_path(&format!("completion.{shell}"));
    std::fs::write(&path, &output.stdout).unwrap();
    path
}

/// Whether `shell` is installed; a test of a shell that is not says so and passes (they are not
/// installed on purpose: the machine's shells are what users have).
fn installed(shell: &str) -> bool {
    let found = Command::new(shell).arg("-c").arg("exit 0").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: {shell} is not installed, so its completions are not driven here");
    }
    found
}

/// What bash offers for `words` (the last one is the word being completed), by calling the
/// function the script registered for kiro-onboard the way bash's programmable completion does.
fn bash_offers(script: &Path, words: &[&str]) -> Vec<String> {
    const DRIVER: &str = r#"source "$1"; shift
        function=$(complete -p kiro-onboard | sed -E 's/.* -F ([^ ]+) .*/\1/')
        COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "$function" kiro-onboard "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}""#;
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", DRIVER, "bash"])
        .arg(script)
        .args(words)
        .output()
        .unwrap();
    assert!(output.status.success(), "bash failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect()
}

fn assert_offers(offered: &[String], expected: &[&str], context: &str) {
    for word in expected {
        assert!(offered.iter().any(|o| o == word), "{context}: {word} not offered; offered {offered:?}");
    }
}

#[test]
fn bash_completes_subcommands_flags_and_values_past_the_first_word() {
    let test = Test::new();
    let script = completion_script(&test, "bash");
    let top = bash_offers(&script, &["kiro-onboard", ""]);
    assert_offers(&top, &["validate", "plan", "apply", "audit", "init", "dns", "completions", "man"], "kiro-onboard");
    let plan = bash_offers(&script, &["kiro-onboard", "plan", "--"]);
    assert_offers(&plan, &["--json", "--detailed-exitcode", "--out", "--checklist"], "plan --");
    assert!(!plan.iter().any(|o| o == "validate"), "plan -- offered subcommands: {plan:?}");
    let idp = bash_offers(&script, &["kiro-onboard", "init", "--idp", ""]);
    assert_offers(&idp, &["identity-center", "entra", "okta"], "init --idp");
    let nested = bash_offers(&script, &["kiro-onboard", "dns", ""]);
    assert_offers(&nested, &["verify"], "dns");
    let nested_flags = bash_offers(&script, &["kiro-onboard", "dns", "verify", "--"]);
    assert_offers(&nested_flags, &["--token", "--resolver", "--wait"], "dns verify --");
}

#[test]
fn zsh_completes_past_the_first_word_when_installed() {
    if !installed("zsh") {
        return;
    }
    let test = Test::new();
    let script = completion_script(&test, "zsh");
    // Loading the script with compinit proves it parses and registers; the function must exist.
    let output = Command::new("zsh")
        .args(["-f", "-c", r#"autoload -U compinit && compinit -u; source "$1"; whence -w _kiro-onboard"#, "zsh"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("_kiro-onboard: function"), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(text.contains("--detailed-exitcode") && text.contains("identity-center"), "zsh script is thin");
}

#[test]
fn fish_completes_past_the_first_word_when_installed() {
    if !installed("fish") {
        return;
    }
    let test = Test::new();
    let script = completion_script(&test, "fish");
    let ask = |line: &str| {
        let command = format!("source {}; complete -C '{line}'", script.display());
        let output = Command::new("fish").args(["--no-config", "-c", &command]).output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_offers(&ask("kiro-onboard "), &["validate", "plan", "init"], "kiro-onboard");
    assert_offers(&ask("kiro-onboard plan --"), &["--json", "--detailed-exitcode"], "plan --");
    assert_offers(&ask("kiro-onboard init --idp "), &["identity-center", "entra", "okta"], "init --idp");
}

/// Every `KIRO_ONBOARD_*` name in the program's source.
fn variables_read_by_the_source() -> Vec<String> {
    // A unit test's name for a variable it relies on being unset; the program never reads it.
    const FIXTURES: &[&str] = &["KIRO_ONBOARD_SURELY_UNSET_VAR"];
    let mut names = Vec::new();
    for file in crate::harness::test::files_under(&repo_root().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (start, _) in text.match_indices("KIRO_ONBOARD_") {
            let rest = &text[start..];
            let end =
                rest.find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).unwrap_or(rest.len());
            names.push(rest[..end].to_string());
        }
    }
    names.sort();
    names.dedup();
    // The bare prefix is prose (`KIRO_ONBOARD_*`), not a variable.
    names.retain(|name| name != "KIRO_ONBOARD_" && !FIXTURES.contains(&name.as_str()));
    assert!(names.len() > 10, "the scan found too few variables: {names:?}");
    names
}

#[test]
fn the_man_page_and_help_name_every_environment_variable_the_source_reads() {
    let man = Test::new().args(["man"]).run();
    man.success();
    let help = Test::new().args(["--help"]).run();
    help.success();
    let environment = man.stdout.split(".SH ENVIRONMENT").nth(1).expect("no ENVIRONMENT section");
    let environment = environment.split("\n.SH ").next().unwrap_or_default();
    for name in variables_read_by_the_source() {
        assert!(environment.contains(&format!("\\fB{name}\\fR")), "{name} is not in the man page's ENVIRONMENT");
        assert!(help.stdout.contains(&name), "{name} is not in --help");
    }
    for test_only in ["KIRO_ONBOARD_GRAPH_URL", "KIRO_ONBOARD_TEST_PANIC", "KIRO_ONBOARD_OKTA_ORG_URL"] {
        assert!(environment.contains(&format!("\\fB{test_only}\\fR (test only)")), "{test_only} not marked test only");
        assert!(help.stdout.contains(&format!("{test_only} [test only]")), "{test_only} not marked in --help");
    }
}

#[test]
fn one_man_page_covers_every_subcommand_with_exit_status_files_and_examples() {
    let man = Test::new().args(["man"]).run();
    man.success();
    let page = &man.stdout;
    for section in ["NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
        assert!(page.contains(&format!(".SH {section}")), "no {section} section");
    }
    for command in [
        "validate",
        "plan",
        "apply",
        "audit",
        "scim check",
        "console done",
        "signin check",
        "kms policy",
        "init",
        "dns verify",
        "schema",
        "man",
        "completions",
        "login entra",
        "logout",
    ] {
        let heading = format!(".SS \"kiro\\-onboard {}\"", command.replace('-', "\\-"));
        assert!(page.contains(&heading), "no entry for {command}");
    }
    // One page: it must not send the reader to pages `man` cannot produce.
    assert!(
        !page.contains("kiro\\-onboard\\-plan(1)") && !page.contains("kiro-onboard-plan(1)"),
        "points to other pages"
    );
    assert!(page.contains("\\-\\-detailed\\-exitcode"), "plan's flags are not listed");
    assert!(page.contains("entra\\-tokens.json") && page.contains("entra\\-created\\-apps.json"), "FILES is thin");
    assert!(page.contains("\\fB130\\fR"), "EXIT STATUS lacks 130");
}
