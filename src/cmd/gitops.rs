//! `recommend --output-dir DIR`: the YAML stream `recommend` prints, written as a kustomize
//! folder ([`crate::gitops`]), with what changed listed on stderr.

use super::Error;

/// Renders `doc` as YAML and writes it into `dir`; the files removed are always listed, the
/// count of files written unless `quiet`.
pub fn write(
    dir: &std::path::Path,
    doc: &dyn crate::render::Document,
    quiet: bool,
) -> Result<(), Error> {
    let mut yaml = Vec::new();
    doc.yaml(&mut yaml)
        .map_err(|e| Error::Unreadable(format!("the manifests: {e}")))?;
    let text =
        String::from_utf8(yaml).map_err(|e| Error::Unreadable(format!("the manifests: {e}")))?;
    let done = crate::gitops::write(dir, &text)
        .map_err(|e| Error::Unreadable(format!("--output-dir {e}")))?;
    for p in &done.removed {
        super::note(&format!("removed {}: no longer recommended", p.display()));
    }
    if !quiet {
        super::note(&format!(
            "{}: {} files written, {} unchanged, {} removed",
            dir.display(),
            done.written.len(),
            done.unchanged,
            done.removed.len()
        ));
    }
    Ok(())
}

/// Checks `--output-dir` before any input is read, so that a folder the run cannot write fails
/// at once rather than after minutes of reading.
pub fn prepare(dir: &std::path::Path) -> Result<(), Error> {
    crate::gitops::check(dir)
        .map(drop)
        .map_err(|e| Error::Unreadable(format!("--output-dir {e}")))
}
