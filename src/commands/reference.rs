//! `man` and `completions`: the command line's own manual page and shell completions, generated
//! from its clap definitions so they cannot drift from it, plus the one list of the environment
//! variables the program reads (shown by both the manual page and `--help`).

use std::fmt::Write as _;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

/// The name the shells complete and the manual page is titled with.
const BIN_NAME: &str = "kiro-onboard";

/// One environment variable the program reads.
pub struct EnvironmentVariable {
    pub name: &'static str,
    pub meaning: &'static str,
    /// Only for the test suite and demos against local emulators; an admin never sets it.
    pub test_only: bool,
}

/// Every `KIRO_ONBOARD_*` variable the program reads. A test compares this list with the source,
/// so a variable added to the code without a line here fails the build's tests.
pub const ENVIRONMENT: &[EnvironmentVariable] = &[
    EnvironmentVariable {
        name: "KIRO_ONBOARD_ALLOW_COMMANDS",
        meaning: "1 lets `command:` secret references in the plan run (as --allow-commands does). \
                  Only for a plan you trust.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_TRUSTED_HOSTS",
        meaning: "Comma-separated custom hosts (an Okta custom URL domain, a proxy you run) a \
                  credential may be sent to, besides the vendors' own domains.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_SECRET_TIMEOUT",
        meaning: "Seconds a `command:` secret may run (default 30).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "AZURE_FEDERATED_TOKEN_FILE",
        meaning: "With AZURE_CLIENT_ID, and a plan without entra.client_credentials: sign in to \
                  Entra by workload identity federation with the token in this file (read again \
                  before every token request), as azure-identity does.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "AZURE_CLIENT_ID",
        meaning: "The Application (client) ID that trusts AZURE_FEDERATED_TOKEN_FILE's token.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "AZURE_TENANT_ID",
        meaning: "Only checked: a tenant id other than the plan's entra.tenant (also an id) is \
                  refused; the plan names the tenant.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_CONFIG_DIR",
        meaning: "The configuration directory (see FILES); default $XDG_CONFIG_HOME/kiro-onboard, \
                  else ~/.config/kiro-onboard.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_LOG",
        meaning: "Log filter for stderr (tracing EnvFilter syntax, e.g. kiro_onboard=debug); \
                  overrides -v.",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_CALL_TIMEOUT",
        meaning: "Seconds one AWS, Graph or Okta call may take before it counts as failed \
                  (defaults 30, 60 and 30).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_SIGNIN_WAIT",
        meaning: "Seconds `signin check` waits for the browser's redirect or the pasted URL \
                  (default 300).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_DNS_TIMEOUT",
        meaning: "Seconds one DNS query may take (default 2).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_ROUTE53_SYNC_TIMEOUT",
        meaning: "Seconds apply waits for a Route 53 change to be INSYNC (default 300).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_GRAPH_REPLICATION_WAIT",
        meaning: "Seconds apply waits for Microsoft Graph to replicate what it just created \
                  (default 300).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT",
        meaning: "Seconds apply waits for Entra to let provisioning see a new group assignment \
                  (default 600; past it the step is pending).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_OKTA_SEARCH_WAIT",
        meaning: "Seconds a group created moments ago is looked for again in Okta's eventually \
                  consistent search (default 20).",
        test_only: false,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_DNS_PORT",
        meaning: "The port the authoritative DNS servers are asked on (default 53); for local DNS \
                  servers.",
        test_only: true,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_GRAPH_URL",
        meaning: "Microsoft Graph base URL of a local emulator (this machine only).",
        test_only: true,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_LOGIN_URL",
        meaning: "Microsoft sign-in base URL of a local emulator (this machine only).",
        test_only: true,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_OKTA_ORG_URL",
        meaning: "Okta org URL of a local emulator, replacing the plan's (this machine only).",
        test_only: true,
    },
    EnvironmentVariable {
        name: "KIRO_ONBOARD_TEST_PANIC",
        meaning: "Debug builds only: panic while a secret is in scope, to prove a panic prints \
                  no secret.",
        test_only: true,
    },
];

/// The environment variables as plain text, for `--help`.
pub fn environment_help() -> String {
    let mut text = String::from("Environment variables:\n");
    for variable in ENVIRONMENT {
        let marker = if variable.test_only { " [test only]" } else { "" };
        let _ = writeln!(text, "  {}{marker}\n          {}", variable.name, variable.meaning);
    }
    text.push_str("\nThe manual page (`kiro-onboard man`) adds exit status, files and examples.");
    text
}

