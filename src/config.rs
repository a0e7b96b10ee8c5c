//! Validated settings. Clap's structs become these, and no stage sees clap.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use crate::existing::Existing;
use crate::parse::custom::{JsonKeys, Template};

use crate::classify::Rules;
use crate::cli::{
    AnalyzeFormat, FilterArgs, FormatArg, GateFormat, InputArgs, OriginArgs, ReadArgs,
    RecommendFormat, ReportArgs, RunArgs, Scope, SelectArgs, ShapeArgs, ValidateFormat,
};
use crate::parse::{Format, FormatChoice};

/// How inputs are read and classified.
#[derive(Debug, Clone)]
pub struct Settings {
    pub paths: Vec<PathBuf>,
    pub format: FormatChoice,
    pub rules: Rules,
    /// Worker threads.
    pub threads: usize,
    pub max_line_bytes: usize,
    pub strict: bool,
    /// Notes on stderr (errors are always reported).
    pub quiet: bool,
    /// `--source-namespace`: the writer's namespace when the input does not say.
    pub namespace: Option<String>,
    /// `--workload`: the writer's workload when the input does not say.
    pub workload: Option<String>,
    /// A custom format, compiled.
    pub custom: Option<Arc<Custom>>,
    /// `--since` and `--until`, in ms since the epoch: outbound entries outside are not counted
    /// as destinations.
    pub window: Option<Window>,
    /// Count in-mesh calls per source (for Sidecars); off unless asked, it costs a lookup on
    /// every in-mesh line.
    pub track_mesh: bool,
    /// Show a progress bar: stderr is a terminal, not in CI, and not `--quiet`.
    pub progress: bool,
    /// `paths` are partial results to merge, not logs.
    pub partials: bool,
    /// `--stdin-name`: what standard input is called in reports.
    pub stdin_name: Option<String>,
    /// `--containers`: the containers whose lines are traffic (proxies). An entry from another
    /// container an envelope or path names is an application's line, not traffic.
    pub containers: Vec<String>,
    /// `--pods`: pod names to owner workloads and service accounts, for ztunnel lines.
    pub pods: Option<Arc<crate::pods::Pods>>,
    /// `--mesh-config` turns on DNS capture and address auto-allocation (IST0134 is moot).
    pub mesh_dns_auto_allocate: bool,
}

/// The proxy containers of a mesh: sidecars, gateways and waypoints (`istio-proxy`), ztunnel.
pub const PROXY_CONTAINERS: [&str; 5] = [
    "istio-proxy",
    "ztunnel",
    "istio-ingressgateway",
    "istio-egressgateway",
    "waypoint",
];

impl Settings {
    /// Whether lines of `container` are read as traffic.
    pub fn is_proxy_container(&self, container: &str) -> bool {
        self.containers.iter().any(|c| c == container)
    }
}

impl Default for Settings {
    /// Every line recognised, `cluster.local`, one thread, 1 MiB lines, nothing extra: what the
    /// library's own users (benchmarks, fuzz targets, tests) start from.
    fn default() -> Self {
        Settings {
            paths: Vec::new(),
            format: FormatChoice::Auto,
            rules: Rules::default(),
            threads: 1,
            max_line_bytes: 1 << 20,
            strict: false,
            quiet: true,
            progress: false,
            namespace: None,
            workload: None,
            custom: None,
            window: None,
            track_mesh: false,
            partials: false,
            stdin_name: None,
            containers: PROXY_CONTAINERS.iter().map(|c| (*c).to_owned()).collect(),
            pods: None,
            mesh_dns_auto_allocate: false,
        }
    }
}

