//! The rules Istio holds a ServiceEntry to: the CRD's schema and CEL rules, and istiod's
//! validating webhook (`ValidateServiceEntry`). egress-advisor checks every manifest it writes
//! with them before writing it; the same checks serve for manifests from elsewhere.
//!
//! [`check`] gives what Istio gives: errors, and warnings (istiod's webhook's, uncoded, and
//! `istioctl analyze`'s IST0134), by Istio version and mesh config. [`document`] and
//! [`service_entry`] hold the tool's own output to more: warnings that a least-privilege entry
//! must never trigger (a TCP port without addresses opens that port to every destination,
//! IST0134; a partial wildcard host) are errors there.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::LazyLock;

use serde_json::Value;

/// The CRD schemas (OpenAPI v3, version v1), built in. `schemas/README.md` says where they
/// come from.
static SERVICE_ENTRY_JSON: LazyLock<Value> =
    LazyLock::new(|| parse_schema(include_str!("../schemas/serviceentry.schema.json")));
static SIDECAR_JSON: LazyLock<Value> =
    LazyLock::new(|| parse_schema(include_str!("../schemas/sidecar.schema.json")));
static SERVICE_ENTRY_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_schema(&SERVICE_ENTRY_JSON));
static SIDECAR_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| compile_schema(&SIDECAR_JSON));

fn parse_schema(text: &str) -> Value {
    serde_json::from_str(text).expect("a built-in schema is JSON")
}

fn compile_schema(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("a built-in schema compiles")
}

fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("schema: {} (at {})", e, e.instance_path()))
        .collect()
}

/// Checks a ServiceEntry or a Sidecar against its CRD schema and istiod's rules. `None` for
/// other kinds.
pub fn document(doc: &Value) -> Option<Vec<String>> {
    match doc.get("kind").and_then(Value::as_str) {
        Some("ServiceEntry") => {
            let mut errs = schema_errors(&SERVICE_ENTRY_SCHEMA, doc);
            errs.extend(service_entry(doc));
            Some(errs)
        }
        Some("Sidecar") => {
            let mut errs = schema_errors(&SIDECAR_SCHEMA, doc);
            errs.extend(sidecar(doc));
            Some(errs)
        }
        _ => crate::validate_ambient::document(doc),
    }
}

/// How bad a finding is: an error makes Istio refuse the manifest; a warning is printed by
/// istiod's webhook (`kubectl apply` shows it) or by `istioctl analyze`, and the manifest is
/// accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One finding on one manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub level: Level,
    /// Istio's code (`IST0134`), where Istio has one: `istioctl analyze`'s messages have codes,
    /// the webhook's warnings and errors do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// The field it is about (`spec.ports[0]`), empty for the whole manifest.
    pub field: String,
    pub message: String,
    /// The same field as a JSON pointer (`/spec/ports/0`), to find it in the document.
    #[serde(skip)]
    pub pointer: String,
}

impl Message {
    /// A finding about the field at `pointer` (`/spec/ports/0`; empty for the manifest).
    fn error(pointer: impl Into<String>, message: impl Into<String>) -> Message {
        let pointer = pointer.into();
        Message {
            level: Level::Error,
            code: None,
            field: dotted(&pointer),
            message: message.into(),
            pointer,
        }
    }

    /// A finding about the field at `pointer` (`/spec/ports/0`; empty for the manifest).
    fn warning(pointer: impl Into<String>, message: impl Into<String>) -> Message {
        let pointer = pointer.into();
        Message {
            level: Level::Warning,
            code: None,
            field: dotted(&pointer),
            message: message.into(),
            pointer,
        }
    }
}

/// The newest Istio release the built-in schemas and rules come from: `--istio-version`'s
/// default.
pub const ISTIO_VERSION: (u32, u32) = (1, 30);

/// What the rules depend on besides the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The Istio release (major, minor): partial wildcard hosts are warned about from 1.18.
    pub istio_version: (u32, u32),
    /// istiod's `PILOT_ENABLE_IP_AUTOALLOCATE` (on by default from 1.25): with it, the webhook
    /// does not warn about a TCP port without addresses unless resolution is NONE.
    pub ip_autoallocate: bool,
    /// The mesh config's `defaultConfig.proxyMetadata` turns on DNS capture and address
    /// auto-allocation: `istioctl analyze` then does not report IST0134.
    pub mesh_dns_auto_allocate: bool,
}

impl Options {
    /// Istio's defaults for a release.
    pub fn for_version(istio_version: (u32, u32)) -> Options {
        Options {
            istio_version,
            ip_autoallocate: istio_version >= (1, 25),
            mesh_dns_auto_allocate: false,
        }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::for_version(ISTIO_VERSION)
    }
}

/// Parses `--istio-version X.Y`.
pub fn parse_version(s: &str) -> Result<(u32, u32), String> {
    match s
        .split_once('.')
        .map(|(m, n)| (m.parse::<u32>(), n.parse::<u32>()))
    {
        Some((Ok(m), Ok(n))) => Ok((m, n)),
        _ => Err(format!(
            "--istio-version {s:?}: give the minor version, for example 1.24"
        )),
    }
}

/// The kinds [`check`] validates (the last three, of ambient mode's egress, in their own API
/// groups: Gateway API's `Gateway`, `security.istio.io`, `networking.k8s.io`): every other kind
/// is skipped. A kind added to `check` is added here.
pub const KINDS: &[&str] = &[
    "ServiceEntry",
    "Sidecar",
    "Gateway",
    "AuthorizationPolicy",
    "NetworkPolicy",
];

/// The kinds [`KINDS`] names, for a message: `ServiceEntry or Sidecar`.
pub fn kinds_named() -> String {
    match KINDS.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Checks a ServiceEntry or a Sidecar as Istio does: the CRD schema and istiod's errors, then
/// the webhook's and `istioctl analyze`'s warnings. Errors come first, each group in the order
/// the rules run. The kinds of ambient egress (waypoint Gateway, AuthorizationPolicy,
/// NetworkPolicy) get [`crate::validate_ambient`]'s errors. `None` for other kinds.
pub fn check(doc: &Value, opts: &Options) -> Option<Vec<Message>> {
    let (schema, json, errors, warnings) = match doc.get("kind").and_then(Value::as_str) {
        Some("ServiceEntry") => (
            &*SERVICE_ENTRY_SCHEMA,
            &*SERVICE_ENTRY_JSON,
            service_entry_errors(doc, false),
            service_entry_warnings(doc, opts),
        ),
        Some("Sidecar") => (
            &*SIDECAR_SCHEMA,
            &*SIDECAR_JSON,
            sidecar_errors(doc),
            sidecar_warnings(doc),
        ),
        // The kinds of ambient mode's egress: errors only, each naming its field.
        _ => {
            return crate::validate_ambient::document(doc).map(|errs| {
                errs.into_iter()
                    .map(|e| Message::error(String::new(), e))
                    .collect()
            });
        }
    };
    let mut out: Vec<Message> = schema
        .iter_errors(doc)
        .map(|e| Message::error(e.instance_path().to_string(), format!("schema: {e}")))
        .collect();
    out.extend(unknown_fields(json, doc));
    out.extend(errors.into_iter().map(|(at, e)| Message::error(at, e)));
    out.extend(warnings);
    Some(out)
}

/// `metadata` fields a Kubernetes object may have (`ObjectMeta`).
const OBJECT_META: [&str; 15] = [
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// Fields the CRD schema does not know, as `kubectl apply --validate=strict` refuses them:
/// each an error naming its path, with the nearest known field suggested.
fn unknown_fields(schema: &Value, doc: &Value) -> Vec<Message> {
    let mut out = Vec::new();
    let Some(map) = doc.as_object() else {
        return out;
    };
    let top = ["apiVersion", "kind", "metadata", "spec", "status"];
    for (k, v) in map {
        let path = pointer_to("", k);
        match k.as_str() {
            "metadata" => {
                for k in v.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !OBJECT_META.contains(&k.as_str()) {
                        out.push(unknown(&pointer_to("/metadata", k), k, &OBJECT_META));
                    }
                }
            }
            "spec" | "status" => {
                if let Some(s) = schema.pointer(&format!("/properties/{k}")) {
                    unknown_below(s, v, &path, &mut out);
                }
            }
            "apiVersion" | "kind" => {}
            _ => out.push(unknown(&path, k, &top)),
        }
    }
    out
}

fn unknown_below(schema: &Value, v: &Value, path: &str, out: &mut Vec<Message>) {
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            let open = schema
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true);
            for (k, v) in map {
                let at = pointer_to(path, k);
                if let Some(s) = props.and_then(|p| p.get(k)) {
                    unknown_below(s, v, &at, out);
                } else if let Some(s) = extra {
                    unknown_below(s, v, &at, out);
                } else if let Some(p) = props.filter(|_| !open) {
                    let known: Vec<&str> = p.keys().map(String::as_str).collect();
                    out.push(unknown(&at, k, &known));
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    unknown_below(s, v, &format!("{path}/{i}"), out);
                }
            }
        }
        _ => {}
    }
}

