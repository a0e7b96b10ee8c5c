//! `egress-advisor validate`: checks ServiceEntry and Sidecar manifests as Istio does (the CRD
//! schemas, istiod's validation and its warnings, and `istioctl analyze`'s IST0134), with each
//! finding's level and, where Istio has one, its code.

use std::io::Write;

use serde_json::Value;

use crate::cli::{FailOn, ValidateArgs};
use crate::existing::{Doc, for_each_file, push_docs};
use crate::exit::Exit;
use crate::validate::{self, Level, Message};
use crate::yaml::{Position, Spans};

use super::{Error, io_err, output};

pub fn run(a: &ValidateArgs) -> Result<Exit, Error> {
    let mut opts = validate::Options::for_version(
        validate::parse_version(&a.istio_version).map_err(Error::Usage)?,
    );
    if let Some(path) = &a.mesh_config {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Usage(format!(
                "--mesh-config {}: {}",
                path.display(),
                crate::ingest::io_reason(&e)
            ))
        })?;
        opts.mesh_dns_auto_allocate = validate::mesh_dns_auto_allocate(&text)
            .map_err(|e| Error::Usage(format!("--mesh-config {}: {e}", path.display())))?;
    }
    let format = crate::config::validate_output(a.output);
    let mut out = output(None)?;
    let mut report = Validated::default();
    // What the checks across manifests need of each one checked, by its place in the report.
    let mut parts = Vec::new();
    for_each_file(&a.paths, |path, text| {
        let mut docs = Vec::new();
        push_docs(path, text, &mut docs)?;
        let first = report.manifests.len();
        for d in &docs {
            let Some(messages) = validate::check(&d.value, &opts) else {
                report.skipped += 1;
                continue;
            };
            parts.push(crate::validate_across::part(&d.value));
            report.push(d, messages);
        }
        // Where the documents with findings are: the file read again for the spans of its
        // nodes, only when there is something to point at.
        if report.manifests[first..]
            .iter()
            .any(|m| !m.errors.is_empty() || !m.warnings.is_empty())
        {
            locate(text, docs.len(), &mut report.manifests[first..]);
        }
        Ok(())
    })
    .map_err(Error::Unreadable)?;
    if report.checked == 0 {
        return Err(Error::Usage(format!(
            "no {} in the input ({} of other kinds skipped): nothing to validate",
            validate::kinds_named(),
            crate::render::count(report.skipped as u64, "document", "documents")
        )));
    }
    report.across(&parts);
    crate::render::write(&mut out, format, &report).map_err(io_err("writing"))?;
    out.flush().map_err(io_err("writing"))?;
    let fails = report.failed > 0 || (a.fail_on == FailOn::Warning && report.warned > 0);
    Ok(if fails { Exit::Findings } else { Exit::Ok })
}

/// What `validate` found: every manifest checked, with its errors and warnings.
#[derive(Default, serde::Serialize)]
struct Validated {
    checked: usize,
    /// Manifests with errors.
    failed: usize,
    /// Manifests with warnings.
    warned: usize,
    /// Documents of other kinds, not checked.
    skipped: usize,
    manifests: Vec<Manifest>,
}

impl Validated {
    /// Adds the findings across manifests (`istioctl analyze`'s IST0111 and IST0177) after
    /// each manifest's own, and counts again.
    fn across(&mut self, parts: &[crate::validate_across::Part]) {
        for (i, m) in crate::validate_across::across(parts) {
            let Some(manifest) = self.manifests.get_mut(i) else {
                continue;
            };
            let at = manifest.at;
            let found = Found { message: m, at };
            match found.message.level {
                Level::Error => manifest.errors.push(found),
                Level::Warning => manifest.warnings.push(found),
            }
        }
        self.failed = self
            .manifests
            .iter()
            .filter(|m| !m.errors.is_empty())
            .count();
        self.warned = self
            .manifests
            .iter()
            .filter(|m| !m.warnings.is_empty())
            .count();
    }

