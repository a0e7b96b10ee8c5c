//! `egress-advisor validate`: checks ServiceEntry and Sidecar manifests as Istio does (the CRD
//! schemas, istiod's validation and its warnings, and `istioctl analyze`'s IST0134), with each
//! finding's level and, where Istio has one, its code.

use std::io::Write;

use serde_json::Value;

use crate::cli::{FailOn, ValidateArgs};
use crate::existing::read_docs;
use crate::exit::Exit;
use crate::validate::{self, Level, Message};

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
    let docs = read_docs(&a.paths).map_err(Error::Unreadable)?;
    let format = crate::config::validate_output(a.output);
    let mut out = output(None)?;
    let mut report = Validated::default();
    for d in &docs {
        let Some(messages) = validate::check(&d.value, &opts) else {
            report.skipped += 1;
            continue;
        };
        report.checked += 1;
        let text = |p: &str| d.value.pointer(p).and_then(Value::as_str).unwrap_or("");
        let (errors, warnings): (Vec<Message>, Vec<Message>) =
            messages.into_iter().partition(|m| m.level == Level::Error);
        report.failed += usize::from(!errors.is_empty());
        report.warned += usize::from(!warnings.is_empty());
        report.manifests.push(Manifest {
            path: &d.path,
            document: d.index,
            kind: match text("/kind") {
                "" => "?",
                k => k,
            },
            namespace: match text("/metadata/namespace") {
                "" => "-",
                n => n,
            },
            name: match text("/metadata/name") {
                "" => "?",
                n => n,
            },
            errors,
            warnings,
        });
    }
    crate::render::write(&mut out, format, &report).map_err(io_err("writing"))?;
    out.flush().map_err(io_err("writing"))?;
    let fails = report.failed > 0 || (a.fail_on == FailOn::Warning && report.warned > 0);
    Ok(if fails { Exit::Findings } else { Exit::Ok })
}

/// What `validate` found: every manifest checked, with its errors and warnings.
#[derive(Default, serde::Serialize)]
struct Validated<'a> {
    checked: usize,
    /// Manifests with errors.
    failed: usize,
    /// Manifests with warnings.
    warned: usize,
    /// Documents of other kinds, not checked.
    skipped: usize,
    manifests: Vec<Manifest<'a>>,
}

#[derive(serde::Serialize)]
struct Manifest<'a> {
    path: &'a str,
    document: usize,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    errors: Vec<Message>,
    warnings: Vec<Message>,
}

impl Manifest<'_> {
    /// One line per message: where, which manifest, the level (and code), the field, the text.
    fn line(&self, m: &Message) -> String {
        let level = match (m.level, m.code) {
            (Level::Error, _) => "error".to_owned(),
            (Level::Warning, None) => "warning".to_owned(),
            (Level::Warning, Some(c)) => format!("warning[{c}]"),
        };
        // A message that names its field (`unknown field spec.host`) is not prefixed with it.
        let field = if m.field.is_empty() || m.message.contains(&m.field) {
            String::new()
        } else {
            format!("{}: ", m.field)
        };
        format!(
            "{}: document {}: {} {}/{}: {level}: {field}{}",
            self.path, self.document, self.kind, self.namespace, self.name, m.message
        )
    }
}

impl crate::render::Document for Validated<'_> {
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
