//! `check --sarif FILE`: the verdict as SARIF 2.1.0, for code-scanning views (GitHub's
//! `upload-sarif`, GitLab, Azure DevOps).
//!
//! One result per finding, under one rule per kind of finding. Each result points at the file
//! where its fix would go: the allow file when one is given, else the first `--existing` file,
//! else the baseline, else the first log input (see [`Locations`]). `partialFingerprints`
//! identify a finding by rule and destination alone, so a code-scanning view tracks the same
//! alert across runs. Within GitHub's limits ([`MAX_RESULTS`] results in a run, [`MAX_BYTES`]
//! in a file): past them, the most significant results are kept (errors first, then the most
//! entries) and a notification says how many were left out.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use crate::cardinality::Finding;
use crate::gate::{Allow, Check, Row};

/// The SARIF version written, and its schema (OASIS, errata 01).
pub const VERSION: &str = "2.1.0";
pub const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// GitHub code scanning keeps at most this many results of a run.
pub const MAX_RESULTS: usize = 25_000;
/// GitHub refuses SARIF files larger than this; kept as the bound on the uncompressed file.
pub const MAX_BYTES: usize = 10 * 1000 * 1000;

/// The kinds of finding, one SARIF rule each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    UndeclaredExternal,
    UndeclaredPrivate,
    MetadataService,
    ExpiredAllowEntry,
    HighCardinalityParent,
}

impl Rule {
    const ALL: [Rule; 5] = [
        Rule::UndeclaredExternal,
        Rule::UndeclaredPrivate,
        Rule::MetadataService,
        Rule::ExpiredAllowEntry,
        Rule::HighCardinalityParent,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Rule::UndeclaredExternal => "EA001",
            Rule::UndeclaredPrivate => "EA002",
            Rule::MetadataService => "EA003",
            Rule::ExpiredAllowEntry => "EA004",
            Rule::HighCardinalityParent => "EA005",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rule::UndeclaredExternal => "UndeclaredExternalDestination",
            Rule::UndeclaredPrivate => "UndeclaredPrivateDestination",
            Rule::MetadataService => "CloudMetadataService",
            Rule::ExpiredAllowEntry => "ExpiredAllowEntry",
            Rule::HighCardinalityParent => "HighCardinalityParent",
        }
    }

    /// `error` fails the check; `warning` is a finding to review whatever the verdict.
    pub fn level(self) -> &'static str {
        match self {
            Rule::UndeclaredExternal | Rule::UndeclaredPrivate | Rule::ExpiredAllowEntry => "error",
            Rule::MetadataService | Rule::HighCardinalityParent => "warning",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Rule::UndeclaredExternal => {
                "Traffic left the mesh for an external destination nothing declares"
            }
            Rule::UndeclaredPrivate => {
                "Traffic left the mesh for a private or special-purpose address nothing declares"
            }
            Rule::MetadataService => "A workload reached a cloud metadata service",
            Rule::ExpiredAllowEntry => "An allow-file entry is past its expiry date",
            Rule::HighCardinalityParent => {
                "Many distinct destinations under one registrable domain or network"
            }
        }
    }

    fn help(self) -> &'static str {
        match self {
            Rule::UndeclaredExternal => {
                "Under outboundTrafficPolicy REGISTRY_ONLY this traffic would be refused. Declare it with a ServiceEntry (egress-advisor recommend writes one), an allow-file entry with a reason, or the baseline; or stop the workload from calling it."
            }
            Rule::UndeclaredPrivate => {
                "REGISTRY_ONLY refuses private addresses outside the mesh's ranges too. If the address is in the cluster, pass its range with --mesh-cidr; otherwise declare it with a STATIC ServiceEntry or an allow-file cidr entry."
            }
            Rule::MetadataService => {
                "A workload that reads a cloud metadata service can obtain the node's credentials. Confirm it needs to; otherwise block it (a NetworkPolicy, or IMDSv2 with a hop limit of 1)."
            }
            Rule::ExpiredAllowEntry => {
                "The entry no longer allows its destinations. Renew its date with a reason, or declare the destinations with ServiceEntries."
            }
            Rule::HighCardinalityParent => {
                "Many random labels under one parent are the signature of DNS tunnelling or a scanner. Review the callers before allowing the parent with a wildcard."
            }
        }
    }

    fn index(self) -> usize {
        Rule::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// Where results point: the file a fix would go into, and the one an allow-file entry is in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Locations<'a> {
    pub allow: Option<&'a Path>,
    pub existing: Option<&'a Path>,
    pub baseline: Option<&'a Path>,
    pub input: Option<&'a Path>,
}