/// The manual page (roff): one page covering every subcommand, so it points to no other page.
pub fn man(printer: &Printer) -> Result<ExitStatus, Error> {
    let write_error = |source| Error::Write { path: "standard output".into(), source };
    let command = Cli::command();
    let page = clap_mangen::Man::new(command.clone());
    let mut buffer = Vec::new();
    page.render_title(&mut buffer).map_err(write_error)?;
    page.render_name_section(&mut buffer).map_err(write_error)?;
    page.render_synopsis_section(&mut buffer).map_err(write_error)?;
    page.render_description_section(&mut buffer).map_err(write_error)?;
    page.render_options_section(&mut buffer).map_err(write_error)?;
    let mut roff = String::from_utf8_lossy(&buffer).into_owned();
    roff.push_str(&commands_section(&command));
    roff.push_str(MAN_EXIT_STATUS);
    roff.push_str(&environment_section());
    roff.push_str(MAN_FILES);
    roff.push_str(MAN_EXAMPLES);
    printer.data(&roff);
    Ok(ExitStatus::Success)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, printer: &Printer) -> Result<ExitStatus, Error> {
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut buffer);
    let script = String::from_utf8_lossy(&buffer);
    let script = match shell {
        clap_complete::Shell::Bash => repair_bash_case_labels(&script),
        _ => script.into_owned(),
    };
    printer.data(&script);
    Ok(ExitStatus::Success)
}

/// clap_complete's bash generator names the current subcommand `kiro__onboard__subcmd__plan` while
/// walking the words, but labels the branch that completes it `kiro__subcmd__onboard__subcmd__plan`
/// (it turns the binary name's hyphen into `__subcmd__` a second time), so for a binary name with a
/// hyphen nothing past the first word ever completes (https://github.com/clap-rs/clap/issues/6421).
/// The labels are renamed to the names the walk assigns; once clap is fixed this changes nothing.
fn repair_bash_case_labels(script: &str) -> String {
    let assigned = BIN_NAME.replace('-', "__");
    let mislabelled = BIN_NAME.replace('-', "__subcmd__");
    script.replace(&mislabelled, &assigned)
}

/// Every subcommand (nested ones too) with its usage, description and arguments.
fn commands_section(command: &clap::Command) -> String {
    let mut roff = String::from(".SH COMMANDS\n");
    for subcommand in command.get_subcommands() {
        subcommand_entry(&mut roff, subcommand, BIN_NAME);
    }
    roff
}

fn subcommand_entry(roff: &mut String, command: &clap::Command, parent: &str) {
    if command.get_name() == "help" {
        return;
    }
    let path = format!("{parent} {}", command.get_name());
    let _ = writeln!(roff, ".SS \"{}\"", escape(&path));
    let about = command.get_long_about().or(command.get_about()).map(|a| a.to_string()).unwrap_or_default();
    let usage = command.clone().bin_name(&path).render_usage().to_string();
    let usage = usage.trim_start_matches("Usage: ");
    let _ = writeln!(roff, ".PP\n{}\n.PP\n.nf\n{}\n.fi", escape(&about), escape(usage));
    for argument in command.get_arguments().filter(|a| !a.is_hide_set() && !a.is_global_set()) {
        argument_entry(roff, argument);
    }
    for subcommand in command.get_subcommands() {
        subcommand_entry(roff, subcommand, &path);
    }
}

fn argument_entry(roff: &mut String, argument: &clap::Arg) {
    let name = argument.get_id().as_str();
    if name == "help" || name == "version" {
        return;
    }
    let value = argument
        .get_value_names()
        .and_then(|names| names.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| name.to_uppercase());
    let takes_values = argument.get_action().takes_values();
    let mut label = match (argument.get_short(), argument.get_long()) {
        (Some(short), Some(long)) => format!("-{short}, --{long}"),
        (None, Some(long)) => format!("--{long}"),
        (Some(short), None) => format!("-{short}"),
        (None, None) => value.clone(),
    };
    if argument.get_long().is_some() && takes_values {
        label = format!("{label} {value}");
    }
    let help = argument.get_long_help().or(argument.get_help()).map(|h| h.to_string()).unwrap_or_default();
    let values: Vec<String> = argument.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
    let values = if values.is_empty() || !takes_values {
        String::new()
    } else {
        format!(" [possible values: {}]", values.join(", "))
    };
    let _ = writeln!(roff, ".TP\n\\fB{}\\fR\n{}{}", escape(&label), escape(&help), escape(&values));
}

