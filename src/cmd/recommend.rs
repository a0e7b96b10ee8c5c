//! `egress-advisor recommend`: ServiceEntries as YAML.

use crate::classify::Class;
use crate::cli::{Mode, RecommendArgs};
use crate::config::Selection;
use crate::exit::Exit;
use crate::recommend;
use std::io::Write;

use super::{Error, finish};

pub fn run(a: &RecommendArgs) -> Result<Exit, Error> {
    let mut settings = super::settings(&a.input)?;
    settings.track_mesh = a.sidecars;
    super::one_stdin_reader(&settings, &a.select.filter.existing)?;
    let mut selection = Selection::from_args(&a.select)?;
    selection.rules = settings.rules.clone();
    let format = crate::config::recommend_output(a.output);
    if a.output_dir.is_some() && format != crate::config::Output::Yaml {
        return Err(Error::Usage(
            "--output-dir writes YAML files: -o json cannot go with it".into(),
        ));
    }
    if let Some(dir) = &a.output_dir {
        super::gitops::prepare(dir)?;
    }
    let out = match &a.write {
        Some(p) => super::out::OutFile::prepare("--write", p)?,
        None => super::out::OutFile::prepare("--write", std::path::Path::new("-"))?,
    };
    let run = super::load(&settings)?;
    let (mode, why) = crate::recommend_ambient::choose(a.ambient.mode, &run.summary, a.sidecars);
    let ambient = match mode {
        Mode::Sidecar => {
            let x = &a.ambient;
            if !settings.quiet
                && (x.network_policy
                    || x.waypoint_namespace.is_some()
                    || x.egress_namespace != "istio-egress"
                    || x.waypoint != "waypoint")
            {
                eprintln!(
                    "egress-advisor: --network-policy, --egress-namespace, --waypoint and --waypoint-namespace apply in ambient mode only: ignored (pass --mode ambient)"
                );
            }
            None
        }
        Mode::Ambient => {
            if a.sidecars {
                return Err(Error::Usage(
                    "--sidecars writes Sidecars, which ambient workloads do not use: pass --mode sidecar".into(),
                ));
            }
            if a.output_dir.is_some() {
                return Err(Error::Usage(
                    "--output-dir writes sidecar-mode files: in ambient mode, use --write FILE"
                        .into(),
                ));
            }
            let opts = crate::recommend_ambient::options(
                &a.ambient,
                &a.select.shape,
                selection.existing.as_deref(),
                &selection.exclude_namespaces,
            )?;
            // One egress namespace holds every entry (ztunnel ignores exportTo).
            selection.central = Some(opts.egress_namespace.clone());
            Some(opts)
        }
    };
    if !settings.quiet && (run.summary.ambient.lines() > 0 || a.ambient.mode.is_some()) {
        eprintln!("egress-advisor: {why}");
    }
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
    let manifests = Manifests {
        plan: &plan,
        summary: &run.summary,
        files: run.sources.len(),
        sidecars: &sidecar_yaml,
        ambient: ambient.as_ref(),
    };
    match &a.output_dir {
        Some(dir) => super::gitops::write(dir, &manifests, settings.quiet)?,
        None => out.write(|w| crate::render::write(w, format, &manifests))?,
    }
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

/// The manifests `recommend` prints: the ServiceEntries, then the Sidecars.
struct Manifests<'a> {
    plan: &'a recommend::Plan<'a>,
    summary: &'a crate::aggregate::Summary,
    files: usize,
    sidecars: &'a str,
    /// Ambient mode: the waypoint-bound policy instead of the sidecar stream.
    ambient: Option<&'a crate::recommend_ambient::Options>,
}

impl crate::render::Document for Manifests<'_> {
    fn yaml(&self, w: &mut dyn Write) -> std::io::Result<()> {
        if let Some(opts) = self.ambient {
            return crate::recommend_ambient::write_yaml(
                self.plan,
                self.summary,
                self.files,
                opts,
                w,
            );
        }
        recommend::write_yaml(self.plan, self.summary, self.files, w)?;
        w.write_all(self.sidecars.as_bytes())
    }

    /// The same manifests as one `v1` `List` (as `kubectl get -o json` prints several), read
    /// back from the YAML: the evidence comments have no place in JSON.
    fn json(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut yaml = Vec::new();
        self.yaml(&mut yaml)?;
        let text = String::from_utf8(yaml).map_err(std::io::Error::other)?;
        let items: Vec<serde_json::Value> = crate::yaml::documents(&text)
            .map_err(|e| std::io::Error::other(format!("the manifests: {e}")))?
            .into_iter()
            .filter(|d| !d.is_null())
            .collect();
        let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
        crate::render::json_document(w, &list)
    }
}