impl Locations<'_> {
    /// Where a declaration would go: the allow file, else the existing configuration, else
    /// the baseline, else the logs the finding came from.
    fn fix(&self) -> Option<&Path> {
        self.allow
            .or(self.existing)
            .or(self.baseline)
            .or(self.input)
    }
}

/// One result before it is written, with what orders it.
struct Item {
    rule: Rule,
    /// What orders it: the entries behind it, most first (an expired allow entry, which stands
    /// for none, comes first of its level).
    weight: u64,
    /// The log entries behind it.
    entries: u64,
    /// What identifies it across runs.
    identity: String,
    message: String,
    location: Option<String>,
    /// 1-based line in the location, when known.
    line: Option<usize>,
}

/// Writes the SARIF log of a check.
pub fn write(
    w: &mut dyn Write,
    check: &Check<'_>,
    high_cardinality: &[Finding],
    threshold: usize,
    at: Locations<'_>,
) -> io::Result<()> {
    let fix = at.fix().map(uri);
    let mut found = Vec::new();
    for row in check.uncovered() {
        let rule = if row.dest.is_private() {
            Rule::UndeclaredPrivate
        } else {
            Rule::UndeclaredExternal
        };
        found.push(Item {
            rule,
            weight: row.passthrough.saturating_add(row.blocked),
            entries: row.passthrough.saturating_add(row.blocked),
            identity: row.title(),
            message: undeclared_message(row),
            location: fix.clone(),
            line: None,
        });
    }
    for row in check.destinations.iter().filter(|r| r.dest.metadata) {
        let entries = row
            .passthrough
            .saturating_add(row.blocked)
            .saturating_add(row.registered);
        found.push(Item {
            rule: Rule::MetadataService,
            weight: entries,
            entries,
            identity: row.title(),
            message: format!(
                "{} is a cloud metadata service, reached by {}: {}.",
                row.title(),
                row.callers(),
                row.status.describe()
            ),
            location: fix.clone(),
            line: None,
        });
    }
    for a in &check.expired {
        found.push(Item {
            rule: Rule::ExpiredAllowEntry,
            weight: u64::MAX,
            entries: 0,
            identity: allow_identity(a),
            message: format!(
                "Allow entry {} ({}) expired on {}: {}.",
                a.entry,
                allow_identity(a),
                a.expires.as_deref().unwrap_or("?"),
                a.reason
            ),
            location: at.allow.map(uri).or_else(|| fix.clone()),
            line: None,
        });
    }
    for f in high_cardinality {
        found.push(Item {
            rule: Rule::HighCardinalityParent,
            weight: f.entries,
            entries: f.entries,
            identity: format!("{} {}", f.kind, f.parent),
            message: format!("High cardinality: {}.", f.describe(threshold)),
            location: fix.clone(),
            line: None,
        });
    }
    // Errors first, then the most entries; ties by rule and identity, so the order (and what
    // a cap keeps) does not depend on anything but the findings.
    found.sort_by(|a, b| {
        (a.rule.level() != "error")
            .cmp(&(b.rule.level() != "error"))
            .then_with(|| b.weight.cmp(&a.weight))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.identity.cmp(&b.identity))
    });

    let total = found.len();
    let mut results: Vec<Value> = Vec::new();
    // What the log holds besides results, with room for the note on what was left out.
    let mut bytes: usize = 16 * 1024;
    for f in found.iter().take(MAX_RESULTS) {
        let r = result(f);
        let size = serde_json::to_vec(&r).map_or(usize::MAX, |v| v.len() + 2);
        if bytes.saturating_add(size) > MAX_BYTES {
            break;
        }
        bytes += size;
        results.push(r);
    }
    let left_out = total - results.len();
    let mut notes = Vec::new();
    // Code scanning keeps its open alerts when a run says it did not succeed; a run that
    // checked nothing, or only part of its input, must not close them with an empty or short
    // result set.
    let checked_nothing = check.verdict == crate::gate::Verdict::NoInput;
    if checked_nothing {
        notes.push(json!({
            "level": "error",
            "message": {"text": "No access-log entry was recognised in the input, so nothing was checked: the results are empty because nothing was read, not because nothing was found."}
        }));
    }
    for u in &check.unreadable {
        notes.push(json!({
            "level": "error",
            "message": {"text": format!("Input not read to the end, so its traffic was not checked: {u}")}
        }));
    }
    if left_out > 0 {
        notes.push(json!({
            "level": "warning",
            "message": {"text": format!(
                "{left_out} of {total} results left out to stay within code scanning's limits ({MAX_RESULTS} results, {MAX_BYTES} bytes): the ones kept are the errors with the most entries. The text, JSON and JUnit outputs list every finding."
            )}
        }));
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "egress-advisor",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": Rule::ALL.iter().map(|r| rule(*r)).collect::<Vec<_>>(),
            }},
            "invocations": [{
                "executionSuccessful": check.unreadable.is_empty() && !checked_nothing,
                "toolExecutionNotifications": notes,
            }],
            "results": results,
            "properties": {
                "verdict": check.verdict,
                "resultsLeftOut": left_out,
            },
        }],
    });
    // Compact, so that the size counted above is the size written.
    serde_json::to_writer(&mut *w, &log).map_err(io::Error::from)?;
    writeln!(w)
}

