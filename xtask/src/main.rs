//! tenk's task runner: `cargo xtask <command>` runs one group of the project's
//! checks (`cargo xtask help` lists them), and `cargo xtask ci` runs every step
//! in CI's order. Each step prints a `== header (Ns)` line as it starts, the
//! first failing step ends the run with its name, and the closing line sums
//! the test binaries' results.
//!
//! An xtask rather than a `justfile`: it needs nothing but the Rust toolchain
//! every contributor and CI already have (`just` is not packaged for Debian's
//! apt here and would be one more `cargo install`), and it has no dependencies,
//! so it builds in seconds.

use std::env;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// One step: the command it runs from the repository root, under a header.
struct Step {
    name: &'static str,
    header: &'static str,
    program: Program,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// A variable naming a binary inside `CARGO_TARGET_DIR`, e.g.
    /// `("TENK_SERVER_BIN", "debug/tenk-server")`; a value already set wins.
    binary: Option<(&'static str, &'static str)>,
    /// Whether its stdout carries libtest's `test result:` lines to sum up.
    tally: bool,
}

#[derive(Clone, Copy)]
enum Program {
    Bash,
    Cargo,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Bash => "bash",
            Program::Cargo => "cargo",
        }
    }

    /// What to start: for cargo, the one that runs us (as the cargo book
    /// recommends for xtasks).
    fn path(self) -> String {
        match self {
            Program::Cargo => env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
            Program::Bash => "bash".to_owned(),
        }
    }
}

/// A command: the steps it runs, in order.
struct Task {
    name: &'static str,
    about: &'static str,
    steps: &'static [&'static str],
}

const SERVER: Option<(&str, &str)> = Some(("TENK_SERVER_BIN", "debug/tenk-server"));

const STEPS: &[Step] = &[
    Step {
        name: "alerts",
        header: "alerts and dashboards (promtool, amtool, @grafana/schema, live Prometheus)",
        program: Program::Bash,
        args: &["alerts/check.sh"],
        env: &[],
        binary: None,
        tally: false,
    },
    Step {
        name: "deploy",
        header: "deployment: compose, Kubernetes, Dockerfile, nginx/PgBouncer/replica configs",
        program: Program::Bash,
        args: &["deploy/check.sh"],
        env: &[],
        binary: None,
        tally: false,
    },
    Step {
        name: "fmt",
        header: "cargo fmt",
        program: Program::Cargo,
        args: &["fmt", "--all", "--", "--check"],
        env: &[],
        binary: None,
        tally: false,
    },
    Step {
        name: "clippy",
        header: "cargo clippy",
        program: Program::Cargo,
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
        binary: None,
        tally: false,
    },
    Step {
        name: "test",
        header: "tests (the README's test command)",
        program: Program::Cargo,
        args: &["test", "--workspace", "--locked"],
        // CI has promtool: tests that use it must not skip.
        env: &[("TENK_REQUIRE_TOOLS", "1")],
        binary: None,
        tally: true,
    },
    Step {
        name: "e2e-alerts",
        header: "end to end: the real Prometheus scrapes a test server and fires HighErrorRate",
        program: Program::Bash,
        args: &["alerts/e2e_check.sh"],
        env: &[],
        binary: SERVER,
        tally: false,
    },
    Step {
        name: "engines",
        header: "scale-out engines for real: nginx + 3 instances, PgBouncer, a streaming replica",
        program: Program::Bash,
        args: &["engines/run.sh"],
        env: &[],
        binary: SERVER,
        tally: false,
    },
    Step {
        name: "schemathesis",
        header: "contract: schemathesis against a test server (unauthenticated, user, admin)",
        program: Program::Bash,
        args: &["server/schemathesis.sh"],
        env: &[],
        binary: SERVER,
        tally: false,
    },
    Step {
        name: "faults",
        header: "faults: Redis/PostgreSQL kills, SIGTERM, kill -9, pool exhaustion, slow headers under load",
        program: Program::Bash,
        args: &["faults/run.sh"],
        env: &[],
        binary: SERVER,
        tally: false,
    },
    Step {
        name: "instructions",
        header: "hot-path instruction budget: callgrind counts per request (release build)",
        program: Program::Bash,
        args: &["benches/instructions.sh", "--check"],
        env: &[],
        binary: None,
        tally: false,
    },
    // After the release build above: the API image is made from that tenk-server.
    Step {
        name: "compose",
        header: "compose: the whole stack under podman, through nginx",
        program: Program::Bash,
        args: &["deploy/compose-live.sh"],
        env: &[],
        binary: Some(("TENK_SERVER_RELEASE_BIN", "release/tenk-server")),
        tally: false,
    },
];

