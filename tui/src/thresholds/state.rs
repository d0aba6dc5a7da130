//! The `for` state machine of one alert rule, as Prometheus runs it
//! (rules/alerting.go, `AlertingRule.Eval`): at each evaluation, a series
//! whose value passes the comparison becomes PENDING (active since now), and
//! turns FIRING at the first evaluation where it has been active for at
//! least `for` (at once when `for` is 0). A series that no longer passes, or
//! has no value, is dropped from PENDING straight back to OK, and a FIRING
//! one resolves to OK.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::file::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Ok,
    Pending,
    Firing,
}

impl AlertState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Pending => "PENDING",
            Self::Firing => "FIRING",
        }
    }
}

/// One series of one rule after the latest evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesState {
    pub value: Option<f64>,
    pub state: AlertState,
    /// When the state last changed (or the series was first evaluated).
    pub since: SystemTime,
    /// When the condition started to hold (PENDING and FIRING only).
    pub active_at: Option<SystemTime>,
}

/// The state of every series of one rule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleState {
    pub series: BTreeMap<String, SeriesState>,
}

impl RuleState {
    /// One evaluation at `now` of `value <op> threshold` held for `hold`,
    /// over the series the measure yields now. Series absent from `values`
    /// keep their row with no value and, like absent series in Prometheus,
    /// stop being active.
    pub fn evaluate(
        &mut self,
        values: &[(String, Option<f64>)],
        op: Op,
        threshold: f64,
        hold: Duration,
        now: SystemTime,
    ) {
        for state in self.series.values_mut() {
            state.value = None;
        }
        for (name, value) in values {
            let holds = value.is_some_and(|v| op.holds(v, threshold));
            let entry = self.series.entry(name.clone()).or_insert(SeriesState {
                value: None,
                state: AlertState::Ok,
                since: now,
                active_at: None,
            });
            entry.value = *value;
            if holds && entry.state == AlertState::Ok {
                entry.state = AlertState::Pending;
                entry.active_at = Some(now);
                entry.since = now;
            }
        }
        for (name, state) in &mut self.series {
            let holds = values.iter().any(|(series, value)| {
                series == name && value.is_some_and(|v| op.holds(v, threshold))
            });
            if !holds {
                if state.state != AlertState::Ok {
                    state.state = AlertState::Ok;
                    state.active_at = None;
                    state.since = now;
                }
                continue;
            }
            let active_for = state
                .active_at
                .and_then(|at| now.duration_since(at).ok())
                .unwrap_or_default();
            if state.state == AlertState::Pending && active_for >= hold {
                state.state = AlertState::Firing;
                state.since = now;
            }
        }
    }

    /// The most severe state over the series (OK when there is none).
    pub fn worst(&self) -> AlertState {
        self.series
            .values()
            .map(|s| s.state)
            .max()
            .unwrap_or(AlertState::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + seconds)
    }

    const FIVE_MIN: Duration = Duration::from_secs(300);

    fn eval(rule: &mut RuleState, value: Option<f64>, at: u64) -> AlertState {
        rule.evaluate(&[("i".into(), value)], Op::Gt, 0.2, FIVE_MIN, t(at));
        rule.series["i"].state
    }

    #[test]
    fn a_breach_is_pending_until_it_has_held_for_the_for_duration() {
        let mut rule = RuleState::default();
        assert_eq!(eval(&mut rule, Some(0.201), 0), AlertState::Pending);
        assert_eq!(eval(&mut rule, Some(0.25), 150), AlertState::Pending);
        assert_eq!(eval(&mut rule, Some(0.25), 299), AlertState::Pending);
        assert_eq!(eval(&mut rule, Some(0.25), 300), AlertState::Firing);
        let state = &rule.series["i"];
        assert_eq!(state.active_at, Some(t(0)));
        assert_eq!(state.since, t(300));
    }

    #[test]
    fn a_single_evaluation_below_resets_pending_and_the_clock_starts_again() {
        let mut rule = RuleState::default();
        eval(&mut rule, Some(0.3), 0);
        assert_eq!(eval(&mut rule, Some(0.199), 200), AlertState::Ok);
        assert_eq!(eval(&mut rule, Some(0.3), 250), AlertState::Pending);
        assert_eq!(
            eval(&mut rule, Some(0.3), 500),
            AlertState::Pending,
            "held 250 s only"
        );
        assert_eq!(eval(&mut rule, Some(0.3), 550), AlertState::Firing);
    }

    #[test]
    fn firing_resolves_to_ok_when_the_value_drops_or_disappears() {
        let mut rule = RuleState::default();
        eval(&mut rule, Some(0.3), 0);
        eval(&mut rule, Some(0.3), 300);
        assert_eq!(
            eval(&mut rule, Some(0.2), 310),
            AlertState::Ok,
            "0.2 is not > 0.2"
        );
        assert_eq!(rule.series["i"].since, t(310));
        eval(&mut rule, Some(0.3), 320);
        eval(&mut rule, Some(0.3), 620);
        assert_eq!(rule.series["i"].state, AlertState::Firing);
        // The instance stops answering: its series is absent.
        rule.evaluate(&[], Op::Gt, 0.2, FIVE_MIN, t(630));
        assert_eq!(rule.series["i"].state, AlertState::Ok);
        assert_eq!(rule.series["i"].value, None);
    }

    #[test]
    fn no_value_is_never_a_breach() {
        let mut rule = RuleState::default();
        assert_eq!(eval(&mut rule, None, 0), AlertState::Ok);
        assert_eq!(eval(&mut rule, Some(f64::NAN), 10), AlertState::Ok);
    }

    #[test]
    fn with_for_zero_a_breach_fires_at_the_first_evaluation() {
        let mut rule = RuleState::default();
        rule.evaluate(
            &[("i".into(), Some(1.0))],
            Op::Gt,
            0.2,
            Duration::ZERO,
            t(0),
        );
        assert_eq!(rule.series["i"].state, AlertState::Firing);
    }

    #[test]
    fn threshold_plus_and_minus_epsilon_use_the_rules_strict_comparison() {
        // 199 ms vs 201 ms against 200 ms; 0.99 % vs 1.01 % against 1 %.
        for (value, threshold, expected) in [
            (0.199, 0.2, AlertState::Ok),
            (0.2, 0.2, AlertState::Ok),
            (0.201, 0.2, AlertState::Pending),
            (0.0099, 0.01, AlertState::Ok),
            (1.0 / 100.0, 0.01, AlertState::Ok),
            (0.0101, 0.01, AlertState::Pending),
        ] {
            let mut rule = RuleState::default();
            rule.evaluate(
                &[("i".into(), Some(value))],
                Op::Gt,
                threshold,
                FIVE_MIN,
                t(0),
            );
            assert_eq!(rule.series["i"].state, expected, "{value} > {threshold}");
        }
    }

    #[test]
    fn series_are_independent_and_the_worst_state_wins() {
        let mut rule = RuleState::default();
        let values = |a: f64, b: f64| vec![("a".to_string(), Some(a)), ("b".to_string(), Some(b))];
        rule.evaluate(&values(0.3, 0.1), Op::Gt, 0.2, FIVE_MIN, t(0));
        rule.evaluate(&values(0.3, 0.3), Op::Gt, 0.2, FIVE_MIN, t(300));
        assert_eq!(rule.series["a"].state, AlertState::Firing);
        assert_eq!(rule.series["b"].state, AlertState::Pending);
        assert_eq!(rule.worst(), AlertState::Firing);
        assert_eq!(RuleState::default().worst(), AlertState::Ok);
    }
}
