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
    let mut out = output(None)?;
    let (mut checked, mut failed, mut other) = (0usize, 0usize, 0usize);
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
        for e in errors {
            let line = format!("{}: document {}: {kind} {ns}/{name}: {e}", d.path, d.index);
            writeln!(out, "{}", crate::render::clean(&line)).map_err(io_err("writing"))?;
        }
    }
    writeln!(
        out,
        "{} checked ({failed} with errors); {} of other kinds skipped",
        crate::render::count(checked as u64, "manifest", "manifests"),
        crate::render::count(other as u64, "document", "documents")
    )
    .map_err(io_err("writing"))?;
    out.flush().map_err(io_err("writing"))?;
    Ok(if failed > 0 { Exit::Findings } else { Exit::Ok })
}
