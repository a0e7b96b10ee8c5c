//! Validated settings. Clap's structs become these, and no stage sees clap.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::classify::Rules;
use crate::cli::{FormatArg, InputArgs, SelectArgs};
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
    /// `--namespace`: the writer's namespace when the input does not say.
    pub namespace: Option<String>,
    /// `--workload`: the writer's workload when the input does not say.
    pub workload: Option<String>,
    /// Show a progress bar: stderr is a terminal, not in CI, and not `--quiet`.
    pub progress: bool,
}

/// Which destinations become recommendations.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    pub include_private: bool,
}

impl From<&SelectArgs> for Selection {
    fn from(a: &SelectArgs) -> Self {
        Selection {
            include_private: a.include_private,
        }
    }
}

/// The largest `--max-line-bytes` accepted.
pub const MAX_LINE_BYTES: usize = 256 * 1024 * 1024;

/// A usage error: the message names the flag and the value.
#[derive(Debug)]
pub struct UsageError(pub String);

impl Settings {
    pub fn from_args(a: &InputArgs) -> Result<Settings, UsageError> {
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
        let threads = match a.threads {
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
        if let Some(ns) = &a.namespace
            && !crate::validate::is_dns1123_label(ns, false)
        {
            return Err(UsageError(format!(
                "--namespace {ns:?} is not a Kubernetes namespace name"
            )));
        }
        let paths = if a.paths.is_empty() {
            if std::io::stdin().is_terminal() {
                return Err(UsageError(
                    "no input: give log files or directories, or pipe logs on standard input"
                        .into(),
                ));
            }
            vec![PathBuf::from("-")]
        } else {
            a.paths.clone()
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
            },
            threads,
            max_line_bytes: a.max_line_bytes,
            strict: a.strict,
            quiet: a.quiet,
            namespace: a.namespace.clone(),
            workload: a.workload.clone(),
            progress: !a.quiet
                && std::io::stderr().is_terminal()
                && std::env::var_os("CI").is_none(),
        })
    }
}