const TASKS: &[Task] = &[
    Task {
        name: "check",
        about: "cargo fmt --check, clippy -D warnings, then the README's test command",
        steps: &["fmt", "clippy", "test"],
    },
    Task {
        name: "ops",
        about: "alerts, dashboards and deployment files (alerts/check.sh, deploy/check.sh)",
        steps: &["alerts", "deploy"],
    },
    Task {
        name: "e2e",
        about: "a real Prometheus fires HighErrorRate; schemathesis against a test server",
        steps: &["e2e-alerts", "schemathesis"],
    },
    Task {
        name: "engines",
        about: "nginx + 3 instances, PgBouncer, a streaming replica, Redis Sentinel and Cluster",
        steps: &["engines"],
    },
    Task {
        name: "faults",
        about: "the fault suite: dependency kills, SIGTERM, kill -9, pool exhaustion, slow clients",
        steps: &["faults"],
    },
    Task {
        name: "bench",
        about: "the hot path's instruction budget under callgrind (benches/instructions.sh --check)",
        steps: &["instructions"],
    },
    Task {
        name: "compose",
        about: "the whole docker-compose.yml stack under podman, through nginx (root)",
        steps: &["compose"],
    },
    // The order CI has always run them in: the cheap file checks first, the
    // release build (instructions) before the image made from it (compose).
    Task {
        name: "ci",
        about: "everything above, in CI's order (what .ci/run runs)",
        steps: &[
            "alerts",
            "deploy",
            "fmt",
            "clippy",
            "test",
            "e2e-alerts",
            "engines",
            "schemathesis",
            "faults",
            "instructions",
            "compose",
        ],
    },
];

fn main() -> ExitCode {
    let command = env::args().nth(1).unwrap_or_else(|| "help".to_owned());
    if matches!(command.as_str(), "help" | "-h" | "--help") {
        print!("{}", help());
        return ExitCode::SUCCESS;
    }
    let Some(task) = TASKS.iter().find(|task| task.name == command) else {
        eprint!("xtask: no command `{command}`\n\n{}", help());
        return ExitCode::from(2);
    };
    match run(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn help() -> String {
    let mut text = String::from("usage: cargo xtask <command>\n\ncommands:\n");
    let width = TASKS.iter().map(|task| task.name.len()).max().unwrap_or(0);
    for task in TASKS {
        text.push_str(&format!("  {:width$}  {}\n", task.name, task.about));
    }
    text.push_str(&format!("  {:width$}  this list\n", "help"));
    text
}

/// Passed and failed tests, summed over every `test result:` line.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    /// libtest's `test result: ok. 12 passed; 0 failed; ...`.
    fn add(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        if words.next() != Some("test") || words.next() != Some("result:") {
            return;
        }
        let words: Vec<&str> = words.collect();
        let count = |i: usize| {
            words
                .get(i)
                .and_then(|word| word.parse::<u64>().ok())
                .unwrap_or(0)
        };
        self.passed += count(1);
        self.failed += count(3);
    }
}

fn run(task: &Task) -> Result<(), String> {
    let root = repository_root();
    // CI and every helper share one target dir for the main build.
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/tenk-target"));
    let started = Instant::now();
    let mut tally = None;
    for name in task.steps {
        let step = find_step(name).ok_or_else(|| format!("no step `{name}`"))?;
        header(step.header, &started);
        let result = run_step(step, &root, &target_dir, &mut tally);
        if let Err(error) = result {
            print_tally(tally.as_ref());
            return Err(format!(
                "step `{}` ({}) failed after {}s: {error}",
                step.name,
                step.header,
                started.elapsed().as_secs()
            ));
        }
    }
    header("done", &started);
    print_tally(tally.as_ref());
    Ok(())
}

fn find_step(name: &str) -> Option<&'static Step> {
    STEPS.iter().find(|step| step.name == name)
}

