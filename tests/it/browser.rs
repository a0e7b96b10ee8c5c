//! The HTML report in a real browser: headless Chromium loads each page, runs its script and
//! hands back the DOM, which is checked for rows, bars, filtering, sorting and escaping; its
//! console must stay silent. Screenshots are kept in `target/test-artifacts/`.
//!
//! They are ignored unless asked for (`cargo test -- --include-ignored`, as `.ci/run` does); asked
//! for without Chromium, they fail.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn chromium() -> PathBuf {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from));
    for c in candidates {
        if Command::new(&c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c;
        }
    }
    panic!("no Chromium was found (apt install chromium, or set CHROMIUM)");
}

fn artifacts() -> PathBuf {
    let d = root().join("target").join("test-artifacts");
    std::fs::create_dir_all(&d).expect("artifact directory");
    d
}

/// The DOM after the page's script ran, and the console messages it logged.
fn load(browser: &Path, page: &Path, hash: &str) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("file://{}{hash}", page.display());
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("Chromium runs");
    assert!(o.status.success(), "Chromium failed on {url}");
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&o.stdout).into_owned(), console)
}

fn screenshot(browser: &Path, page: &Path, name: &str) {
    let profile = tempfile::tempdir().expect("profile dir");
    let png = artifacts().join(name);
    let _ = std::fs::remove_file(&png);
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,2800",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("Chromium runs");
    assert!(o.status.success(), "screenshot of {}", page.display());
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
}

