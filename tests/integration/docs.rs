//! The getting-started guides are run as written: every ```sh block, in order, in one directory,
//! with kiro-onboard on the PATH and AWS pointed at a local moto.

use crate::harness::{Moto, Test, repo_root};

fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn run_guide(name: &str, env: &[(String, String)]) {
    let guide = std::fs::read_to_string(repo_root().join("docs/getting-started").join(name)).unwrap();
    let blocks = sh_blocks(&guide);
    assert!(blocks.len() >= 4, "{name} has its commands in ```sh blocks");
    let test = Test::new();
    let binary_dir = std::path::Path::new(env!("CARGO_BIN_EXE_kiro-onboard")).parent().unwrap().to_owned();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    for (i, block) in blocks.iter().enumerate() {
        let command = test.command();
        let output = std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(test.file_path("."))
            .envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
            .envs(env.iter().cloned())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{name}, block {} failed ({:?}):\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            i + 1,
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn getting_started_with_identity_center_works_as_written() {
    let moto = Moto::start();
    run_guide("identity-center.md", &moto.env());
}