/// Which destinations become recommendations.
#[derive(Debug, Clone)]
pub struct Selection {
    pub include_private: bool,
    /// The mesh's current configuration, when given.
    pub existing: Option<Arc<Existing>>,
    /// Fewest passthrough or blocked entries a destination needs to be recommended.
    pub min_requests: u64,
    /// Hosts (`name` or `*.suffix`) never recommended.
    pub exclude_hosts: Vec<String>,
    /// Namespaces whose calls get no entries.
    pub exclude_namespaces: Vec<String>,
    /// The ServiceEntry apiVersion.
    pub api_version: &'static str,
    /// `--wildcard-min`: this many sibling hosts or more become `*.parent`.
    pub wildcard_min: Option<usize>,
    /// `--cidr-prefix`: addresses sharing a network of this size become one range.
    pub cidr_prefix: Option<u8>,
    /// `--cidr-prefix-v6`: the same for IPv6 addresses.
    pub cidr_prefix_v6: Option<u8>,
    /// `--exclude-blocked-only`: no entry for destinations whose every attempt was refused.
    pub exclude_blocked_only: bool,
    /// `--scope central --central-namespace NS`: every entry in NS, exported to its consumers.
    pub central: Option<String>,
    /// The reading rules (cluster domain, mesh ranges), to tell cluster-local names.
    pub rules: Rules,
    /// `--cardinality-threshold`: a registrable domain, IPv4 /24 or IPv6 /48 with more
    /// distinct children than this is a finding (0: never).
    pub cardinality_threshold: usize,
    /// `--include-high-cardinality`: write entries for the children of such parents too.
    pub include_high_cardinality: bool,
    /// `--max-entries`: write at most this many ServiceEntries, most undeclared traffic first.
    pub max_entries: Option<usize>,
    /// The high-cardinality parents found in this run's traffic ([`Selection::observe`]).
    pub high_cardinality: Arc<crate::cardinality::Found>,
    /// What `--existing` entries are audited with (`validate`'s rules).
    pub validate: crate::validate::Options,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            include_private: false,
            existing: None,
            min_requests: 1,
            exclude_hosts: Vec::new(),
            exclude_namespaces: Vec::new(),
            api_version: "networking.istio.io/v1",
            wildcard_min: None,
            cidr_prefix: None,
            cidr_prefix_v6: None,
            exclude_blocked_only: false,
            central: None,
            rules: Rules::default(),
            cardinality_threshold: crate::cardinality::DEFAULT_THRESHOLD,
            include_high_cardinality: false,
            max_entries: None,
            high_cardinality: Arc::default(),
            validate: crate::validate::Options::default(),
        }
    }
}

impl Selection {
    pub fn from_args(a: &SelectArgs) -> Result<Selection, UsageError> {
        let mut sel = Selection::from_filter(&a.filter)?;
        sel.shape(&a.shape)?;
        Ok(sel)
    }

    /// Which destinations count; ServiceEntries keep their default shape.
    pub fn from_filter(a: &FilterArgs) -> Result<Selection, UsageError> {
        let existing = if a.existing.is_empty() {
            None
        } else {
            Some(Arc::new(
                Existing::read(&a.existing).map_err(|e| UsageError(format!("--existing {e}")))?,
            ))
        };
        for h in &a.exclude_host {
            let name = h.strip_prefix("*.").unwrap_or(h);
            if crate::validate::wildcard_domain_error(name).is_some() {
                return Err(UsageError(format!(
                    "--exclude-host {h:?}: give a host name or *.suffix"
                )));
            }
        }
        Ok(Selection {
            include_private: a.include_private,
            existing,
            min_requests: a.min_requests,
            exclude_hosts: a
                .exclude_host
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            exclude_namespaces: a.exclude_namespace.clone(),
            cardinality_threshold: a.cardinality_threshold,
            ..Selection::default()
        })
    }

    /// Finds the high-cardinality parents of this run's traffic; every stage that decides or
    /// reports what gets an entry reads them from here.
    pub fn observe(&mut self, summary: &crate::aggregate::Summary) {
        let findings = crate::cardinality::findings(summary, self);
        self.high_cardinality = Arc::new(crate::cardinality::Found::new(findings));
    }