/// The JSON pointer of `key` below `parent`.
fn pointer_to(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn unknown(pointer: &str, key: &str, known: &[&str]) -> Message {
    let mut message = format!("unknown field {}", dotted(pointer));
    if let Some(near) = nearest(key, known) {
        message += &format!("; did you mean {near}?");
    }
    Message::error(pointer, message)
}

/// The known name nearest to `key` by edit distance (case-insensitive), when it is near enough
/// to be a typo: at most a third of the key's length, and at most 3 edits.
fn nearest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let len = key.chars().count();
    let limit = (len / 3).clamp(1, 3);
    let key = key.to_lowercase();
    known
        .iter()
        // The distance is at least the difference in length: only names near in length are
        // measured, so a long key costs nothing.
        .filter(|k| k.len().abs_diff(len) <= limit)
        .map(|k| (edit_distance(&key, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, with an adjacent transposition counting as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(256).collect();
    let b: Vec<char> = b.chars().take(256).collect();
    let mut prev2 = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

/// A JSON pointer (`/spec/ports/0/name`) as a field path (`spec.ports[0].name`).
pub fn dotted(pointer: &str) -> String {
    let mut s = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        let plain = !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            s += &format!("[{part}]");
        } else if plain {
            if !s.is_empty() {
                s.push('.');
            }
            s += &part;
        } else {
            // JSON-quoted, so that no key can pass for a path of its own.
            s += &format!("[{}]", Value::from(part));
        }
    }
    s
}

/// `workloadSelector` without labels: istiod applies the object to every workload of the
/// namespace, and warns.
fn selector_without_labels(spec: &Value) -> bool {
    spec.get("workloadSelector").is_some_and(|s| {
        s.get("labels")
            .and_then(Value::as_object)
            .is_none_or(|l| l.is_empty())
    })
}

/// The warnings of istiod's `ValidateServiceEntry` and of `istioctl analyze` (IST0134).
pub(crate) fn service_entry_warnings(doc: &Value, opts: &Options) -> Vec<Message> {
    let mut out = Vec::new();
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        return out;
    };
    if selector_without_labels(spec) {
        out.push(Message::warning(
            "/spec/workloadSelector",
            "service entry: workload selector specified without labels, will be applied to all \
             services in namespace",
        ));
    }
    let resolution = spec
        .get("resolution")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    let hosts = strs(spec.get("hosts"));
    // A warning since Istio 1.18; not checked before.
    if opts.istio_version >= (1, 18) && resolution != "DYNAMIC_DNS" {
        for (i, h) in hosts.iter().enumerate() {
            if h.contains('*') && h.len() != 1 && !h.starts_with("*.") {
                out.push(Message::warning(
                    format!("/spec/hosts/{i}"),
                    format!("partial wildcard {h:?} not allowed"),
                ));
            }
        }
    }
    let addresses = strs(spec.get("addresses"));
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    fn protocol(p: &Value) -> &str {
        p.get("protocol").and_then(Value::as_str).unwrap_or("")
    }
    // istiod's webhook: the protocol as written, `TCP` or unset. Istio 1.23 added
    // auto-allocation (PILOT_ENABLE_IP_AUTOALLOCATE), which does not serve resolution NONE and
    // which a ServiceEntry can opt out of with a label.
    let opted_out = doc
        .pointer("/metadata/labels/networking.istio.io~1enable-autoallocate-ip")
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let auto_allocated =
        opts.istio_version >= (1, 23) && opts.ip_autoallocate && resolution != "NONE" && !opted_out;
    if addresses.is_empty() && !auto_allocated {
        for (i, p) in ports.iter().enumerate() {
            if matches!(protocol(p), "" | "TCP") {
                let text = if opts.istio_version >= (1, 23) {
                    "addresses are required for ports serving TCP (or unset) protocol when IP \
                     Autoallocation is not enabled"
                } else {
                    "addresses are required for ports serving TCP (or unset) protocol"
                };
                out.push(Message::warning(format!("/spec/ports/{i}"), text));
            }
        }
    }
    // istioctl analyze (IST0134): `tcp` in any case or unset, unless addresses were allocated
    // (`status.addresses`) or the mesh's proxies capture DNS and allocate addresses.
    let allocated = doc
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if addresses.is_empty() && !allocated && !opts.mesh_dns_auto_allocate {
        for (i, p) in ports.iter().enumerate() {
            let proto = protocol(p);
            if proto.is_empty() || proto.eq_ignore_ascii_case("tcp") {
                out.push(Message {
                    code: Some("IST0134"),
                    ..Message::warning(
                        format!("/spec/ports/{i}"),
                        "ServiceEntry addresses are required for this protocol.",
                    )
                });
            }
        }
    }
    match resolution {
        "NONE" if spec.get("workloadSelector").is_some() => out.push(Message::warning(
            "/spec/workloadSelector",
            "workloadSelector should not be set when resolution mode is NONE",
        )),
        "STATIC" => {
            for (i, e) in spec
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let address = e.get("address").and_then(Value::as_str).unwrap_or("");
                if let Some(network) = e.get("network").and_then(Value::as_str)
                    && address.is_empty()
                    && !network.is_empty()
                {
                    out.push(Message::warning(
                        format!("/spec/endpoints/{i}"),
                        format!("address is unset with network {network:?}"),
                    ));
                }
            }
        }
        "DNS" | "DNS_ROUND_ROBIN" if !addresses.is_empty() && hosts.len() > 1 => {
            // The first port whose protocol runs over TCP decides (HTTP does not).
            let tcp = ports.iter().any(|p| {
                matches!(
                    protocol(p).to_ascii_lowercase().as_str(),
                    "tcp" | "https" | "tls" | "mongo" | "redis" | "mysql"
                )
            });
            if tcp {
                out.push(Message::warning(
                    "/spec/hosts",
                    "service entry can not have more than one host specified simultaneously \
                     with address and tcp port",
                ));
            }
        }
        _ => {}
    }
    out
}

