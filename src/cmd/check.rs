//! `egress-advisor check`: the CI gate.

use crate::cli::CheckArgs;
use crate::config::Selection;
use crate::exit::Exit;
use crate::gate;
use crate::render::check as render;

use super::{Error, finish};

pub fn run(a: &CheckArgs) -> Result<Exit, Error> {
    let format = crate::config::gate_output(a.output, a.json, a.markdown);
    let settings = super::settings(&a.input)?;
    super::one_stdin_reader(&settings, &a.filter.existing)?;
    let mut selection = Selection::from_filter(&a.filter)?;
    selection.rules = settings.rules.clone();
    let allow = match &a.allow {
        Some(p) => gate::read_allow(p).map_err(|e| Error::Usage(format!("--allow {e}")))?,
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
            Some(gate::read_baseline(p).map_err(|e| Error::Usage(format!("--baseline {e}")))?)
        }
        None => None,
    };
    let mut outs = super::out::prepare_all(
        &[
            ("--junit", a.junit.as_deref()),
            ("--sarif", a.sarif.as_deref()),
            ("--html", a.html.as_deref()),
            (
                "--baseline",
                a.baseline.as_deref().filter(|_| a.update_baseline),
            ),
            ("--write", a.write.as_deref()),
        ],
        true,
    )?
    .into_iter();
    let (junit_out, sarif_out, html_out, baseline_out, write_out) = (
        outs.next().flatten(),
        outs.next().flatten(),
        outs.next().flatten(),
        outs.next().flatten(),
        outs.next().flatten(),
    );
    let run = super::load(&settings)?;
    selection.observe(&run.summary);
    let now = crate::parse::time::now();
    let rules = gate::Rules {
        allow: &allow,
        baseline: baseline.as_deref(),
        now,
        strict: settings.strict,
        allow_empty: a.allow_empty,
    };
    let mut check = gate::check(&run, &selection, rules);
    if let Some(out) = baseline_out
        && let Some(path) = &a.baseline
    {
        let today = gate::to_baseline(&check);
        let yaml = gate::baseline_yaml(&today).map_err(Error::Unreadable)?;
        out.write(|w| w.write_all(yaml.as_bytes()))?;
        if !settings.quiet {
            eprintln!(
                "egress-advisor: {} recorded in {}",
                crate::render::count(today.len() as u64, "destination", "destinations"),
                path.display()
            );
        }
        let rules = gate::Rules {
            baseline: Some(&today),
            ..rules
        };
        check = gate::check(&run, &selection, rules);
    }
    // How to close the gap: what `recommend` writes, for the undeclared destinations alone.
    let fix = gate::closing(
        if check.counts.uncovered > 0 {
            crate::recommend::plan(&run.summary, &selection)
        } else {
            crate::recommend::Plan {
                api_version: selection.api_version,
                ..crate::recommend::Plan::default()
            }
        },
        &check,
    );
    check.fix = crate::recommend::outline(&fix);
    check.fix_skipped = fix
        .skipped
        .iter()
        .map(|(k, s, why)| format!("{}: {}", gate::Dest::of(k, s).title(), why.describe()))
        .collect();
    if format == crate::config::Output::Markdown && !fix.entries.is_empty() {
        check.fix_yaml = Some(
            crate::recommend::yaml_prefix(&fix, &run.summary, gate::FIX_YAML_MAX)
                .map_err(Error::Unreadable)?,
        );
    }
    if let Some(out) = write_out {
        out.write(|w| crate::recommend::write_yaml(&fix, &run.summary, run.sources.len(), w))?;
    }
    if let Some(out) = junit_out {
        out.write(|w| render::junit(w, &check))?;
    }
    if let Some(out) = sarif_out {
        let at = crate::render::sarif::Locations {
            allow: a.allow.as_deref(),
            existing: a
                .filter
                .existing
                .iter()
                .find(|p| p.as_os_str() != "-" && p.is_file())
                .map(|p| p.as_path()),
            baseline: a.baseline.as_deref(),
            input: a
                .input
                .paths
                .iter()
                .find(|p| p.as_os_str() != "-")
                .map(|p| p.as_path()),
        };
        out.write(|w| {
            crate::render::sarif::write(
                w,
                &check,
                &selection.high_cardinality.findings,
                selection.cardinality_threshold,
                at,
            )
        })?;
    }
    if let Some(out) = html_out {
        let extras = crate::render::html::Extras {
            command: "check",
            manifests: Some(&fix),
            check: Some(&check),
            migration: None,
        };
        super::write_html(out, &run, &selection, &extras)?;
    }
    super::write_verdict("writing the verdict", |out| {
        crate::render::write(out, format, &check)
    })?;
    let findings = check.findings();
    drop(check);
    let entries = super::entries(&run.summary);
    let read = finish(run, &settings, false);
    Ok(super::gate_exit(findings, read, entries, a.allow_empty))
}
