//! `egress-advisor telemetry`: the Telemetry and MeshConfig provider that log only egress.

use std::io::Write;

use crate::cli::TelemetryArgs;
use crate::exit::Exit;
use crate::telemetry;

use super::{Error, io_err, note};

pub fn run(a: &TelemetryArgs) -> Result<Exit, Error> {
    let opts = telemetry::Options::new(
        a.namespace.as_deref(),
        &a.root_namespace,
        &a.cluster_domain,
        &a.istio_version,
    )
    .map_err(Error::Usage)?;
    let found = if a.existing.is_empty() {
        None
    } else {
        let docs = crate::existing::read_docs(&a.existing)
            .map_err(|e| Error::Usage(format!("--existing {e}")))?;
        telemetry::find_existing(&docs, &opts.namespace)
            .map_err(|e| Error::Usage(format!("--existing {e}")))?
    };
    // Only a merged Telemetry can fail its schema: the fields came from --existing.
    let built = telemetry::build(&opts, found.as_ref())
        .map_err(|e| Error::Usage(format!("--existing: {e}")))?;
    let mut out = super::output(None)?;
    out.write_all(built.yaml.as_bytes())
        .and_then(|()| out.flush())
        .map_err(io_err("writing the Telemetry"))?;
    drop(out);
    for n in &built.notes {
        note(&format!("note: {n}"));
    }
    Ok(Exit::Ok)
}
