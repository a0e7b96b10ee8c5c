//! Runs every example of the README, and the runnable examples of the pages under `docs/`.
//!
//! The convention, for whoever writes an example:
//!
//! - A ```` ```console ```` block holds runnable examples. A line that starts with `$ ` is a
//!   command; the lines after it, up to the next `$ ` line or the end of the block, show (part
//!   of) what it prints.
//! - A command is `egress-advisor ARGS...`, or `cargo run --release -- ARGS...` as the Quick
//!   start writes it (the same binary); any other command in a console block fails the test.
//!   It runs under `sh -c` with the binary cargo built for this test first on `PATH`, in a
//!   scratch directory where `samples/`, `examples/`, `tests/` and `schemas/` link to the
//!   repository's own (so relative paths read as from the repository's root, and the files the
//!   examples write never land in the checkout). The commands of one block share that
//!   directory, so a later command reads what an earlier one wrote (`-o`, `--partial`, `>`).
//! - A comment at the end of the command, `# exit N` (or `# exits N`, any text after it), states
//!   its exit code; without one, the command must exit 0. Any other comment is just a comment.
//! - Every line shown after a command must occur, in the order shown, within the lines it wrote
//!   (standard output, then standard error), trailing spaces ignored. A line `...` stands for
//!   lines left out and matches nothing.
//! - Commands that need a cluster, a network or a toolchain (`kubectl ...`, `cargo install`,
//!   `cargo test`) go in ```` ```sh ```` blocks, which are not run. In README.md, a line of a
//!   `sh` block (or any other block) that invokes `egress-advisor` fails this test unless a
//!   console block runs the same command: every example there is run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository folders a scratch directory links to.
const LINKED: &[&str] = &["samples", "examples", "tests", "schemas"];

/// One runnable example: the command, what it should exit with and the lines it should print.
#[derive(Debug)]
struct Example {
    /// `file:line` of the command, for messages.
    at: String,
    command: String,
    exit: i32,
    shown: Vec<String>,
}

/// The runnable examples of one Markdown text, grouped by block, and the problems with the
/// text itself (an example outside a `console` block in a file whose examples must all run).
fn examples(name: &str, text: &str, all_must_run: bool) -> (Vec<Vec<Example>>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut fence: Option<String> = None;
    let mut current: Vec<Example> = Vec::new();
    let mut not_run = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = format!("{name}:{}", i + 1);
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            if fence.is_none() {
                fence = Some(info.trim().to_owned());
            } else {
                fence = None;
                if !current.is_empty() {
                    blocks.push(std::mem::take(&mut current));
                }
            }
            continue;
        }
        match fence.as_deref() {
            Some("console") => {
                if let Some(command) = line.strip_prefix("$ ") {
                    match parse_command(command) {
                        Ok((command, exit)) => current.push(Example {
                            at,
                            command,
                            exit,
                            shown: Vec::new(),
                        }),
                        Err(e) => problems.push(format!("{at}: {e}")),
                    }
                } else if let Some(example) = current.last_mut() {
                    example.shown.push(line.trim_end().to_owned());
                } else if !line.trim().is_empty() {
                    problems.push(format!(
                        "{at}: a console block shows output before any `$ ` command"
                    ));
                }
            }
            Some(_) if all_must_run && invokes_binary(line) => {
                not_run.push((at, line.trim().to_owned()));
            }
            Some(_) | None => {}
        }
    }
    if fence.is_some() {
        problems.push(format!("{name}: a code block is never closed"));
    }
    // A command outside a console block passes only when a console block runs it too (the
    // Quick start lists `cargo run --release -- recommend samples/` with `cargo test`).
    for (at, line) in not_run {
        let ran = parse_command(&line).is_ok_and(|(command, _)| {
            blocks
                .iter()
                .flatten()
                .any(|e: &Example| e.command == command)
        });
        if !ran {
            problems.push(format!(
                "{at}: an egress-advisor example outside a console block is never run: `{line}`"
            ));
        }
    }
    (blocks, problems)
}

/// Whether a line of a code block runs the tool (a command, not a mention in prose or YAML).
fn invokes_binary(line: &str) -> bool {
    let line = line.trim_start().trim_start_matches("$ ");
    line.starts_with("egress-advisor ") || line.starts_with("cargo run --release -- ")
}

