//! Counter increases between two scrapes, with resets handled the way
//! PromQL's `rate()`/`increase()` handle them: counters only go up, so a
//! value lower than the one before means the process restarted and counted
//! from zero again; the increase is then the whole new value.
//!
//! Summing a range of these pairwise increases gives exactly the reset-
//! corrected increase Prometheus computes over the same samples (it does not
//! extrapolate here: the TUI knows the true times of its own scrapes).

use std::collections::BTreeMap;

use super::series::{Series, Snapshot};

/// The increase of one counter series from `before` to `after`.
/// `restarted` forces the reset rule even when the new value is not lower
/// (a restarted process that already counted past the old value).
pub fn counter_increase(before: f64, after: f64, restarted: bool) -> f64 {
    if restarted || after < before {
        after
    } else {
        after - before
    }
}

/// Whether the process behind the two scrapes changed: its
/// `process_start_time_seconds` differs. A reset Prometheus itself would miss
/// when the new process already counted past the old value.
pub fn restarted(before: &Snapshot, after: &Snapshot) -> bool {
    let name = contract::metrics::PROCESS_START_TIME;
    match (before.get(name, &[]), after.get(name, &[])) {
        (Some(old), Some(new)) => old != new,
        _ => false,
    }
}

/// The summed increase of every series of `name` that `keep` accepts and that
/// both scrapes have. A series seen only in `after` is new: like Prometheus,
/// which needs two samples for a rate, it does not count yet. `None` when no
/// series is in both.
pub fn increase(
    before: &Snapshot,
    after: &Snapshot,
    name: &str,
    keep: impl Fn(&Series) -> bool,
) -> Option<f64> {
    let reset = restarted(before, after);
    after
        .select(name)
        .filter(|(series, _)| keep(series))
        .filter_map(|(series, new)| {
            let old = before.samples.get(series)?;
            Some(counter_increase(*old, new, reset))
        })
        .reduce(|a, b| a + b)
}

/// Like [`increase`], grouped by the value of `label` (`sum by (label)`).
/// Series without the label are skipped.
pub fn increase_by(
    before: &Snapshot,
    after: &Snapshot,
    name: &str,
    label: &str,
    keep: impl Fn(&Series) -> bool,
) -> BTreeMap<String, f64> {
    let reset = restarted(before, after);
    let mut groups = BTreeMap::new();
    for (series, new) in after.select(name).filter(|(series, _)| keep(series)) {
        let (Some(group), Some(old)) = (series.label(label), before.samples.get(series)) else {
            continue;
        };
        *groups.entry(group.to_string()).or_insert(0.0) += counter_increase(*old, new, reset);
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    const COUNT: &str = "http_server_request_duration_seconds_count";

    #[test]
    fn an_increasing_counter_increases_by_the_difference() {
        assert_eq!(counter_increase(10.0, 15.0, false), 5.0);
        assert_eq!(counter_increase(10.0, 10.0, false), 0.0);
    }

    #[test]
    fn a_lower_value_is_a_reset_and_counts_whole() {
        assert_eq!(counter_increase(100.0, 7.0, false), 7.0);
        assert_eq!(counter_increase(100.0, 0.0, false), 0.0);
    }

    #[test]
    fn a_restart_counts_the_new_value_whole_even_when_it_is_higher() {
        assert_eq!(counter_increase(5.0, 9.0, true), 9.0);
    }

    #[test]
    fn requests_between_two_real_scrapes_are_counted_per_series() {
        let before = fixtures::snapshot("metrics_busy_1.txt", 0);
        let after = fixtures::snapshot("metrics_busy_2.txt", 5);
        // The register and failed-login series are new in `after`: not counted,
        // as Prometheus would not count a series with one sample.
        let logins = increase(&before, &after, COUNT, |s| {
            s.label("route") == Some("/api/auth/login")
        });
        assert_eq!(logins, None);
        let health = increase(&before, &after, COUNT, |s| {
            s.label("route") == Some("/api/health") && s.label("status") == Some("200")
        })
        .unwrap();
        let old = before
            .get(COUNT, &[("route", "/api/health"), ("status", "200")])
            .unwrap();
        assert_eq!(health, 47.0 - old);
        assert!(!restarted(&before, &after));
    }

    #[test]
    fn a_real_restart_is_detected_and_counters_count_from_zero() {
        let before = fixtures::snapshot("metrics_busy_2.txt", 0);
        let after = fixtures::snapshot("metrics_restarted.txt", 5);
        assert!(restarted(&before, &after));
        let health = increase(&before, &after, COUNT, |s| {
            s.label("route") == Some("/api/health") && s.label("status") == Some("200")
        });
        let now = after
            .get(COUNT, &[("route", "/api/health"), ("status", "200")])
            .unwrap();
        assert_eq!(health, Some(now));
        let cpu = increase(
            &before,
            &after,
            contract::metrics::PROCESS_CPU_SECONDS,
            |_| true,
        );
        assert_eq!(cpu, after.get(contract::metrics::PROCESS_CPU_SECONDS, &[]));
    }

    #[test]
    fn increase_by_groups_like_sum_by() {
        let before = fixtures::snapshot("metrics_busy_1.txt", 0);
        let after = fixtures::snapshot("metrics_busy_2.txt", 5);
        let by_status = increase_by(&before, &after, COUNT, "status", |_| true);
        assert!(by_status.contains_key("200"));
        assert!(
            !by_status.contains_key("401"),
            "new series do not count yet"
        );
    }
}
