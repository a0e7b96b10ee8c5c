//! `egress-advisor recommend`: ServiceEntries as YAML.

use crate::classify::Class;
use crate::cli::RecommendArgs;
use crate::config::Selection;
use crate::exit::Exit;
use crate::recommend;

use super::{Error, finish};

pub fn run(a: &RecommendArgs) -> Result<Exit, Error> {
    let mut settings = super::settings(&a.input)?;
    settings.track_mesh = a.sidecars;
    super::one_stdin_reader(&settings, &a.select.filter.existing)?;
    let mut selection = Selection::from_args(&a.select)?;
    selection.rules = settings.rules.clone();
    let out = match &a.output {
        Some(p) => super::out::OutFile::prepare("--output", p)?,
        None => super::out::OutFile::prepare("--output", std::path::Path::new("-"))?,
    };
    let run = super::load(&settings)?;
    selection.observe(&run.summary);
    let plan = recommend::plan(&run.summary, &selection);
    // The Sidecars follow the ServiceEntries; the entries are written as they are rendered.
    let mut sidecar_yaml = String::new();
    if a.sidecars {
        let sidecars = crate::sidecar::plan(&run.summary, &plan, &selection, &settings.rules);
        crate::sidecar::render(&mut sidecar_yaml, &sidecars, plan.api_version)
            .map_err(Error::Unreadable)?;
        if sidecars.is_empty() && !settings.quiet {
            eprintln!("egress-advisor: no namespace is named in the logs: no Sidecar to write");
        }
    }
    out.write(|w| {
        recommend::write_yaml(&plan, &run.summary, run.sources.len(), w)?;
        w.write_all(sidecar_yaml.as_bytes())
    })?;
    if plan.entries.len() >= recommend::MANY_ENTRIES && !settings.quiet {
        eprintln!(
            "egress-advisor: {} ServiceEntries: every one is pushed to every sidecar it is exported to, and meshes with thousands strain istiod's pushes and sidecar memory; consider --scope central, --wildcard-min, --cidr-prefix, --min-requests or --max-entries",
            plan.entries.len()
        );
    }
    let malformed = run.summary.classes[Class::Malformed.index()];
    if malformed > 0 && !settings.quiet {
        eprintln!(
            "egress-advisor: {malformed} malformed lines were skipped ('analyze' lists them)"
        );
    }
    if plan.entries.is_empty() && !settings.quiet {
        eprintln!("egress-advisor: no undeclared external destinations: no ServiceEntry to write");
    }
    Ok(finish(run, &settings, false))
}
