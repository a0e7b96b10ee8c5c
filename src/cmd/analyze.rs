//! `egress-advisor analyze`: the report.

use std::io::Write;

use crate::cli::AnalyzeArgs;
use crate::config::{Selection, Settings};
use crate::exit::Exit;
use crate::render::{csv, report::Report, table};

use crate::render::html::Extras;

use super::{Error, finish, io_err, output};

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
    super::one_stdin_reader(&settings, &a.select.filter.existing)?;
    let mut selection = Selection::from_args(&a.select)?;
    selection.rules = settings.rules.clone();
    // Checked before any input is read. One flag may name `-`: it then takes standard output,
    // and the table is not printed.
    let mut outs = super::out::prepare_all(
        &[
            ("--partial", a.partial.as_deref()),
            ("--html", a.html.as_deref()),
            ("--csv", a.csv.as_deref()),
        ],
        false,
    )?
    .into_iter();
    let (partial_out, html_out, csv_out) = (
        outs.next().flatten(),
        outs.next().flatten(),
        outs.next().flatten(),
    );
    let dash = [&partial_out, &html_out, &csv_out]
        .iter()
        .any(|o| o.as_ref().is_some_and(|o| o.is_stdout()));
    if dash && a.json {
        return Err(Error::Usage(
            "--json and a flag given `-` would both write to standard output: give that flag a file"
                .into(),
        ));
    }
    let run = if let Some(out) = partial_out {
        // Partials keep in-mesh calls too: a later `recommend --sidecars` or `migrate` needs them.
        settings.track_mesh = true;
        let mut run = super::load_raw(&settings)?;
        let json = crate::partial::to_json(&run, &settings).map_err(Error::Unreadable)?;
        out.write(|w| w.write_all(json.as_bytes()))?;
        run.summary.attribute_addresses();
        run
    } else {
        super::load(&settings)?
    };
    selection.observe(&run.summary);
    let report = Report::build(&run, &selection);
    if let Some(out) = html_out {
        let plan = crate::recommend::plan(&run.summary, &selection);
        let extras = Extras {
            command: "analyze",
            manifests: Some(&plan),
            check: None,
            migration: None,
        };
        out.write(|w| crate::render::html::write(w, &report, &run.summary, &selection, &extras))?;
    }
    if let Some(out) = csv_out {
        out.write(|w| {
            csv::write(w, &report, a.csv_raw).map_err(|e| {
                let text = e.to_string();
                match e.into_kind() {
                    ::csv::ErrorKind::Io(e) => e,
                    _ => std::io::Error::other(format!("CSV: {text}")),
                }
            })
        })?;
    }
    if !dash {
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
    // Errors go to stderr in every output mode (the table lists unreadable inputs as well).
    super::release(report);
    Ok(finish(run, &settings, false))
}
