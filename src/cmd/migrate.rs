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
    let selection = Selection::from_args(&a.select)?;
    let run = super::load(&settings)?;
    let plan = recommend::plan(&run.summary, &selection);
    let yaml =
        recommend::render_yaml(&plan, &run.summary, run.sources.len()).map_err(Error::Other)?;
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
    let mut out = output(None)?;
    let what = "writing the migration plan";
    if a.json {
        crate::render::escape::write_json(&mut out, &m, true)
            .map_err(|e| Error::Io(what.into(), e.into()))?;
        writeln!(out).map_err(io_err(what))?;
    } else if a.markdown {
        render::markdown(&mut out, &m).map_err(io_err(what))?;
    } else {
        render::text(&mut out, &m).map_err(io_err(what))?;
    }
    out.flush().map_err(io_err(what))?;
    Ok(finish(run, &settings, false))
}