    /// The shape of the entries: apiVersion, widening and scope.
    fn shape(&mut self, a: &ShapeArgs) -> Result<(), UsageError> {
        let version = a.istio_version.as_deref().unwrap_or(DEFAULT_ISTIO_VERSION);
        let api_version = match version
            .split_once('.')
            .map(|(m, n)| (m.parse::<u32>(), n.parse::<u32>()))
        {
            Some((Ok(1), Ok(minor))) if minor >= 22 => "networking.istio.io/v1",
            // networking.istio.io/v1beta1 serves ServiceEntry and Sidecar from Istio 1.5; the
            // entries this tool writes need nothing newer.
            Some((Ok(1), Ok(minor))) if minor >= 5 => "networking.istio.io/v1beta1",
            Some((Ok(1), Ok(_))) => {
                return Err(UsageError(format!(
                    "--istio-version {}: Istio before 1.5 serves no API version these entries can use (networking.istio.io/v1beta1 came with 1.5); upgrade the mesh first",
                    version
                )));
            }
            Some((Ok(major), Ok(_))) if major > 1 => "networking.istio.io/v1",
            _ => {
                return Err(UsageError(format!(
                    "--istio-version {:?}: give the minor version, for example 1.24",
                    version
                )));
            }
        };
        if a.wildcard_min.is_some_and(|n| n < 2) {
            return Err(UsageError(
                "--wildcard-min: give 2 or more (one host needs no wildcard)".into(),
            ));
        }
        // Ranges wider than these would declare networks nobody was seen to use.
        if let Some(b) = a.cidr_prefix
            && !(16..=32).contains(&b)
        {
            return Err(UsageError(format!(
                "--cidr-prefix {b}: an IPv4 prefix length is 16 to 32 (for example 24); --cidr-prefix-v6 takes IPv6's"
            )));
        }
        if let Some(b) = a.cidr_prefix_v6
            && !(32..=128).contains(&b)
        {
            return Err(UsageError(format!(
                "--cidr-prefix-v6 {b}: an IPv6 prefix length is 32 to 128 (for example 64)"
            )));
        }
        let central = match (a.scope, a.central_namespace.as_deref()) {
            (Scope::Namespace, None) => None,
            (Scope::Central, Some(ns)) if crate::validate::is_dns1123_label(ns, false) => {
                Some(ns.to_owned())
            }
            (Scope::Central, Some(ns)) => {
                return Err(UsageError(format!(
                    "--central-namespace {ns:?} is not a namespace name"
                )));
            }
            (Scope::Central, None) => {
                return Err(UsageError("--scope central needs --central-namespace NS: the namespace that holds the entries".into()));
            }
            (Scope::Namespace, Some(_)) => {
                return Err(UsageError(
                    "--central-namespace goes with --scope central".into(),
                ));
            }
        };
        self.api_version = api_version;
        self.wildcard_min = a.wildcard_min;
        self.cidr_prefix = a.cidr_prefix;
        self.cidr_prefix_v6 = a.cidr_prefix_v6;
        self.exclude_blocked_only = a.exclude_blocked_only;
        if a.max_entries == Some(0) {
            return Err(UsageError(
                "--max-entries: give 1 or more (0 would write nothing)".into(),
            ));
        }
        self.max_entries = a.max_entries;
        self.include_high_cardinality = a.include_high_cardinality;
        self.central = central;
        Ok(())
    }
}

/// The Istio version of the entries without `--istio-version` (the vendored schemas' version).
pub const DEFAULT_ISTIO_VERSION: &str = "1.22";

/// `--since` / `--until`, in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Window {
    pub fn contains(self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// A format the user gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Custom {
    Text(Template),
    Json(JsonKeys),
}

fn window(a: &RunArgs) -> Result<Option<Window>, UsageError> {
    // A duration is resolved once, here, so every input (and every partial) of the run
    // shares one absolute window.
    let now = crate::parse::time::now();
    let parse = |flag: &str, v: &Option<String>| -> Result<Option<i64>, UsageError> {
        match v {
            None => Ok(None),
            Some(t) => crate::parse::time::parse_when(t, now)
                .map(Some)
                .ok_or_else(|| {
                    UsageError(format!(
                        "{flag} {t:?} is not a time: give an RFC 3339 time (2024-05-01T00:00:00Z), a date (2024-05-01) or a duration before now (24h, 7d, 1d12h)"
                    ))
                }),
        }
    };
    let (since, until) = (parse("--since", &a.since)?, parse("--until", &a.until)?);
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(UsageError("--since must be before --until".into()));
    }
    Ok((since.is_some() || until.is_some()).then_some(Window { since, until }))
}

