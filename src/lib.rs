//! kiro-onboard: onboard an organisation's identity provider to Kiro from one reviewed YAML plan.
//!
//! Arguments (`cli`) → plan file (`plan`) → steps (`steps`) run by the engine (`engine`) against
//! remote systems (`clients`); everything printed goes through `output`.

mod cli;
mod clients;
mod commands;
mod engine;
mod error;
mod files;
#[cfg(test)]
mod fuzz;
mod output;
pub mod plan;
mod requirements;
mod shared;
mod steps;
#[cfg(test)]
mod walls;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
pub use error::Error;

/// Runs the command line and returns the process exit code.
pub fn run() -> i32 {
    // clap exits 2 on a usage error; 2 means "changes" here, so usage errors exit 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    init_logging(cli.verbose);
    // Debug builds only: lets the canary test see what a panic prints when a secret is in scope.
    #[cfg(debug_assertions)]
    if let Some(value) = std::env::var_os("KIRO_ONBOARD_TEST_PANIC") {
        let secret = secrecy::SecretString::from(value.to_string_lossy().into_owned());
        panic!("test panic while holding {secret:?}");
    }
    let json = matches!(&cli.command, Command::Validate { output, .. } | Command::Plan { output, .. } | Command::Apply { output, .. } | Command::Audit { output, .. } if output.json)
        || matches!(&cli.command, Command::Dns { command: cli::DnsCommand::Verify { output, .. } } if output.json)
        || matches!(&cli.command, Command::Signin { command: cli::SigninCommand::Check { output, .. } } if output.json);
    let command_name = command_name(&cli.command);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(&format!("could not start the async runtime: {e}"), None);
            return 1;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(error) => {
            report(&error, json, command_name);
            error.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result<i32, Error> {
    let verbose = cli.verbose > 0;
    let quiet = cli.quiet;
    if cli.allow_commands {
        shared::secret::allow_commands();
    }
    clients::http::check_test_overrides()?;
    match cli.command {
        Command::Validate { plan, output } => commands::validate::run(&plan, output.json, quiet),
        Command::Plan { plan, output, detailed_exitcode, out, checklist, limits } => {
            commands::plan::run(
                &plan,
                commands::plan::Options {
                    json: output.json,
                    detailed_exitcode,
                    out,
                    checklist,
                    limits,
                    verbose,
                    quiet,
                },
            )
            .await
        }
        Command::Apply { plan, yes, output, limits } => {
            commands::apply::run(&plan, commands::apply::Options { yes, json: output.json, limits, verbose, quiet })
                .await
        }
        Command::Audit { plan, output, limits } => commands::audit::run(&plan, output.json, limits, quiet).await,
        Command::Scim { command: cli::ScimCommand::Check(args) } => commands::scim_check::run(&args, quiet).await,
        Command::Signin { command: cli::SigninCommand::Check { plan, user, no_browser, output, limits } } => {
            commands::signin_check::run(
                &plan,
                commands::signin_check::Options { user, no_browser, json: output.json, limits, quiet },
            )
            .await
        }
        Command::Kms { command: cli::KmsCommand::Policy(args) } => commands::kms_policy::run(&args, quiet).await,
        Command::Console { command: cli::ConsoleCommand::Done { address, plan, value, output } } => {
            commands::console_done::run(
                &address,
                &plan,
                commands::console_done::Options { value, json: output.json, quiet },
            )
        }
        Command::Init { idp, output, force } => commands::init::run(idp, &output, force, quiet),
        Command::Login { idp: cli::LoginIdp::Entra { tenant, client_id } } => {
            commands::login::login_entra(&tenant, client_id.as_deref(), quiet).await
        }
        Command::Logout { .. } => commands::login::logout(quiet),
        Command::Dns { command: cli::DnsCommand::Verify { domain, token, record, resolvers, wait, output } } => {
            commands::dns_verify::run(commands::dns_verify::Options {
                domain,
                token,
                record,
                resolvers,
                wait,
                json: output.json,
                quiet,
            })
            .await
        }
        Command::Schema { markdown } => commands::schema::run(markdown),
        Command::Man => {
            let mut buffer = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut buffer)
                .map_err(|source| Error::Write { path: "standard output".into(), source })?;
            output::data(&String::from_utf8_lossy(&buffer));
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut buffer = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kiro-onboard", &mut buffer);
            output::data(&String::from_utf8_lossy(&buffer));
            Ok(0)
        }
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Validate { .. } => "validate",
        Command::Plan { .. } => "plan",
        Command::Apply { .. } => "apply",
        Command::Audit { .. } => "audit",
        Command::Init { .. } => "init",
        Command::Kms { .. } => "kms policy",
        Command::Console { .. } => "console done",
        Command::Scim { .. } => "scim check",
        Command::Signin { .. } => "signin check",
        Command::Dns { .. } => "dns verify",
        Command::Schema { .. } => "schema",
        Command::Login { .. } => "login",
        Command::Logout { .. } => "logout",
        Command::Completions { .. } => "completions",
        Command::Man => "man",
    }
}

fn report(error: &Error, json: bool, command: &str) {
    if json {
        let diagnostics = match error {
            Error::PlanInvalid(d) => serde_json::to_value(&d.items).ok(),
            _ => None,
        };
        commands::print_json(&engine::json::error(command, &error.to_string(), error.hint().as_deref(), diagnostics));
    }
    match error {
        Error::PlanInvalid(diagnostics) => eprintln!("{}", diagnostics.render()),
        _ => output::error(&error.to_string(), error.hint().as_deref()),
    }
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