/// The warnings of istiod's `ValidateSidecar`.
fn sidecar_warnings(doc: &Value) -> Vec<Message> {
    let mut out = Vec::new();
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        return out;
    };
    if selector_without_labels(spec) {
        out.push(Message::warning(
            "/spec/workloadSelector",
            "sidecar: workload selector specified without labels, will be applied to all \
             services in namespace",
        ));
    }
    let list = |k: &str| {
        spec.get(k)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    for (i, l) in list("ingress").iter().enumerate() {
        let Some(port) = l.get("port").filter(|p| p.is_object()) else {
            continue;
        };
        let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("");
        let http = matches!(
            protocol.to_ascii_lowercase().as_str(),
            "http" | "http2" | "http_proxy" | "grpc" | "grpc-web"
        );
        if l.pointer("/connectionPool/http")
            .is_some_and(|h| !h.is_null())
            && !http
        {
            out.push(Message::warning(
                format!("/spec/ingress/{i}/connectionPool/http"),
                format!(
                    "sidecar: HTTP connection pool settings are configured for port {} ({:?}) \
                     but its protocol is not HTTP ({protocol}); only TCP settings will apply",
                    port.get("number").and_then(Value::as_u64).unwrap_or(0),
                    port.get("name").and_then(Value::as_str).unwrap_or(""),
                ),
            ));
        }
    }
    let own = doc
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    for (i, l) in list("egress").iter().enumerate() {
        let mut seen: std::collections::BTreeMap<&str, BTreeSet<&str>> = Default::default();
        let hosts = strs(l.get("hosts"));
        for (j, h) in hosts.iter().enumerate() {
            let Some((ns, svc)) = h.split_once('/').filter(|(ns, _)| !ns.starts_with('~')) else {
                continue;
            };
            let ns = if ns == "." { own } else { ns };
            let names = seen.entry(ns).or_default();
            let duplicate = if svc == "*" {
                !names.is_empty()
            } else {
                names.contains(svc) || names.contains("*")
            };
            if duplicate {
                out.push(Message::warning(
                    format!("/spec/egress/{i}/hosts/{j}"),
                    format!("duplicated egress host: {h}"),
                ));
            }
            names.insert(svc);
        }
        if seen.get("*").is_some_and(|s| s.contains("*")) && seen.len() != 1 {
            out.push(Message::warning(
                format!("/spec/egress/{i}/hosts"),
                "`*/*` host select all resources, no other hosts can be added",
            ));
        }
    }
    out
}

