//! Command-line arguments (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kiro-onboard",
    version,
    about = "Onboard your identity provider to Kiro from one reviewed YAML plan",
    propagate_version = true,
    after_long_help = crate::commands::reference::environment_help()
)]
pub struct Cli {
    /// More detail on stderr: -v shows unchanged objects and retries, -vv debug logs, -vvv traces.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print only data and errors: no progress or status lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Let `command:` secret references in the plan run (as KIRO_ONBOARD_ALLOW_COMMANDS=1 does).
    /// Only for a plan you trust: a plan from a pull request could name any program.
    #[arg(long, global = true)]
    pub allow_commands: bool,

    /// The AWS profile, over the plan's `aws.profile` and AWS_PROFILE, on every command that reads AWS.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// The AWS Region, over the plan's `aws.region`, AWS_REGION and the profile's, on every command that reads AWS.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a plan file offline: syntax, every key and value, and cross-references. Nothing remote.
    Validate {
        /// The plan file.
        plan: PathBuf,
        #[command(flatten)]
        output: JsonFlag,
    },
    /// Read every system the plan names and show exactly what apply would change. Read-only.
    Plan {
        /// The plan file.
        plan: PathBuf,
        #[command(flatten)]
        output: JsonFlag,
        /// Exit 2 when there are changes (0 when there are none, 1 on error), like terraform plan.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Save the plan to FILE for `kiro-onboard apply FILE`; apply refuses it if the live state moves on.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write the manual steps (Kiro console) as a Markdown checklist to FILE.
        #[arg(long, value_name = "FILE")]
        checklist: Option<PathBuf>,
        #[command(flatten)]
        limits: Limits,
    },
    /// Make the live state match the plan. Safe to run again: it reads first and does only what is left.
    Apply {
        /// A plan file, or a plan saved with `plan --out`.
        plan: PathBuf,
        /// Do not ask for confirmation (needed when there is no terminal).
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        limits: Limits,
    },
    /// Remove what the plan owns (Kiro's key-policy statements, the token TXT values, the plan's
    /// group memberships, the Entra or Okta app kiro-onboard made with its policy and scopes, the
    /// Okta SCIM app's assignments and Push Groups mappings of the plan's groups), keeping
    /// everything else, then list the Kiro console steps to finish. A dry run unless --yes: exits
    /// 2 when something would be removed, 0 when nothing is left.
    Retire {
        /// The plan file the integration was applied from.
        plan: PathBuf,
        /// Remove, rather than only show what would be removed.
        #[arg(long)]
        yes: bool,
        /// Delete the plan's IAM Identity Center users and groups too (for good: their ids, and
        /// every assignment that names them, go with them); with Okta, the groups it pushed to
        /// Kiro go with their push mappings.
        #[arg(long)]
        include_identities: bool,
        /// The appId of the plan's Entra app when it does not carry kiro-onboard's tag (an app
        /// made before kiro-onboard tagged its apps, or in the admin center): delete it anyway.
        #[arg(long, value_name = "APP_ID")]
        confirm_app_id: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        limits: Limits,
    },
    /// Render a plan saved with `plan --out` for review (a pull request comment, a change ticket).
    /// Offline: nothing remote is contacted.
    Show {
        /// A plan saved with `plan --out`.
        saved: PathBuf,
        /// text for a terminal, markdown (GitHub-flavoured) for a pull request comment, json for tools.
        #[arg(long, value_enum, default_value = "text")]
        format: crate::commands::show::Format,
    },
    /// Read-only check of drift and security findings. Exits 2 when something does not hold.
    Audit {
        /// The plan file.
        plan: PathBuf,
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        limits: Limits,
    },
    /// Kiro's SCIM endpoint: check a provisioning token before handing it to your identity provider.
    Scim {
        #[command(subcommand)]
        command: ScimCommand,
    },
    /// Steps only a console can do (Kiro, Okta admin): record one as done in the plan file.
    Console {
        #[command(subcommand)]
        command: ConsoleCommand,
    },
    /// Prove sign-in works before users try it: sign a test user in to the Kiro app as Kiro's
    /// clients do, with a verdict per troubleshooting row.
    Signin {
        #[command(subcommand)]
        command: SigninCommand,
    },
    /// Kiro's KMS key-policy statements.
    Kms {
        #[command(subcommand)]
        command: KmsCommand,
    },
    /// Write a commented starter plan (and its JSON Schema, for editor completion).
    Init {
        /// Which identity provider the plan is for.
        #[arg(long, value_enum)]
        idp: Idp,
        /// Where to write the plan.
        #[arg(long, short, default_value = "plan.yaml")]
        output: PathBuf,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
    /// Write a plan from what already exists (made in a console), so that `plan` right after
    /// proposes no create, update or delete: only findings and the console steps it cannot see.
    Import(ImportArgs),
    /// DNS checks for domain verification (no plan file and no AWS needed).
    Dns {
        #[command(subcommand)]
        command: DnsCommand,
    },
    /// Print the JSON Schema of the plan file (for editor completion and checks).
    Schema {
        /// Print the plan file reference (Markdown) generated from the schema instead.
        #[arg(long)]
        markdown: bool,
    },
    /// Print the manual page (roff), e.g. `kiro-onboard man > kiro-onboard.1`.
    Man,
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Sign in as an identity admin and cache the session for plan, apply and audit. Only
    /// Microsoft Entra ID is supported (Okta is not, yet); automation uses
    /// `entra.client_credentials` in the plan instead.
    Login {
        #[command(subcommand)]
        idp: LoginIdp,
    },
    /// Delete cached admin sessions (all of them, or those of one identity provider). Only Entra ID
    /// sign-ins are cached; for Okta and AWS it says where their credentials live instead.
    Logout {
        /// entra (cached sign-ins), okta or identity-center (nothing cached: explained).
        #[arg(value_enum)]
        idp: Option<LogoutIdp>,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Which identity provider to read.
    #[arg(long, value_enum)]
    pub idp: Idp,
    /// An Identity Center group to adopt, with its members as users (repeat for several).
    #[arg(long = "group", value_name = "NAME")]
    pub groups: Vec<String>,
    /// The customer managed KMS key of Identity Center (id, ARN or alias/NAME): adds the `kms` section.
    #[arg(long, value_name = "KEY")]
    pub kms_key: Option<String>,
    /// A domain verified for Kiro (repeat for several); `dns: route53` when Route 53 holds the record.
    #[arg(long = "domain", value_name = "NAME")]
    pub domains: Vec<String>,
    /// Entra ID: the tenant (its id or a verified domain).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Entra ID or Okta: the app's id (Entra appId, Okta app id).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// Entra ID: the app's display name, instead of --app-id.
    #[arg(long, value_name = "NAME", conflicts_with = "app_id")]
    pub app_name: Option<String>,
    /// Okta: the org URL, e.g. https://example.okta.com.
    #[arg(long, value_name = "URL")]
    pub org_url: Option<String>,
    /// Okta: the app's label, instead of --app-id.
    #[arg(long, value_name = "LABEL", conflicts_with = "app_id")]
    pub app_label: Option<String>,
    /// A public resolver the plan's domain checks ask, as IP or IP:PORT (repeat for several),
    /// written into the plan's `resolvers`. Default: 1.1.1.1 and 8.8.8.8.
    #[arg(long = "resolver", value_name = "IP[:PORT]", requires = "domains")]
    pub resolvers: Vec<String>,
    /// Write the plan to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite FILE when it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// The global --profile, written into the plan's `aws.profile`.
    #[arg(skip)]
    pub profile: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LoginIdp {
    /// Microsoft Entra ID, with the device code flow: prints a URL and a code to enter in any
    /// browser (works over SSH). Needs an admin with Application Administrator (or Cloud
    /// Application Administrator) who can consent to Application.ReadWrite.All,
    /// AppRoleAssignment.ReadWrite.All, Synchronization.ReadWrite.All and Group.Read.All.
    Entra {
        /// The tenant: its id or a verified domain (as in `entra.tenant`).
        #[arg(long)]
        tenant: String,
        /// The public client to sign in with. Defaults to Microsoft Graph Command Line Tools.
        #[arg(long, value_name = "ID")]
        client_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogoutIdp {
    Entra,
    Okta,
    IdentityCenter,
}

#[derive(Debug, Subcommand)]
pub enum ConsoleCommand {
    /// Record a console step as done in the plan file, without a prompt: a minimal edit of that one
    /// value (comments and layout kept), printed as a diff. Offline; nothing remote is contacted.
    Done {
        /// The step's address as `plan` shows it, e.g. 'kiro_console.profile["us-east-1"]' (quote it).
        address: String,
        /// The plan file.
        plan: PathBuf,
        /// The value for a step that records one: the verification token of a domain.
        #[arg(long)]
        value: Option<String>,
        #[command(flatten)]
        output: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigninCommand {
    /// Sign in as a test user with the flow Kiro's clients run (Entra ID, Okta: authorization code
    /// and PKCE on a loopback redirect; IAM Identity Center: the device flow at the AWS access
    /// portal) and check each troubleshooting row. Exits 0 when all hold, 2 when one does not, 1
    /// on error. The token is inspected in memory only, never printed or stored.
    Check {
        /// The plan file.
        plan: PathBuf,
        /// The test user to sign in as (sent as the login hint); on Identity Center required: the
        /// user name whose subscription is checked.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Do not open a browser or listen: paste the URL the browser was redirected to on
        /// standard input (also the default over SSH; Identity Center's device flow needs no
        /// paste). The wait is KIRO_ONBOARD_SIGNIN_WAIT seconds.
        #[arg(long)]
        no_browser: bool,
        #[command(flatten)]
        output: JsonFlag,
        #[command(flatten)]
        limits: Limits,
    },
}

#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    /// Check the domain's TXT record the way Kiro does: ask every authoritative server of the
    /// zone directly (no recursion, no cache), and the public resolvers. Exits 0 when every
    /// authoritative server serves the token, 2 when not, 1 on error.
    Verify {
        /// The domain you added in the Kiro console, e.g. example.com.
        domain: String,
        /// The verification token the Kiro console shows for the domain.
        #[arg(long)]
        token: String,
        /// The record's prefix: the TXT record is RECORD.DOMAIN.
        #[arg(long, default_value = crate::plan::model::DEFAULT_RECORD)]
        record: String,
        /// A public resolver to ask, as IP or IP:PORT (repeat for several). Default: 1.1.1.1 and 8.8.8.8.
        #[arg(long = "resolver", value_name = "IP[:PORT]")]
        resolvers: Vec<String>,
        /// Keep checking until the record verifies or this much time has passed, e.g. 90s, 10m, 1h.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        wait: Option<std::time::Duration>,
        #[command(flatten)]
        output: JsonFlag,
    },
}

/// Reads `90`, `90s`, `10m`, `1h` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => {
                return Err(format!("`{text}` is not a duration; write e.g. 90s, 10m or 1h"));
            }
        };
        let value: u64 =
            number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. 90s, 10m or 1h"))?;
        total = total.saturating_add(value.saturating_mul(unit));
        number.clear();
    }
    if !number.is_empty() || text.is_empty() {
        return Err(format!("`{text}` is not a duration; write e.g. 90s, 10m or 1h"));
    }
    Ok(std::time::Duration::from_secs(total))
}

#[derive(Debug, Args, Clone, Copy)]
pub struct JsonFlag {
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct Limits {
    /// Most AWS calls per second (Identity Center allows 20 in total across its APIs).
    #[arg(long, value_name = "N", default_value_t = crate::clients::aws::DEFAULT_MAX_TPS)]
    pub max_tps: f64,
    /// Most remote calls in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Idp {
    /// IAM Identity Center holds the users and groups.
    IdentityCenter,
    /// Okta connected directly to Kiro (OIDC app, custom authorization server, SCIM).
    Okta,
    /// Microsoft Entra ID connected directly to Kiro.
    Entra,
}

#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Print Kiro's two key-policy statements as JSON (with --full, a whole policy for a new key).
    /// Works offline from the flags; without them, reads the instance from AWS.
    Policy(KmsPolicyArgs),
}

#[derive(Debug, Args)]
pub struct KmsPolicyArgs {
    /// Read the instance (and condition form) from this plan's AWS settings and `kms` section.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["instance_arn", "instance_id"])]
    pub plan: Option<PathBuf>,
    /// The Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…).
    #[arg(long, requires = "identity_store_arn", conflicts_with = "instance_id")]
    pub instance_arn: Option<String>,
    /// The identity store ARN (arn:aws:identitystore::ACCOUNT:identitystore/d-…).
    #[arg(long, requires = "instance_arn")]
    pub identity_store_arn: Option<String>,
    /// The instance id (ssoins-…), with --identity-store-id and --account instead of the ARNs.
    #[arg(long, requires_all = ["identity_store_id", "account"])]
    pub instance_id: Option<String>,
    /// The identity store id (d-…).
    #[arg(long, requires = "instance_id")]
    pub identity_store_id: Option<String>,
    /// The AWS account that owns the instance.
    #[arg(long, requires = "instance_id")]
    pub account: Option<String>,
    /// The instance's Region: the global --region (default: AWS_REGION, or the AWS profile's Region).
    #[arg(skip)]
    pub region: Option<String>,
    /// The relaxed StringLike form instead of the exact StringEquals one.
    #[arg(long)]
    pub wildcard: bool,
    /// A whole key policy for a new key: account administration plus Kiro's statements.
    #[arg(long)]
    pub full: bool,
    /// Only the JSON, compact, with no notes on stderr.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Check that ENDPOINT is Kiro's SCIM service and accepts the token. Exits 0 when it does, 2
    /// when the endpoint or token is wrong, 1 when the service could not be reached.
    Check(ScimCheckArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("token").required(true)))]
pub struct ScimCheckArgs {
    /// The SCIM endpoint from the Kiro console (Settings → Identity Management).
    pub endpoint: String,
    /// Read the token from this environment variable.
    #[arg(long, value_name = "NAME", group = "token")]
    pub token_env: Option<String>,
    /// Read the token from this file.
    #[arg(long, value_name = "PATH", group = "token")]
    pub token_file: Option<PathBuf>,
    /// Read the token from the first line of standard input.
    #[arg(long, group = "token")]
    pub token_stdin: bool,
    /// Seconds to wait for each answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    pub timeout: u64,
    /// Print one JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("10 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
