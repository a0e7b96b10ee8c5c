//! The result of a run: the sources read and the summary of their lines.

use super::keys::Location;
use super::summary::Summary;
use crate::ingest::Source;

/// The result of a run.
#[derive(Debug)]
pub struct Run {
    /// Sources, sorted by name; [`Location::source`] indexes this.
    pub sources: Vec<Source>,
    pub summary: Summary,
}

impl Run {
    pub fn source_name(&self, i: u32) -> &str {
        self.sources
            .get(i as usize)
            .map_or("?", |s| s.name.as_str())
    }

    /// `path:line` of a location.
    pub fn locate(&self, loc: Location) -> String {
        format!(
            "{}:{}",
            self.source_name(loc.source),
            self.summary.line_number(loc)
        )
    }
}
