//! kiro-onboard: onboard an organisation's identity provider to Kiro from one reviewed YAML plan.
//!
//! Arguments (`cli`) → plan file (`plan`) → steps (`steps`) run by the engine (`engine`) against
//! remote systems (`clients`); each command prints through its `printer`, which writes with `output`.

mod cli;
mod clients;
mod commands;
mod engine;
mod error;
mod exit_status;
mod files;
#[cfg(test)]
mod fuzz;
mod output;
pub mod plan;
mod printer;
mod requirements;
mod shared;
mod steps;
#[cfg(test)]
mod walls;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
pub use error::Error;
pub use exit_status::ExitStatus;
use printer::Printer;

/// Runs the command line and returns how it ended.
pub fn run() -> ExitStatus {
    // clap exits 2 on a usage error; 2 means "changes" here, so usage errors exit 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                return ExitStatus::Success;
            }
            let args: Vec<String> = std::env::args().skip(1).collect();
            if args.iter().any(|a| a == "--json")
                && let Some(command) = subcommand_in(&args)
            {
                printer::usage_error_document(&command, &e);
            }
            return ExitStatus::Failure;
        }
    };
    init_logging(cli.verbose);
    clients::aws::set_command_line(cli.profile.clone(), cli.region.clone(), cli.verbose > 0);
    // Debug builds only: lets the canary test see what a panic prints when a secret is in scope.
    #[cfg(debug_assertions)]
    if let Some(value) = std::env::var_os("KIRO_ONBOARD_TEST_PANIC") {
        let secret = secrecy::SecretString::from(value.to_string_lossy().into_owned());
        panic!("test panic while holding {secret:?}");
    }
    dispatch(cli)
}

/// The one `match` over the subcommands: each gets its printer (named as its JSON documents name
/// it, with its own `--json`) and runs with it.
fn dispatch(cli: Cli) -> ExitStatus {
    let printer = |command, json| Printer::new(command, json, cli.quiet, cli.verbose);
    if cli.allow_commands {
        shared::secret::allow_commands();
    }
    match cli.command {
        Command::Validate { plan, output } => {
            printer("validate", output.json).run(|p| commands::validate::run(&plan, p))
        }
        Command::Plan { plan, output, detailed_exitcode, out, checklist, limits } => {
            let options = commands::plan::Options { detailed_exitcode, out, checklist, limits };
            printer("plan", output.json).run(|p| block_on(commands::plan::run(&plan, options, p)))
        }
        Command::Apply { plan, yes, output, limits } => {
            let options = commands::apply::Options { yes, limits };
            printer("apply", output.json).run(|p| block_on(commands::apply::run(&plan, options, p)))
        }
        Command::Retire { plan, yes, include_identities, confirm_app_id, output, limits } => {
            let steps = steps::RetireOptions { include_identities, confirm_app_id };
            let options = commands::retire::Options { yes, steps, limits };
            printer("retire", output.json).run(|p| block_on(commands::retire::run(&plan, options, p)))
        }
        Command::Show { saved, format } => {
            let json = format == commands::show::Format::Json;
            printer("show", json).run(|p| commands::show::run(&saved, format, p))
        }
        Command::Audit { plan, output, limits } => {
            printer("audit", output.json).run(|p| block_on(commands::audit::run(&plan, limits, p)))
        }
        Command::Scim { command: cli::ScimCommand::Check(args) } => {
            printer("scim check", args.json).run(|p| block_on(commands::scim_check::run(&args, p)))
        }
        Command::Signin { command: cli::SigninCommand::Check { plan, user, no_browser, output, limits } } => {
            let options = commands::signin_check::Options { user, no_browser, limits };
            printer("signin check", output.json).run(|p| block_on(commands::signin_check::run(&plan, options, p)))
        }
        Command::Kms { command: cli::KmsCommand::Policy(mut args) } => {
            args.region = cli.region.clone();
            printer("kms policy", args.json).run(|p| block_on(commands::kms_policy::run(&args, p)))
        }
        Command::Console { command: cli::ConsoleCommand::Done { address, plan, value, output } } => {
            printer("console done", output.json).run(|p| commands::console_done::run(&address, &plan, value, p))
        }
        Command::Init { idp, output, force } => {
            printer("init", false).run(|p| commands::init::run(idp, &output, force, p))
        }
        Command::Import(mut args) => {
            args.profile = cli.profile.clone();
            printer("import", args.json).run(|p| block_on(commands::import::run(&args, p)))
        }
        Command::Login { idp: cli::LoginIdp::Entra { tenant, client_id } } => {
            printer("login", false).run(|p| block_on(commands::login::login_entra(&tenant, client_id.as_deref(), p)))
        }
        Command::Logout { idp } => printer("logout", false).run(|p| commands::login::logout(idp, p)),
        Command::Dns { command: cli::DnsCommand::Verify { domain, token, record, resolvers, wait, output } } => {
            let options = commands::dns_verify::Options { domain, token, record, resolvers, wait };
            printer("dns verify", output.json).run(|p| block_on(commands::dns_verify::run(options, p)))
        }
        Command::Schema { markdown } => printer("schema", false).run(|p| commands::schema::run(markdown, p)),
        Command::Man => printer("man", false).run(commands::reference::man),
        Command::Completions { shell } => {
            printer("completions", false).run(|p| commands::reference::completions(shell, p))
        }
    }
}

/// The subcommand `args` name, as the JSON documents name it (`scim check`), even when clap
/// refused them.
fn subcommand_in(args: &[String]) -> Option<String> {
    let mut command = Cli::command();
    let mut names = Vec::new();
    for arg in args.iter().filter(|a| !a.starts_with('-')) {
        let Some(sub) = command.find_subcommand(arg).cloned() else { break };
        names.push(sub.get_name().to_owned());
        command = sub;
    }
    (!names.is_empty()).then(|| names.join(" "))
}

/// Runs a command that talks to remote systems on a fresh async runtime, once the test-only
/// endpoint overrides are known to point at loopback (every remote command comes through here).
fn block_on(command: impl Future<Output = Result<ExitStatus, Error>>) -> Result<ExitStatus, Error> {
    clients::http::check_test_overrides()?;
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Error::Runtime)?.block_on(command)
}

/// Logs go to stderr. `-vv` shows our debug logs, `-vvv` traces, `KIRO_ONBOARD_LOG` overrides.
/// Other crates' logs show only errors by default and warnings from `-vv`: the AWS SDK warns
/// about every credential source it tries (the instance metadata service outside EC2...) before
/// the one that works, which is noise; what fails is reported by our own error. Not hidden
/// because they would show secrets: request signing happens below the layer they log.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 | 1 => "error,kiro_onboard=warn",
        2 => "warn,kiro_onboard=debug",
        _ => "info,kiro_onboard=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KIRO_ONBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_subcommand_is_found_in_refused_arguments() {
        let named = |args: &[&str]| super::subcommand_in(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
        assert_eq!(named(&["-q", "scim", "check", "--bogus"]).as_deref(), Some("scim check"));
        assert_eq!(named(&["plan", "check", "--json"]).as_deref(), Some("plan"));
        assert_eq!(named(&["--json", "nothing"]), None);
    }
}
