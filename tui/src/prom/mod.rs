//! Prometheus text exposition and the PromQL maths the TUI does on it: all
//! pure, tested against scrapes captured from the real server
//! (`tests/fixtures/metrics_*.txt`).

mod counter;
mod parse;
mod quantile;
mod series;

pub use counter::{counter_increase, increase, increase_by, restarted};
pub use parse::{ParseError, parse};
pub use quantile::{Bucket, histogram_quantile};
pub use series::{Series, Snapshot};

/// Fixtures captured from a real tenk-server by `tests/fixtures/capture.sh`.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::time::{Duration, SystemTime};

    use super::{Snapshot, parse};

    /// The text of one fixture file.
    pub(crate) fn text(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A fixture parsed as if scraped at [`at`]`(seconds)`.
    pub(crate) fn snapshot(name: &str, seconds: u64) -> Snapshot {
        parse(&text(name), at(seconds)).unwrap()
    }

    /// A fixed wall-clock time, `seconds` after the fixtures were captured.
    pub(crate) fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_913_760 + seconds)
    }
}
