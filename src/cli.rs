//! The command-line surface, all of it. Nothing outside this file and `config.rs` sees clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Turns Istio sidecar access logs into least-privilege ServiceEntries.
///
/// Reads exported access logs (files, directories, gzip or zstd, stdin), classifies every line
/// (passthrough, blocked, registered, internal, inbound), aggregates the external destinations
/// the workloads really use, and writes ServiceEntries Istio accepts as they are, each with the
/// evidence behind it.
#[derive(Debug, Parser)]
#[command(
    name = "egress-advisor",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("EGRESS_ADVISOR_COMMIT"), ")"),
    long_version = long_version(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: the package's version, the commit it was built from (`unknown` when the build
/// could not tell) and the Public Suffix List's version that bounds `--wildcard-min`.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let raw = crate::recommend::public_suffix_list_version();
        // `2026-11-04_19-07-29_UTC` -> `2026-11-04 19:07:29 UTC`.
        let date = match raw.split('_').collect::<Vec<_>>()[..] {
            [day, time, zone] => format!("{day} {} {zone}", time.replace('-', ":")),
            _ => raw.to_owned(),
        };
        format!(
            "{} (commit {})\nPublic Suffix List of {date} (MPL-2.0, https://publicsuffix.org/): bounds --wildcard-min",
            env!("CARGO_PKG_VERSION"),
            env!("EGRESS_ADVISOR_COMMIT")
        )
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Report the external destinations in the logs, with usage statistics and an
    /// accounting of every line read.
    Analyze(AnalyzeArgs),
    /// Write least-privilege ServiceEntries for the undeclared external destinations, as one
    /// multi-document YAML stream with the evidence as comments.
    Recommend(RecommendArgs),
    /// The CI gate: exit 1 when traffic left (or tried to leave) for an external destination
    /// that no existing ServiceEntry, allow-file entry or baseline declares.
    Check(CheckArgs),
    /// Can the mesh switch from ALLOW_ANY to REGISTRY_ONLY? Coverage per namespace, what would
    /// break, the ServiceEntries that close the gap, and a rollout order.
    Migrate(MigrateArgs),
    /// Merge partial results (written by `analyze --partial`) into the report one run over all
    /// their inputs would give; `--partial FILE` writes the merged partial, to merge further.
    /// `recommend`, `check` and `migrate` take `--partials` for the same fan-in.
    Merge(MergeArgs),
    /// Print the input files a run over PATH would read, one per line, in the order reports
    /// list them (for batch jobs that hand one file to each task).
    ListInputs(ListInputsArgs),
    /// Print how each line was read and classified, one JSON object per line.
    Explain(ExplainArgs),
    /// Check ServiceEntry and Sidecar manifests against Istio's CRD schemas and istiod's
    /// validation rules; exit 1 on any error.
    Validate(ValidateArgs),
    /// Print an Istio Telemetry that turns access logging on only for traffic that leaves the
    /// mesh (passthrough, refused, ServiceEntry hosts outside the cluster domain), and the
    /// MeshConfig provider it names: logs cost less, and every command here keeps its figures.
    Telemetry(TelemetryArgs),
    /// Print a shell completion script: `egress-advisor completions bash > /etc/bash_completion.d/egress-advisor`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), every subcommand in one page: `egress-advisor man | man -l -`.
    /// `--dir DIR` writes one page per command instead, to install (`egress-advisor.1`,
    /// `egress-advisor-analyze.1`, ...).
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into DIR instead of one page to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// YAML or JSON files (multi-document, or `List`s as `kubectl get -o yaml` prints them),
    /// folders of them, or `-` for stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// What to print on standard output.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        default_value = "text",
        value_parser = OutputParser::<ValidateFormat>::new(""),
    )]
    pub output: ValidateFormat,

    /// The lowest level that fails the run (exit 1): `error`, or `warning` to fail on Istio's
    /// warnings too.
    #[arg(long, value_name = "LEVEL", default_value = "error")]
    pub fail_on: FailOn,

    /// The Istio release whose rules apply where they differ by version (partial wildcard
    /// hosts are warned about from 1.18; istiod allocates addresses by default from 1.25).
    /// The default is the release the built-in schemas come from.
    #[arg(long, value_name = "X.Y", default_value = "1.30")]
    pub istio_version: String,

    /// The mesh's configuration (the `istio` ConfigMap, an IstioOperator, or MeshConfig
    /// YAML): DNS capture and address auto-allocation in `defaultConfig.proxyMetadata` turn
    /// `istioctl analyze`'s IST0134 off.
    #[arg(long, value_name = "FILE")]
    pub mesh_config: Option<PathBuf>,
}

