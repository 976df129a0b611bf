//! What the admin's own AWS files say, read only to explain a failure in their terms: which
//! profiles exist and where the files are, a profile's Region, and whether an SSO profile has a
//! cached sign-in. The SDK still loads the credentials; nothing here decides what is used.
//!
//! File locations and formats: "Configuration and credential file settings" and "Location of the
//! shared files" in the AWS SDKs and Tools Reference Guide
//! (https://docs.aws.amazon.com/sdkref/latest/guide/file-location.html): `AWS_CONFIG_FILE`, else
//! `~/.aws/config` (sections `[default]`, `[profile NAME]`, `[sso-session NAME]`), and
//! `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials` (sections `[NAME]`). The SSO token
//! cache: `~/.aws/sso/cache/<SHA-1 of the sso-session name, or of the start URL>.json`
//! ("Understanding the SSO token cache", https://docs.aws.amazon.com/sdkref/latest/guide/understanding-sso.html).

use std::collections::BTreeMap;
use std::path::PathBuf;

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// One shared file: where it is, which variable named it (if one did), and its sections.
pub struct SharedFile {
    pub path: PathBuf,
    pub variable: &'static str,
    pub from_variable: bool,
    sections: Sections,
}

impl SharedFile {
    fn read(variable: &'static str, default: &str) -> SharedFile {
        let (path, from_variable) = match std::env::var(variable) {
            Ok(value) if !value.is_empty() => (expand_home(&value), true),
            _ => (expand_home(default), false),
        };
        let sections = std::fs::read_to_string(&path).map(|text| parse(&text)).unwrap_or_default();
        SharedFile { path, variable, from_variable, sections }
    }

    /// "/home/me/.aws/config (AWS_CONFIG_FILE)" or "/home/me/.aws/config".
    pub fn describe(&self) -> String {
        if self.from_variable {
            format!("{} ({})", self.path.display(), self.variable)
        } else {
            format!(
                "{} (the default; AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name others)",
                self.path.display()
            )
        }
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// INI sections and their `key = value` lines; comments (`#`, `;`) and continuation lines ignored.
fn parse(text: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            let entry = sections.entry(section.clone()).or_default();
            entry.insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    sections
}

/// The admin's two shared files, read once for an explanation.
pub struct Profiles {
    pub config: SharedFile,
    pub credentials: SharedFile,
}

impl Profiles {
    pub fn read() -> Profiles {
        Profiles {
            config: SharedFile::read("AWS_CONFIG_FILE", "~/.aws/config"),
            credentials: SharedFile::read("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        }
    }

    fn config_section(&self, profile: &str) -> Option<&BTreeMap<String, String>> {
        let key = if profile == "default" { "default".to_owned() } else { format!("profile {profile}") };
        self.config.sections.get(&key)
    }

    pub fn has(&self, profile: &str) -> bool {
        self.config_section(profile).is_some() || self.credentials.sections.contains_key(profile)
    }

    /// Every profile either file defines, sorted.
    pub fn names(&self) -> Vec<String> {
        let config = self.config.sections.keys().filter_map(|k| match k.as_str() {
            "default" => Some("default"),
            other => other.strip_prefix("profile "),
        });
        let mut names: Vec<String> =
            config.chain(self.credentials.sections.keys().map(String::as_str)).map(str::to_owned).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Why an SSO profile cannot sign in, if it is one and has no cached token. (An expired token
    /// the SDK cannot refresh ends in an expired-credentials answer, said as such.)
    pub fn sso_sign_in_missing(&self, profile: &str) -> Option<String> {
        let section = self.config_section(profile)?;
        let key = match (section.get("sso_session"), section.get("sso_start_url")) {
            (Some(session), _) => session.clone(),
            (None, Some(start_url)) => start_url.clone(),
            _ => return None,
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
        let name: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        let cache = expand_home("~/.aws/sso/cache").join(format!("{name}.json"));
        (!cache.exists()).then(|| {
            format!(
                "the AWS profile `{profile}` signs in with IAM Identity Center, and there is no cached sign-in for it"
            )
        })
    }
}
