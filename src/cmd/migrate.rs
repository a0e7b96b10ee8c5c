//! `egress-advisor migrate`: the ALLOW_ANY to REGISTRY_ONLY plan.

use crate::cli::MigrateArgs;
use crate::config::Selection;
use crate::exit::Exit;
use crate::recommend;

use super::{Error, finish};

pub fn run(a: &MigrateArgs) -> Result<Exit, Error> {
    if a.entries.is_some() {
        return Err(Error::Usage(
            "--entries is now --write: --write FILE writes the ServiceEntries that close the gap (as recommend --write does)".into(),
        ));
    }
    let format = crate::config::gate_output(a.output, a.json, a.markdown);
    let mut settings = super::settings(&a.input)?;
    // In-mesh calls show traffic to an egress gateway.
    settings.track_mesh = true;
    super::one_stdin_reader(&settings, &a.select.filter.existing)?;
    let mut selection = Selection::from_args(&a.select)?;
    selection.rules = settings.rules.clone();
    let mut outs = super::out::prepare_all(
        &[
            ("--write", a.write.as_deref()),
            ("--html", a.html.as_deref()),
        ],
        true,
    )?
    .into_iter();
    let (entries_out, html_out) = (outs.next().flatten(), outs.next().flatten());
    let run = super::load(&settings)?;
    selection.observe(&run.summary);
    // The manifests' evidence only when a file shows them.
    let plan = if entries_out.is_some() || html_out.is_some() {
        recommend::plan(&run.summary, &selection)
    } else {
        recommend::plan_entries(&run.summary, &selection)
    };
    // The manifests themselves only when a file shows them.
    if let Some(out) = entries_out {
        out.write(|w| recommend::write_yaml(&plan, &run.summary, run.sources.len(), w))?;
    }
    let mut m = crate::migrate::migrate(&run.summary, &selection, &plan);
    if super::entries(&run.summary) == 0 && !a.allow_empty {
        // Nothing measured is not "ready": the text, the JSON and the exit code agree.
        m.ready = false;
        m.no_input = true;
    }
    if let Some(out) = html_out {
        let extras = crate::render::html::Extras {
            command: "migrate",
            manifests: Some(&plan),
            check: None,
            migration: Some(&m),
        };
        super::write_html(out, &run, &selection, &extras)?;
    }
    super::write_verdict("writing the migration plan", |out| {
        crate::render::write(out, format, &m)
    })?;
    // No input is its own outcome (exit 4), not a finding.
    let findings = !m.ready && !m.no_input;
    drop(m);
    let entries = super::entries(&run.summary);
    let read = finish(run, &settings, false);
    Ok(super::gate_exit(findings, read, entries, a.allow_empty))
}