/// The command to give `sh`, and the exit code its comment states (0 without one).
fn parse_command(line: &str) -> Result<(String, i32), String> {
    let (command, comment) = match line.find(" # ") {
        Some(i) => (line[..i].trim(), line[i + 3..].trim()),
        None => (line.trim(), ""),
    };
    let command = match command.strip_prefix("cargo run --release -- ") {
        Some(args) => format!("egress-advisor {args}"),
        None => command.to_owned(),
    };
    if !command.starts_with("egress-advisor ") {
        return Err(format!(
            "`{command}` is not an egress-advisor command: put it in a sh block"
        ));
    }
    let exit = match comment
        .strip_prefix("exits ")
        .or_else(|| comment.strip_prefix("exit "))
    {
        Some(rest) => {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits
                .parse()
                .map_err(|_| format!("`# {comment}`: expected `# exit N`"))?
        }
        None => 0,
    };
    Ok((command, exit))
}

/// A scratch directory that links to the repository's samples and examples.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    for name in LINKED {
        std::os::unix::fs::symlink(root().join(name), dir.path().join(name)).expect("a link");
    }
    dir
}

/// Runs one example in `dir`; `Err` says what went wrong.
fn run(example: &Example, dir: &Path, bin_dir: &Path) -> Result<(), String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    let out = Command::new("sh")
        .arg("-c")
        .arg(&example.command)
        .current_dir(dir)
        .env("PATH", std::env::join_paths(paths).expect("a PATH"))
        .output()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = String::new();
    if out.status.code() != Some(example.exit) {
        let _ = write!(
            problems,
            "exited {:?}, the text says {}; ",
            out.status.code(),
            example.exit
        );
    }
    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    let mut next = 0;
    for shown in &example.shown {
        if shown.trim().is_empty() || shown.trim() == "..." {
            continue;
        }
        match lines[next..]
            .iter()
            .position(|l| l.contains(shown.as_str()))
        {
            Some(i) => next += i + 1,
            None => {
                let _ = write!(problems, "does not print (in this order) `{shown}`; ");
                break;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let cut = |s: &str| s.chars().take(4000).collect::<String>();
        Err(format!(
            "{problems}\n--- stdout:\n{}\n--- stderr:\n{}",
            cut(&stdout),
            cut(&stderr)
        ))
    }
}

/// Runs every example of the text; returns how many ran and the failures.
fn check(name: &str, text: &str, all_must_run: bool) -> (usize, Vec<String>) {
    let bin = assert_cmd::cargo::cargo_bin("egress-advisor");
    let bin_dir = bin.parent().expect("the binary's folder");
    let (blocks, mut failures) = examples(name, text, all_must_run);
    let mut ran = 0;
    for block in &blocks {
        let dir = scratch();
        for example in block {
            ran += 1;
            if let Err(e) = run(example, dir.path(), bin_dir) {
                failures.push(format!("{} `{}`: {e}", example.at, example.command));
            }
        }
    }
    (ran, failures)
}

#[test]
fn every_example_of_the_readme_runs_as_shown() {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let (ran, failures) = check("README.md", &text, true);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The README walks through every command; far fewer examples means the blocks lost their
    // `console` marking and nothing is checked any more.
    assert!(ran >= 12, "only {ran} README examples ran");
}

#[test]
fn the_runnable_examples_of_the_docs_run_as_shown() {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a docs page");
        let name = page
            .strip_prefix(root())
            .unwrap_or(page)
            .display()
            .to_string();
        let (n, f) = check(&name, &text, false);
        ran += n;
        failures.extend(f);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran >= 5, "only {ran} examples of docs/ ran");
}

/// The test catches a README that has gone wrong: an unknown flag, a wrong exit code, output
/// the command no longer prints, a command outside a console block.
#[test]
fn a_wrong_example_fails() {
    let wrong = [
        "```console\n$ egress-advisor analyze --no-such-flag samples/\n```\n",
        "```console\n$ egress-advisor check samples/ # exit 0\n```\n",
        "```console\n$ egress-advisor analyze samples/\nInput: 15 files\n```\n",
        "```console\n$ egress-advisor analyze samples/\nLines: passthrough 36\nInput: 14 files\n```\n",
        "```text\negress-advisor analyze samples/\n```\n",
        "```sh\negress-advisor analyze --no-such-flag samples/\n```\n",
        "```console\n$ kubectl get pods\n```\n",
    ];
    for text in wrong {
        let (_, failures) = check("wrong.md", text, true);
        assert!(!failures.is_empty(), "passes, but should not:\n{text}");
    }
    let right = "```sh\ncargo run --release -- analyze samples/\ncargo test\n```\n```console\n$ egress-advisor analyze samples/\nInput: 14 files\n...\nLines: passthrough 36\n$ egress-advisor check samples/ # exits 1: undeclared\n```\n";
    let (ran, failures) = check("right.md", right, true);
    assert_eq!((ran, failures), (2, Vec::<String>::new()));
}