/// `.ci/run`'s step line: the header and the seconds since the start.
fn header(text: &str, started: &Instant) {
    println!("\n== {text} ({}s)", started.elapsed().as_secs());
}

fn print_tally(tally: Option<&Tally>) {
    if let Some(tally) = tally {
        println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    }
}

/// xtask/ sits in the repository root.
fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn run_step(
    step: &Step,
    root: &Path,
    target_dir: &Path,
    tally: &mut Option<Tally>,
) -> Result<(), String> {
    let program = step.program.path();
    let mut command = Command::new(&program);
    command
        .args(step.args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir);
    let mut shown: Vec<String> = step
        .env
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    command.envs(step.env.iter().copied());
    if let Some((variable, path)) = step.binary {
        let binary = env::var_os(variable).map_or_else(|| target_dir.join(path), PathBuf::from);
        shown.push(format!("{variable}={}", binary.display()));
        command.env(variable, binary);
    }
    shown.push(step.program.name().to_owned());
    shown.extend(step.args.iter().map(|arg| (*arg).to_owned()));
    println!("$ {}", shown.join(" "));
    std::io::stdout()
        .flush()
        .map_err(|error| error.to_string())?;

    let status = if step.tally {
        let counts = tally.get_or_insert_with(Tally::default);
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot start {program}: {error}"))?;
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                let line = line.map_err(|error| error.to_string())?;
                println!("{line}");
                counts.add(&line);
            }
        }
        child.wait()
    } else {
        command.status()
    };
    let status = status.map_err(|error| format!("cannot run {program}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_a_command_names_exists() {
        for task in TASKS {
            for name in task.steps {
                assert!(find_step(name).is_some(), "{}: no step `{name}`", task.name);
            }
        }
    }

    #[test]
    fn ci_runs_every_step_once_in_the_declared_order() {
        let ci = TASKS
            .iter()
            .find(|task| task.name == "ci")
            .expect("a ci command");
        let declared: Vec<&str> = STEPS.iter().map(|step| step.name).collect();
        assert_eq!(ci.steps, declared.as_slice());
    }

    #[test]
    fn every_step_has_a_command_besides_ci() {
        for step in STEPS {
            let owners = TASKS
                .iter()
                .filter(|task| task.name != "ci" && task.steps.contains(&step.name))
                .count();
            assert_eq!(
                owners, 1,
                "step `{}` belongs to {owners} commands",
                step.name
            );
        }
    }

    #[test]
    fn help_lists_every_command() {
        let text = help();
        for task in TASKS {
            let listed = text
                .lines()
                .any(|line| line.trim_start().starts_with(task.name));
            assert!(listed, "`{}` missing from help:\n{text}", task.name);
        }
    }

    #[test]
    fn the_test_step_is_the_readme_command() {
        let readme = std::fs::read_to_string(repository_root().join("README.md")).expect("README");
        let test = find_step("test").expect("a test step");
        let command = format!("cargo {}", test.args.join(" "));
        let documented = readme
            .lines()
            .any(|line| line.starts_with("cargo test") && command.starts_with(line));
        assert!(
            documented,
            "README shows no test command that `{command}` runs"
        );
    }

    #[test]
    fn tally_sums_libtest_result_lines() {
        let mut tally = Tally::default();
        tally.add("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out");
        tally.add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured");
        tally.add("test something ... ok");
        assert_eq!((tally.passed, tally.failed), (15, 2));
    }
}
