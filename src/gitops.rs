//! `recommend --output-dir DIR`: the manifests as a folder a GitOps controller (Argo CD, Flux)
//! reconciles. One folder per namespace, one file per manifest (`<kind>-<name>.yaml`, its
//! evidence comments kept), a `kustomization.yaml` in each folder listing its files and one at
//! the top listing the folders: `kubectl kustomize DIR` gives the objects `recommend` prints.
//!
//! The folder is built from the very YAML stream `recommend` prints, split at its document
//! markers, so the two cannot differ. Entries whose callers the logs do not name have no
//! `metadata.namespace`: they go to [`NO_NAMESPACE`], a name no namespace can have.
//!
//! Re-running into the same folder updates it. What the tool owns is what carries its label
//! ([`LABEL`]` = `[`MANAGER`], read from the parsed object, not searched for in the text):
//! such manifests it no longer recommends are removed; any other file is never written,
//! replaced or removed (a name the tool needs that another file holds is an error, before
//! anything is written); the entries and keys a user added to the tool's `kustomization.yaml`
//! files are kept. Every file is written to a temporary file beside it and renamed into place.
//!
//! Names come from log data through the manifests: a folder is a namespace that is a DNS-1123
//! label (or [`NO_NAMESPACE`]), a file is a lowercase ASCII kind and a DNS-1123 subdomain, so
//! no `/`, no `..` and no leading dot ever reach a path; anything else is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::validate::{is_dns1123_label, is_dns1123_subdomain};

/// The label the tool puts on every manifest it writes, and by which it knows its own files.
pub const LABEL: &str = "app.kubernetes.io/managed-by";
/// [`LABEL`]'s value.
pub const MANAGER: &str = "egress-advisor";
/// The folder of the manifests without `metadata.namespace`. A namespace is a DNS-1123 label
/// (`[a-z0-9-]`), so no namespace has this name.
pub const NO_NAMESPACE: &str = "_no-namespace";
/// The kustomization file the tool writes in each folder.
pub const KUSTOMIZATION: &str = "kustomization.yaml";
/// The other names kustomize reads a kustomization from: two in one folder are an error to it.
const OTHER_KUSTOMIZATIONS: [&str; 2] = ["kustomization.yml", "Kustomization"];
const KUSTOMIZE_API: &str = "kustomize.config.k8s.io/v1beta1";

/// Puts the tool's label on a manifest it rewrote from an existing object (`--existing`), unless
/// the object already names its manager: another tool's (Helm's, say) is kept, as that tool
/// checks it before it updates the object.
pub fn mark(v: &mut Value) {
    let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels
            .entry(LABEL)
            .or_insert_with(|| Value::String(MANAGER.to_owned()));
    }
}

/// Whether an object carries the tool's label.
pub fn is_ours(v: &Value) -> bool {
    v.pointer("/metadata/labels")
        .and_then(|l| l.get(LABEL))
        .and_then(Value::as_str)
        == Some(MANAGER)
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files written or rewritten (their content changed).
    pub written: Vec<PathBuf>,
    /// Files already as they should be, left alone.
    pub unchanged: usize,
    /// The tool's manifests it no longer recommends, removed.
    pub removed: Vec<PathBuf>,
}

/// One manifest of the stream: its folder, file name and text (comments included).
#[derive(Debug)]
struct Manifest {
    folder: String,
    file: String,
    text: String,
}

/// The stream split: the comments of the documents without an object (the stream's header,
/// the Sidecars left out and why) and the manifests, in the stream's order.
fn split(stream: &str) -> Result<(String, Vec<Manifest>), String> {
    let mut chunks = vec![String::new()];
    for line in stream.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "---" {
            chunks.push(String::new());
        } else if let Some(c) = chunks.last_mut() {
            c.push_str(line);
        }
    }
    let mut comments = String::new();
    let mut manifests = Vec::new();
    let mut seen = BTreeSet::new();
    let mut parsed = Vec::new();
    for chunk in chunks {
        let mut docs = crate::yaml::documents(&chunk).map_err(|e| format!("the manifests: {e}"))?;
        let doc = match docs.len() {
            0 => {
                for l in chunk.lines().filter(|l| l.starts_with('#')) {
                    comments.push_str(l);
                    comments.push('\n');
                }
                continue;
            }
            1 => docs.remove(0),
            n => return Err(format!("the manifests: {n} objects in one document")),
        };
        let (folder, file) = place(&doc)?;
        parsed.push(doc);
        if !seen.insert((folder.clone(), file.clone())) {
            return Err(format!("two manifests would be written to {folder}/{file}"));
        }
        let mut text = chunk;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        manifests.push(Manifest { folder, file, text });
    }
    // The files hold exactly the stream's objects: cut only at document markers.
    let whole = crate::yaml::documents(stream).map_err(|e| format!("the manifests: {e}"))?;
    if !whole.into_iter().filter(|d| !d.is_null()).eq(parsed) {
        return Err("internal error: the manifests do not split into their documents".into());
    }
    Ok((comments, manifests))
}

