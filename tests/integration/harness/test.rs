//! `Test::new().plan(yaml).args([...]).run()` runs kiro-onboard in a fresh temporary directory,
//! the way an admin would, and returns what it printed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tempfile::TempDir;

pub struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: BTreeMap<String, String>,
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Self {
        Test::in_dir(tempfile::tempdir().expect("a temporary directory"))
    }

    pub fn in_dir(dir: TempDir) -> Self {
        let mut env = BTreeMap::new();
        // Nothing from the developer's own AWS setup may leak into a test: empty config files.
        for name in ["aws-config", "aws-credentials"] {
            std::fs::write(dir.path().join(name), "").expect("write empty AWS config");
        }
        env.insert("AWS_CONFIG_FILE".into(), dir.path().join("aws-config").display().to_string());
        env.insert("AWS_SHARED_CREDENTIALS_FILE".into(), dir.path().join("aws-credentials").display().to_string());
        env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
        env.insert("NO_COLOR".into(), "1".into());
        // The tests' plans read secrets with `command:` too, as a trusted admin's would; the
        // refusal without it is proven in `untrusted_plan`, which calls `without_env`.
        env.insert("KIRO_ONBOARD_ALLOW_COMMANDS".into(), "1".into());
        Test { dir, args: Vec::new(), env }
    }

    /// Writes `plan.yaml` in the test directory.
    pub fn plan(self, yaml: &str) -> Self {
        self.file("plan.yaml", yaml)
    }

    pub fn file(self, name: &str, contents: &str) -> Self {
        std::fs::write(self.dir.path().join(name), contents).expect("write test file");
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Leaves `key` unset for this test's runs.
    pub fn without_env(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    pub fn aws(mut self, moto: &super::Moto) -> Self {
        for (k, v) in moto.env() {
            self.env.insert(k, v);
        }
        self
    }

    /// Points kiro-onboard at `endpoint` (a fault proxy in front of `moto`) instead of moto itself.
    pub fn aws_via(mut self, moto: &super::Moto, endpoint: &str) -> Self {
        for (k, v) in moto.env_via(endpoint) {
            self.env.insert(k, v);
        }
        self
    }

    pub fn command(&self) -> Command {
        self.command_with(&self.args)
    }

    /// The command for `args` in this test's directory and environment (for a run the test
    /// signals while it runs).
    pub fn command_with<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(&self, args: I) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kiro-onboard"));
        command.args(args).current_dir(self.dir.path());
        for key in [
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "KIRO_ONBOARD_LOG",
            "KIRO_ONBOARD_ALLOW_COMMANDS",
            "KIRO_ONBOARD_TRUSTED_HOSTS",
            // A CI runner's workload identity must not sign a test in.
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            // Output wraps at COLUMNS: tests that want a width set it themselves.
            "COLUMNS",
        ] {
            command.env_remove(key);
        }
        command.envs(&self.env);
        command
    }

    /// Runs the command and keeps the directory for further runs.
    pub fn run(&self) -> Output {
        let mut command = self.command();
        let output = command.stdin(Stdio::null()).output().expect("kiro-onboard runs");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs with other arguments in the same directory and environment.
    pub fn again<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, args: I) -> Output {
        self.args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        self.run()
    }

    /// Runs with other arguments and, for this run only, more environment variables.
    pub fn again_with<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, args: I, env: &[(&str, &str)]) -> Output {
        let saved = self.env.clone();
        for (key, value) in env {
            self.env.insert((*key).into(), (*value).into());
        }
        let output = self.again(args);
        self.env = saved;
        output
    }

    /// Runs with other arguments, writing `input` to standard input.
    pub fn again_with_stdin<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, args: I, input: &str) -> Output {
        use std::io::Write;
        self.args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut child =
            self.command().stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn file_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Output {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e})\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
        })
    }

    #[track_caller]
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n--- stderr\n{}", self.stderr);
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n--- stdout\n{}", self.stdout);
        self
    }
}

/// The changes of a `--json` plan as `(address, action)` pairs, sorted.
pub fn change_list(json: &serde_json::Value) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = json["changes"]
        .as_array()
        .expect("changes is a list")
        .iter()
        .map(|c| {
            (c["address"].as_str().unwrap_or_default().to_owned(), c["action"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    list.sort();
    list
}

/// Every file under `dir`, at any depth (for proving no secret was written anywhere).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            files.push(path);
        }
    }
    files
}

/// A kiro-onboard run whose stderr is read while it runs, as a person reads the prompts: the
/// first line `pick` accepts arrives on `prompt`; `finish` waits for the exit.
pub struct Watched {
    child: std::process::Child,
    pub prompt: std::sync::mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Watched {
    pub fn spawn(mut command: Command, pick: impl Fn(&str) -> Option<String> + Send + 'static) -> Watched {
        use std::io::BufRead;
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (found, prompt) = std::sync::mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(picked) = pick(&line) {
                    let _ = found.send(picked);
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        Watched { child, prompt, stderr }
    }

    /// Its standard input, to type into (dropped: end of input).
    pub fn stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    pub fn finish(mut self) -> Output {
        drop(self.child.stdin.take());
        let output = self.child.wait_with_output().unwrap();
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: self.stderr.join().unwrap(),
        }
    }
}
