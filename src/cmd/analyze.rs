//! `egress-advisor analyze`: the report.

use std::io::Write;

use crate::cli::AnalyzeArgs;
use crate::config::{Selection, Settings};
use crate::exit::Exit;
use crate::render::{csv, report::Report, table};

use crate::render::html::Extras;

use super::{Error, finish, io_err, output, write_html};

/// `merge`: `analyze` over partial results.
pub fn merge(a: &AnalyzeArgs) -> Result<Exit, Error> {
    if a.input.paths.is_empty() {
        return Err(Error::Usage(
            "merge: give the partial result files (analyze --partial writes them)".into(),
        ));
    }
    let mut settings = super::settings(&a.input)?;
    settings.partials = true;
    report(a, settings)
}

pub fn run(a: &AnalyzeArgs) -> Result<Exit, Error> {
    report(a, super::settings(&a.input)?)
}

fn report(a: &AnalyzeArgs, mut settings: Settings) -> Result<Exit, Error> {
    let selection = Selection::from_args(&a.select)?;
    let csv_to_stdout = a.csv.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if csv_to_stdout && a.json {
        return Err(Error::Usage(
            "--csv - and --json both write to stdout: give --csv a file".into(),
        ));
    }
    let run = if let Some(path) = &a.partial {
        // Partials keep in-mesh calls too: a later `recommend --sidecars` or `migrate` needs them.
        settings.track_mesh = true;
        let mut run = super::load_raw(&settings)?;
        let json = crate::partial::to_json(&run, &settings).map_err(Error::Other)?;
        let mut w = output(Some(path))?;
        w.write_all(json.as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| Error::Io(format!("writing {}", path.display()), e))?;
        run.summary.attribute_addresses();
        run
    } else {
        super::load(&settings)?
    };
    let report = Report::build(&run, &selection);
    if let Some(path) = &a.html {
        let plan = crate::recommend::plan(&run.summary, &selection);
        let yaml = crate::recommend::render_yaml(&plan, &run.summary, run.sources.len())
            .map_err(Error::Other)?;
        let extras = Extras {
            command: "analyze",
            yaml: Some(&yaml),
            check: None,
            migration: None,
        };
        write_html(path, &run, &selection, &extras)?;
    }
    if let Some(path) = &a.csv {
        let w = output(Some(path))?;
        csv::write(w, &report, a.csv_raw).map_err(|e| match e.into_kind() {
            ::csv::ErrorKind::Io(e) => Error::Io(format!("writing {}", path.display()), e),
            other => Error::Other(format!("writing {}: {other:?}", path.display())),
        })?;
    }
    if !csv_to_stdout {
        let mut out = output(None)?;
        if a.json {
            crate::render::escape::write_json(&mut out, &report, true)
                .map_err(|e| Error::Io("writing the report".into(), e.into()))?;
            writeln!(out).map_err(io_err("writing the report"))?;
        } else {
            table::write(&mut out, &report).map_err(io_err("writing the report"))?;
        }
        out.flush().map_err(io_err("writing the report"))?;
    }
    // The table already lists unreadable inputs; JSON and CSV readers get them on stderr.
    super::release(report);
    Ok(finish(run, &settings, !a.json && !csv_to_stdout))
}