/// Whether a mesh config (the `istio` ConfigMap with its `mesh` key, an IstioOperator's
/// `spec.meshConfig`, Helm values' `meshConfig`, or a bare MeshConfig, in any document of a
/// YAML stream) has its proxies capture DNS and allocate addresses: `defaultConfig.proxyMetadata`
/// sets `ISTIO_META_DNS_CAPTURE` to `"true"` and `ISTIO_META_DNS_AUTO_ALLOCATE` or
/// `PILOT_ENABLE_IP_AUTOALLOCATE` to `"true"`, as `istioctl analyze` reads it for IST0134.
pub fn mesh_dns_auto_allocate(text: &str) -> Result<bool, String> {
    let docs = crate::yaml::documents(text).map_err(|e| {
        if e.limit {
            e.message
        } else {
            format!("not YAML: {e}")
        }
    })?;
    let allocates = |mesh: &Value| {
        let meta = |k: &str| {
            mesh.pointer(&format!("/defaultConfig/proxyMetadata/{k}"))
                .and_then(Value::as_str)
                == Some("true")
        };
        meta("ISTIO_META_DNS_CAPTURE")
            && (meta("ISTIO_META_DNS_AUTO_ALLOCATE") || meta("PILOT_ENABLE_IP_AUTOALLOCATE"))
    };
    for (i, doc) in docs.iter().filter(|d| !d.is_null()).enumerate() {
        if let Some(mesh) = doc.pointer("/data/mesh") {
            let Value::String(mesh) = mesh else {
                return Err(format!(
                    "document {}: {}",
                    i + 1,
                    crate::yaml::wrong(
                        "data.mesh",
                        "a string (the mesh config as YAML text)",
                        mesh
                    )
                ));
            };
            let inner = crate::yaml::document(mesh)
                .map_err(|e| format!("document {}: data.mesh is not YAML: {e}", i + 1))?;
            if allocates(&inner) {
                return Ok(true);
            }
            continue;
        }
        for at in ["/spec/meshConfig", "/meshConfig", ""] {
            if doc.pointer(at).is_some_and(allocates) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// apiVersion, kind and metadata.name: what every networking.istio.io object needs.
fn header(doc: &Value, kind: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match doc.get("apiVersion").and_then(Value::as_str) {
        Some(
            "networking.istio.io/v1"
            | "networking.istio.io/v1beta1"
            | "networking.istio.io/v1alpha3",
        ) => {}
        other => errs.push(format!(
            "apiVersion {other:?} is not a networking.istio.io version"
        )),
    }
    if doc.get("kind").and_then(Value::as_str) != Some(kind) {
        errs.push(format!("kind must be {kind}"));
    }
    match doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        Some(n) if is_dns1123_subdomain(n) => {}
        other => errs.push(format!(
            "metadata.name {other:?} is not a DNS-1123 subdomain"
        )),
    }
    errs
}

/// istiod's `ValidateSidecar` rules for what egress-advisor reads and writes: egress hosts,
/// listeners, outbound traffic policy, selectors.
pub fn sidecar(doc: &Value) -> Vec<String> {
    sidecar_errors(doc).into_iter().map(|(_, e)| e).collect()
}

/// Where in a list of errors the errors about a field begin: (index, JSON pointer), in order.
type Marks = Vec<(usize, String)>;

/// Each error with the field of the last mark at or before it (marks are pushed in order, so
/// one walk over both serves).
fn marked(errs: Vec<String>, marks: &Marks) -> Vec<(String, String)> {
    let mut next = 0;
    let mut at = "";
    errs.into_iter()
        .enumerate()
        .map(|(i, e)| {
            while let Some((_, p)) = marks.get(next).filter(|(start, _)| *start <= i) {
                at = p;
                next += 1;
            }
            (at.to_owned(), e)
        })
        .collect()
}

/// [`sidecar`]'s errors, each with the field it is about.
fn sidecar_errors(doc: &Value) -> Vec<(String, String)> {
    let mut errs = header(doc, "Sidecar");
    let mut marks: Marks = Vec::new();
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let egress = spec
        .get("egress")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if [
        "egress",
        "ingress",
        "outboundTrafficPolicy",
        "inboundConnectionPool",
    ]
    .iter()
    .all(|k| spec.get(k).is_none())
    {
        marks.push((errs.len(), "/spec".into()));
        errs.push("sidecar: empty configuration provided".into());
    }
    let portless: Vec<usize> = egress
        .iter()
        .enumerate()
        .filter(|(_, l)| l.get("port").is_none())
        .map(|(i, _)| i)
        .collect();
    marks.push((errs.len(), "/spec/egress".into()));
    if portless.len() > 1 {
        errs.push("sidecar: only one egress listener without a port is allowed".into());
    }
    if portless.first().is_some_and(|i| *i + 1 != egress.len()) {
        errs.push("sidecar: the egress listener without a port must be the last".into());
    }
    for (i, l) in egress.iter().enumerate() {
        marks.push((errs.len(), format!("/spec/egress/{i}")));
        let hosts: Vec<&str> = l
            .get("hosts")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if hosts.is_empty() {
            errs.push(format!("sidecar: egress[{i}] must have at least one host"));
        }
        for (j, h) in hosts.into_iter().enumerate() {
            marks.push((errs.len(), format!("/spec/egress/{i}/hosts/{j}")));
            let Some((ns, dns)) = h.split_once('/') else {
                errs.push(format!(
                    "sidecar: egress host {h:?} must be of form namespace/dnsName"
                ));
                continue;
            };
            if ns.is_empty() || dns.is_empty() {
                errs.push(format!(
                    "sidecar: egress host {h:?}: namespace and dnsName must not be empty"
                ));
                continue;
            }
            let ns_ok = matches!(ns, "*" | "." | "~")
                || is_dns1123_label(ns.strip_prefix('~').unwrap_or(ns), false);
            if !ns_ok {
                errs.push(format!("invalid namespace value {ns:?} in sidecar"));
            }
            if dns != "*" {
                if !dns.contains('.') {
                    errs.push(format!(
                        "sidecar: egress host {h:?}: short names (non FQDN) are not allowed"
                    ));
                } else if let Some(e) = wildcard_domain_error(dns) {
                    errs.push(format!("sidecar: egress host {h:?}: {e}"));
                } else if dns.contains('*') && !dns.starts_with("*.") {
                    errs.push(format!(
                        "sidecar: egress host {h:?}: partial wildcard not allowed"
                    ));
                }
            }
        }
    }
    marks.push((errs.len(), "/spec/outboundTrafficPolicy/mode".into()));
    if let Some(mode) = spec
        .pointer("/outboundTrafficPolicy/mode")
        .and_then(Value::as_str)
        && !matches!(mode, "REGISTRY_ONLY" | "ALLOW_ANY")
    {
        errs.push(format!(
            "sidecar: outboundTrafficPolicy mode {mode:?} is not REGISTRY_ONLY or ALLOW_ANY"
        ));
    }
    marks.push((errs.len(), "/spec/outboundTrafficPolicy/egressProxy".into()));
    egress_proxy(&spec, &mut errs);
    listeners(&spec, &mut errs, &mut marks);
    marks.push((errs.len(), "/spec/workloadSelector/labels".into()));
    selector_errors(&spec, &mut |e| errs.push(e));
    marked(errs, &marks)
}

/// istiod's `ValidateAlphaWorkloadSelector`: no empty label key, no wildcard in a key or value.
fn selector_errors(spec: &Value, err: &mut dyn FnMut(String)) {
    for (k, v) in spec
        .pointer("/workloadSelector/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().unwrap_or("");
        if k.is_empty() {
            err(format!(
                "empty key is not supported in selector: \"{k}={v}\""
            ));
        }
        if k.contains('*') || v.contains('*') {
            err(format!(
                "wildcard is not supported in selector: \"{k}={v}\""
            ));
        }
    }
}

/// `outboundTrafficPolicy.egressProxy`: only with `ALLOW_ANY` (the mode defaults to
/// `REGISTRY_ONLY` when omitted), a fully qualified host and a port (istiod's
/// `validateSidecarOutboundTrafficPolicy`).
fn egress_proxy(spec: &Value, errs: &mut Vec<String>) {
    let Some(tp) = spec.get("outboundTrafficPolicy") else {
        return;
    };
    let Some(proxy) = tp.get("egressProxy") else {
        return;
    };
    let mode = tp
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("REGISTRY_ONLY");
    if mode != "ALLOW_ANY" {
        errs.push(
            "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode"
                .into(),
        );
        return;
    }
    let host = proxy.get("host").and_then(Value::as_str).unwrap_or("");
    if let Some(e) = fqdn_error(host) {
        errs.push(format!("sidecar: egressProxy host: {e}"));
    }
    match proxy.pointer("/port/number").and_then(Value::as_u64) {
        None if proxy.get("port").is_none() => {
            errs.push("sidecar: egress_proxy port must be non-nil".into());
        }
        Some(n) if !(1..=65535).contains(&n) => {
            errs.push(format!(
                "sidecar: egressProxy port number {n} must be in the range 1..65535"
            ));
        }
        _ => {}
    }
    if host == "*" {
        errs.push(format!("invalid destination host {host}"));
    } else if let Some(e) = wildcard_domain_error(host) {
        errs.push(format!("sidecar: egressProxy host: {e}"));
    }
}

/// istiod's `ValidateFQDN`: at most 255 characters, DNS-1123 labels, a top-level label that is
/// not all digits; a trailing dot is allowed.
fn fqdn_error(host: &str) -> Option<String> {
    if host.len() > 255 {
        return Some(format!("domain name {host:?} too long (max 255)"));
    }
    let parts: Vec<&str> = host.split('.').collect();
    let tld = parts.last().copied().unwrap_or("");
    if !tld.is_empty() && tld.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "domain name {host:?} invalid (top level domain {tld:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i + 1 == parts.len() && label.is_empty() && i > 0 {
            return None;
        }
        if !is_dns1123_label(label, false) {
            return Some(format!(
                "domain name {host:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    None
}

/// istiod's `ValidateUnixAddress`: an abstract name (`@...`) or an absolute path to a file.
fn unix_address_error(addr: &str) -> Option<String> {
    if addr.is_empty() {
        return Some("unix address must not be empty".into());
    }
    if addr.starts_with('@') {
        return None;
    }
    (!addr.starts_with('/') || addr.ends_with('/'))
        .then(|| format!("{addr} is not an absolute path to a file"))
}

/// A known protocol name (any case), or empty for protocol sniffing.
fn protocol_error(p: &str) -> Option<String> {
    (!p.is_empty() && !PROTOCOLS.contains(&p.to_ascii_lowercase().as_str()))
        .then(|| format!("unsupported protocol: {p}"))
}

/// The checks istiod makes of a listener's port: its name, protocol and number.
fn port_errors(port: &Value, number_required: bool, errs: &mut Vec<String>) {
    if let Some(name) = port.get("name").and_then(Value::as_str)
        && !name.is_empty()
        && !is_dns1123_label(name, false)
    {
        errs.push(format!("invalid port name: {name}"));
    }
    if let Some(e) = protocol_error(port.get("protocol").and_then(Value::as_str).unwrap_or("")) {
        errs.push(e);
    }
    if number_required {
        let n = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=65535).contains(&n) {
            errs.push(format!("port number {n} must be in the range 1..65535"));
        }
    }
    if port.get("targetPort").and_then(Value::as_u64).unwrap_or(0) > 0 {
        errs.push("targetPort has no impact on Sidecars".into());
    }
}

/// istiod's `validateConnectionPool`, as far as the schema leaves it: at least one of `http`
/// and `tcp`.
fn connection_pool_error(pool: Option<&Value>) -> Option<String> {
    let pool = pool?;
    (pool.get("http").is_none() && pool.get("tcp").is_none())
        .then(|| "connection pool must have at least one field".into())
}

/// The ingress and egress listeners, as istiod's `ValidateSidecar` checks them.
fn listeners(spec: &Value, errs: &mut Vec<String>, marks: &mut Marks) {
    let list = |k: &str| {
        spec.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut ports = std::collections::BTreeSet::new();
    for (i, l) in list("ingress").iter().enumerate() {
        marks.push((errs.len(), format!("/spec/ingress/{i}")));
        let Some(port) = l.get("port") else {
            errs.push("sidecar: port is required for ingress listeners".into());
            continue;
        };
        port_errors(port, true, errs);
        let bind = l.get("bind").and_then(Value::as_str).unwrap_or("");
        if !bind.is_empty() && parse_ip_literal(bind).is_none() {
            errs.push(format!("{bind} is not a valid IP"));
        }
        let number = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        if !ports.insert(number) {
            errs.push("sidecar: ports on IP bound listeners must be unique".into());
        }
        if let Some(ep) = l.get("defaultEndpoint").and_then(Value::as_str)
            && !ep.is_empty()
        {
            default_endpoint_errors(ep, errs);
        }
        if let Some(tls) = l.get("tls") {
            ingress_tls_errors(tls, port, errs);
        }
        if let Some(e) = connection_pool_error(l.get("connectionPool")) {
            errs.push(e);
        }
    }
    marks.push((errs.len(), "/spec/inboundConnectionPool".into()));
    if let Some(e) = connection_pool_error(spec.get("inboundConnectionPool")) {
        errs.push(e);
    }
    let mut ports = std::collections::BTreeSet::new();
    let mut sockets = std::collections::BTreeSet::new();
    for (i, l) in list("egress").iter().enumerate() {
        marks.push((errs.len(), format!("/spec/egress/{i}")));
        let Some(port) = l.get("port") else { continue };
        let number = port.get("number").and_then(Value::as_u64).unwrap_or(0);
        port_errors(port, number != 0, errs);
        let bind = l.get("bind").and_then(Value::as_str).unwrap_or("");
        if number == 0 {
            match bind.strip_prefix("unix://") {
                None => errs.push(
                    "sidecar: ports with 0 value must have a unix domain socket bind address"
                        .into(),
                ),
                Some(path) => errs.extend(unix_address_error(path)),
            }
            let capture = l
                .get("captureMode")
                .and_then(Value::as_str)
                .unwrap_or("DEFAULT");
            if !matches!(capture, "DEFAULT" | "NONE") {
                errs.push(
                    "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners"
                        .into(),
                );
            }
            if !sockets.insert(bind.to_owned()) {
                errs.push("sidecar: unix domain socket values for listeners must be unique".into());
            }
        } else {
            if !bind.is_empty() && parse_ip_literal(bind).is_none() {
                errs.push(format!("{bind} is not a valid IP"));
            }
            if !ports.insert(number) {
                errs.push("sidecar: ports on IP bound listeners must be unique".into());
            }
        }
    }
}

/// An IP address as Go's `netip.ParseAddr` reads it: no brackets, no port.
fn parse_ip_literal(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

/// `defaultEndpoint`: `unix://<path>`, or `<host>:<port>` whose host is a loopback or
/// unspecified address (or empty).
fn default_endpoint_errors(ep: &str, errs: &mut Vec<String>) {
    if let Some(path) = ep.strip_prefix("unix://") {
        errs.extend(unix_address_error(path));
        return;
    }
    // Go's net.SplitHostPort: `host:port` or `[host]:port`.
    let split = if let Some(rest) = ep.strip_prefix('[') {
        rest.split_once("]:")
    } else {
        ep.rsplit_once(':').filter(|(h, _)| !h.contains(':'))
    };
    let Some((host, port)) = split else {
        errs.push(format!("address {ep}: missing port in address"));
        return;
    };
    if !matches!(host, "" | "127.0.0.1" | "0.0.0.0" | "::1" | "::") {
        errs.push("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset".into());
    }
    match port.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => {}
        Ok(n) => errs.push(format!("port number {n} must be in the range 1..65535")),
        Err(_) => errs.push(format!(
            "sidecar: defaultEndpoint port ({port}) is not a number"
        )),
    }
}

/// Ingress `tls`: what a sidecar's inbound listener cannot do.
fn ingress_tls_errors(tls: &Value, port: &Value, errs: &mut Vec<String>) {
    let non_empty = |k: &str| match tls.get(k) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Bool(b)) => *b,
        _ => false,
    };
    for (field, message) in [
        (
            "subjectAltNames",
            "sidecar: subjectAltNames is not supported in ingress tls",
        ),
        ("httpsRedirect", "sidecar: httpsRedirect is not supported"),
        (
            "credentialName",
            "sidecar: credentialName is not currently supported",
        ),
        (
            "credentialNames",
            "sidecar: credentialNames is not currently supported",
        ),
        (
            "tlsCertificates",
            "sidecar: tls_certificates is not currently supported",
        ),
    ] {
        if non_empty(field) {
            errs.push(message.into());
        }
    }
    if let Some(mode) = tls.get("mode").and_then(Value::as_str)
        && matches!(mode, "ISTIO_MUTUAL" | "AUTO_PASSTHROUGH")
    {
        errs.push(format!(
            "configuration is invalid: cannot set mode to {mode} in sidecar ingress tls"
        ));
    }
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if !matches!(protocol.as_str(), "https" | "tls") {
        errs.push("server cannot have TLS settings for non HTTPS/TLS ports".into());
    }
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters. `upper` also
/// admits upper case, as istiod does for host labels.
pub fn is_dns1123_label(s: &str, upper: bool) -> bool {
    let b = s.as_bytes();
    let ok =
        |c: u8| c.is_ascii_digit() || c.is_ascii_lowercase() || (upper && c.is_ascii_uppercase());
    !b.is_empty()
        && b.len() <= 63
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|&c| ok(c) || c == b'-')
}

/// A DNS-1123 subdomain (Kubernetes object names): labels joined by dots, at most 253.
/// A Kubernetes label value: at most 63 characters, alphanumerics, `-`, `_` and `.`, starting
/// and ending with an alphanumeric. Only such values reach a workload selector.
pub fn is_label_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_none_or(u8::is_ascii_alphanumeric)
        && b.last().is_none_or(u8::is_ascii_alphanumeric)
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| is_dns1123_label(l, false))
}