    fn push(&mut self, d: &Doc, messages: Vec<Message>) {
        self.checked += 1;
        let text = |p: &str, none: &str| match d.value.pointer(p).and_then(Value::as_str) {
            None | Some("") => none.to_owned(),
            Some(s) => s.to_owned(),
        };
        let found = |level| {
            messages
                .iter()
                .filter(|m| m.level == level)
                .map(|m| Found {
                    message: m.clone(),
                    at: None,
                })
                .collect::<Vec<_>>()
        };
        let (errors, warnings) = (found(Level::Error), found(Level::Warning));
        self.failed += usize::from(!errors.is_empty());
        self.warned += usize::from(!warnings.is_empty());
        self.manifests.push(Manifest {
            path: d.path.clone(),
            document: d.index,
            at: None,
            kind: text("/kind", "?"),
            namespace: text("/metadata/namespace", "-"),
            name: text("/metadata/name", "?"),
            errors,
            warnings,
        });
    }
}

#[derive(serde::Serialize)]
struct Manifest {
    path: String,
    document: usize,
    /// Where the document starts (when it has findings).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    at: Option<Position>,
    kind: String,
    namespace: String,
    name: String,
    errors: Vec<Found>,
    warnings: Vec<Found>,
}

/// A message with where its field is in the file.
#[derive(serde::Serialize)]
struct Found {
    #[serde(flatten)]
    message: Message,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    at: Option<Position>,
}

/// Fills in where the manifests of one file (`docs` documents, every one checked or not) and
/// their fields are. A file whose spans cannot be read as its documents were keeps no
/// positions.
fn locate(text: &str, docs: usize, manifests: &mut [Manifest]) {
    let Ok(spans) = crate::yaml::spans(text) else {
        return;
    };
    let objects = Spans::objects(&spans);
    if objects.len() != docs {
        return;
    }
    for m in manifests {
        let Some(node) = m.document.checked_sub(1).and_then(|i| objects.get(i)) else {
            continue;
        };
        m.at = Some(node.start());
        for f in m.errors.iter_mut().chain(&mut m.warnings) {
            f.at = Some(node.locate(&f.message.pointer));
        }
    }
}

impl Manifest {
    /// One line per message: where (`file:line:column`), which manifest, the level (and
    /// code), the field, the text.
    fn line(&self, f: &Found) -> String {
        let m = &f.message;
        let level = match (m.level, m.code) {
            (Level::Error, None) => "error".to_owned(),
            (Level::Error, Some(c)) => format!("error[{c}]"),
            (Level::Warning, None) => "warning".to_owned(),
            (Level::Warning, Some(c)) => format!("warning[{c}]"),
        };
        // A message that names its field (`unknown field spec.host`) is not prefixed with it.
        let field = if m.field.is_empty() || m.message.contains(&m.field) {
            String::new()
        } else {
            format!("{}: ", m.field)
        };
        let at = match f.at.or(self.at) {
            Some(p) => format!(":{}:{}", p.line, p.column),
            None => String::new(),
        };
        format!(
            "{}{at}: document {}: {} {}/{}: {level}: {field}{}",
            self.path, self.document, self.kind, self.namespace, self.name, m.message
        )
    }
}

impl crate::render::Document for Validated {
    fn text(&self, out: &mut dyn Write, _wide: bool) -> std::io::Result<()> {
        // Errors first, then warnings: each group in input order.
        for m in &self.manifests {
            for e in &m.errors {
                writeln!(out, "{}", crate::render::clean(&m.line(e)))?;
            }
        }
        for m in &self.manifests {
            for w in &m.warnings {
                writeln!(out, "{}", crate::render::clean(&m.line(w)))?;
            }
        }
        let warned = if self.warned > 0 {
            format!(", {} with warnings", self.warned)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{} checked ({} with errors{warned}); {} of other kinds skipped",
            crate::render::count(self.checked as u64, "manifest", "manifests"),
            self.failed,
            crate::render::count(self.skipped as u64, "document", "documents")
        )
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        crate::render::json_document(out, self)
    }
}