/// `validate --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Errors fail; warnings alone exit 0.
    Error,
    /// Warnings fail too.
    Warning,
}

#[derive(Debug, Args)]
pub struct TelemetryArgs {
    /// The namespace whose workloads log (default: the root namespace, mesh-wide).
    #[arg(value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The mesh's root namespace (`meshConfig.rootNamespace`): a Telemetry there applies to
    /// every workload of the mesh.
    #[arg(long, default_value = "istio-system", value_name = "NS")]
    pub root_namespace: String,

    /// The Kubernetes cluster domain: ServiceEntry hosts under it are in-mesh and not logged.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub cluster_domain: String,

    /// The Istio version: `telemetry.istio.io/v1` from 1.22, `v1alpha1` before (from 1.16.2,
    /// the first with the attribute the filter needs), and Istio's default text format of that
    /// version.
    #[arg(long, value_name = "X.Y", default_value = "1.22")]
    pub istio_version: String,

    /// The mesh's current configuration (YAML or JSON files, folders, or `-`; repeatable): a
    /// Telemetry without a selector already in NAMESPACE is printed merged (its accessLogging
    /// replaced, the old entries shown as a comment), never duplicated.
    #[arg(long, value_name = "PATH")]
    pub existing: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListInputsArgs {
    /// Log files and directories, as `analyze` takes them.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Log files, directories (walked recursively in sorted order) or `-` for stdin.
    /// With no path, standard input is read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub origin: OriginArgs,

    /// The PATH arguments are partial results (written by `analyze --partial`) to merge, not
    /// logs. The options that decide how lines are read (--format, --cluster-domain, a custom
    /// format, --since/--until, --max-line-bytes) must be those the partials were written with.
    #[arg(long)]
    pub partials: bool,
}

/// How lines are read and counted: what a partial result records, so `merge` takes these too.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The log format. `auto` recognises each line: Istio text of any version, Istio JSON,
    /// and noise (agent and Envoy application logs).
    #[arg(long, value_enum, default_value_t = FormatArg::Auto, value_name = "FORMAT")]
    pub format: FormatArg,

    /// The Kubernetes cluster domain: names under it are in-mesh, never external.
    #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
    pub cluster_domain: String,

    /// The cluster's pod or service address range (CIDR; repeatable): passthrough or blocked
    /// traffic to an address in it is in-mesh. Only these ranges and Istio's auto-allocated
    /// addresses make traffic in-mesh: a Host header or SNI never does.
    #[arg(long, value_name = "CIDR")]
    pub mesh_cidr: Vec<String>,

    /// Lines longer than this are counted as malformed and skipped unread.
    #[arg(long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub max_line_bytes: usize,

    /// Exit 3 when any line is malformed, as when an input cannot be read.
    #[arg(long)]
    pub strict: bool,

    /// A custom text format: the Envoy format string of `meshConfig.accessLogFormat` or of a
    /// Telemetry provider's `logFormat.text`. Entries that do not match it are still read as
    /// Istio's default formats.
    #[arg(long, value_name = "FORMAT", conflicts_with_all = ["log_format_json", "mesh_config"])]
    pub log_format: Option<String>,

    /// A custom JSON format: the JSON object of key to operator of a Telemetry provider's
    /// `logFormat.labels`, so renamed keys are read.
    #[arg(long, value_name = "JSON", conflicts_with = "mesh_config")]
    pub log_format_json: Option<String>,

    /// Read `accessLogFormat` and `accessLogEncoding` from the mesh's configuration: the
    /// `istio` ConfigMap, an IstioOperator, or MeshConfig YAML.
    #[arg(long, value_name = "FILE")]
    pub mesh_config: Option<PathBuf>,

    /// The containers whose lines are traffic, comma-separated (default
    /// istio-proxy,ztunnel,istio-ingressgateway,istio-egressgateway,waypoint). When an envelope
    /// or a node log path names another container, its entry-like lines are an application's
    /// output, counted apart and never read as traffic: any workload can print one.
    #[arg(long, value_name = "NAMES")]
    pub containers: Option<String>,