/// istiod's `ValidateWildcardDomain`: at most 255 characters, a wildcard only in the first
/// label, DNS-1123 labels, one optional trailing dot, a top-level label that is not all digits.
pub fn wildcard_domain_error(host: &str) -> Option<String> {
    if host.is_empty() {
        return Some("empty domain name not allowed".into());
    }
    if host.len() > 255 {
        return Some(format!("domain name {host:?} too long (max 255)"));
    }
    let h = host.strip_suffix('.').unwrap_or(host);
    let mut labels = h.split('.');
    let first = labels.next().unwrap_or("");
    let first_ok = first == "*"
        || first
            .strip_prefix("*-")
            .or_else(|| first.strip_prefix('*'))
            .map_or_else(
                || is_dns1123_label(first, true),
                |rest| is_dns1123_label(rest, true) && first.len() <= 63,
            );
    if !first_ok {
        return Some(format!(
            "domain name {host:?} invalid (label {first:?} invalid)"
        ));
    }
    let rest: Vec<&str> = labels.collect();
    for l in &rest {
        if !is_dns1123_label(l, true) {
            return Some(format!(
                "domain name {host:?} invalid (label {l:?} invalid)"
            ));
        }
    }
    let tld = rest.last().copied().unwrap_or(first);
    if !tld.is_empty() && tld.bytes().all(|c| c.is_ascii_digit()) {
        return Some(format!("top level domain {tld:?} cannot be all-numeric"));
    }
    None
}

const PROTOCOLS: [&str; 12] = [
    "tcp",
    "udp",
    "grpc",
    "grpc-web",
    "http",
    "http_proxy",
    "http2",
    "https",
    "tls",
    "mongo",
    "redis",
    "mysql",
];
const HTTP_OR_TLS: [&str; 7] = [
    "http",
    "http2",
    "grpc",
    "grpc-web",
    "http_proxy",
    "https",
    "tls",
];

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).collect())
}

/// The one rule of a ServiceEntry on its namespace alone: a DNS-1123 label.
/// [`service_entry`] checks it with the rest; with [`export_to_namespace_error`], the only
/// rules that read the namespace, so that a writer of entries that differ only by namespace
/// can check the rest once.
pub fn namespace_error(ns: &str) -> Option<String> {
    (!is_dns1123_label(ns, false))
        .then(|| format!("metadata.namespace {ns:?} is not a DNS-1123 label"))
}

