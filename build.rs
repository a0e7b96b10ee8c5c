//! Records the commit the binary is built from, for `--version`: from git when building in a
//! checkout, from `.cargo_vcs_info.json` in a packaged crate (`cargo package`, crates.io), or
//! `unknown` when neither says.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = from_git().or_else(from_vcs_info);
    println!(
        "cargo:rustc-env=EGRESS_ADVISOR_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn from_git() -> Option<String> {
    // Only this repository's own checkout: a packaged crate unpacked inside another
    // repository must not take that repository's commit.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let here = std::env::var_os("CARGO_MANIFEST_DIR")?;
    if std::fs::canonicalize(top).ok()? != std::fs::canonicalize(here).ok()? {
        return None;
    }
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Rebuild the stamp when HEAD moves: HEAD itself, the branch it names, and packed refs.
    for what in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", what]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    Some(commit)
}

/// `{"git": {"sha1": "…"}}`, which `cargo package` writes; read without a JSON parser, as a
/// build script has no dependencies here.
fn from_vcs_info() -> Option<String> {
    let text = std::fs::read_to_string(Path::new(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    let sha = &rest[start..start + len];
    (sha.len() >= 12 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha[..12].to_owned())
}
