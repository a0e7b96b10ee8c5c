//! Cheap collection: the Istio `Telemetry` that turns access logging on only for traffic that
//! leaves the mesh, and the MeshConfig provider it names. The logs it yields are what the
//! reading pipeline (`ingest` -> ... -> `classify`) counts; the in-mesh lines it leaves out are
//! the ones the classifier would have skipped anyway.
//!
//! The output is one YAML stream: a comment-only document with the MeshConfig fragment (lines
//! `#| `, to apply with Helm, istioctl or the `istio` ConfigMap), then the Telemetry (for
//! `kubectl apply`). Every Envoy and Istio fact the filter relies on is cited in the comments;
//! docs/collection.md explains them at length.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::existing::Doc;
use crate::fmt::escape::yaml_comment;

/// The name of the MeshConfig access-log provider the Telemetry names.
pub const PROVIDER: &str = "egress-advisor";

/// Istio's default text format from 1.23 on (`%UPSTREAM_CLUSTER_RAW%`), verbatim from istio/istio
/// `pilot/pkg/model/telemetry_logging.go` (`EnvoyTextLogFormat`), without the final newline
/// Istio adds itself.
pub const TEXT_FORMAT_1_23: &str = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%"#;

/// Istio's default text format of 1.9 to 1.22 (`%UPSTREAM_CLUSTER%`): the Envoy of Istio 1.22
/// and earlier has no `%UPSTREAM_CLUSTER_RAW%`.
pub const TEXT_FORMAT_1_9: &str = r#"[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%"#;

/// The clusters whose traffic always left (or tried to leave) the mesh, named in istio/istio
/// `pilot/pkg/networking/util/util.go`.
pub const EGRESS_CLUSTERS: [&str; 3] = [
    "PassthroughCluster",
    "BlackHoleCluster",
    "AllowAnyDynamicDNSCluster",
];

/// The Telemetry CRD schema (version v1), built in; `schemas/README.md` says where it comes from.
static SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let text = include_str!("../schemas/telemetry.schema.json");
    let schema: Value = serde_json::from_str(text).expect("the built-in schema is JSON");
    jsonschema::validator_for(&schema).expect("the built-in schema compiles")
});

/// What the Istio version decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// The major version of `--istio-version`.
    pub major: u32,
    /// Its minor version.
    pub minor: u32,
    /// `telemetry.istio.io/v1` from Istio 1.22, `v1alpha1` before.
    pub api_version: &'static str,
    /// The provider's text format: Istio's own default for that version.
    pub text_format: &'static str,
}

impl Version {
    /// Parses `--istio-version X.Y`, as `recommend` takes it.
    pub fn parse(s: &str) -> Result<Version, String> {
        let (major, minor) = match s
            .split_once('.')
            .map(|(m, n)| (m.parse::<u32>(), n.parse::<u32>()))
        {
            Some((Ok(m), Ok(n))) => (m, n),
            _ => {
                return Err(format!(
                    "--istio-version {s:?}: give the minor version, for example 1.24"
                ));
            }
        };
        let new = major > 1 || minor >= 23;
        let api_version = if major > 1 || minor >= 22 {
            "telemetry.istio.io/v1"
        } else if major == 1 && minor >= 16 {
            "telemetry.istio.io/v1alpha1"
        } else {
            return Err(format!(
                "--istio-version {s}: the filter needs Istio 1.16.2 or later (the xds.cluster_name attribute of access-log filters; Telemetry filters came with 1.13); upgrade the mesh first"
            ));
        };
        Ok(Version {
            major,
            minor,
            api_version,
            text_format: if new {
                TEXT_FORMAT_1_23
            } else {
                TEXT_FORMAT_1_9
            },
        })
    }
}

/// What the command was asked for, validated.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace the Telemetry goes to (the root namespace: mesh-wide).
    pub namespace: String,
    /// The mesh's root namespace (`meshConfig.rootNamespace`).
    pub root_namespace: String,
    /// The cluster domain, lower case, without dots at either end.
    pub cluster_domain: String,
    /// What `--istio-version` decides.
    pub version: Version,
}