/// `exportTo` naming both `.` and the entry's own namespace.
pub fn export_to_namespace_error(ns: &str, export: &[&str]) -> Option<String> {
    (export.contains(&".") && export.contains(&ns))
        .then(|| format!("duplicate entries in exportTo: . and current namespace {ns}"))
}

/// Checks one ServiceEntry document. Returns every problem found, empty when Istio accepts it.
pub fn service_entry(doc: &Value) -> Vec<String> {
    service_entry_errors(doc, true)
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// istiod's errors for one ServiceEntry. `strict` adds the tool's own rules for what it writes:
/// a TCP (or unset protocol) port without addresses and a partial wildcard host, which Istio
/// only warns about, are errors.
fn service_entry_errors(doc: &Value, strict: bool) -> Vec<(String, String)> {
    let mut errs: Vec<(String, String)> = header(doc, "ServiceEntry")
        .into_iter()
        .map(|e| (String::new(), e))
        .collect();
    // The field the errors pushed now are about (a JSON pointer; empty for the manifest).
    let at = std::cell::RefCell::new(String::new());
    let field = |p: String| *at.borrow_mut() = p;
    let mut err = |s: String| errs.push((at.borrow().clone(), s));
    let ns = doc
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    field("/metadata/namespace".into());
    if let Some(e) = ns.and_then(namespace_error) {
        err(e);
    }
    field("/spec".into());
    let Some(spec) = doc.get("spec").filter(|s| s.is_object()) else {
        err("spec is required".into());
        return errs;
    };

    let resolution = spec
        .get("resolution")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    if !["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"].contains(&resolution) {
        field("/spec/resolution".into());
        err(format!("unsupported resolution type {resolution}"));
    }
    let location = spec
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or("MESH_EXTERNAL");
    if !["MESH_EXTERNAL", "MESH_INTERNAL"].contains(&location) {
        field("/spec/location".into());
        err(format!("unsupported location {location}"));
    }
    let has_endpoints = spec
        .get("endpoints")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());

    let hosts = strs(spec.get("hosts"));
    field("/spec/hosts".into());
    if hosts.is_empty() {
        err("service entry must have at least one host".into());
    }
    if hosts.len() > 256 {
        err(format!("{} hosts: at most 256", hosts.len()));
    }
    for (i, h) in hosts.iter().enumerate() {
        field(format!("/spec/hosts/{i}"));
        if *h == "*" {
            err("invalid host *".into());
            continue;
        }
        if let Some(e) = wildcard_domain_error(h) {
            err(e);
        }
        if strict && resolution != "DYNAMIC_DNS" && h.contains('*') && !h.starts_with("*.") {
            err(format!("partial wildcard {h:?} not allowed"));
        }
        if matches!(resolution, "DNS" | "DNS_ROUND_ROBIN") && !has_endpoints && h.contains('*') {
            err(format!(
                "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode {resolution}: {h:?}"
            ));
        }
    }

    let addresses = strs(spec.get("addresses"));
    field("/spec/addresses".into());
    if addresses.len() > 256 {
        err(format!("{} addresses: at most 256", addresses.len()));
    }
    for (i, a) in addresses.iter().enumerate() {
        field(format!("/spec/addresses/{i}"));
        if a.len() > 64 {
            err(format!("address {a:?} longer than 64 characters"));
        }
        match a.split_once('/') {
            Some((ip, bits)) => {
                let ok = ip
                    .parse::<IpAddr>()
                    .ok()
                    .zip(bits.parse::<u8>().ok())
                    .is_some_and(|(ip, b)| {
                        b <= if ip.is_ipv4() { 32 } else { 128 }
                            && !bits.starts_with('+')
                            && bits.len() <= 3
                    });
                if !ok {
                    err(format!("{a} is not a valid CIDR block"));
                }
                if !matches!(resolution, "NONE" | "STATIC") {
                    err("CIDR addresses are allowed only for NONE/STATIC resolution types".into());
                }
            }
            None if a.parse::<IpAddr>().is_err() => err(format!("{a} is not a valid IP")),
            None => {}
        }
    }

    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    field("/spec/ports".into());
    if ports.len() > 256 {
        err(format!("{} ports: at most 256", ports.len()));
    }
    let mut names: BTreeSet<&str> = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    let mut non_http_tls = false;
    for (i, p) in ports.iter().enumerate() {
        field(format!("/spec/ports/{i}"));
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let number = p.get("number").and_then(Value::as_u64).unwrap_or(0);
        let protocol = p
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        if !is_dns1123_label(name, false) {
            err(format!("invalid port name: {name:?}"));
        }
        if !names.insert(name) {
            err(format!("service entry port name {name:?} already defined"));
        }
        if !(1..=65535).contains(&number) {
            err(format!(
                "port number {number} must be in the range 1..65535"
            ));
        }
        if !numbers.insert(number) {
            err(format!("service entry port {number} already defined"));
        }
        if let Some(t) = p.get("targetPort").and_then(Value::as_u64)
            && !(1..=65535).contains(&t)
        {
            err(format!("port number {t} must be in the range 1..65535"));
        }
        if !protocol.is_empty() && !PROTOCOLS.contains(&protocol.as_str()) {
            err(format!("unsupported protocol: {protocol}"));
        }
        if !HTTP_OR_TLS.contains(&protocol.as_str()) {
            non_http_tls = true;
        }
        if strict && addresses.is_empty() && (protocol.is_empty() || protocol == "tcp") {
            err(format!(
                "port {number}: addresses are required for ports serving TCP (or unset) protocol \
                 (without them the port is open to every destination: IST0134)"
            ));
        }
    }
    field("/spec/hosts".into());
    if resolution != "NONE" && hosts.len() > 1 && non_http_tls {
        err("multiple hosts provided with non-HTTP, non-TLS ports".into());
    }
    for (i, e) in spec
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        field(format!("/spec/endpoints/{i}"));
        let address = e.get("address").and_then(Value::as_str);
        if address.is_none() && e.get("network").is_none() {
            err("Address is required".into());
        }
        if let Some(a) = address
            && resolution == "STATIC"
            && !a.starts_with("unix://")
            && a.parse::<IpAddr>().is_err()
        {
            err(format!("endpoint address {a:?} is not a valid IP address"));
        }
        for (name, port) in e
            .get("ports")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if !names.contains(name.as_str()) {
                err(format!(
                    "endpoint port {name} is not defined by the service entry"
                ));
            }
            if !port.as_u64().is_some_and(|p| (1..=65535).contains(&p)) {
                err(format!("endpoint port {port} must be between 1-65535"));
            }
        }
    }
    // Endpoints as istiod's validateWorkloadEntry and the DNS branch read them.
    let unix_endpoint = |e: &Value| {
        e.get("address")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("unix://"))
    };
    for (i, e) in spec
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        field(format!("/spec/endpoints/{i}"));
        let Some(a) = e.get("address").and_then(Value::as_str) else {
            continue;
        };
        match resolution {
            "STATIC" => {
                if let Some(path) = a.strip_prefix("unix://") {
                    if let Some(e) = unix_address_error(path) {
                        err(e);
                    }
                    if e.get("ports")
                        .and_then(Value::as_object)
                        .is_some_and(|p| !p.is_empty())
                    {
                        err(format!("unix endpoint {a} must not include ports"));
                    }
                }
            }
            "DNS" | "DNS_ROUND_ROBIN"
                if a.parse::<IpAddr>().is_err() && fqdn_error(a).is_some() =>
            {
                err(format!(
                    "endpoint address {a:?} is not a valid FQDN or an IP address"
                ));
            }
            _ => {}
        }
    }
    let endpoints = spec.get("endpoints").and_then(Value::as_array);
    field("/spec/ports".into());
    if resolution == "STATIC"
        && endpoints.is_some_and(|es| es.iter().any(unix_endpoint))
        && ports.len() != 1
    {
        err("exactly 1 service port required for unix endpoints".into());
    }
    if resolution == "DYNAMIC_DNS" {
        for (i, h) in hosts.iter().enumerate() {
            field(format!("/spec/hosts/{i}"));
            if !h.starts_with('*') {
                err("host must be wildcarded for resolution mode DYNAMIC_DNS".into());
            }
        }
        field("/spec/addresses".into());
        if !addresses.is_empty() {
            err("addresses cannot be set for resolution type DYNAMIC_DNS".into());
        }
        field("/spec/endpoints".into());
        if has_endpoints {
            err("endpoints cannot be set for resolution type DYNAMIC_DNS".into());
        }
        for (i, p) in ports.iter().enumerate() {
            field(format!("/spec/ports/{i}"));
            let protocol = p
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            if !matches!(protocol.as_str(), "http" | "tls" | "grpc" | "http2") {
                err("only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS".into());
            }
        }
        let waypoint = doc
            .pointer("/metadata/labels/istio.io~1use-waypoint")
            .and_then(Value::as_str)
            .is_some_and(|w| !w.is_empty() && !w.eq_ignore_ascii_case("none"));
        field("/spec/location".into());
        if location == "MESH_INTERNAL" && waypoint {
            err("location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints".into());
        }
    }
    field("/spec/workloadSelector/labels".into());
    selector_errors(spec, &mut err);
    field("/spec/endpoints".into());
    if resolution == "NONE" && has_endpoints {
        err("no endpoints should be provided for resolution type none".into());
    }
    if resolution == "DNS_ROUND_ROBIN"
        && spec
            .get("endpoints")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1)
    {
        err("there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN".into());
    }
    if spec.get("workloadSelector").is_some() && has_endpoints {
        err("only one of WorkloadSelector or Endpoints is allowed in Service Entry".into());
    }

    let export = strs(spec.get("exportTo"));
    let mut seen = BTreeSet::new();
    for (i, e) in export.iter().enumerate() {
        field(format!("/spec/exportTo/{i}"));
        if !(matches!(*e, "." | "*" | "~") || is_dns1123_label(e, false)) {
            err(format!(
                "only .,*, or a valid DNS 1123 label is allowed as exportTo entry: {e:?}"
            ));
        }
        if !seen.insert(*e) {
            err(format!("duplicate entries in exportTo: {e}"));
        }
    }
    field("/spec/exportTo".into());
    if export.len() > 1 && export.contains(&"*") {
        err("cannot have both public (*) and non-public exportTo values for a resource".into());
    }
    if export.len() > 1 && export.contains(&"~") {
        err("cannot export service entry to no one (~) and someone".into());
    }
    if let Some(e) = ns.and_then(|ns| export_to_namespace_error(ns, &export)) {
        err(e);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn se(spec: Value) -> Value {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "x"}, "spec": spec})
    }

    /// `KINDS` names exactly the kinds `check` validates.
    #[test]
    fn kinds_are_those_checked() {
        let api = |k: &str| match k {
            "Gateway" => "gateway.networking.k8s.io/v1",
            "AuthorizationPolicy" => "security.istio.io/v1",
            "NetworkPolicy" => "networking.k8s.io/v1",
            _ => "networking.istio.io/v1",
        };
        for k in KINDS {
            assert!(
                check(
                    &json!({"kind": k, "apiVersion": api(k)}),
                    &Options::default()
                )
                .is_some(),
                "{k}"
            );
        }
        assert!(check(&json!({"kind": "ConfigMap"}), &Options::default()).is_none());
        assert_eq!(
            kinds_named(),
            "ServiceEntry, Sidecar, Gateway, AuthorizationPolicy or NetworkPolicy"
        );
    }

    #[test]
    fn accepts_least_privilege_shapes() {
        let ok = se(
            json!({"hosts": ["api.github.com"], "ports": [{"number": 443, "name": "tls-443", "protocol": "TLS"}],
                           "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."]}),
        );
        assert_eq!(service_entry(&ok), Vec::<String>::new());
        let ok = se(
            json!({"hosts": ["ip-1-2-3-4.egress.internal"], "addresses": ["1.2.3.4/32"],
                           "ports": [{"number": 22, "name": "tcp-22", "protocol": "TCP"}], "resolution": "NONE"}),
        );
        assert_eq!(service_entry(&ok), Vec::<String>::new());
    }

    #[test]
    fn rejects_what_istiod_rejects() {
        let cases = [
            (
                json!({"hosts": ["*"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}),
                "invalid host *",
            ),
            (
                json!({"hosts": ["*.example.com"], "resolution": "DNS", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}),
                "FQDN",
            ),
            (
                json!({"hosts": ["a.example.com"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}),
                "IST0134",
            ),
            (
                json!({"hosts": ["a.com", "b.com"], "resolution": "DNS", "addresses": ["1.1.1.1"], "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}),
                "multiple hosts",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "DNS", "addresses": ["1.1.1.1/32"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}),
                "CIDR",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "Http_80", "protocol": "HTTP"}]}),
                "invalid port name",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}, {"number": 80, "name": "b", "protocol": "HTTP"}]}),
                "already defined",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 0, "name": "a", "protocol": "HTTP"}]}),
                "range",
            ),
            (
                json!({"hosts": ["a.com"], "ports": [{"number": 80, "name": "a", "protocol": "QUIC"}]}),
                "unsupported protocol",
            ),
            (
                json!({"hosts": ["a.123"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "all-numeric",
            ),
            (
                json!({"hosts": ["foo*.example.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "wildcard",
            ),
            (
                json!({"hosts": ["a_b.example.com"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "invalid",
            ),
            (
                json!({"hosts": ["a.com"], "exportTo": ["*", "."], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "public",
            ),
            (
                json!({"hosts": ["a.com"], "exportTo": ["~", "ns"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "no one",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "NONE", "endpoints": [{"address": "1.1.1.1"}], "addresses": ["1.1.1.1"], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "endpoints",
            ),
            (json!({"hosts": [], "ports": []}), "at least one host"),
            (
                json!({"hosts": ["a.com"], "resolution": "STATIC", "addresses": ["1.1.1.1"], "endpoints": [{"address": "a.com"}], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "not a valid IP",
            ),
            (
                json!({"hosts": ["a.com"], "resolution": "STATIC", "addresses": ["1.1.1.1"], "endpoints": [{"address": "1.1.1.1", "ports": {"b": 80}}], "ports": [{"number": 80, "name": "a", "protocol": "HTTP"}]}),
                "not defined",
            ),
        ];
        for (spec, want) in cases {
            let errs = service_entry(&se(spec.clone()));
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{spec}: want {want:?}, got {errs:?}"
            );
        }
    }

    #[test]
    fn sidecars() {
        let sc = |spec: Value| json!({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "default", "namespace": "shop"}, "spec": spec});
        let ok = sc(
            json!({"egress": [{"hosts": ["./*", "istio-system/*", "payments/api.stripe.com"]}], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
        );
        assert_eq!(document(&ok).unwrap(), Vec::<String>::new());
        for (spec, want) in [
            (json!({}), "empty configuration"),
            (
                json!({"egress": [{"hosts": ["api.stripe.com"]}]}),
                "namespace/dnsName",
            ),
            (json!({"egress": [{"hosts": ["./httpbin"]}]}), "short names"),
            (
                json!({"egress": [{"hosts": ["Bad_NS/*"]}]}),
                "invalid namespace",
            ),
            (
                json!({"egress": [{"hosts": ["./foo*.example.com"]}]}),
                "invalid",
            ),
            (
                json!({"egress": [{"hosts": ["./*"]}, {"port": {"number": 80}, "hosts": ["./*"]}]}),
                "last",
            ),
            (
                json!({"outboundTrafficPolicy": {"mode": "ALLOW_ALL"}}),
                "schema",
            ),
        ] {
            let errs = document(&sc(spec.clone())).unwrap();
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "{spec}: want {want:?}, got {errs:?}"
            );
        }
        // The schema catches what istiod's rules leave to it: a port number of the wrong type.
        let se = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "x"},
            "spec": {"hosts": ["a.com"], "ports": [{"number": "eighty", "name": "http", "protocol": "HTTP"}]}});
        assert!(
            document(&se)
                .unwrap()
                .iter()
                .any(|e| e.starts_with("schema:"))
        );
        assert!(document(&json!({"kind": "ConfigMap"})).is_none());
    }

    #[test]
    fn warnings_as_istio_gives_them() {
        let warnings = |doc: Value, opts: &Options| -> Vec<(Option<&'static str>, String)> {
            let msgs = check(&doc, opts).unwrap();
            assert!(msgs.iter().all(|m| m.level == Level::Warning), "{msgs:?}");
            msgs.into_iter().map(|m| (m.code, m.field)).collect()
        };
        let now = Options::default();
        // The webhook reads the protocol as written; istioctl analyze in any case.
        let tcp = se(json!({"hosts": ["db.example.com"], "resolution": "NONE",
            "ports": [{"number": 5432, "name": "tcp", "protocol": "tcp"}]}));
        assert_eq!(
            warnings(tcp.clone(), &now),
            [(Some("IST0134"), "spec.ports[0]".to_owned())]
        );
        let mut allocated = tcp;
        allocated["status"] =
            json!({"addresses": [{"value": "240.240.0.1", "host": "db.example.com"}]});
        assert_eq!(warnings(allocated, &now), []);
        // Resolution NONE is never auto-allocated; DNS is from 1.25, unless opted out.
        let dns = |labels: Value| {
            json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "x", "labels": labels},
                "spec": {"hosts": ["db.example.com"], "resolution": "DNS",
                         "ports": [{"number": 5432, "name": "tcp", "protocol": "TCP"}]}})
        };
        assert_eq!(warnings(dns(json!({})), &now).len(), 1);
        assert_eq!(
            warnings(dns(json!({})), &Options::for_version((1, 24))).len(),
            2
        );
        let opt_out = json!({"networking.istio.io/enable-autoallocate-ip": "False"});
        assert_eq!(warnings(dns(opt_out), &now).len(), 2);
        let mesh = Options {
            mesh_dns_auto_allocate: true,
            ..now
        };
        assert_eq!(warnings(dns(json!({})), &mesh), []);
        let sc = json!({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": "x", "namespace": "shop"},
            "spec": {"egress": [{"hosts": ["shop/*", "./a.example.com", "*/*"]}]}});
        assert_eq!(
            warnings(sc, &now),
            [
                (None, "spec.egress[0].hosts[1]".to_owned()),
                (None, "spec.egress[0].hosts".to_owned())
            ]
        );
    }

    #[test]
    fn unknown_fields_as_kubectl_strict() {
        let doc = json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "x", "lables": {}}, "extra": 1,
            "spec": {"hosts": ["a.example.com"], "resolutoin": "DNS", "host": ["b"],
                     "ports": [{"number": 443, "name": "tls", "protocol": "TLS", "nmae": "y"}],
                     "endpoints": [{"address": "1.2.3.4", "labels": {"any": "label"}}],
                     "a.b": 1, "zzzzzzzz": 2}});
        let msgs: Vec<String> = check(&doc, &Options::default())
            .unwrap()
            .into_iter()
            .filter(|m| m.message.starts_with("unknown field"))
            .map(|m| m.message)
            .collect();
        assert_eq!(
            msgs,
            [
                "unknown field extra",
                "unknown field metadata.lables; did you mean labels?",
                "unknown field spec[\"a.b\"]",
                "unknown field spec.host; did you mean hosts?",
                "unknown field spec.ports[0].nmae; did you mean name?",
                "unknown field spec.resolutoin; did you mean resolution?",
                "unknown field spec.zzzzzzzz",
            ]
        );
        assert_eq!(edit_distance("resolutoin", "resolution"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(nearest(&"x".repeat(100_000), &["hosts"]), None);
        assert_eq!(nearest("HOST", &["hosts", "ports"]), Some("hosts"));
        // What the tool writes has none.
        assert!(service_entry(&doc).iter().all(|e| !e.contains("unknown")));
    }

    #[test]
    fn sidecar_errors_name_their_field() {
        let doc = json!({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": "x", "namespace": "shop"},
            "spec": {"egress": [{"hosts": ["./*", "./httpbin"]}],
                     "ingress": [{"port": {"number": 80, "protocol": "HTTP", "name": "h"}, "bind": "x"}],
                     "workloadSelector": {"labels": {"a": "*"}}}});
        let errors: Vec<(String, String)> = check(&doc, &Options::default())
            .unwrap()
            .into_iter()
            .filter(|m| m.level == Level::Error)
            .map(|m| (m.field, m.message))
            .collect();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.egress[0].hosts[1]",
                "spec.ingress[0]",
                "spec.workloadSelector.labels"
            ],
            "{errors:?}"
        );
        let marks = vec![
            (0, "/a".to_owned()),
            (0, "/b".to_owned()),
            (2, "/c".to_owned()),
        ];
        let got = marked(vec!["1".into(), "2".into(), "3".into()], &marks);
        let at: Vec<&str> = got.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(at, ["/b", "/b", "/c"]);
    }

    #[test]
    fn mesh_config_forms() {
        let cm = "kind: ConfigMap\ndata:\n  mesh: |\n    defaultConfig:\n      proxyMetadata:\n        ISTIO_META_DNS_CAPTURE: \"true\"\n        PILOT_ENABLE_IP_AUTOALLOCATE: \"true\"\n";
        assert_eq!(mesh_dns_auto_allocate(cm), Ok(true));
        let iop = "spec:\n  meshConfig:\n    defaultConfig:\n      proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\", ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"}\n";
        assert_eq!(mesh_dns_auto_allocate(iop), Ok(true));
        let capture_only = "defaultConfig: {proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\"}}";
        assert_eq!(mesh_dns_auto_allocate(capture_only), Ok(false));
        assert!(mesh_dns_auto_allocate("data: {mesh: [1]}").is_err());
        assert!(mesh_dns_auto_allocate("a: [").is_err());
    }

    #[test]
    fn labels_and_names() {
        assert!(is_dns1123_label("tls-443", false));
        assert!(!is_dns1123_label("-a", false));
        assert!(!is_dns1123_label(&"a".repeat(64), false));
        assert!(is_dns1123_subdomain("api.github.com"));
        assert!(!is_dns1123_subdomain("API.github.com"));
        assert_eq!(wildcard_domain_error("*.example.com"), None);
        assert_eq!(wildcard_domain_error("example.com."), None);
        assert!(wildcard_domain_error("a..b").is_some());
    }
}