/// Asserts the page's script ran to its end with a silent console.
fn assert_clean(dom: &str, console: &[String], what: &str) {
    assert!(console.is_empty(), "{what}: console messages: {console:?}");
    assert!(
        dom.contains(r#"data-ready="true""#),
        "{what}: the script did not finish"
    );
    assert!(!dom.contains("data-error="), "{what}: a script error");
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

/// Destination titles of the table's rows, in order.
fn row_titles(dom: &str) -> Vec<String> {
    dom.split(r#"<tr class="dest"#)
        .skip(1)
        .filter_map(|r| {
            let cell = r.split(r#"<td class="name">"#).nth(1)?;
            Some(cell.split("</td>").next()?.to_owned())
        })
        .collect()
}

/// `data-name`s of the bars of the requests chart.
fn request_bars(dom: &str) -> std::collections::BTreeSet<String> {
    dom.split("<rect ")
        .skip(1)
        .filter(|r| {
            ["passthrough", "blocked", "registered"]
                .iter()
                .any(|k| r.starts_with(&format!(r#"class="bar {k}""#)))
        })
        .filter_map(|r| {
            Some(
                r.split(r#"data-name=""#)
                    .nth(1)?
                    .split('"')
                    .next()?
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs chromium"]
fn analyze_report_in_chromium() {
    let browser = chromium();
    let dir = artifacts();
    let page = dir.join("analyze.html");
    let o = run(&[
        "analyze",
        "samples/",
        "--existing",
        "examples/mesh/service-entries.yaml",
        "--html",
        page.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let dests = report["destinations"].as_array().unwrap();
    let external = dests.iter().filter(|d| d["category"] != "mesh").count();

    let (dom, console) = load(&browser, &page, "");
    assert_clean(&dom, &console, "analyze");
    assert_eq!(
        row_titles(&dom).len(),
        dests.len(),
        "one row per destination"
    );
    assert!(dom.contains(&format!("{} of {} destinations", dests.len(), dests.len())));
    let bars = request_bars(&dom);
    assert_eq!(bars.len(), external.min(15), "{bars:?}");
    assert!(bars.contains("api.stripe.com:443/TLS"), "{bars:?}");
    assert!(
        count(&dom, r#"class="tbar "#) > 0,
        "the timeline has columns"
    );
    assert!(
        count(&dom, r#"<pre class="manifest">"#) > 0,
        "manifests are shown"
    );
    assert_eq!(
        count(&dom, r#"<button type="button" class="copy">"#),
        count(&dom, r#"<pre class="manifest">"#),
        "one copy button per manifest"
    );
    assert!(
        count(&dom, r#"<tr class="ns">"#) >= 5,
        "the namespaces table"
    );

    // Filtering: the same code path as typing in the box, driven by the URL's hash.
    let (dom, console) = load(&browser, &page, "#filter=stripe");
    assert_clean(&dom, &console, "filtered");
    assert_eq!(row_titles(&dom), ["api.stripe.com:443/TLS"]);
    assert!(dom.contains(&format!("1 of {} destinations", dests.len())));
    let (dom, _) = load(&browser, &page, "#filter=marketing%20http");
    let titles = row_titles(&dom);
    assert_eq!(
        titles,
        ["events.mixpanel.com:80/HTTP"],
        "every word must match"
    );

    // Sorting by bytes, largest first.
    let (dom, console) = load(&browser, &page, "#sort=bytes:desc");
    assert_clean(&dom, &console, "sorted");
    let biggest = dests
        .iter()
        .max_by_key(|d| {
            d["bytes_uploaded"].as_u64().unwrap() + d["bytes_downloaded"].as_u64().unwrap()
        })
        .unwrap();
    let name = biggest["host"]
        .as_str()
        .or(biggest["address"].as_str())
        .unwrap();
    assert!(
        row_titles(&dom)[0].starts_with(name),
        "{:?}",
        &row_titles(&dom)[..3]
    );
    assert!(dom.contains(r#"class="sortable num sorted-desc" data-key="bytes""#));

    screenshot(&browser, &page, "analyze.png");
}

#[test]
#[ignore = "needs chromium"]
fn check_and_migrate_reports_in_chromium() {
    let browser = chromium();
    let dir = artifacts();
    let page = dir.join("check.html");
    let o = run(&[
        "check",
        "samples/",
        "--existing",
        "examples/mesh/service-entries.yaml",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let (dom, console) = load(&browser, &page, "");
    assert_clean(&dom, &console, "check");
    assert!(dom.contains(r#"class="banner fail""#));
    assert!(dom.contains("FAIL: 21 of 27 destinations outside the mesh are not declared"));
    assert_eq!(count(&dom, r#"<tr class="dest uncovered">"#), 21);
    let (dom, _) = load(&browser, &page, "#filter=not%20declared");
    assert_eq!(row_titles(&dom).len(), 21);
    screenshot(&browser, &page, "check.png");

    let page = dir.join("migrate.html");
    let o = run(&[
        "migrate",
        "samples/",
        "--existing",
        "examples/mesh/service-entries.yaml",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "not ready");
    let (dom, console) = load(&browser, &page, "");
    assert_clean(&dom, &console, "migrate");
    assert!(dom.contains("Rollout to REGISTRY_ONLY"));
    assert!(count(&dom, "<li>") >= 3, "rollout steps");
    assert!(dom.contains("meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY"));
    screenshot(&browser, &page, "migrate.png");
}

#[test]
#[ignore = "needs chromium"]
fn log_values_render_as_text() {
    let browser = chromium();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("hostile.log");
    let hosts = [
        "<img src=x onerror=document.body.dataset.pwned=1>.evil.example",
        "</script><script>document.body.dataset.pwned=1</script>.evil.example",
        "a'b\"c&amp;d.evil.example",
        // Shown with its bidi override and separator escaped, not reordered or broken.
        "bidi\u{202e}lmth.exe\u{2028}.evil.example",
    ];
    let mut text = String::new();
    for (i, h) in hosts.iter().enumerate() {
        text.push_str(&format!(
            r#"[2024-06-03T10:00:0{i}.000Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 10 5 4 "-" "<script>alert(1)</script>" "0b5e8f2c-0000-0000-0000-00000000000{i}" "{h}" "203.0.113.{i}:80" PassthroughCluster 10.244.1.9:4000{i} 203.0.113.{i}:80 10.244.1.9:5000{i} - allow_any"#
        ));
        text.push('\n');
    }
    std::fs::write(&log, text).unwrap();
    let page = artifacts().join("hostile.html");
    let o = run(&[
        "analyze",
        log.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        count(&html, "</script>"),
        3,
        "only the page's own three script elements (data, manifests, code) end in the file"
    );
    let (dom, console) = load(&browser, &page, "");
    assert_clean(&dom, &console, "hostile");
    assert!(!dom.contains("data-pwned"), "no injected code ran");
    assert!(!dom.contains("<img src"), "no injected element");
    let titles = row_titles(&dom);
    assert!(
        titles.contains(
            &"&lt;img src=x onerror=document.body.dataset.pwned=1&gt;.evil.example:80/HTTP"
                .to_owned()
        ),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"&lt;/script&gt;&lt;script&gt;document.body.dataset.pwned=1&lt;/script&gt;.evil.example:80/HTTP".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"a'b\"c&amp;amp;d.evil.example:80/HTTP".to_owned()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&r"bidi\u{202e}lmth.exe\u{2028}.evil.example:80/HTTP".to_owned()),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains(['\u{202e}', '\u{2028}'])),
        "{titles:?}"
    );
}
