//! The release examples agree with what installs them: the archives `examples/release/release.yml`
//! builds are named and laid out as `cargo binstall` looks for them (`[package.metadata.binstall]`
//! in Cargo.toml), hold files that exist, and the container runs the binary as a non-root user.
//! (`cargo publish --dry-run`, in `.ci/run`, checks the package itself.)

use crate::common::*;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value of `key = "..."` in the binstall table of Cargo.toml.
fn binstall(key: &str) -> String {
    let toml = read("Cargo.toml");
    let table = toml
        .split("[package.metadata.binstall]")
        .nth(1)
        .expect("a binstall table");
    let line = table
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find(|l| l.starts_with(&format!("{key} =")))
        .unwrap_or_else(|| panic!("binstall {key}"));
    line.split('"').nth(1).unwrap().to_owned()
}

#[test]
fn release_archives_are_where_binstall_looks() {
    let (name, version, target) = ("egress-advisor", "1.2.3", "x86_64-unknown-linux-musl");
    let fill = |t: &str| {
        t.replace("{ name }", name)
            .replace("{ version }", version)
            .replace("{ target }", target)
            .replace("{ bin }", name)
            .replace("{ binary-ext }", "")
    };
    let archive = fill(binstall("pkg-url").rsplit('/').next().unwrap());
    let inside = fill(&binstall("bin-dir"));
    assert_eq!(binstall("pkg-fmt"), "tgz");

    // What release.yml does for a tag v1.2.3 on that target.
    let workflow = read("examples/release/release.yml");
    let script = |prefix: &str| -> String {
        workflow
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in release.yml"))
            .to_owned()
    };
    let dir = script("dir=")
        .trim_start_matches("dir=")
        .replace("$version", version)
        .replace("${{ matrix.target }}", target);
    assert_eq!(format!("{dir}.tar.gz"), archive);
    assert!(script("tar -czf").contains("\"$dir.tar.gz\" \"$dir\""));
    assert_eq!(inside, format!("{dir}/{name}"));
    assert!(
        workflow.contains(&format!("target: [{target}")),
        "{workflow}"
    );
    // Every file it copies exists, and the binary comes from the profile it builds.
    let cp = script("cp target/");
    assert!(cp.starts_with("cp target/${{ matrix.target }}/release-fast/egress-advisor "));
    assert!(script("- run: cross build").contains("--profile release-fast"));
    let files = cp
        .split("/release-fast/egress-advisor ")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    for f in files.split_whitespace() {
        assert!(root().join(f).is_file(), "{f}");
    }
    assert!(read("Cargo.toml").contains("[profile.release-fast]"));
}

#[test]
fn the_container_runs_the_binary_as_a_non_root_user() {
    let file = read("examples/release/Containerfile");
    let last = |key: &str| {
        file.lines()
            .rfind(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key}"))
            .to_owned()
    };
    assert_eq!(last("ENTRYPOINT"), r#"ENTRYPOINT ["egress-advisor"]"#);
    assert!(last("USER").starts_with("USER nonroot"));
    assert!(last("COPY").ends_with("/usr/local/bin/egress-advisor"));
    assert!(file.contains("--locked --profile release-fast"));
}
