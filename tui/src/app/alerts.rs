//! The thresholds and the state of each of their alerts, evaluated at every
//! tick over the instances that are UP (an instance that does not answer
//! has no series, as in Prometheus once its samples go stale), and the
//! instance-down rule (`up == 0`) over every instance polled at least once.

use std::time::{Duration, SystemTime};

use super::target::Target;
use crate::numbers::Reading;
use crate::thresholds::{AlertState, Measure, RuleState, SeriesState, Threshold};

#[derive(Debug, Clone, PartialEq)]
pub struct AlertBoard {
    pub thresholds: Vec<Threshold>,
    pub rules: Vec<RuleState>,
    pub evaluated_at: Option<SystemTime>,
}

/// One row of the Alerts screen: one threshold, shown by its worst series.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow<'a> {
    pub threshold: &'a Threshold,
    /// The series shown: the most severe state, then the highest value.
    /// `None` when the threshold has no series yet (no data, or not computed).
    pub worst: Option<(&'a str, &'a SeriesState)>,
    /// Every series of the threshold (per instance, or per instance and pool).
    pub series: Vec<(&'a str, &'a SeriesState)>,
}

impl AlertBoard {
    pub fn new(thresholds: Vec<Threshold>) -> Self {
        let rules = vec![RuleState::default(); thresholds.len()];
        Self {
            thresholds,
            rules,
            evaluated_at: None,
        }
    }

    /// The longest rule window: how much history the targets keep.
    pub fn longest_window(&self) -> Duration {
        self.thresholds
            .iter()
            .filter_map(|t| t.window)
            .max()
            .unwrap_or(Duration::from_secs(300))
    }

    /// One evaluation of every rule at `now`; `interval` is the polling
    /// interval (three of them without an answer make an instance STALE).
    pub fn evaluate(&mut self, targets: &[Target], now: SystemTime, interval: Duration) {
        for (threshold, rule) in self.thresholds.iter().zip(&mut self.rules) {
            let Some(measure) = threshold.measure else {
                continue;
            };
            let values = if measure == Measure::Up {
                targets
                    .iter()
                    .filter_map(|target| {
                        Some((target.name.clone(), Some(target.up(now, interval)?)))
                    })
                    .collect()
            } else {
                let window = if measure.needs_rates() {
                    threshold.window
                } else {
                    None
                };
                let readings: Vec<(String, Reading)> = targets
                    .iter()
                    .filter(|target| target.is_current(now, interval))
                    .filter_map(|target| Some((target.name.clone(), target.reading_over(window)?)))
                    .collect();
                measure.series(&readings)
            };
            rule.evaluate(&values, threshold.op, threshold.value, threshold.hold, now);
        }
        self.evaluated_at = Some(now);
    }

    /// One row per threshold, in the file's order.
    pub fn rows(&self) -> Vec<AlertRow<'_>> {
        self.thresholds
            .iter()
            .zip(&self.rules)
            .map(|(threshold, rule)| {
                let series: Vec<(&str, &SeriesState)> = rule
                    .series
                    .iter()
                    .map(|(name, state)| (name.as_str(), state))
                    .collect();
                let worst = series.iter().copied().max_by(|a, b| {
                    let value = |s: &SeriesState| s.value.unwrap_or(f64::NEG_INFINITY);
                    a.1.state
                        .cmp(&b.1.state)
                        .then(value(a.1).total_cmp(&value(b.1)))
                });
                AlertRow {
                    threshold,
                    worst,
                    series,
                }
            })
            .collect()
    }

    /// The most severe state of any alert.
    pub fn worst(&self) -> AlertState {
        self.rules
            .iter()
            .map(RuleState::worst)
            .max()
            .unwrap_or(AlertState::Ok)
    }

    /// How many alerts (rules, one row each on the Alerts screen) have
    /// `state` as their worst: three rows firing are 3, whatever the number
    /// of instances each fires for.
    pub fn count_alerts(&self, state: AlertState) -> usize {
        self.rules
            .iter()
            .filter(|rule| rule.worst() == state)
            .count()
    }

    /// How many series (alert instances, as Alertmanager counts them) are in `state`.
    pub fn count(&self, state: AlertState) -> usize {
        self.rules
            .iter()
            .flat_map(|rule| rule.series.values())
            .filter(|s| s.state == state)
            .count()
    }
}