    /// The cluster's pods (`kubectl get pods -A -o json`, taken close to log time): the owner
    /// workload and service account of the pods ztunnel lines name (ambient mode).
    #[arg(long, value_name = "FILE")]
    pub pods: Option<PathBuf>,

    /// No progress bar and no notes on stderr; errors are still reported. (The progress bar
    /// only shows on a terminal, outside CI, for runs longer than a second.)
    #[arg(short, long)]
    pub quiet: bool,
}

/// How a counting run works: its threads and the time window it counts. `explain` shows every
/// line as it is read, so it takes neither.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Only count outbound entries that started at or after this time; earlier ones are
    /// counted as `outside`. An RFC 3339 time (2024-05-01T00:00:00Z), a date (2024-05-01, its
    /// first instant in UTC) or a duration before now (24h, 7d, 1d12h; units s m h d w),
    /// resolved once when the run starts: partials record the absolute time, and a merge of
    /// them takes that time, not the duration.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only count outbound entries that started before this time (as --since takes it).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// Who wrote inputs that do not say: logs only, never partial results.
#[derive(Debug, Args)]
pub struct OriginArgs {
    /// The namespace of the workloads that wrote these logs, for inputs that do not say
    /// (plain files; envelopes and node log paths that name it take precedence). It names the
    /// writer; it does not filter anything.
    #[arg(long, value_name = "NS")]
    pub source_namespace: Option<String>,

    /// The workload that wrote these logs, for inputs that do not say.
    #[arg(long, value_name = "NAME")]
    pub source_workload: Option<String>,

    /// The former name of --source-namespace, refused so that no command line silently
    /// changes meaning (it never filtered callers).
    #[arg(long, value_name = "NS", hide = true)]
    pub namespace: Option<String>,

    /// The former name of --source-workload, refused likewise.
    #[arg(long, value_name = "NAME", hide = true)]
    pub workload: Option<String>,

    /// The name standard input gets in reports (default `-`), for example the object a batch
    /// job streams in; a node log path (`.../pods/NS_POD_UID/...`) there names the writer too.
    #[arg(long, value_name = "NAME")]
    pub stdin_name: Option<String>,
}

/// Which destinations count, and what the config already covers.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// `recommend`: also write STATIC entries for destinations known only by a private or
    /// special-purpose address (RFC 1918, CGNAT, link-local, ULA, documentation), and for cloud
    /// metadata services: they are usually pods, nodes or VPC networks, to review first.
    /// (`check` and `migrate` always count them: REGISTRY_ONLY refuses them too; a host name
    /// outside the cluster domain is recommended whatever its address.)
    #[arg(long)]
    pub include_private: bool,

    /// The mesh's current ServiceEntries and Sidecars (YAML or JSON files, folders, or `-`;
    /// repeatable): destinations they already cover, for the namespaces that called them, are
    /// reported with the entry that covers them and get no new ServiceEntry.
    #[arg(long, value_name = "PATH")]
    pub existing: Vec<PathBuf>,

    /// Leave out destinations with fewer passthrough or blocked entries than this.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_requests: u64,

    /// Leave out hosts matching this name, or `*.suffix` for every name below it (repeatable).
    #[arg(long, value_name = "HOST")]
    pub exclude_host: Vec<String>,

    /// Write no entries for calls from this namespace (repeatable).
    #[arg(long, value_name = "NS")]
    pub exclude_namespace: Vec<String>,

    /// A registrable domain (by the Public Suffix List), IPv4 /24 or IPv6 /48 with more than N
    /// distinct host names or addresses below it is a finding: many random names under one
    /// parent is the signature of DNS tunnelling or a scanner. `recommend` leaves its children
    /// out (see --include-high-cardinality). 0 turns the finding off.
    #[arg(long, value_name = "N", default_value_t = crate::cardinality::DEFAULT_THRESHOLD)]
    pub cardinality_threshold: usize,
}

/// Which destinations count, and the shape of the ServiceEntries written for them.
#[derive(Debug, Args)]
pub struct SelectArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    #[command(flatten)]
    pub shape: ShapeArgs,
}

