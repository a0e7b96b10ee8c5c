//! `egress-advisor analyze` and `merge`: the report.

use std::io::Write;

use crate::cli::{AnalyzeArgs, MergeArgs, ReportArgs, SelectArgs};
use crate::config::{Selection, Settings};
use crate::exit::Exit;
use crate::render::report::Report;

use crate::render::html::Extras;

use super::{Error, finish, io_err, output};

/// `merge`: `analyze` over partial results.
pub fn merge(a: &MergeArgs) -> Result<Exit, Error> {
    let settings = Settings::from_parts(&a.paths, &a.read, Some(&a.run), None, true)?;
    crate::pipeline::use_global_pool(settings.threads);
    report(&a.select, &a.report, settings)
}

pub fn run(a: &AnalyzeArgs) -> Result<Exit, Error> {
    report(&a.select, &a.report, super::settings(&a.input)?)
}

fn report(select: &SelectArgs, a: &ReportArgs, mut settings: Settings) -> Result<Exit, Error> {
    let format = crate::config::analyze_output(a)?;
    super::one_stdin_reader(&settings, &select.filter.existing)?;
    let mut selection = Selection::from_args(select)?;
    selection.rules = settings.rules.clone();
    selection.validate.mesh_dns_auto_allocate = settings.mesh_dns_auto_allocate;
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
    if dash && (a.json || a.output.is_some()) {
        return Err(Error::Usage(
            "-o and a flag given `-` would both write to standard output: give that flag a file"
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
        let raw = crate::config::Output::Csv { raw: a.csv_raw };
        out.write(|w| crate::render::write(w, raw, &report))?;
    }
    if !dash {
        let mut out = output(None)?;
        crate::render::write(&mut out, format, &report).map_err(io_err("writing the report"))?;
        out.flush().map_err(io_err("writing the report"))?;
    }
    // Errors go to stderr in every output mode (the table lists unreadable inputs as well).
    super::release(report);
    Ok(finish(run, &settings, false))
}