/// Whether `--mesh-config` has the proxies capture DNS and allocate addresses, as
/// `validate --mesh-config` reads it.
fn mesh_dns_auto_allocate(a: &ReadArgs) -> Result<bool, UsageError> {
    let Some(path) = &a.mesh_config else {
        return Ok(false);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "--mesh-config {}: {}",
            path.display(),
            crate::ingest::io_reason(&e)
        ))
    })?;
    crate::validate::mesh_dns_auto_allocate(&text)
        .map_err(|e| UsageError(format!("--mesh-config {}: {e}", path.display())))
}

fn custom_format(a: &ReadArgs) -> Result<Option<Custom>, UsageError> {
    if let Some(f) = &a.log_format {
        return Template::compile(f, true)
            .map(|t| Some(Custom::Text(t)))
            .map_err(|e| UsageError(format!("--log-format: {e}")));
    }
    if let Some(j) = &a.log_format_json {
        return JsonKeys::compile(j)
            .map(|k| Some(Custom::Json(k)))
            .map_err(UsageError);
    }
    let Some(path) = &a.mesh_config else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "--mesh-config {}: {}",
            path.display(),
            crate::ingest::io_reason(&e)
        ))
    })?;
    let (format, encoding) = mesh_access_log(&text)
        .map_err(|e| UsageError(format!("--mesh-config {}: {e}", path.display())))?;
    match (format.as_deref().map(str::trim), encoding.as_deref()) {
        (None | Some(""), _) => Ok(None),
        (Some(f), Some("JSON")) => {
            JsonKeys::compile(f)
                .map(|k| Some(Custom::Json(k)))
                .map_err(|e| {
                    UsageError(format!(
                        "--mesh-config {}: accessLogFormat: {e}",
                        path.display()
                    ))
                })
        }
        (Some(f), _) => Template::compile(f, true)
            .map(|t| Some(Custom::Text(t)))
            .map_err(|e| {
                UsageError(format!(
                    "--mesh-config {}: accessLogFormat: {e}",
                    path.display()
                ))
            }),
    }
}

/// `accessLogFormat` and `accessLogEncoding` from the `istio` ConfigMap (`data.mesh`, itself
/// YAML), an IstioOperator (`spec.meshConfig`), Helm values (`meshConfig`) or a bare
/// MeshConfig, in any document of a YAML stream. A value of the wrong type (a list, a number)
/// is an error naming the document and the field, as is an encoding other than TEXT or JSON.
pub fn mesh_access_log(text: &str) -> Result<(Option<String>, Option<String>), String> {
    use crate::yaml::{string, wrong};
    let docs = crate::yaml::documents(text).map_err(|e| {
        if e.limit {
            e.message
        } else {
            format!("not YAML: {e}")
        }
    })?;
    let pick =
        |v: &serde_json::Value, at: &str| -> Result<(Option<String>, Option<String>), String> {
            let field = |k: &str| {
                if at.is_empty() {
                    k.to_owned()
                } else {
                    format!("{at}.{k}")
                }
            };
            if !v.is_object() {
                return Ok((None, None));
            }
            let format = string(v, "accessLogFormat", &field("accessLogFormat"))?;
            let encoding = string(v, "accessLogEncoding", &field("accessLogEncoding"))?;
            if let Some(e) = encoding
                && !matches!(e, "TEXT" | "JSON")
            {
                return Err(format!(
                    "{}: expected TEXT or JSON, found {e:?}",
                    field("accessLogEncoding")
                ));
            }
            Ok((format.map(str::to_owned), encoding.map(str::to_owned)))
        };
    for (i, doc) in docs.iter().filter(|d| !d.is_null()).enumerate() {
        let in_doc = |e: String| format!("document {}: {e}", i + 1);
        if let Some(mesh) = doc.pointer("/data/mesh") {
            let serde_json::Value::String(mesh) = mesh else {
                return Err(in_doc(wrong(
                    "data.mesh",
                    "a string (the mesh config as YAML text)",
                    mesh,
                )));
            };
            let inner = crate::yaml::document(mesh)
                .map_err(|e| in_doc(format!("data.mesh is not YAML: {e}")))?;
            return pick(&inner, "data.mesh").map_err(in_doc);
        }
        for (at, field) in [
            ("/spec/meshConfig", "spec.meshConfig"),
            ("/meshConfig", "meshConfig"),
            ("", ""),
        ] {
            if let Some(v) = doc.pointer(at) {
                let found = pick(v, field).map_err(in_doc)?;
                if found.0.is_some() || found.1.is_some() {
                    return Ok(found);
                }
            }
        }
    }
    Ok((None, None))
}

