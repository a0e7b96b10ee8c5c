//! `egress-advisor check`: the CI gate.

use std::io::Write;

use crate::cli::CheckArgs;
use crate::config::Selection;
use crate::exit::Exit;
use crate::gate;
use crate::render::check as render;

use super::{Error, finish, io_err, output};

pub fn run(a: &CheckArgs) -> Result<Exit, Error> {
    let settings = super::settings(&a.input)?;
    let selection = Selection::from_filter(&a.filter)?;
    let allow = match &a.allow {
        Some(p) => gate::read_allow(p).map_err(|e| Error::Usage(format!("--allow: {e}")))?,
        None => Vec::new(),
    };
    let baseline = match &a.baseline {
        // Rewritten from today's logs: the old file (of any version, or damaged) is not read.
        Some(_) if a.update_baseline => Some(Vec::new()),
        Some(p) if !p.exists() => {
            return Err(Error::Usage(format!(
                "--baseline {}: no such file (write it with --update-baseline)",
                p.display()
            )));
        }
        Some(p) => {
            Some(gate::read_baseline(p).map_err(|e| Error::Usage(format!("--baseline: {e}")))?)
        }
        None => None,
    };
    let run = super::load(&settings)?;
    let now = crate::parse::time::now();
    let strict = settings.strict;
    let mut check = gate::check(&run, &selection, &allow, baseline.as_deref(), now, strict);
    if a.update_baseline
        && let Some(path) = &a.baseline
    {
        let today = gate::to_baseline(&check);
        let yaml = gate::baseline_yaml(&today).map_err(Error::Other)?;
        std::fs::write(path, yaml)
            .map_err(|e| Error::Io(format!("cannot write {}", path.display()), e))?;
        if !settings.quiet {
            eprintln!(
                "egress-advisor: {} destinations recorded in {}",
                today.len(),
                path.display()
            );
        }
        check = gate::check(&run, &selection, &allow, Some(&today), now, strict);
    }
    if let Some(path) = &a.junit {
        let mut w = output(Some(path))?;
        render::junit(&mut w, &check).map_err(io_err("writing the JUnit report"))?;
        w.flush().map_err(io_err("writing the JUnit report"))?;
    }
    if let Some(path) = &a.html {
        let extras = crate::render::html::Extras {
            command: "check",
            yaml: None,
            check: Some(&check),
            migration: None,
        };
        super::write_html(path, &run, &selection, &extras)?;
    }
    let mut out = output(None)?;
    let what = "writing the verdict";
    if a.json {
        crate::render::escape::write_json(&mut out, &check, true)
            .map_err(|e| Error::Io(what.into(), e.into()))?;
        writeln!(out).map_err(io_err(what))?;
    } else if a.markdown {
        render::markdown(&mut out, &check).map_err(io_err(what))?;
    } else {
        render::text(&mut out, &check).map_err(io_err(what))?;
    }
    out.flush().map_err(io_err(what))?;
    let passed = check.passed();
    drop(check);
    let read = finish(run, &settings, false);
    Ok(if passed { read } else { Exit::Failure })
}