/// The shape of the ServiceEntries written.
#[derive(Debug, Args)]
pub struct ShapeArgs {
    /// The Istio version the entries are for: `networking.istio.io/v1` from 1.22, `v1beta1`
    /// before (default 1.22; in ambient mode 1.24, the first to bind an AuthorizationPolicy to a
    /// ServiceEntry).
    #[arg(long, value_name = "X.Y")]
    pub istio_version: Option<String>,

    /// Widen explicitly: N or more sibling hosts under one parent become one `*.parent` entry
    /// (resolution NONE; only HTTP and TLS hosts have names to match). Never wider than a
    /// registrable domain: hosts whose parent is a public suffix (`co.uk`, `github.io`) stay
    /// exact.
    #[arg(long, value_name = "N")]
    pub wildcard_min: Option<usize>,

    /// Widen explicitly: IPv4 address-only destinations that share a network of this prefix
    /// length (16 to 32) become one entry for the range (resolution NONE).
    #[arg(long, value_name = "BITS")]
    pub cidr_prefix: Option<u8>,

    /// As --cidr-prefix, for IPv6 addresses (a prefix length from 32 to 128).
    #[arg(long, value_name = "BITS")]
    pub cidr_prefix_v6: Option<u8>,

    /// Write no entry for a destination whose every attempt was refused (blocked only): in a
    /// REGISTRY_ONLY mesh that may be a compromised workload calling out. Without it, such
    /// entries are written and marked for review.
    #[arg(long)]
    pub exclude_blocked_only: bool,

    /// Also write entries for the children of a high-cardinality parent (more than
    /// --cardinality-threshold names or addresses under one domain or network), which are
    /// otherwise left out and summed up in the comments: review them first.
    #[arg(long)]
    pub include_high_cardinality: bool,

    /// Write at most N ServiceEntries: those with the most undeclared traffic, ties by
    /// namespace and name; the comments at the top count and name the ones left out.
    #[arg(long, value_name = "N")]
    pub max_entries: Option<usize>,

    /// Where entries go: `namespace` (each in the namespace that used it) or `central` (all in
    /// --central-namespace, exported to exactly the namespaces that used each).
    #[arg(long, value_enum, default_value_t = Scope::Namespace)]
    pub scope: Scope,

    /// The namespace that holds every entry with `--scope central`.
    #[arg(long, value_name = "NS")]
    pub central_namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scope {
    /// One entry per namespace that used a destination.
    Namespace,
    /// One entry per destination, in one namespace.
    Central,
}

/// What `analyze` and `merge` print, and the files they write besides.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// What to print on standard output (default `text`). `--json` is kept as another name
    /// for `-o json`.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = OutputParser::<AnalyzeFormat>::new(""),
    )]
    pub output: Option<AnalyzeFormat>,

    /// The former spelling of `-o json`.
    #[arg(long, hide = true, conflicts_with = "output")]
    pub json: bool,

    /// Also write the destinations table as CSV to FILE (`-` for stdout, as `-o csv`).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Write the CSV values as they are. By default a cell starting with `=`, `+`, `-`, `@`,
    /// tab or carriage return gets a `'` in front, so that a spreadsheet does not run a host
    /// from the logs as a formula.
    #[arg(long)]
    pub csv_raw: bool,

    /// Also write a self-contained HTML report to FILE: summary, charts, a sortable and
    /// filterable destinations table, namespaces and the recommended manifests.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Also write this run's partial result to FILE: every count the reports and manifests
    /// are built from, for `merge` to combine with others.
    #[arg(long, value_name = "FILE")]
    pub partial: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub report: ReportArgs,
}