/// The largest `--max-line-bytes` accepted.
pub const MAX_LINE_BYTES: usize = 256 * 1024 * 1024;

/// A usage error: the message names the flag and the value.
#[derive(Debug)]
pub struct UsageError(pub String);

impl Settings {
    pub fn from_args(a: &InputArgs) -> Result<Settings, UsageError> {
        Settings::from_parts(&a.paths, &a.read, Some(&a.run), Some(&a.origin), a.partials)
    }

    /// The settings of a command that reads `paths` with `a`; `run` gives the threads and the
    /// window of a counting run (none for `explain`: one thread, every line); `origin` names
    /// the writer of logs that do not say (none for partial results); `partials` says the
    /// paths are those.
    pub fn from_parts(
        paths: &[PathBuf],
        a: &ReadArgs,
        run: Option<&RunArgs>,
        origin: Option<&OriginArgs>,
        partials: bool,
    ) -> Result<Settings, UsageError> {
        let domain = a.cluster_domain.trim_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if domain.is_empty() || !domain.split('.').all(label_ok) {
            return Err(UsageError(format!(
                "--cluster-domain {:?} is not a DNS domain (for example: cluster.local)",
                a.cluster_domain
            )));
        }
        let threads = match run.and_then(|r| r.threads) {
            Some(0) => return Err(UsageError("--threads 0: give at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if a.max_line_bytes > MAX_LINE_BYTES {
            return Err(UsageError(format!(
                "--max-line-bytes {}: at most {MAX_LINE_BYTES} (256 MiB); every worker holds a buffer this large",
                a.max_line_bytes
            )));
        }
        if a.max_line_bytes < 256 {
            return Err(UsageError(format!(
                "--max-line-bytes {}: too small for an access-log entry (use at least 256)",
                a.max_line_bytes
            )));
        }
        let no_origin = OriginArgs {
            source_namespace: None,
            source_workload: None,
            namespace: None,
            workload: None,
            stdin_name: None,
        };
        let o = origin.unwrap_or(&no_origin);
        for (old, new, given) in [
            ("--namespace", "--source-namespace", &o.namespace),
            ("--workload", "--source-workload", &o.workload),
        ] {
            if given.is_some() {
                return Err(UsageError(format!(
                    "{old} is now {new}: it names the writer of log files that do not say, and never filtered callers; use {new}"
                )));
            }
        }
        if let Some(ns) = &o.source_namespace
            && !crate::validate::is_dns1123_label(ns, false)
        {
            return Err(UsageError(format!(
                "--source-namespace {ns:?} is not a Kubernetes namespace name"
            )));
        }
        if partials && (paths.is_empty() || paths.iter().any(|p| p.as_os_str() == "-")) {
            return Err(UsageError(
                "--partials: give the partial result files (analyze --partial writes them)".into(),
            ));
        }
        let paths = if paths.is_empty() {
            if std::io::stdin().is_terminal() {
                return Err(UsageError(
                    "no input: give log files or directories, or pipe logs on standard input"
                        .into(),
                ));
            }
            vec![PathBuf::from("-")]
        } else {
            paths.to_vec()
        };
        Ok(Settings {
            paths,
            format: match a.format {
                FormatArg::Auto => FormatChoice::Auto,
                FormatArg::Text => FormatChoice::Text,
                FormatArg::Json => FormatChoice::Exact(Format::Json),
                FormatArg::Istio10 => FormatChoice::Exact(Format::Text10),
                FormatArg::Istio11 => FormatChoice::Exact(Format::Text11),
                FormatArg::Istio12 => FormatChoice::Exact(Format::Text12),
                FormatArg::Istio13 => FormatChoice::Exact(Format::Text13),
                FormatArg::Istio18 => FormatChoice::Exact(Format::Text18),
                FormatArg::Istio19 => FormatChoice::Exact(Format::Text19),
            },
            rules: Rules {
                cluster_domain: domain,
                mesh_cidrs: mesh_cidrs(&a.mesh_cidr)?,
            },
            threads,
            max_line_bytes: a.max_line_bytes,
            strict: a.strict,
            quiet: a.quiet,
            namespace: o.source_namespace.clone(),
            workload: o.source_workload.clone(),
            custom: custom_format(a)?.map(Arc::new),
            mesh_dns_auto_allocate: mesh_dns_auto_allocate(a)?,
            track_mesh: false,
            partials,
            stdin_name: o.stdin_name.clone(),
            containers: match &a.containers {
                None => PROXY_CONTAINERS.iter().map(|c| (*c).to_owned()).collect(),
                Some(list) => {
                    let v: Vec<String> = list
                        .split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if v.is_empty() {
                        return Err(UsageError(
                            "--containers: name at least one proxy container".into(),
                        ));
                    }
                    v
                }
            },
            window: match run {
                Some(r) => window(r)?,
                None => None,
            },
            pods: match &a.pods {
                None => None,
                Some(p) => {
                    Some(Arc::new(crate::pods::Pods::read(p).map_err(|e| {
                        UsageError(format!("--pods {}: {e}", p.display()))
                    })?))
                }
            },
            progress: !a.quiet
                && std::io::stderr().is_terminal()
                && std::env::var_os("CI").is_none(),
        })
    }
}

/// `--mesh-cidr` ranges, sorted and without duplicates (so the partial fingerprint does not
/// depend on their order).
fn mesh_cidrs(given: &[String]) -> Result<Vec<crate::classify::Cidr>, UsageError> {
    let mut v = given
        .iter()
        .map(|c| {
            crate::classify::Cidr::parse(c).map_err(|e| UsageError(format!("--mesh-cidr {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// What a command prints on standard output (its `-o`), whatever the command: one dispatch
/// ([`crate::render::write`]) turns a document into any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// For a terminal: the columns that fit 120 characters.
    Text,
    /// `text` with every column.
    Wide,
    Json,
    Markdown,
    /// CSV; `raw` leaves out the guard against spreadsheet formulas.
    Csv {
        raw: bool,
    },
    Yaml,
}

/// `analyze` and `merge`: `-o` (or `--json`); `--csv-raw` needs a CSV to apply to.
pub fn analyze_output(a: &ReportArgs) -> Result<Output, UsageError> {
    let csv = a.output == Some(AnalyzeFormat::Csv) || a.csv.is_some();
    if a.csv_raw && !csv {
        return Err(UsageError(
            "--csv-raw applies to CSV: give --csv FILE or -o csv".into(),
        ));
    }
    Ok(match a.output {
        None if a.json => Output::Json,
        None | Some(AnalyzeFormat::Text) => Output::Text,
        Some(AnalyzeFormat::Wide) => Output::Wide,
        Some(AnalyzeFormat::Json) => Output::Json,
        Some(AnalyzeFormat::Csv) => Output::Csv { raw: a.csv_raw },
    })
}

/// `check` and `migrate`: `-o` (or `--json`, `--markdown`).
pub fn gate_output(output: Option<GateFormat>, json: bool, markdown: bool) -> Output {
    match output {
        None if json => Output::Json,
        None if markdown => Output::Markdown,
        None | Some(GateFormat::Text) => Output::Text,
        Some(GateFormat::Markdown) => Output::Markdown,
        Some(GateFormat::Json) => Output::Json,
    }
}

/// `recommend`'s `-o`.
pub fn recommend_output(f: RecommendFormat) -> Output {
    match f {
        RecommendFormat::Yaml => Output::Yaml,
        RecommendFormat::Json => Output::Json,
    }
}

/// `validate`'s `-o`.
pub fn validate_output(f: ValidateFormat) -> Output {
    match f {
        ValidateFormat::Text => Output::Text,
        ValidateFormat::Json => Output::Json,
    }
}
