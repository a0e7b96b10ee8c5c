//! `egress-advisor migrate`: the ALLOW_ANY to REGISTRY_ONLY plan.

use std::io::Write;

use crate::cli::MigrateArgs;
use crate::config::Selection;
use crate::exit::Exit;
use crate::recommend;
use crate::render::migrate as render;

use super::{Error, finish, io_err, output};

pub fn run(a: &MigrateArgs) -> Result<Exit, Error> {
    let mut settings = super::settings(&a.input)?;
    // In-mesh calls show traffic to an egress gateway.
    settings.track_mesh = true;
    let mut selection = Selection::from_args(&a.select)?;
    selection.rules = settings.rules.clone();
    let run = super::load(&settings)?;
    let plan = recommend::plan(&run.summary, &selection);
    let yaml = recommend::render_yaml(&plan, &run.summary, run.sources.len())
        .map_err(Error::Unreadable)?;
    if let Some(path) = &a.entries {
        let mut w = output(Some(path))?;
        w.write_all(yaml.as_bytes())
            .map_err(io_err("writing the ServiceEntries"))?;
        w.flush().map_err(io_err("writing the ServiceEntries"))?;
    }
    let m = crate::migrate::migrate(&run.summary, &selection, &plan);
    if let Some(path) = &a.html {
        let extras = crate::render::html::Extras {
            command: "migrate",
            yaml: Some(&yaml),
            check: None,
            migration: Some(&m),
        };
        super::write_html(path, &run, &selection, &extras)?;
    }
    let what = "writing the migration plan";
    let mut out = output(None)?;
    let written = (|| -> std::io::Result<()> {
        if a.json {
            serde_json::to_writer_pretty(&mut out, &m)?;
            writeln!(out)?;
        } else if a.markdown {
            render::markdown(&mut out, &m)?;
        } else {
            render::text(&mut out, &m)?;
        }
        out.flush()
    })();
    drop(out);
    // A reader that stops early does not change the verdict.
    super::tolerate_closed_stdout(written).map_err(io_err(what))?;
    let ready = m.ready;
    drop(m);
    let entries = super::entries(&run.summary);
    let read = finish(run, &settings, false);
    Ok(super::gate_exit(!ready, read, entries, a.allow_empty))
}