/// `merge`: partial results in, the report out. The reading options must be those the
/// partials were written with (they are compared); who wrote the logs is in the partials.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Partial result files (written by `analyze --partial`).
    #[arg(value_name = "PARTIAL", required = true)]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    /// What to print: the manifests as YAML or JSON. `--write FILE` writes them to a file
    /// instead of standard output.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        default_value = "yaml",
        value_parser = OutputParser::<RecommendFormat>::new(
            "-o picks the format; write the manifests to a file with --write FILE"
        ),
    )]
    pub output: RecommendFormat,

    /// Write the manifests to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// Write the manifests into DIR for GitOps instead of standard output: a folder per
    /// namespace, a file per manifest and `kustomization.yaml` files, so that
    /// `kubectl kustomize DIR` gives the same objects. A re-run updates DIR: the tool's files
    /// it no longer recommends are removed, other files are never touched.
    #[arg(long, value_name = "DIR", conflicts_with = "write")]
    pub output_dir: Option<PathBuf>,

    /// Also write a Sidecar for each namespace the logs name: egress limited to exactly what
    /// its workloads used (in-mesh services, ServiceEntries, istio-system) and
    /// `outboundTrafficPolicy: REGISTRY_ONLY`, to lock one namespace down before the mesh.
    /// With --existing, a Sidecar that already applies to those workloads is extended instead.
    #[arg(long)]
    pub sidecars: bool,

    #[command(flatten)]
    pub ambient: AmbientArgs,
}

/// `recommend` in ambient mode: ServiceEntries bound to an egress waypoint, the waypoint, an
/// AuthorizationPolicy per entry and, optionally, NetworkPolicies.
#[derive(Debug, Args)]
pub struct AmbientArgs {
    /// `sidecar` (ServiceEntries per namespace, Sidecars) or `ambient` (waypoint-bound
    /// ServiceEntries with AuthorizationPolicies). By default, ambient when the logs hold
    /// ztunnel lines and no sidecar egress.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,

    /// Ambient mode: the namespace that holds every ServiceEntry and AuthorizationPolicy
    /// (ztunnel ignores exportTo, so per-namespace copies would collide).
    #[arg(long, value_name = "NS", default_value = "istio-egress")]
    pub egress_namespace: String,

    /// Ambient mode: the egress waypoint's name.
    #[arg(long, value_name = "NAME", default_value = "waypoint")]
    pub waypoint: String,

    /// Ambient mode: the egress waypoint's namespace (default: --egress-namespace).
    #[arg(long, value_name = "NS")]
    pub waypoint_namespace: Option<String>,

    /// Ambient mode: also write a NetworkPolicy per caller namespace that denies direct
    /// egress out of the cluster, keeping DNS and in-mesh HBONE (port 15008).
    #[arg(long)]
    pub network_policy: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Sidecar,
    Ambient,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub filter: FilterArgs,

    /// Destinations allowed without a ServiceEntry: YAML, `allow:` a list of `host` (or
    /// `*.suffix`) or `cidr`, an optional `port`, a `reason` and an optional `expires` date
    /// (YYYY-MM-DD; an expired entry fails the check).
    #[arg(long, value_name = "FILE")]
    pub allow: Option<PathBuf>,

    /// Destinations accepted as they are today (written by --update-baseline): only others
    /// fail the check.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Rewrite the --baseline file with today's undeclared destinations.
    #[arg(long, requires = "baseline")]
    pub update_baseline: bool,

    /// What to print on standard output (default `text`). `--json` and `--markdown` are kept
    /// as other names for `-o json` and `-o markdown`.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = OutputParser::<GateFormat>::new(""),
    )]
    pub output: Option<GateFormat>,

    /// The former spelling of `-o markdown`.
    #[arg(long, hide = true, conflicts_with_all = ["json", "output"])]
    pub markdown: bool,

    /// The former spelling of `-o json`.
    #[arg(long, hide = true, conflicts_with = "output")]
    pub json: bool,

    /// Pass when no access-log entry was recognised in the input (by default that exits 4:
    /// an empty directory, /dev/null or logs in an unknown envelope check nothing).
    #[arg(long)]
    pub allow_empty: bool,

    /// Also write JUnit XML to FILE: one test case per destination, failed when undeclared.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write SARIF 2.1.0 to FILE, for code-scanning views (GitHub's upload-sarif): one
    /// result per undeclared destination, metadata-service call, expired allow entry and
    /// high-cardinality parent, pointing at the allow file (else --existing, --baseline, the
    /// first input), within GitHub's limits of 25,000 results and 10 MB.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,

    /// Also write a self-contained HTML report to FILE: summary, charts, a sortable and
    /// filterable destinations table, namespaces and the recommended manifests.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Also write the ServiceEntries that close the gap, as YAML, to FILE: what `recommend`
    /// writes for the undeclared destinations alone (a passing check writes none).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub select: SelectArgs,

    /// What to print on standard output (default `text`). `--json` and `--markdown` are kept
    /// as other names for `-o json` and `-o markdown`.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        value_parser = OutputParser::<GateFormat>::new(
            "-o picks the format; write the ServiceEntries that close the gap with --write FILE"
        ),
    )]
    pub output: Option<GateFormat>,

    /// The former spelling of `-o markdown`.
    #[arg(long, hide = true, conflicts_with_all = ["json", "output"])]
    pub markdown: bool,

    /// The former spelling of `-o json`.
    #[arg(long, hide = true, conflicts_with = "output")]
    pub json: bool,

    /// Accept an input in which no access-log entry was recognised (by default that exits 4).
    #[arg(long)]
    pub allow_empty: bool,

    /// Also write the ServiceEntries that close the gap, as YAML, to FILE.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// The former name of --write, refused (`--write FILE` writes the manifests everywhere).
    #[arg(long, value_name = "FILE", hide = true)]
    pub entries: Option<PathBuf>,

    /// Also write a self-contained HTML report to FILE: summary, charts, a sortable and
    /// filterable destinations table, namespaces and the recommended manifests.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Log files, directories (walked recursively in sorted order) or `-` for stdin.
    /// With no path, standard input is read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub read: ReadArgs,

    #[command(flatten)]
    pub origin: OriginArgs,

    /// What to print on standard output.
    #[arg(
        short = 'o',
        long,
        value_name = "FORMAT",
        default_value = "jsonl",
        value_parser = OutputParser::<ExplainFormat>::new(""),
    )]
    pub output: ExplainFormat,
}