/// The folder and file name of a manifest, from its kind, name and namespace, each checked so
/// that it can only name a file in a folder under the output directory.
fn place(doc: &Value) -> Result<(String, String), String> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = doc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let what = || format!("{} {:?}", crate::fmt::clean(kind), crate::fmt::clean(name));
    if kind.is_empty() || kind.len() > 63 || !kind.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "a manifest of kind {:?}: not a kind that can name a file",
            crate::fmt::clean(kind)
        ));
    }
    if !is_dns1123_subdomain(name) {
        return Err(format!(
            "{}: metadata.name is not a DNS-1123 subdomain: it cannot name a file",
            what()
        ));
    }
    let folder = match doc.pointer("/metadata/namespace") {
        None => NO_NAMESPACE.to_owned(),
        Some(Value::String(ns)) if is_dns1123_label(ns, false) => ns.clone(),
        Some(ns) => {
            return Err(format!(
                "{}: metadata.namespace {} is not a DNS-1123 label: it cannot name a folder",
                what(),
                crate::fmt::clean(&ns.to_string())
            ));
        }
    };
    if !is_ours(doc) {
        let other = doc
            .pointer("/metadata/labels")
            .and_then(|l| l.get(LABEL))
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(format!(
            "{} in {folder}: labelled {LABEL}: {:?}, not {MANAGER}: --output-dir writes only the objects egress-advisor manages; print it without --output-dir and change it where it is kept",
            what(),
            crate::fmt::clean(other)
        ));
    }
    Ok((folder, format!("{}-{name}.yaml", kind.to_ascii_lowercase())))
}

/// What one folder under the output directory holds, as far as the tool is concerned.
#[derive(Debug, Default)]
struct Folder {
    /// The tool's manifests in it (file names).
    managed: BTreeSet<String>,
    /// Its `kustomization.yaml`, when the tool wrote it.
    kustomization: Option<Value>,
    /// A kustomization file the tool did not write.
    foreign_kustomization: Option<String>,
    /// Every regular file and what else it holds, by name.
    entries: BTreeSet<String>,
}

/// Reads a file as one object; `None` when it is not one (then it is not the tool's).
fn read_object(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut docs = crate::yaml::documents(&text).ok()?;
    (docs.len() == 1).then(|| docs.remove(0))
}

/// Whether `path` is a regular file (a link is not followed, and not one).
fn is_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file())
}

fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn io(what: &Path, e: &io::Error) -> String {
    format!("{}: {}", what.display(), crate::ingest::io_reason(e))
}

/// The folders under `dir` that may hold the tool's files: those named as a namespace or
/// [`NO_NAMESPACE`] that are directories, not links.
fn scan(dir: &Path) -> Result<BTreeMap<String, Folder>, String> {
    let mut folders = BTreeMap::new();
    let list = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(folders),
        Err(e) => return Err(io(dir, &e)),
    };
    let mut names = Vec::new();
    for entry in list {
        let entry = entry.map_err(|e| io(dir, &e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let Ok(name) = entry.file_name().into_string()
            && is_dir
            && (name == NO_NAMESPACE || is_dns1123_label(&name, false))
        {
            names.push(name);
        }
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let mut folder = Folder::default();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&path).map_err(|e| io(&path, &e))? {
            let entry = entry.map_err(|e| io(&path, &e))?;
            if let Ok(f) = entry.file_name().into_string() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    files.push(f.clone());
                }
                folder.entries.insert(f);
            }
        }
        files.sort();
        for f in files {
            let p = path.join(&f);
            if f == KUSTOMIZATION {
                match read_object(&p) {
                    Some(k) if is_ours(&k) && k.is_object() => folder.kustomization = Some(k),
                    _ => folder.foreign_kustomization = Some(f),
                }
            } else if OTHER_KUSTOMIZATIONS.contains(&f.as_str()) {
                folder.foreign_kustomization = Some(f);
            } else if f.ends_with(".yaml")
                && read_object(&p)
                    .is_some_and(|v| is_ours(&v) && v.get("kind") != Some(&"Kustomization".into()))
            {
                folder.managed.insert(f);
            }
        }
        folders.insert(name, folder);
    }
    Ok(folders)
}

