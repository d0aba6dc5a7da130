//! Alert thresholds: the file, the measures the TUI computes for them, and
//! the `for` state machine, all pure. Comparisons use each rule's operator
//! exactly (`>`), so the TUI turns red where Prometheus would.

mod duration;
mod file;
mod measure;
mod state;

pub use duration::{format_duration, parse_duration, range_of};
pub use file::{EMBEDDED, Op, Threshold, Unit, parse_thresholds};
pub use measure::Measure;
pub use state::{AlertState, RuleState, SeriesState};
