//! `egress-advisor explain`: how each line was read, one JSON object per line.

use std::io::Write;

use serde::Serialize;

use crate::cli::ExplainArgs;
use crate::exit::Exit;
use crate::ingest::{self, lines::Event};
use crate::parse::Malformed;
use crate::pipeline::{self, Outcome, SplitState};

use super::{Error, output};

#[derive(Serialize)]
struct Explained<'a> {
    path: &'a str,
    line: u64,
    format: Option<&'static str>,
    class: &'static str,
    host: Option<&'a str>,
    address: Option<String>,
    port: Option<u16>,
    protocol: Option<&'static str>,
    reason: &'a str,
    envelope: &'static str,
    namespace: Option<&'a str>,
    workload: Option<&'a str>,
    /// For a ztunnel line (ambient mode): the rule that judged it (`ambient-passthrough`,
    /// `ambient-waypoint`, ...); `namespace` and `workload` are then the caller's.
    #[serde(skip_serializing_if = "Option::is_none")]
    ambient: Option<&'static str>,
    /// A name the line gave that was not taken as the destination (a hint, never proof).
    #[serde(skip_serializing_if = "Option::is_none")]
    seen_as: Option<&'a str>,
    /// The caller's principal (`<trust domain>/ns/<ns>/sa/<sa>`), from ztunnel's
    /// `src.identity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<&'a str>,
    /// The caller's service account (`<namespace>/<sa>`), from `--pods`.
    #[serde(skip_serializing_if = "Option::is_none")]
    service_account: Option<&'a str>,
}

pub fn run(a: &ExplainArgs) -> Result<Exit, Error> {
    // One format (`-o jsonl`), written as the lines are read.
    let crate::cli::ExplainFormat::Jsonl = a.output;
    let settings =
        crate::config::Settings::from_parts(&a.paths, &a.read, None, Some(&a.origin), false)?;
    let ingest::Discovered { sources, notes } =
        ingest::discover(&settings.paths, settings.stdin_name.as_deref());
    if !settings.quiet {
        for n in notes {
            eprintln!("egress-advisor: {}", crate::render::clean(&n));
        }
    }
    let mut out = output(None)?;
    let mut write_error: Option<std::io::Error> = None;
    let mut malformed = 0u64;
    let mut state: Option<(u32, SplitState)> = None;
    let errors = pipeline::for_each_line(&sources, settings.max_line_bytes, |src, line, ev| {
        let path = sources[src as usize].name.as_str();
        if state.as_ref().is_none_or(|(s, _)| *s != src) {
            let base = pipeline::base_meta(&sources[src as usize].origin, &settings);
            state = Some((src, SplitState::new(base)));
        }
        let st = &mut state.as_mut().expect("set above").1;
        let blank = |class: &'static str, reason: &'static str| Explained {
            path,
            line,
            format: None,
            class,
            host: None,
            address: None,
            port: None,
            protocol: None,
            reason,
            envelope: "bare",
            namespace: None,
            workload: None,
            ambient: None,
            seen_as: None,
            principal: None,
            service_account: None,
        };
        let result = match ev {
            Event::TooLong => {
                malformed += 1;
                emit(
                    &mut out,
                    &blank("malformed", Malformed::LineTooLong.describe()),
                )
            }
            Event::Truncated(_) => {
                malformed += 1;
                emit(
                    &mut out,
                    &blank("malformed", Malformed::Truncated.describe()),
                )
            }
            Event::NoLogLine => {
                malformed += 1;
                emit(
                    &mut out,
                    &blank("malformed", Malformed::NoLogLine.describe()),
                )
            }
            Event::Line(l) => pipeline::read_line(l, &settings, st, false, |v| {
                let (kind, ns, wl) = (v.envelope.name(), v.namespace, v.workload);
                let with = |e| tagged(e, kind, ns, wl);
                let application = v.application.is_some()
                    && matches!(
                        v.outcome,
                        Some(
                            Outcome::Entry { .. } | Outcome::Quick { .. } | Outcome::Ztunnel { .. }
                        )
                    );
                if application {
                    return emit(
                        &mut out,
                        &with(blank(
                            "application",
                            "an entry-like line printed by an application container (not a proxy in --containers): never traffic",
                        )),
                    );
                }
                match v.outcome {
                    None => emit(
                        &mut out,
                        &with(blank(
                            "partial",
                            "CRI partial line, read with the line that ends it",
                        )),
                    ),
                    Some(Outcome::Noise) => {
                        emit(&mut out, &with(blank("noise", "not an access-log entry")))
                    }
                    Some(Outcome::Malformed(m)) => {
                        malformed += 1;
                        emit(&mut out, &with(blank("malformed", m.describe())))
                    }
                    Some(Outcome::Quick {
                        class,
                        reason,
                        format,
                        ..
                    }) => emit(
                        &mut out,
                        &with(Explained {
                            format: format.map(|f| f.name()),
                            ..blank(class.name(), reason)
                        }),
                    ),
                    Some(Outcome::Ztunnel { judged, .. }) => {
                        let d = judged.summary_destination();
                        let c = &judged.caller;
                        let pod = c.pod_info(settings.pods.as_deref());
                        emit(
                            &mut out,
                            &Explained {
                                format: Some(crate::parse::Format::Ztunnel.name()),
                                host: d.as_ref().and_then(|d| d.host.as_deref()),
                                address: d.as_ref().and_then(|d| d.address).map(|a| a.to_string()),
                                port: d.as_ref().map(|d| d.port),
                                protocol: d.as_ref().map(|d| d.protocol.istio_name()),
                                ambient: Some(judged.flow.name()),
                                seen_as: judged.destination.as_ref().and_then(|d| d.seen_as),
                                principal: c.principal,
                                service_account: pod.map(|p| &*p.account),
                                ..tagged(
                                    blank(judged.flow.class().name(), judged.reason),
                                    kind,
                                    c.namespace,
                                    c.workload_with(pod),
                                )
                            },
                        )
                    }
                    Some(Outcome::Entry {
                        format, classified, ..
                    }) => {
                        let d = classified.destination.as_ref();
                        emit(
                            &mut out,
                            &with(Explained {
                                format: Some(format.name()),
                                host: d.and_then(|d| d.host.as_deref()),
                                address: d.and_then(|d| d.address).map(|a| a.to_string()),
                                port: d.map(|d| d.port),
                                protocol: d.map(|d| d.protocol.istio_name()),
                                ..blank(classified.class.name(), classified.reason)
                            }),
                        )
                    }
                }
            }),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        }
    });
    if let Some(e) = write_error {
        return Err(Error::Io("writing the explanation".into(), e));
    }
    out.flush()
        .map_err(|e| Error::Io("writing the explanation".into(), e))?;
    for (i, reason) in &errors {
        super::note(&format!("{}: {reason}", sources[*i as usize].name));
    }
    Ok(
        if !errors.is_empty() || (settings.strict && malformed > 0) {
            Exit::Unreadable
        } else {
            Exit::Ok
        },
    )
}

/// Adds what the envelope said to an explanation.
fn tagged<'a>(
    e: Explained<'a>,
    envelope: &'static str,
    namespace: Option<&'a str>,
    workload: Option<&'a str>,
) -> Explained<'a> {
    Explained {
        envelope,
        namespace,
        workload,
        ..e
    }
}

fn emit(out: &mut dyn Write, e: &Explained<'_>) -> std::io::Result<()> {
    crate::render::escape::write_json(&mut *out, e, false).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}
