//! Exit codes, documented in the README.

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The run finished and every input was read.
    Ok = 0,
    /// Some input could not be read (or, with `--strict`, some lines were malformed).
    Failure = 1,
    /// The command line is wrong.
    Usage = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}
