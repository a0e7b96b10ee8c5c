//! `egress-advisor validate`: checks ServiceEntry and Sidecar manifests with the rules the tool
//! holds its own output to (the CRD schemas and istiod's validation).

use std::io::Write;

use serde_json::Value;

use crate::cli::ValidateArgs;
use crate::existing::read_docs;
use crate::exit::Exit;
use crate::validate;

use super::{Error, io_err, output};

pub fn run(a: &ValidateArgs) -> Result<Exit, Error> {
    let docs = read_docs(&a.paths).map_err(Error::Unreadable)?;
    let format = crate::config::validate_output(a.output);
    let mut out = output(None)?;
    let (mut checked, mut failed, mut other) = (0usize, 0usize, 0usize);
    let mut report = Validated::default();
    for d in &docs {
        let Some(errors) = validate::document(&d.value) else {
            other += 1;
            continue;
        };
        checked += 1;
        let kind = d.value.get("kind").and_then(Value::as_str).unwrap_or("?");
        let ns = d
            .value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("-");
        let name = d
            .value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        if !errors.is_empty() {
            failed += 1;
        }
        report.manifests.push(Manifest {
            path: &d.path,
            document: d.index,
            kind,
            namespace: ns,
            name,
            errors,
        });
    }
    report.checked = checked;
    report.failed = failed;
    report.skipped = other;
    crate::render::write(&mut out, format, &report).map_err(io_err("writing"))?;
    out.flush().map_err(io_err("writing"))?;
    Ok(if failed > 0 { Exit::Findings } else { Exit::Ok })
}

/// What `validate` found: every manifest checked, with its errors.
#[derive(Default, serde::Serialize)]
struct Validated<'a> {
    checked: usize,
    failed: usize,
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
    errors: Vec<String>,
}

impl crate::render::Document for Validated<'_> {
    fn text(&self, out: &mut dyn Write, _wide: bool) -> std::io::Result<()> {
        for m in &self.manifests {
            for e in &m.errors {
                let line = format!(
                    "{}: document {}: {} {}/{}: {e}",
                    m.path, m.document, m.kind, m.namespace, m.name
                );
                writeln!(out, "{}", crate::render::clean(&line))?;
            }
        }
        writeln!(
            out,
            "{} checked ({} with errors); {} of other kinds skipped",
            crate::render::count(self.checked as u64, "manifest", "manifests"),
            self.failed,
            crate::render::count(self.skipped as u64, "document", "documents")
        )
    }

    fn json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        crate::render::json_document(out, self)
    }
}