impl Options {
    /// Checks the values a user typed: namespaces are DNS-1123 labels, the cluster domain a
    /// DNS name (it goes into the CEL expression, so nothing else may reach it).
    pub fn new(
        namespace: Option<&str>,
        root_namespace: &str,
        cluster_domain: &str,
        istio_version: &str,
    ) -> Result<Options, String> {
        if !crate::validate::is_dns1123_label(root_namespace, false) {
            return Err(format!(
                "--root-namespace {root_namespace:?} is not a namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63)"
            ));
        }
        let namespace = namespace.unwrap_or(root_namespace);
        if !crate::validate::is_dns1123_label(namespace, false) {
            return Err(format!(
                "NAMESPACE {namespace:?} is not a namespace name (a DNS-1123 label: lower-case letters, digits and '-', at most 63)"
            ));
        }
        let domain = cluster_domain.trim_matches('.').to_ascii_lowercase();
        if !crate::validate::is_dns1123_subdomain(&domain) {
            return Err(format!(
                "--cluster-domain {cluster_domain:?} is not a DNS domain (for example: cluster.local)"
            ));
        }
        Ok(Options {
            namespace: namespace.to_owned(),
            root_namespace: root_namespace.to_owned(),
            cluster_domain: domain,
            version: Version::parse(istio_version)?,
        })
    }

    /// Mesh-wide: the Telemetry is in the root namespace.
    pub fn mesh_wide(&self) -> bool {
        self.namespace == self.root_namespace
    }
}

/// The CEL filter: true for a request or connection that left the mesh or was refused on its
/// way out, on HTTP and TCP alike.
///
/// - `xds.cluster_name` is one of [`EGRESS_CLUSTERS`]: passed through, refused (TCP), or
///   resolved by dynamic DNS.
/// - Or it is a sidecar's or gateway's `outbound|port|subset|host`, or a waypoint's
///   `inbound-vip|port|proto|host`, whose host is outside the cluster domain: a ServiceEntry
///   host.
/// - Or `xds.route_name` is `block_all`: refused HTTP, a direct 502 that picks no cluster.
///
/// Every attribute read is guarded by `has()`, so a clause is false (never an error) where its
/// attribute is absent (`xds.route_name` on TCP, `xds.cluster_name` on a direct response).
pub fn expression(cluster_domain: &str) -> String {
    let clusters = EGRESS_CLUSTERS
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "(has(xds.cluster_name) && (xds.cluster_name in [{clusters}] || ((xds.cluster_name.startsWith('outbound|') || xds.cluster_name.startsWith('inbound-vip|')) && !xds.cluster_name.endsWith('.{cluster_domain}')))) || (has(xds.route_name) && xds.route_name == 'block_all')"
    )
}

/// The one access-logging entry the Telemetry gets.
pub fn access_logging(opts: &Options) -> Value {
    serde_json::to_value([logging_entry(opts)]).expect("serialises")
}

/// The MeshConfig fragment: the provider, as Helm values or an IstioOperator's `spec` hold it
/// (`meshConfig:`).
pub fn mesh_config(opts: &Options) -> Value {
    serde_json::to_value(mesh_values(opts)).expect("serialises")
}

/// The fresh Telemetry, its fields in the order a person writes them (a `Value` would sort them).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Telemetry<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: Meta<'a>,
    spec: Spec,
}

#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    namespace: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    access_logging: Vec<Logging>,
}

#[derive(Serialize)]
struct Logging {
    providers: Vec<Named>,
    filter: Filter,
}

#[derive(Serialize)]
struct Named {
    name: &'static str,
}

