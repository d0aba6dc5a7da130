//! What one instance did between two of its scrapes, and the per-second
//! rates over a run of such intervals: `rate()` of the counters the cockpit
//! shows, with resets handled per series (see [`crate::prom::increase`]).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use contract::metrics;

use crate::prom::{Bucket, Series, Snapshot, histogram_quantile, increase, increase_by};

/// Reset-corrected increases of the counters between two scrapes. `None`
/// where no series of the counter was in both scrapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub from: SystemTime,
    pub to: SystemTime,
    /// HTTP responses, every route and status.
    pub requests: Option<f64>,
    /// HTTP responses with a 5xx status (`status=~"5.."`).
    pub server_errors: Option<f64>,
    /// Latency histogram buckets summed over every route and status
    /// (`sum by (le)`), in seconds.
    pub latency: Vec<Bucket>,
    pub rate_limit_rejections: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub redis_seconds: Option<f64>,
    pub redis_commands: Option<f64>,
}

/// `status=~"5.."`: PromQL regexes are anchored, so exactly three characters.
pub fn is_server_error(series: &Series) -> bool {
    series
        .label("status")
        .is_some_and(|status| status.len() == 3 && status.starts_with('5'))
}

fn bucket_name(histogram: &str) -> String {
    format!("{histogram}_bucket")
}

impl Interval {
    /// The counters' increases from `before` to `after` (same instance).
    pub fn between(before: &Snapshot, after: &Snapshot) -> Self {
        let histogram = metrics::HTTP_REQUEST_DURATION;
        let count = format!("{histogram}_count");
        let redis = metrics::REDIS_COMMAND_DURATION;
        let latency = increase_by(before, after, &bucket_name(histogram), "le", |_| true);
        Self {
            from: before.at,
            to: after.at,
            requests: increase(before, after, &count, |_| true),
            server_errors: increase(before, after, &count, is_server_error),
            latency: buckets(latency),
            rate_limit_rejections: increase(before, after, metrics::RATE_LIMIT_REJECTED, |_| true),
            cpu_seconds: increase(before, after, metrics::PROCESS_CPU_SECONDS, |_| true),
            redis_seconds: increase(before, after, &format!("{redis}_sum"), |_| true),
            redis_commands: increase(before, after, &format!("{redis}_count"), |_| true),
        }
    }

    /// How long the interval lasted (zero if the clock went backwards).
    pub fn span(&self) -> Duration {
        self.to.duration_since(self.from).unwrap_or_default()
    }
}

pub(super) fn buckets(by_le: BTreeMap<String, f64>) -> Vec<Bucket> {
    by_le
        .into_iter()
        .filter_map(|(le, count)| {
            let le = match le.as_str() {
                "+Inf" | "Inf" => f64::INFINITY,
                other => other.parse().ok()?,
            };
            Some(Bucket { le, count })
        })
        .collect()
}

/// Per-second rates over one or more intervals of one instance, or summed
/// over instances (`sum(rate(...))`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rates {
    pub requests: Option<f64>,
    pub server_errors: Option<f64>,
    pub latency: Vec<Bucket>,
    pub rate_limit_rejections: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub redis_seconds: Option<f64>,
    pub redis_commands: Option<f64>,
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

fn add_buckets(into: &mut Vec<Bucket>, more: &[Bucket]) {
    for bucket in more {
        match into.iter_mut().find(|existing| existing.le == bucket.le) {
            Some(existing) => existing.count += bucket.count,
            None => into.push(*bucket),
        }
    }
    into.sort_by(|a, b| a.le.total_cmp(&b.le));
}