fn rule(r: Rule) -> Value {
    json!({
        "id": r.id(),
        "name": r.name(),
        "shortDescription": {"text": r.short()},
        "fullDescription": {"text": r.help()},
        "help": {"text": r.help()},
        "defaultConfiguration": {"level": r.level()},
        "properties": {"tags": ["security", "egress", "istio"]},
    })
}

fn result(f: &Item) -> Value {
    let mut r = json!({
        "ruleId": f.rule.id(),
        "ruleIndex": f.rule.index(),
        "level": f.rule.level(),
        "message": {"text": f.message},
        "partialFingerprints": {
            "egressFinding/v1": fingerprint(f.rule.id(), &f.identity),
        },
        "properties": {"destination": f.identity, "entries": f.entries.min(i64::MAX as u64)},
    });
    if let Some(uri) = &f.location {
        r["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": {"uri": uri},
                "region": {"startLine": f.line.unwrap_or(1)},
            }
        }]);
    }
    r
}

fn undeclared_message(row: &Row<'_>) -> String {
    let mut counts = Vec::new();
    if row.passthrough > 0 {
        counts.push(format!(
            "{} passthrough",
            crate::render::thousands(row.passthrough)
        ));
    }
    if row.blocked > 0 {
        counts.push(format!("{} blocked", crate::render::thousands(row.blocked)));
    }
    let what = if row.dest.is_private() {
        "private or special-purpose address"
    } else {
        "external destination"
    };
    let mut m = format!(
        "{} is an undeclared {what}: {} {} from {}.",
        row.title(),
        counts.join(" and "),
        if row.passthrough + row.blocked == 1 {
            "entry"
        } else {
            "entries"
        },
        row.callers()
    );
    if let Some(note) = &row.note {
        m.push(' ');
        m.push_str(note);
    }
    m
}

fn allow_identity(a: &Allow) -> String {
    let target = a.host.as_deref().or(a.cidr.as_deref()).unwrap_or("?");
    match a.port {
        Some(p) => format!("{target}:{p}"),
        None => target.to_owned(),
    }
}

/// A stable fingerprint: FNV-1a (64 bits) of the rule and the finding's identity, as hex.
/// Stable across runs, platforms and versions, unlike the standard library's hasher.
pub fn fingerprint(rule: &str, identity: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in rule.bytes().chain([0]).chain(identity.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A path as a relative URI reference: `/` separators, every byte outside RFC 3986's
/// unreserved set and `/` percent-encoded.
pub fn uri(p: &Path) -> String {
    let text = p.to_string_lossy();
    let text = text.strip_prefix("./").unwrap_or(&text);
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            b'\\' if cfg!(windows) => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(
            fingerprint("EA001", "api.example.com:443/TLS"),
            fingerprint("EA001", "api.example.com:443/TLS")
        );
        assert_ne!(
            fingerprint("EA001", "a:1/TCP"),
            fingerprint("EA002", "a:1/TCP")
        );
        // FNV-1a of a single zero byte (checked against an independent implementation).
        // Fixed forever: a change would reopen every alert in code-scanning views.
        assert_eq!(fingerprint("", ""), "af63bd4c8601b7df");
    }

    #[test]
    fn uris() {
        assert_eq!(uri(Path::new("./allow.yaml")), "allow.yaml");
        assert_eq!(
            uri(Path::new("ci/egress allow.yaml")),
            "ci/egress%20allow.yaml"
        );
        assert_eq!(uri(Path::new("a#b?c")), "a%23b%3Fc");
    }
}