/// Writes `text` to `path` through a temporary file in the same folder, renamed into place.
fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 0u32;
    let (tmp, mut file) = loop {
        let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
            Err(e) => return Err(io(&tmp, &e)),
        }
    };
    let done = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            std::fs::rename(&tmp, path)
        });
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(path, &e));
    }
    Ok(())
}

/// Writes `path` unless it already holds `text`.
fn put(path: &Path, text: &str, out: &mut Outcome) -> Result<(), String> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        out.unchanged += 1;
        return Ok(());
    }
    write_atomic(path, text)?;
    out.written.push(path.to_path_buf());
    Ok(())
}

/// A kustomization listing `ours` (sorted), then the resources of `old` that are not the
/// tool's (`owned` names every resource the tool has written or now writes), with every other
/// key of `old` kept. `None` when it would list nothing and hold nothing else.
fn kustomization(
    old: Option<&Value>,
    ours: &BTreeSet<String>,
    owned: &dyn Fn(&Value) -> bool,
) -> Option<Value> {
    let mut k = old.and_then(Value::as_object).cloned().unwrap_or_default();
    let foreign: Vec<Value> = k
        .remove("resources")
        .and_then(|r| match r {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !owned(r))
        .collect();
    let mut meta = match k.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    k.remove("apiVersion");
    k.remove("kind");
    if ours.is_empty() && foreign.is_empty() && k.is_empty() {
        return None;
    }
    let mut labels = match meta.remove("labels") {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    labels.insert(LABEL.into(), MANAGER.into());
    meta.insert("labels".into(), Value::Object(labels));
    k.insert("apiVersion".into(), KUSTOMIZE_API.into());
    k.insert("kind".into(), "Kustomization".into());
    k.insert("metadata".into(), Value::Object(meta));
    let mut resources: Vec<Value> = ours.iter().map(|s| Value::from(s.as_str())).collect();
    resources.extend(foreign);
    k.insert("resources".into(), Value::Array(resources));
    Some(Value::Object(k))
}

fn yaml_text(comments: &str, v: &Value) -> Result<String, String> {
    let body = serde_saphyr::to_string(v).map_err(|e| format!("writing a kustomization: {e}"))?;
    Ok(format!("{comments}{body}"))
}

/// Checks what `--output-dir` names before any input is read: a directory or nothing, whose
/// kustomization, if any, the tool wrote. Gives that kustomization.
pub fn check(dir: &Path) -> Result<Option<Value>, String> {
    // The folder named may be a link to one; those under it are never followed.
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(format!("{}: not a directory", dir.display()));
        }
        _ => {}
    }
    let top = dir.join(KUSTOMIZATION);
    let top_old = if exists(&top) {
        match read_object(&top) {
            Some(k) if is_ours(&k) && k.is_object() && is_file(&top) => Some(k),
            _ => {
                return Err(format!(
                    "{}: not written by egress-advisor (no {LABEL}: {MANAGER} label): it is never replaced; pick another --output-dir",
                    top.display()
                ));
            }
        }
    } else {
        None
    };
    for other in OTHER_KUSTOMIZATIONS {
        if exists(&dir.join(other)) {
            return Err(format!(
                "{}: a kustomization egress-advisor did not write: kustomize would read two; pick another --output-dir",
                dir.join(other).display()
            ));
        }
    }
    Ok(top_old)
}