impl Rates {
    /// Rates over consecutive intervals: their summed increases divided by
    /// their summed duration. `None` for no intervals or zero time.
    pub fn over<'a>(intervals: impl IntoIterator<Item = &'a Interval>) -> Option<Self> {
        let mut total = Interval {
            from: SystemTime::UNIX_EPOCH,
            to: SystemTime::UNIX_EPOCH,
            requests: None,
            server_errors: None,
            latency: Vec::new(),
            rate_limit_rejections: None,
            cpu_seconds: None,
            redis_seconds: None,
            redis_commands: None,
        };
        let mut span = Duration::ZERO;
        for interval in intervals {
            span += interval.span();
            total.requests = add(total.requests, interval.requests);
            total.server_errors = add(total.server_errors, interval.server_errors);
            add_buckets(&mut total.latency, &interval.latency);
            total.rate_limit_rejections =
                add(total.rate_limit_rejections, interval.rate_limit_rejections);
            total.cpu_seconds = add(total.cpu_seconds, interval.cpu_seconds);
            total.redis_seconds = add(total.redis_seconds, interval.redis_seconds);
            total.redis_commands = add(total.redis_commands, interval.redis_commands);
        }
        let seconds = span.as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        let per_second = |value: Option<f64>| value.map(|v| v / seconds);
        Some(Self {
            requests: per_second(total.requests),
            server_errors: per_second(total.server_errors),
            latency: total
                .latency
                .iter()
                .map(|b| Bucket {
                    le: b.le,
                    count: b.count / seconds,
                })
                .collect(),
            rate_limit_rejections: per_second(total.rate_limit_rejections),
            cpu_seconds: per_second(total.cpu_seconds),
            redis_seconds: per_second(total.redis_seconds),
            redis_commands: per_second(total.redis_commands),
        })
    }

    /// Adds another instance's rates (`sum` over instances).
    pub fn add(&mut self, other: &Self) {
        self.requests = add(self.requests, other.requests);
        self.server_errors = add(self.server_errors, other.server_errors);
        add_buckets(&mut self.latency, &other.latency);
        self.rate_limit_rejections = add(self.rate_limit_rejections, other.rate_limit_rejections);
        self.cpu_seconds = add(self.cpu_seconds, other.cpu_seconds);
        self.redis_seconds = add(self.redis_seconds, other.redis_seconds);
        self.redis_commands = add(self.redis_commands, other.redis_commands);
    }

    /// 5xx responses over all responses. `None` when there were no responses
    /// (0/0 is NaN in PromQL, and NaN never crosses a threshold). No 5xx
    /// series at all counts as zero errors.
    pub fn error_ratio(&self) -> Option<f64> {
        let all = self.requests?;
        if all <= 0.0 {
            return None;
        }
        Some(self.server_errors.unwrap_or(0.0) / all)
    }

    /// `histogram_quantile(q, sum by (le) (rate(..._bucket)))`.
    pub fn latency_quantile(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.latency)
    }

    /// Mean Redis round trip: `rate(_sum) / rate(_count)`.
    pub fn redis_mean_seconds(&self) -> Option<f64> {
        let commands = self.redis_commands?;
        (commands > 0.0).then(|| self.redis_seconds.unwrap_or(0.0) / commands)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    fn busy() -> Interval {
        Interval::between(
            &fixtures::snapshot("metrics_busy_1.txt", 0),
            &fixtures::snapshot("metrics_busy_2.txt", 5),
        )
    }

    #[test]
    fn requests_per_second_are_the_counter_delta_over_the_time_between_scrapes() {
        let before = fixtures::snapshot("metrics_busy_1.txt", 0);
        let after = fixtures::snapshot("metrics_busy_2.txt", 5);
        let count = "http_server_request_duration_seconds_count";
        // Only series present in both scrapes count (as in Prometheus).
        let expected: f64 = after
            .select(count)
            .filter_map(|(series, new)| Some(new - before.samples.get(series)?))
            .sum();
        let rates = Rates::over([&busy()]).unwrap();
        assert!((rates.requests.unwrap() - expected / 5.0).abs() < 1e-9);
    }

    #[test]
    fn rejections_and_cpu_are_rates_too() {
        let rates = Rates::over([&busy()]).unwrap();
        let before = fixtures::snapshot("metrics_busy_1.txt", 0);
        let after = fixtures::snapshot("metrics_busy_2.txt", 5);
        let rejected = after
            .get(metrics::RATE_LIMIT_REJECTED, &[("tier", "public")])
            .unwrap()
            - before
                .get(metrics::RATE_LIMIT_REJECTED, &[("tier", "public")])
                .unwrap();
        assert!(rejected > 0.0, "the fixture has 429s");
        assert!((rates.rate_limit_rejections.unwrap() - rejected / 5.0).abs() < 1e-9);
        assert!(rates.cpu_seconds.unwrap() >= 0.0);
    }

    #[test]
    fn a_restart_between_scrapes_does_not_give_a_negative_rate() {
        let interval = Interval::between(
            &fixtures::snapshot("metrics_busy_2.txt", 0),
            &fixtures::snapshot("metrics_restarted.txt", 10),
        );
        let rates = Rates::over([&interval]).unwrap();
        assert!(rates.requests.unwrap() > 0.0);
        assert!(rates.cpu_seconds.unwrap() > 0.0);
        assert!(rates.latency.iter().all(|b| b.count >= 0.0));
    }

    #[test]
    fn real_5xx_responses_make_the_error_ratio() {
        let interval = Interval::between(
            &fixtures::snapshot("metrics_redis_down_1.txt", 0),
            &fixtures::snapshot("metrics_redis_down_2.txt", 2),
        );
        let rates = Rates::over([&interval]).unwrap();
        // /api/health/ready answered 503 (Redis down); the 503 series is new
        // in the second scrape, so, like Prometheus, it counts from its second
        // sample only: no errors yet in this first interval.
        let ratio = rates.error_ratio().unwrap();
        assert!((0.0..=1.0).contains(&ratio));
        let after = fixtures::snapshot("metrics_redis_down_2.txt", 2);
        assert!(
            after
                .select("http_server_request_duration_seconds_count")
                .any(|(s, _)| is_server_error(&s.clone()))
        );
    }

    #[test]
    fn rates_over_several_intervals_sum_increases_and_time() {
        let t = |s| fixtures::at(s);
        let one = Interval {
            from: t(0),
            to: t(2),
            requests: Some(10.0),
            server_errors: None,
            latency: vec![Bucket {
                le: f64::INFINITY,
                count: 10.0,
            }],
            rate_limit_rejections: Some(0.0),
            cpu_seconds: Some(1.0),
            redis_seconds: Some(0.01),
            redis_commands: Some(10.0),
        };
        let two = Interval {
            from: t(2),
            to: t(4),
            requests: Some(30.0),
            server_errors: Some(4.0),
            ..one.clone()
        };
        let rates = Rates::over([&one, &two]).unwrap();
        assert_eq!(rates.requests, Some(10.0));
        assert_eq!(rates.server_errors, Some(1.0));
        assert_eq!(rates.error_ratio(), Some(0.1));
        assert_eq!(
            rates.latency,
            vec![Bucket {
                le: f64::INFINITY,
                count: 5.0
            }]
        );
        assert_eq!(rates.cpu_seconds, Some(0.5));
        assert_eq!(rates.redis_mean_seconds(), Some(0.001));
        assert_eq!(Rates::over([]), None);
    }

    #[test]
    fn no_requests_means_no_error_ratio_not_zero_percent() {
        let rates = Rates {
            requests: Some(0.0),
            ..Rates::default()
        };
        assert_eq!(rates.error_ratio(), None);
    }

    #[test]
    fn status_regex_is_anchored_like_promql() {
        let s = |status| Series::new("m", &[("status", status)]);
        assert!(is_server_error(&s("500")));
        assert!(is_server_error(&s("503")));
        assert!(!is_server_error(&s("5000")));
        assert!(!is_server_error(&s("429")));
        assert!(!is_server_error(&Series::new("m", &[])));
    }
}