/// What `analyze` and `merge` print (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// The main columns (fits 120 columns) and the accounting of every line.
    Text,
    /// Every column.
    Wide,
    /// The report as one JSON document.
    Json,
    /// The destinations table as CSV.
    Csv,
}

/// What `recommend` prints (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecommendFormat {
    /// A multi-document YAML stream, with the evidence as comments.
    Yaml,
    /// One `v1` `List` of the manifests.
    Json,
}

/// What `check` and `migrate` print (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateFormat {
    /// For a terminal or a CI log.
    Text,
    /// For a pull-request comment or a CI job summary.
    Markdown,
    /// One JSON document.
    Json,
}

/// What `explain` prints (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// One JSON object per line read.
    Jsonl,
}

/// What `validate` prints (`-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// One line per error, then a count.
    Text,
    /// One JSON document: every manifest checked, with its errors.
    Json,
}

/// `-o FORMAT`: one of a command's formats. A value that is not one (a file name, as
/// `recommend -o FILE` once took) is a usage error that says where files go.
#[derive(Clone)]
pub struct OutputParser<E> {
    hint: &'static str,
    formats: std::marker::PhantomData<E>,
}

impl<E> OutputParser<E> {
    pub fn new(hint: &'static str) -> Self {
        OutputParser {
            hint,
            formats: std::marker::PhantomData,
        }
    }
}

impl<E: ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser
    for OutputParser<E>
{
    type Value = E;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<E, clap::Error> {
        let parsed = clap::builder::EnumValueParser::<E>::new().parse_ref(cmd, arg, value);
        if self.hint.is_empty() {
            return parsed;
        }
        parsed.map_err(|_| {
            let names: Vec<String> = E::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|v| v.get_name().to_owned())
                .collect();
            let mut cmd = cmd.clone();
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "invalid value '{}' for '-o, --output <FORMAT>': the formats are {}; {}",
                    value.to_string_lossy(),
                    names.join(", "),
                    self.hint
                ),
            )
            .format(&mut cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            E::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value()),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Recognise each line.
    Auto,
    /// Istio text, any version.
    Text,
    /// Istio JSON (`accessLogEncoding: JSON`).
    Json,
    /// Istio 1.0 text.
    #[value(name = "istio-1.0")]
    Istio10,
    /// Istio 1.1 text (Mixer status, no route).
    #[value(name = "istio-1.1")]
    Istio11,
    /// Istio 1.2 text.
    #[value(name = "istio-1.2")]
    Istio12,
    /// Istio 1.3 to 1.7 text.
    #[value(name = "istio-1.3")]
    Istio13,
    /// Istio 1.8 text.
    #[value(name = "istio-1.8")]
    Istio18,
    /// Istio 1.9 and later text.
    #[value(name = "istio-1.9")]
    Istio19,
}
