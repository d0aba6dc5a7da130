//! `alerts/thresholds.toml`: the one file of alert thresholds, read here as
//! the rules in `alerts/tenk.rules.yml` read it (format documented at the top
//! of that file). The copy in the repository is built into the binary;
//! `--thresholds FILE` reads another.

use std::time::Duration;

use serde::Deserialize;

use super::duration::{parse_duration, range_of};
use super::measure::Measure;

/// The thresholds file of the repository, embedded at build time.
pub const EMBEDDED: &str = include_str!("../../../alerts/thresholds.toml");

/// A comparison operator of PromQL; the threshold rules use `>`, the
/// instance-down rule `==` (`up == 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

impl Op {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            ">" => Ok(Self::Gt),
            ">=" => Ok(Self::Ge),
            "<" => Ok(Self::Lt),
            "<=" => Ok(Self::Le),
            "==" => Ok(Self::Eq),
            other => Err(format!("op {other:?} is not one of > >= < <= ==")),
        }
    }

    /// Whether `value <op> threshold` keeps the series, as PromQL's filter
    /// comparison does: NaN never does.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Gt => value > threshold,
            Self::Ge => value >= threshold,
            Self::Lt => value < threshold,
            Self::Le => value <= threshold,
            Self::Eq => value == threshold,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "==",
        }
    }
}

/// What the value is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    /// 0..1 (0.8 = 80 %).
    Ratio,
    Count,
}

/// One threshold, checked and ready to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub name: String,
    pub alert: String,
    pub description: String,
    pub metric: String,
    pub expr: String,
    pub op: Op,
    pub value: f64,
    pub unit: Unit,
    /// The rule's `for`: how long the condition must hold before it fires.
    pub hold: Duration,
    pub severity: String,
    pub action: String,
    pub panel: String,
    /// The range of the rule's rates (`[5m]`), if it has one.
    pub window: Option<Duration>,
    /// How the TUI computes the value; `None` for a threshold it does not know.
    pub measure: Option<Measure>,
}

impl Threshold {
    /// Whether `value` breaches the threshold, with the rule's operator.
    pub fn breached(&self, value: f64) -> bool {
        self.op.holds(value, self.value)
    }
}

#[derive(Deserialize)]
struct RawFile {
    version: u32,
    /// The `up == 0` rule; a file without one gets the embedded file's.
    target_down: Option<RawThreshold>,
    #[serde(default)]
    threshold: Vec<RawThreshold>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
}

#[derive(Deserialize)]
struct RawThreshold {
    name: String,
    alert: String,
    description: String,
    metric: String,
    expr: String,
    op: String,
    value: Number,
    /// Absent in `[target_down]` (up is 0 or 1).
    #[serde(default = "count_unit")]
    unit: String,
    #[serde(rename = "for")]
    hold: String,
    severity: String,
    action: String,
    /// Absent in `[target_down]` (no dashboard threshold step).
    #[serde(default)]
    panel: String,
}

fn count_unit() -> String {
    "count".into()
}

/// Reads and checks a thresholds file.
///
/// # Errors
/// A message naming the threshold and the key that is wrong.
pub fn parse_thresholds(text: &str) -> Result<Vec<Threshold>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
    if raw.version != 1 {
        return Err(format!(
            "version {} is not supported (this build reads version 1)",
            raw.version
        ));
    }
    if raw.threshold.is_empty() {
        return Err("no [[threshold]] tables".into());
    }
    let target_down = match raw.target_down {
        Some(raw) => target_down(raw)?,
        None => embedded_target_down()?,
    };
    let mut thresholds = vec![target_down];
    for raw in raw.threshold {
        thresholds.push(check(raw)?);
    }
    Ok(thresholds)
}

/// `[target_down]`: `up == 0` held for `for`, first in the list (the most
/// urgent state an operator can see).
fn target_down(raw: RawThreshold) -> Result<Threshold, String> {
    let mut threshold = check(raw).map_err(|e| format!("[target_down] {e}"))?;
    if threshold.op != Op::Eq || threshold.value != 0.0 {
        return Err(format!(
            "[target_down]: must be `== 0` (up == 0), not `{} {}`",
            threshold.op.as_str(),
            threshold.value
        ));
    }
    threshold.measure = Some(Measure::Up);
    threshold.window = None;
    Ok(threshold)
}

fn embedded_target_down() -> Result<Threshold, String> {
    let raw: RawFile = toml::from_str(EMBEDDED).map_err(|e| e.to_string())?;
    let table = raw
        .target_down
        .ok_or_else(|| "the built-in thresholds file has no [target_down]".to_string())?;
    target_down(table)
}