fn environment_section() -> String {
    let mut roff = String::from(
        ".SH ENVIRONMENT\n.PP\nVariables marked (test only) point the program at local emulators or \
         test servers; an admin never sets them.\n",
    );
    for variable in ENVIRONMENT {
        let marker = if variable.test_only { " (test only)" } else { "" };
        let _ = writeln!(roff, ".TP\n\\fB{}\\fR{marker}\n{}", variable.name, escape(variable.meaning));
    }
    roff
}

/// Roff text: backslashes and hyphens escaped, and a line never starts as a request.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|line| if line.starts_with(['.', '\'']) { format!("\\&{line}") } else { line.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The exit codes of docs/automation.md ("Exit codes"), which scripts branch on.
const MAN_EXIT_STATUS: &str = r".SH EXIT STATUS
.TP
\fB0\fR
Success, and nothing to change (for \fBaudit\fR: everything holds).
.TP
\fB1\fR
An error: a bad plan, a usage error (not clap's 2), a remote failure, a refused saved plan, an
\fBapply\fR that did not finish.
.TP
\fB2\fR
Success, and something needs attention: changes (\fBplan \-\-detailed\-exitcode\fR), findings
(\fBaudit\fR), or a check that does not hold (\fBscim check\fR, \fBdns verify\fR, \fBsignin check\fR).
An error never exits 2.
.TP
\fB130\fR
Interrupted with Ctrl\-C (\fBapply\fR finishes the calls in flight; run it again to finish).
";

const MAN_FILES: &str = r".SH FILES
.TP
\fI$KIRO_ONBOARD_CONFIG_DIR\fR, else \fI$XDG_CONFIG_HOME/kiro\-onboard\fR, else \fI~/.config/kiro\-onboard\fR
The configuration directory. Its files are readable only by their owner.
.TP
\fIentra\-tokens.json\fR (in the configuration directory)
The admin sessions cached by \fBlogin entra\fR, one per tenant; \fBlogout\fR deletes it.
.TP
\fIentra\-created\-apps.json\fR (in the configuration directory)
The groups an apply could not provision on demand yet (a convenience: Entra's own cycle
provisions them without it). Nothing in it decides which Entra app is Kiro's.
.TP
\fIplan.yaml\fR, \fIplan.schema.json\fR
The plan \fBinit\fR writes (by default) and its JSON Schema; a plan saved by \fBplan \-\-out FILE\fR
is read back by \fBapply FILE\fR.
";

const MAN_EXAMPLES: &str = r".SH EXAMPLES
.PP
AWS settings, strongest first: \-\-profile and \-\-region on the command line, then the plan's
aws.profile and aws.region, then AWS_PROFILE and AWS_REGION, then the profile's region. Plan with
another profile and Region than the plan names:
.PP
.nf
kiro\-onboard plan plan.yaml \-\-profile admin \-\-region eu\-central\-1
.fi
.PP
Adopt what the IAM Identity Center console made: write a plan from the group, its members, the
KMS key and the domain, then check that plan proposes no change:
.PP
.nf
kiro\-onboard import \-\-idp identity\-center \-\-group kiro\-devs \-\-kms\-key alias/identity\-center \\
    \-\-domain example.com \-\-out plan.yaml
kiro\-onboard plan plan.yaml
.fi
.PP
Start a plan for Microsoft Entra ID, check it offline, then see what would change:
.PP
.nf
kiro\-onboard init \-\-idp entra
kiro\-onboard validate plan.yaml
kiro\-onboard plan plan.yaml
.fi
.PP
In CI: save the reviewed plan, exit 2 when there are changes, then apply exactly that plan:
.PP
.nf
kiro\-onboard plan plan.yaml \-\-detailed\-exitcode \-\-out reviewed.plan
kiro\-onboard show reviewed.plan \-\-format markdown > comment.md
kiro\-onboard apply reviewed.plan \-\-yes \-\-json
.fi
.PP
Check for drift and security findings nightly (exit 2 on findings):
.PP
.nf
kiro\-onboard audit plan.yaml \-\-json
.fi
.PP
Retire the integration: see what the plan owns that would be removed (exit 2), then remove it;
every statement, TXT value and member the plan does not own is kept:
.PP
.nf
kiro\-onboard retire plan.yaml
kiro\-onboard retire plan.yaml \-\-yes
.fi
.PP
Install the completions and this page:
.PP
.nf
kiro\-onboard completions bash > ~/.local/share/bash\-completion/completions/kiro\-onboard
kiro\-onboard completions zsh > ~/.zfunc/_kiro\-onboard
kiro\-onboard completions fish > ~/.config/fish/completions/kiro\-onboard.fish
kiro\-onboard man > ~/.local/share/man/man1/kiro\-onboard.1
.fi
";