/// Writes the manifests of a `recommend` YAML stream into `dir` as described in the module's
/// documentation, and updates what an earlier run wrote there.
pub fn write(dir: &Path, stream: &str) -> Result<Outcome, String> {
    let (comments, manifests) = split(stream)?;
    let mut planned: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for m in manifests {
        planned.entry(m.folder).or_default().insert(m.file, m.text);
    }
    // kustomize gives an object without a namespace the namespace `default`: one of the same
    // kind and name there is the same object to it (and to kubectl in `default`).
    if let (Some(none), Some(default)) = (planned.get(NO_NAMESPACE), planned.get("default"))
        && let Some(f) = none.keys().find(|f| default.contains_key(*f))
    {
        return Err(format!(
            "{NO_NAMESPACE}/{f} and default/{f}: kustomize reads an object without a namespace as in `default`, so the two are one object to it; give the logs' unnamed callers a namespace (--source-namespace) and run again"
        ));
    }
    // Everything is checked before anything is written.
    let top_old = check(dir)?;
    let mut folders = scan(dir)?;
    for (name, files) in &planned {
        let path = dir.join(name);
        if exists(&path) && !folders.contains_key(name) {
            return Err(format!(
                "{}: not a directory: egress-advisor writes the manifests of that namespace there",
                path.display()
            ));
        }
        let folder = folders.get(name);
        if let Some(f) = folder.and_then(|f| f.foreign_kustomization.as_ref()) {
            return Err(format!(
                "{}: a kustomization egress-advisor did not write (no {LABEL}: {MANAGER} label): it is never replaced",
                path.join(f).display()
            ));
        }
        for file in files.keys() {
            let taken = folder.is_some_and(|f| f.entries.contains(file))
                && !folder.is_some_and(|f| f.managed.contains(file));
            if taken {
                return Err(format!(
                    "{}: a file egress-advisor did not write (no {LABEL}: {MANAGER} label) holds the name of a manifest it writes: it is never replaced; move it away",
                    path.join(file).display()
                ));
            }
        }
    }
    let mut out = Outcome::default();
    std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
    for (name, files) in &planned {
        let path = dir.join(name);
        if !exists(&path) {
            std::fs::create_dir(&path).map_err(|e| io(&path, &e))?;
        }
        for (file, text) in files {
            put(&path.join(file), text, &mut out)?;
        }
    }
    // The tool's manifests it no longer recommends.
    for (name, folder) in &folders {
        let keep = planned.get(name);
        for file in &folder.managed {
            if !keep.is_some_and(|k| k.contains_key(file)) {
                let p = dir.join(name).join(file);
                std::fs::remove_file(&p).map_err(|e| io(&p, &e))?;
                out.removed.push(p);
            }
        }
    }
    // Each folder's kustomization, then the top one.
    let mut names: BTreeSet<String> = planned.keys().cloned().collect();
    names.extend(
        folders
            .iter()
            .filter(|(_, f)| f.kustomization.is_some() || !f.managed.is_empty())
            .map(|(n, _)| n.clone()),
    );
    let mut listed = BTreeSet::new();
    let empty = BTreeMap::new();
    for name in &names {
        let folder = folders.remove(name).unwrap_or_default();
        let files = planned.get(name).unwrap_or(&empty);
        let ours: BTreeSet<String> = files.keys().cloned().collect();
        let owned = |r: &Value| {
            r.as_str()
                .is_some_and(|r| ours.contains(r) || folder.managed.contains(r))
        };
        let path = dir.join(name);
        let k = dir.join(name).join(KUSTOMIZATION);
        match kustomization(folder.kustomization.as_ref(), &ours, &owned) {
            Some(v) => {
                let note = if name == NO_NAMESPACE {
                    "# The entries whose callers the logs do not name, without metadata.namespace: kubectl\n# puts them in its current namespace. Add `namespace: <namespace>` to this file, the\n# namespace of the workloads that made the calls (egress-advisor keeps it), or give the\n# callers a namespace (--source-namespace) and run again.\n"
                } else {
                    ""
                };
                put(&k, &yaml_text(note, &v)?, &mut out)?;
                listed.insert(name.clone());
            }
            None => {
                if folder.kustomization.is_some() {
                    std::fs::remove_file(&k).map_err(|e| io(&k, &e))?;
                    out.removed.push(k);
                }
                // Only an empty folder goes; one holding other files stays.
                let _ = std::fs::remove_dir(&path);
            }
        }
    }
    let owned = |r: &Value| r.as_str().is_some_and(|r| names.contains(r));
    let header = format!(
        "# Written by egress-advisor recommend --output-dir: `kubectl kustomize` of this folder gives\n# the manifests recommend prints. Files labelled {LABEL}: {MANAGER} are\n# rewritten or removed on the next run; other files and the entries added here are kept.\n{comments}"
    );
    let v = kustomization(top_old.as_ref(), &listed, &owned).unwrap_or_else(|| {
        serde_json::json!({
            "apiVersion": KUSTOMIZE_API,
            "kind": "Kustomization",
            "metadata": {"labels": {LABEL: MANAGER}},
            "resources": [],
        })
    });
    put(&dir.join(KUSTOMIZATION), &yaml_text(&header, &v)?, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn se(name: &str, ns: Option<&str>) -> String {
        let ns = ns
            .map(|n| format!("  namespace: {n}\n"))
            .unwrap_or_default();
        format!(
            "---\n# {name}\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: {name}\n{ns}  labels:\n    app.kubernetes.io/managed-by: egress-advisor\nspec:\n  hosts:\n  - {name}\n"
        )
    }

    #[test]
    fn places_by_namespace_kind_and_name() {
        let stream = format!(
            "# header\n{}{}",
            se("a.example.com", None),
            se("b", Some("shop"))
        );
        let (comments, m) = split(&stream).unwrap();
        assert_eq!(comments, "# header\n");
        assert_eq!(
            m.iter()
                .map(|m| format!("{}/{}", m.folder, m.file))
                .collect::<Vec<_>>(),
            [
                "_no-namespace/serviceentry-a.example.com.yaml",
                "shop/serviceentry-b.yaml"
            ]
        );
        assert!(m[0].text.starts_with("# a.example.com\napiVersion"));
    }

    #[test]
    fn no_namespace_and_default_cannot_share_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let stream = format!(
            "{}{}",
            se("a.example.com", None),
            se("a.example.com", Some("default"))
        );
        let e = write(&out, &stream).unwrap_err();
        assert!(e.contains("default/serviceentry-a.example.com.yaml"), "{e}");
        assert!(!out.exists(), "nothing written");
        let stream = format!(
            "{}{}",
            se("a.example.com", None),
            se("a.example.com", Some("shop"))
        );
        let done = write(&out, &stream).unwrap();
        assert_eq!(done.written.len(), 5);
    }

    #[test]
    fn hostile_names_never_reach_a_path() {
        let base = |name: Value, ns: Value, kind: Value| {
            json!({"kind": kind, "metadata": {"name": name, "namespace": ns,
                "labels": {LABEL: MANAGER}}})
        };
        for (name, ns, kind) in [
            (json!("../etc"), json!("shop"), json!("ServiceEntry")),
            (json!(".."), json!("shop"), json!("ServiceEntry")),
            (json!("a/b"), json!("shop"), json!("ServiceEntry")),
            (json!(".hidden"), json!("shop"), json!("ServiceEntry")),
            (json!("a"), json!(".."), json!("ServiceEntry")),
            (json!("a"), json!("a/b"), json!("ServiceEntry")),
            (json!("a"), json!("_no-namespace"), json!("ServiceEntry")),
            (json!("a"), json!(""), json!("ServiceEntry")),
            (json!("a"), json!(7), json!("ServiceEntry")),
            (json!("a"), json!("shop"), json!("../x")),
            (json!("a"), json!("shop"), json!("")),
            (json!(3), json!("shop"), json!("ServiceEntry")),
            (json!("A"), json!("shop"), json!("ServiceEntry")),
        ] {
            let doc = base(name.clone(), ns.clone(), kind.clone());
            assert!(place(&doc).is_err(), "{doc}");
        }
        // Without the tool's label: refused.
        let doc = json!({"kind": "Sidecar", "metadata": {"name": "default", "namespace": "shop",
            "labels": {LABEL: "Helm"}}});
        assert!(place(&doc).unwrap_err().contains("Helm"));
    }

    #[test]
    fn mark_keeps_another_manager() {
        let mut v = json!({"metadata": {"name": "x"}});
        mark(&mut v);
        assert!(is_ours(&v));
        let mut v = json!({"metadata": {"name": "x", "labels": {LABEL: "Helm", "a": "b"}}});
        mark(&mut v);
        assert_eq!(v["metadata"]["labels"], json!({LABEL: "Helm", "a": "b"}));
    }

    #[test]
    fn kustomization_keeps_foreign_entries_and_keys() {
        let old = json!({"apiVersion": KUSTOMIZE_API, "kind": "Kustomization",
            "metadata": {"labels": {LABEL: MANAGER}},
            "namespace": "pay", "resources": ["old.yaml", "mine.yaml", "b.yaml"]});
        let ours = BTreeSet::from(["b.yaml".to_owned(), "a.yaml".to_owned()]);
        let owned = |r: &Value| matches!(r.as_str(), Some("old.yaml" | "a.yaml" | "b.yaml"));
        let k = kustomization(Some(&old), &ours, &owned).unwrap();
        assert_eq!(k["resources"], json!(["a.yaml", "b.yaml", "mine.yaml"]));
        assert_eq!(k["namespace"], json!("pay"));
        assert!(kustomization(None, &BTreeSet::new(), &owned).is_none());
    }
}