fn check(raw: RawThreshold) -> Result<Threshold, String> {
    let name = raw.name;
    let context = |message: String| format!("threshold {name:?}: {message}");
    let value = match raw.value {
        Number::Int(value) => value as f64,
        Number::Float(value) => value,
    };
    if !value.is_finite() {
        return Err(context("value must be a finite number".into()));
    }
    let unit = match raw.unit.as_str() {
        "seconds" => Unit::Seconds,
        "ratio" => Unit::Ratio,
        "count" => Unit::Count,
        other => {
            return Err(context(format!(
                "unit {other:?} is not seconds, ratio or count"
            )));
        }
    };
    let op = Op::parse(&raw.op).map_err(context)?;
    let hold = parse_duration(&raw.hold).map_err(|e| context(format!("for: {e}")))?;
    let measure = Measure::for_threshold(&name, &raw.expr);
    Ok(Threshold {
        window: range_of(&raw.expr),
        measure,
        alert: raw.alert,
        description: raw.description,
        metric: raw.metric,
        expr: raw.expr,
        op,
        value,
        unit,
        hold,
        severity: raw.severity,
        action: raw.action,
        panel: raw.panel,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_file_has_instance_down_first_then_the_six_thresholds_of_the_design() {
        let mut thresholds = parse_thresholds(EMBEDDED).unwrap();
        let down = thresholds.remove(0);
        assert_eq!(
            (down.name.as_str(), down.alert.as_str(), down.op, down.value),
            ("InstanceDown", "TenkInstanceDown", Op::Eq, 0.0)
        );
        assert_eq!(down.hold, Duration::from_secs(60));
        assert_eq!(down.measure, Some(Measure::Up));
        assert!(down.breached(0.0) && !down.breached(1.0));
        let summary: Vec<(&str, f64, u64, &str)> = thresholds
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.value,
                    t.hold.as_secs(),
                    t.action.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("HighLatency", 0.2, 300, "Scale up"),
                ("HighErrorRate", 0.01, 300, "Investigate"),
                ("DbPoolSaturated", 0.8, 300, "Add read replicas"),
                ("HighMemory", 0.8, 600, "Scale up"),
                ("HighCpu", 0.7, 600, "Scale up"),
                ("ManySessions", 8000.0, 900, "Prepare for scaling"),
            ]
        );
        assert!(thresholds.iter().all(|t| t.op == Op::Gt));
        assert!(
            thresholds.iter().all(|t| t.measure.is_some()),
            "the TUI computes every one"
        );
        assert_eq!(thresholds[0].window, Some(Duration::from_secs(300)));
        assert_eq!(thresholds[5].window, None);
    }

    #[test]
    fn the_comparison_is_strictly_greater_as_in_the_rules() {
        let t = &parse_thresholds(EMBEDDED).unwrap()[1];
        assert!(!t.breached(0.199));
        assert!(!t.breached(0.2), "at the threshold is not above it");
        assert!(t.breached(0.201));
        assert!(!t.breached(f64::NAN));
    }

    #[test]
    fn a_bad_file_is_refused_with_the_threshold_and_key_named() {
        let good = EMBEDDED;
        let cases = [
            (good.replace("version = 1", "version = 2"), "version 2"),
            (
                good.replacen("unit = \"seconds\"", "unit = \"parsecs\"", 1),
                "HighLatency",
            ),
            (
                good.replacen("for = \"5m\"", "for = \"5 minutes\"", 1),
                "for:",
            ),
            (good.replacen("op = \">\"", "op = \"=~\"", 1), "op"),
            ("version = 1\n".to_string(), "no [[threshold]]"),
        ];
        for (text, expected) in cases {
            let error = parse_thresholds(&text).unwrap_err();
            assert!(
                error.contains(expected),
                "{error} should mention {expected}"
            );
        }
        let missing = good.replacen("action = \"Scale up\"\n", "", 1);
        assert!(parse_thresholds(&missing).unwrap_err().contains("action"));
        let not_up_zero = good.replacen("op = \"==\"", "op = \">\"", 1);
        assert!(
            parse_thresholds(&not_up_zero)
                .unwrap_err()
                .contains("[target_down]")
        );
    }

    #[test]
    fn a_file_without_target_down_gets_the_built_in_instance_down_rule() {
        let start = EMBEDDED.find("[target_down]").unwrap();
        let end = EMBEDDED.find("[[threshold]]").unwrap();
        let text = format!("{}{}", &EMBEDDED[..start], &EMBEDDED[end..]);
        let thresholds = parse_thresholds(&text).unwrap();
        assert_eq!(thresholds[0].measure, Some(Measure::Up));
        assert_eq!(thresholds.len(), 7);
    }

    /// The TUI compares with what the rules compare: each rule in
    /// `alerts/tenk.rules.yml` is `<expr> <op> <value>` with the same `for`.
    #[test]
    fn each_threshold_matches_its_prometheus_rule() {
        let rules = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../alerts/tenk.rules.yml"
        ))
        .unwrap();
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        for t in parse_thresholds(EMBEDDED).unwrap() {
            let start = rules
                .find(&format!("- alert: {}\n", t.alert))
                .unwrap_or_else(|| panic!("rule {} exists", t.alert));
            let block = &rules[start..];
            let block = &block[..block[2..].find("- alert:").map_or(block.len(), |i| i + 2)];
            let expr_start = block.find("expr:").unwrap() + "expr:".len();
            let expr_end = block.find("for:").unwrap();
            // A folded block (`>-`) or a plain scalar on the same line.
            let expr = block[expr_start..expr_end].trim_start();
            let expr = expr.strip_prefix(">-").unwrap_or(expr);
            let expected = format!("{}{}{}", t.expr, t.op.as_str(), block_value(&t));
            assert_eq!(squash(expr), squash(&expected), "{}", t.name);
            assert!(
                block.contains(&format!("for: {}\n", super::super::format_duration(t.hold))),
                "{} for",
                t.name
            );
        }
    }

    fn block_value(t: &Threshold) -> String {
        if t.value.fract() == 0.0 {
            format!("{}", t.value as i64)
        } else {
            format!("{}", t.value)
        }
    }

    #[test]
    fn an_unknown_threshold_loads_but_has_no_measure() {
        let text = EMBEDDED.replacen("name = \"HighLatency\"", "name = \"SomethingNew\"", 1);
        let thresholds = parse_thresholds(&text).unwrap();
        assert_eq!(thresholds[1].measure, None);
    }
}