#[derive(Serialize)]
struct Filter {
    expression: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshValues {
    mesh_config: MeshConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshConfig {
    extension_providers: Vec<Provider>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Provider {
    name: &'static str,
    envoy_file_access_log: FileLog,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileLog {
    path: &'static str,
    log_format: TextFormat,
}

#[derive(Serialize)]
struct TextFormat {
    text: &'static str,
}

fn logging_entry(opts: &Options) -> Logging {
    Logging {
        providers: vec![Named { name: PROVIDER }],
        filter: Filter {
            expression: expression(&opts.cluster_domain),
        },
    }
}

fn mesh_values(opts: &Options) -> MeshValues {
    MeshValues {
        mesh_config: MeshConfig {
            extension_providers: vec![Provider {
                name: PROVIDER,
                envoy_file_access_log: FileLog {
                    path: "/dev/stdout",
                    log_format: TextFormat {
                        text: opts.version.text_format,
                    },
                },
            }],
        },
    }
}

/// YAML with every string on one line: a folded CEL expression reads worse and only invites
/// mistakes when copied.
fn to_yaml<T: Serialize>(v: &T) -> Result<String, String> {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(v, o).map_err(|e| format!("YAML: {e}"))
}

/// The selector-less Telemetry of the target namespace found in `--existing`.
#[derive(Debug, Clone)]
pub struct Found {
    /// `path: document N`, for messages.
    pub at: String,
    /// The object as read.
    pub value: Value,
}

/// Metadata fields the API server sets: left out of a manifest to apply again.
const SERVER_SET: [&str; 8] = [
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The namespace-wide (no `selector`, no `targetRef(s)`) Telemetry of `namespace` among the
/// documents, if any. Objects without a namespace are taken to be in `default`, as `kubectl
/// apply` would place them. Two different ones are an error: Istio's analyzer calls that
/// undefined behaviour (IST0160), and which one to merge is the user's choice.
pub fn find_existing(docs: &[Doc], namespace: &str) -> Result<Option<Found>, String> {
    let mut found: Vec<Found> = Vec::new();
    for d in docs {
        let v = &d.value;
        let is_telemetry = v.get("kind").and_then(Value::as_str) == Some("Telemetry")
            && v.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("telemetry.istio.io/"));
        if !is_telemetry {
            continue;
        }
        let at = format!("{}: document {}", d.path, d.index);
        let ns = match v.pointer("/metadata/namespace") {
            None | Some(Value::Null) => "default",
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(format!(
                    "{at}: Telemetry: {}",
                    crate::yaml::wrong("metadata.namespace", "a string", other)
                ));
            }
        };
        if ns != namespace {
            continue;
        }
        let spec = v.get("spec");
        let selective = ["selector", "targetRef", "targetRefs"]
            .iter()
            .any(|k| spec.and_then(|s| s.get(k)).is_some_and(|x| !is_empty(x)));
        if selective {
            continue;
        }
        // The same object given twice (two files, or a file and a folder) is one.
        if found.iter().any(|f| f.value == *v) {
            continue;
        }
        found.push(Found {
            at,
            value: v.clone(),
        });
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(format!(
            "{} Telemetries without a selector in namespace {namespace} ({}): Istio allows one (istioctl analyze: IST0160, undefined behaviour); give --existing only the one that is in effect",
            found.len(),
            found
                .iter()
                .map(|f| format!(
                    "{} at {}",
                    f.value
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("(no name)"),
                    f.at
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `null`, `[]` or `{}`: a field given empty is a field not given.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The output, and what the user should be told on stderr.
#[derive(Debug, Clone)]
pub struct Built {
    /// The YAML stream to print.
    pub yaml: String,
    /// Notes for stderr (without the `egress-advisor: ` prefix).
    pub notes: Vec<String>,
    /// The Telemetry object written.
    pub telemetry: Value,
}

/// What was done to an existing Telemetry.
struct Merge {
    at: String,
    name: String,
    /// Its access-logging entries, replaced (empty: it had none).
    replaced: Vec<Value>,
}

/// The note on ambient mode, for stderr and the comments.
pub const AMBIENT_NOTE: &str = "Ambient mode: this filter does not apply to ztunnel, which is not Envoy and takes no Telemetry access-log filter: it logs every connection it carries (target `access`, level info), configured only by the ztunnel chart's logLevel and logAsJson values (istio/istio manifests/charts/ztunnel/values.yaml). Waypoints are Envoy and do take this Telemetry.";

/// Builds the stream for `opts`, merged into `existing` when given.
pub fn build(opts: &Options, existing: Option<&Found>) -> Result<Built, String> {
    let logging = access_logging(opts);
    let (telemetry, merge) = match existing {
        None => (
            serde_json::to_value(fresh_doc(opts)).expect("serialises"),
            None,
        ),
        Some(f) => {
            let (t, m) = merged(opts, f, &logging)?;
            (t, Some(m))
        }
    };
    let errors: Vec<String> = SCHEMA
        .iter_errors(&telemetry)
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        let from = merge
            .as_ref()
            .map(|m| format!(" merged with {}", m.at))
            .unwrap_or_default();
        return Err(format!(
            "the Telemetry{from} does not pass the CRD schema: {}",
            errors.join("; ")
        ));
    }

    let mut notes = Vec::new();
    let mut out = String::new();
    header(&mut out, opts);
    out.push_str("---\n");
    mesh_section(&mut out, opts)?;
    out.push_str("---\n");
    telemetry_comments(&mut out, opts);
    match &merge {
        None => {
            notes.push(format!(
                "Istio allows one Telemetry without a selector per namespace: if `kubectl get telemetry -n {ns}` lists one, run again with --existing (kubectl get telemetry -n {ns} -o yaml > current.yaml) so that it is merged, not replaced",
                ns = opts.namespace
            ));
        }
        Some(m) => {
            comment(
                &mut out,
                &format!(
                    "Merged into the existing Telemetry {}/{} ({}): every field is kept except spec.accessLogging, which is replaced (status and the fields the API server sets are left out).",
                    opts.namespace, m.name, m.at
                ),
            );
            if m.replaced.is_empty() {
                comment(&mut out, "It had no accessLogging: nothing is replaced.");
            } else if m.replaced == logging.as_array().cloned().unwrap_or_default() {
                comment(
                    &mut out,
                    "Its accessLogging was already this one: nothing changes.",
                );
            } else {
                comment(
                    &mut out,
                    "Its accessLogging, replaced (it logged more than egress; two providers that both write to the proxies' stdout would write each egress line twice): put back an entry whose provider sends elsewhere if you still need it.",
                );
                let old = to_yaml(&m.replaced)?;
                for line in old.lines() {
                    comment(&mut out, &format!("  {line}"));
                }
                notes.push(format!(
                    "the accessLogging of Telemetry {}/{} ({}) is replaced: it logged more than egress; the old entries are in the output as a comment",
                    opts.namespace, m.name, m.at
                ));
            }
        }
    }
    let yaml = match &merge {
        None => to_yaml(&fresh_doc(opts))?,
        Some(_) => to_yaml(&telemetry)?,
    };
    out.push_str(&yaml);
    if !yaml.ends_with('\n') {
        out.push('\n');
    }
    if !opts.mesh_wide() {
        notes.push(format!(
            "this Telemetry applies to the workloads of namespace {} only; without NAMESPACE it goes to the root namespace {} and covers the mesh",
            opts.namespace, opts.root_namespace
        ));
    }
    if opts.version.major == 1 && opts.version.minor == 16 {
        notes.push("Istio 1.16: xds.cluster_name is available to the filter from 1.16.2 on".into());
    }
    notes.push(AMBIENT_NOTE.to_owned());
    Ok(Built {
        yaml: out,
        notes,
        telemetry,
    })
}

/// A new Telemetry: `mesh-default` in the root namespace (the name Istio's documentation
/// uses), `default` elsewhere.
fn fresh_doc(opts: &Options) -> Telemetry<'_> {
    Telemetry {
        api_version: opts.version.api_version,
        kind: "Telemetry",
        metadata: Meta {
            name: if opts.mesh_wide() {
                "mesh-default"
            } else {
                "default"
            },
            namespace: &opts.namespace,
        },
        spec: Spec {
            access_logging: vec![logging_entry(opts)],
        },
    }
}

/// The existing Telemetry with its accessLogging replaced, and what was replaced.
fn merged(opts: &Options, f: &Found, logging: &Value) -> Result<(Value, Merge), String> {
    let at = |e: String| format!("{}: Telemetry: {e}", f.at);
    let Value::Object(mut obj) = f.value.clone() else {
        return Err(at("expected a map".into()));
    };
    obj.insert("apiVersion".into(), json!(opts.version.api_version));
    obj.remove("status");
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(meta) = meta else {
        return Err(at(crate::yaml::wrong("metadata", "a map", meta)));
    };
    let name = match meta.get("name") {
        Some(Value::String(n)) if crate::validate::is_dns1123_subdomain(n) => n.clone(),
        other => {
            return Err(at(format!(
                "metadata.name {:?} is not an object name (a DNS-1123 subdomain)",
                other.map(|v| v.to_string()).unwrap_or_default()
            )));
        }
    };
    meta.insert("namespace".into(), json!(opts.namespace));
    for k in SERVER_SET {
        meta.remove(k);
    }
    if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
        ann.remove("kubectl.kubernetes.io/last-applied-configuration");
        if ann.is_empty() {
            meta.remove("annotations");
        }
    }
    let spec = obj
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(spec) = spec else {
        return Err(at(crate::yaml::wrong("spec", "a map", spec)));
    };
    let replaced = match spec.insert("accessLogging".into(), logging.clone()) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(at(crate::yaml::wrong(
                "spec.accessLogging",
                "a list",
                &other,
            )));
        }
    };
    Ok((
        Value::Object(obj),
        Merge {
            at: f.at.clone(),
            name,
            replaced,
        },
    ))
}

/// A YAML comment line, its text made inert ([`yaml_comment`]).
fn comment(out: &mut String, text: &str) {
    out.push('#');
    if !text.is_empty() {
        out.push(' ');
    }
    out.push_str(&yaml_comment(text));
    out.push('\n');
}

fn header(out: &mut String, opts: &Options) {
    let scope = if opts.mesh_wide() {
        format!(
            "mesh-wide (root namespace {}): every sidecar, gateway and waypoint",
            opts.namespace
        )
    } else {
        format!("the workloads of namespace {}", opts.namespace)
    };
    for line in [
        "egress-advisor telemetry: access logs for the traffic that leaves the mesh, and for no other.".to_owned(),
        format!("Scope: {scope}; Istio {}.{}.", opts.version.major, opts.version.minor),
        String::new(),
        "Two documents: the MeshConfig provider that the Telemetry names (comments only: apply it with".to_owned(),
        "Helm, istioctl or the istio ConfigMap, first), then the Telemetry (kubectl apply -f this file).".to_owned(),
        "Until the provider exists, istiod skips it and the proxies keep the logging they had.".to_owned(),
        String::new(),
        AMBIENT_NOTE.to_owned(),
    ] {
        comment(out, &line);
    }
}

/// The comment-only document holding the MeshConfig fragment, its lines prefixed `#| `.
fn mesh_section(out: &mut String, opts: &Options) -> Result<(), String> {
    let new = opts.version.text_format == TEXT_FORMAT_1_23;
    for line in [
        format!("MeshConfig: the access-log provider {PROVIDER:?} that the Telemetry below names."),
        "A Telemetry names providers; MeshConfig defines them (istio/api mesh/v1alpha1/config.proto,".to_owned(),
        "EnvoyFileAccessLogProvider): the log format is set here, not in the Telemetry.".to_owned(),
        String::new(),
        format!(
            "Format: Istio's own default text format of Istio {} (istio/istio",
            if new { "1.23 and later" } else { "1.9 to 1.22" }
        ),
        format!(
            "pilot/pkg/model/telemetry_logging.go, EnvoyTextLogFormat){}, chosen over JSON:",
            if new { "" } else { " with %UPSTREAM_CLUSTER% (no _RAW before 1.23)" }
        ),
        "egress-advisor reads it with no --log-format, and Istio's JSON takes 2.6 times the bytes for".to_owned(),
        "the same records (docs/performance.md): bytes are what log storage bills.".to_owned(),
        String::new(),
        "extensionProviders is a list, and Helm and istioctl replace a list whole: keep the providers".to_owned(),
        "you already have next to this one. Take the lines starting '#| ' out as a values file:".to_owned(),
        "  egress-advisor telemetry [the same flags] | sed -n 's/^#| //p' > mesh.yaml".to_owned(),
        "- Helm: helm upgrade istiod istio/istiod -n istio-system --reuse-values -f mesh.yaml".to_owned(),
        "- istioctl: put meshConfig under spec: of your IstioOperator file; istioctl install -f it".to_owned(),
        "- ConfigMap: kubectl -n istio-system edit configmap istio, and add the extensionProviders".to_owned(),
        "  entry to the mesh key's YAML (the meshConfig: level is the mesh key itself).".to_owned(),
    ] {
        comment(out, &line);
    }
    let yaml = to_yaml(&mesh_values(opts))?;
    for line in yaml.lines() {
        // The fragment is the tool's own text: printable ASCII, so the comment needs no escape
        // (and an escape would change the YAML taken out of it).
        debug_assert!(line.chars().all(|c| (' '..='~').contains(&c)));
        out.push_str("#| ");
        out.push_str(line);
        out.push('\n');
    }
    Ok(())
}

fn telemetry_comments(out: &mut String, opts: &Options) {
    let domain = &opts.cluster_domain;
    for line in [
        format!(
            "Telemetry ({}: served from Istio 1.22; v1alpha1 before, since the filter came with 1.13).",
            opts.version.api_version
        ),
        format!(
            "It logs, through provider {PROVIDER:?}, only what filter.expression selects (istio/api"
        ),
        "telemetry/v1alpha1/telemetry.proto, AccessLogging.Filter: \"CEL expression for selecting when".to_owned(),
        "requests/connections should be logged\"; the same proto serves v1). istiod makes it an".to_owned(),
        "envoy.access_loggers.extension_filters.cel ExpressionFilter on every access log it builds:".to_owned(),
        "HTTP connection managers, TCP proxies (the PassthroughCluster/BlackHoleCluster catch-all".to_owned(),
        "chains too) and listeners (ANDed with their NR filter) (istio/istio".to_owned(),
        "pilot/pkg/networking/core/accesslog.go buildAccessLogFromTelemetry; listener_builder.go".to_owned(),
        "buildOutboundCatchAllNetworkFiltersOnly). Attributes (envoyproxy/envoy".to_owned(),
        "docs/root/intro/arch_overview/advanced/attributes.rst, read in".to_owned(),
        "source/extensions/filters/common/expr/context.cc):".to_owned(),
        "- xds.cluster_name, string, \"Upstream cluster name\": the cluster's name(), never its".to_owned(),
        "  alt_stat_name (so no trailing ';' from Istio 1.23); set by the TCP proxy before a host is".to_owned(),
        "  chosen (source/common/tcp_proxy/tcp_proxy.cc), so a refused TCP connection shows".to_owned(),
        "  BlackHoleCluster; absent when no cluster was chosen (an HTTP direct response).".to_owned(),
        "- xds.route_name, string, \"Route name\": absent on TCP (no route).".to_owned(),
        "- Clusters and route (istio/istio pilot/pkg/networking/util/util.go): PassthroughCluster".to_owned(),
        "  (ALLOW_ANY), BlackHoleCluster (REGISTRY_ONLY, TCP), AllowAnyDynamicDNSCluster (1.31+), and".to_owned(),
        "  route block_all (REGISTRY_ONLY, HTTP: a direct 502, no cluster). A ServiceEntry host is the".to_owned(),
        "  last field of outbound|port|subset|host (sidecars, gateways) or inbound-vip|port|proto|host".to_owned(),
        format!(
            "  (waypoints; pilot/pkg/model/service.go): logged when outside the cluster domain {domain}."
        ),
        "CEL (google/cel-spec doc/langdef.md, Logical operators): || is true when either side is true,".to_owned(),
        "even if the other errors; an absent attribute makes its comparison an error, and an expression".to_owned(),
        "that ends in an error logs nothing (source/extensions/access_loggers/filters/cel/cel.cc). So each".to_owned(),
        "clause guards its attribute with has() (a map lookup: false, not an error, for an absent key;".to_owned(),
        "google/cel-cpp CelMap::Has) and every kind of egress is caught on HTTP and on TCP by a clause".to_owned(),
        "whose attribute is present there. Not used: response.code (absent on TCP: an error there) and".to_owned(),
        "response.flags (an int bit vector; BlackHoleCluster already names the refused TCP connection).".to_owned(),
        "Inbound traffic (inbound|..., InboundPassthroughCluster) and in-mesh services are not logged.".to_owned(),
        "A namespace or workload Telemetry with its own accessLogging overrides this one for its workloads.".to_owned(),
        "Not for `recommend --sidecars`: its Sidecars import the in-mesh services seen in the logs,".to_owned(),
        "and these logs leave in-mesh calls out (docs/collection.md).".to_owned(),
    ] {
        comment(out, &line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(version: &str) -> Options {
        Options::new(None, "istio-system", "cluster.local", version).expect("valid")
    }

    #[test]
    fn telemetry_versions_pick_the_api_and_the_format() {
        let v = Version::parse("1.24").unwrap();
        assert_eq!(v.api_version, "telemetry.istio.io/v1");
        assert_eq!(v.text_format, TEXT_FORMAT_1_23);
        let v = Version::parse("1.22").unwrap();
        assert_eq!(v.api_version, "telemetry.istio.io/v1");
        assert_eq!(v.text_format, TEXT_FORMAT_1_9);
        let v = Version::parse("1.18").unwrap();
        assert_eq!(v.api_version, "telemetry.istio.io/v1alpha1");
        assert!(Version::parse("1.15").is_err());
        assert!(Version::parse("latest").is_err());
        assert_eq!(
            Version::parse("2.0").unwrap().api_version,
            "telemetry.istio.io/v1"
        );
    }

    #[test]
    fn telemetry_formats_differ_only_in_the_cluster_operator() {
        assert_eq!(
            TEXT_FORMAT_1_23.replace("%UPSTREAM_CLUSTER_RAW%", "%UPSTREAM_CLUSTER%"),
            TEXT_FORMAT_1_9
        );
    }

    #[test]
    fn telemetry_expression_names_every_egress_kind() {
        let e = expression("cluster.local");
        for needle in [
            "has(xds.cluster_name)",
            "has(xds.route_name)",
            "'PassthroughCluster'",
            "'BlackHoleCluster'",
            "xds.route_name == 'block_all'",
            "startsWith('outbound|')",
            "startsWith('inbound-vip|')",
            "!xds.cluster_name.endsWith('.cluster.local')",
        ] {
            assert!(e.contains(needle), "{needle} missing from {e}");
        }
        assert!(!e.contains("response."), "{e}");
        assert_eq!(e.matches('(').count(), e.matches(')').count());
    }

    #[test]
    fn telemetry_refuses_hostile_names() {
        for bad in ["", "Kube-System", "a b", "ns\n---", "x'||true||'", "-a"] {
            assert!(
                Options::new(Some(bad), "istio-system", "cluster.local", "1.24").is_err(),
                "{bad:?}"
            );
            assert!(
                Options::new(None, bad, "cluster.local", "1.24").is_err(),
                "{bad:?}"
            );
        }
        for bad in ["", "x') || true || ('", "a..b", "cluster local"] {
            assert!(
                Options::new(None, "istio-system", bad, "1.24").is_err(),
                "{bad:?}"
            );
        }
        let o = Options::new(None, "istio-system", "Corp.Example.", "1.24").unwrap();
        assert_eq!(o.cluster_domain, "corp.example");
    }

    #[test]
    fn telemetry_stream_passes_the_schema() {
        let b = build(&opts("1.24"), None).unwrap();
        assert!(SCHEMA.is_valid(&b.telemetry));
        assert_eq!(b.telemetry["metadata"]["name"], "mesh-default");
        let docs = crate::yaml::documents(&b.yaml).unwrap();
        let docs: Vec<_> = docs.into_iter().filter(|d| !d.is_null()).collect();
        assert_eq!(docs, vec![b.telemetry.clone()]);
        let mesh: String = b
            .yaml
            .lines()
            .filter_map(|l| l.strip_prefix("#| "))
            .map(|l| format!("{l}\n"))
            .collect();
        let mesh = crate::yaml::document(&mesh).unwrap();
        assert_eq!(mesh, mesh_config(&opts("1.24")));
    }

    fn doc(value: Value) -> Doc {
        Doc {
            path: "current.yaml".into(),
            index: 1,
            value,
        }
    }

    #[test]
    fn telemetry_merges_the_existing_one() {
        let current = json!({
            "apiVersion": "telemetry.istio.io/v1alpha1",
            "kind": "Telemetry",
            "metadata": {"name": "mesh-default", "namespace": "istio-system",
                "resourceVersion": "12", "uid": "u",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "tracing": [{"randomSamplingPercentage": 1.0}],
                "accessLogging": [{"providers": [{"name": "envoy"}]}],
            },
            "status": {"observedGeneration": 3},
        });
        let selective = json!({
            "apiVersion": "telemetry.istio.io/v1",
            "kind": "Telemetry",
            "metadata": {"name": "one", "namespace": "istio-system"},
            "spec": {"selector": {"matchLabels": {"app": "x"}}},
        });
        let elsewhere = json!({
            "apiVersion": "telemetry.istio.io/v1",
            "kind": "Telemetry",
            "metadata": {"name": "mesh-default", "namespace": "shop"},
            "spec": {},
        });
        let docs = [doc(selective), doc(elsewhere), doc(current.clone())];
        let found = find_existing(&docs, "istio-system").unwrap().unwrap();
        let b = build(&opts("1.24"), Some(&found)).unwrap();
        let t = &b.telemetry;
        assert_eq!(t["apiVersion"], "telemetry.istio.io/v1");
        assert_eq!(t["spec"]["tracing"], current["spec"]["tracing"]);
        assert_eq!(t["spec"]["accessLogging"], access_logging(&opts("1.24")));
        assert!(t.get("status").is_none());
        assert!(t["metadata"].get("resourceVersion").is_none());
        assert!(t["metadata"].get("annotations").is_none());
        assert!(b.yaml.contains("#     - name: envoy"), "{}", b.yaml);
        assert!(b.notes.iter().any(|n| n.contains("is replaced")));
    }

    #[test]
    fn telemetry_refuses_two_namespace_wide_ones() {
        let t = |name: &str| {
            doc(json!({
                "apiVersion": "telemetry.istio.io/v1",
                "kind": "Telemetry",
                "metadata": {"name": name, "namespace": "istio-system"},
                "spec": {},
            }))
        };
        let e = find_existing(&[t("a"), t("b")], "istio-system").unwrap_err();
        assert!(e.contains("IST0160"), "{e}");
        assert!(find_existing(&[t("a"), t("a")], "istio-system").is_ok());
    }
}
