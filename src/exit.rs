//! Exit codes, documented in docs/troubleshooting.md ("Exit codes"). Each code means one thing, so a CI job
//! can act on it: findings are never confused with inputs that could not be read.

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// The run finished, every input was read, and there is nothing to act on.
    Ok = 0,
    /// Findings: `check` found undeclared destinations or an expired allow entry, `migrate`
    /// found traffic that would break, `validate` found invalid manifests.
    Findings = 1,
    /// The command line is wrong, or a configuration file it names (`--existing`, `--allow`,
    /// `--baseline`, a partial result, the mesh config) is unreadable or invalid.
    Usage = 2,
    /// A log input could not be read, or not to its end, or changed while it was read (or,
    /// with `--strict`, held malformed lines); or an output could not be written.
    Unreadable = 3,
    /// `check`, `migrate`: no access-log entry was recognised in the input, so nothing was
    /// checked (`--allow-empty` accepts that).
    NoEntries = 4,
}

impl Exit {
    /// The code of a command with findings (or none) over inputs read with `read`: findings
    /// come first, then what kept the input from being read whole.
    pub fn with_findings(findings: bool, read: Exit) -> Exit {
        if findings { Exit::Findings } else { read }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
