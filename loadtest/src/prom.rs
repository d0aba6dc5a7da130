//! Reading the server's own `/metrics` (Prometheus text format): the few
//! series the report needs, as a [`Snapshot`]. Pure; scraping is in
//! `probe.rs`.

use std::collections::BTreeMap;

pub const RSS: &str = "process_resident_memory_bytes";
pub const CPU: &str = "process_cpu_seconds_total";
pub const SESSIONS_ACTIVE: &str = "tenk_sessions_active";
pub const SESSION_LOOKUP_BUCKET: &str = "tenk_session_lookup_duration_seconds_bucket";

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Parses `name{a="b",c="d"} value [timestamp]`; `None` for comments,
/// blank lines and anything malformed.
pub fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = open + closing_brace(&line[open..])?;
            (&line[..=close], &line[close + 1..])
        }
        None => line.split_at(line.find(char::is_whitespace)?),
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The index of the `}` that closes the label set, skipping quoted values.
fn closing_brace(labels: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_value(raw: &str) -> Option<f64> {
    match raw {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// `a="b",c="d"`; values may hold commas and escaped quotes.
fn parse_labels(raw: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut rest = raw.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break i,
                other => value.push(other),
            }
        };
        labels.push((key.trim().to_string(), value));
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    Some(labels)
}

/// The report's view of one scrape (or the sum of several: see [`Snapshot::add`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub rss_bytes: Option<f64>,
    pub cpu_seconds: Option<f64>,
    pub sessions_active: Option<f64>,
    /// Session-lookup histogram by `cache` label: (upper bound, cumulative count).
    pub session_lookup: BTreeMap<String, Vec<(f64, f64)>>,
}

impl Snapshot {
    pub fn parse(text: &str) -> Self {
        let mut snapshot = Self::default();
        for sample in text.lines().filter_map(parse_line) {
            match sample.name.as_str() {
                RSS => snapshot.rss_bytes = Some(sample.value),
                CPU => snapshot.cpu_seconds = Some(sample.value),
                SESSIONS_ACTIVE => snapshot.sessions_active = Some(sample.value),
                SESSION_LOOKUP_BUCKET => {
                    let (Some(cache), Some(le)) = (sample.label("cache"), sample.label("le"))
                    else {
                        continue;
                    };
                    let Some(le) = parse_value(le) else { continue };
                    snapshot
                        .session_lookup
                        .entry(cache.to_string())
                        .or_default()
                        .push((le, sample.value));
                }
                _ => {}
            }
        }
        for buckets in snapshot.session_lookup.values_mut() {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        snapshot
    }

    /// Adds another process's scrape: memory, CPU and lookups add up; the
    /// session count is cluster-wide already, so the larger one is kept.
    pub fn add(&mut self, other: &Self) {
        let sum = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.rss_bytes = sum(self.rss_bytes, other.rss_bytes);
        self.cpu_seconds = sum(self.cpu_seconds, other.cpu_seconds);
        self.sessions_active = match (self.sessions_active, other.sessions_active) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (cache, buckets) in &other.session_lookup {
            let mine = self.session_lookup.entry(cache.clone()).or_default();
            for (le, count) in buckets {
                match mine.iter_mut().find(|(bound, _)| bound == le) {
                    Some(entry) => entry.1 += count,
                    None => mine.push((*le, *count)),
                }
            }
            mine.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 31457280
process_cpu_seconds_total 12.5
tenk_sessions_active 10000
tenk_session_lookup_duration_seconds_bucket{cache="hit",le="0.0005"} 900
tenk_session_lookup_duration_seconds_bucket{cache="hit",le="0.001"} 990
tenk_session_lookup_duration_seconds_bucket{cache="hit",le="+Inf"} 1000
tenk_session_lookup_duration_seconds_bucket{cache="miss",le="0.001"} 10
tenk_session_lookup_duration_seconds_bucket{cache="miss",le="+Inf"} 10
tenk_session_lookup_duration_seconds_count{cache="miss"} 10
http_server_request_duration_seconds_bucket{method="GET",route="/api/posts/{id}",status="200",le="0.1"} 3
"#;

    #[test]
    fn a_scrape_yields_memory_cpu_sessions_and_lookup_buckets() {
        let snapshot = Snapshot::parse(SCRAPE);
        assert_eq!(snapshot.rss_bytes, Some(31_457_280.0));
        assert_eq!(snapshot.cpu_seconds, Some(12.5));
        assert_eq!(snapshot.sessions_active, Some(10_000.0));
        assert_eq!(
            snapshot.session_lookup["hit"],
            vec![(0.0005, 900.0), (0.001, 990.0), (f64::INFINITY, 1000.0)]
        );
        assert_eq!(snapshot.session_lookup["miss"].len(), 2);
    }

    #[test]
    fn labels_with_commas_braces_and_escapes_parse() {
        let sample = parse_line(r#"m{a="x,y",b="{id}",c="say \"hi\""} 2 1700000000"#).unwrap();
        assert_eq!(sample.label("a"), Some("x,y"));
        assert_eq!(sample.label("b"), Some("{id}"));
        assert_eq!(sample.label("c"), Some("say \"hi\""));
        assert_eq!(sample.value, 2.0);
        assert_eq!(parse_line("# TYPE m gauge"), None);
        assert_eq!(parse_line("garbage"), None);
    }

    #[test]
    fn scrapes_of_several_processes_add_up() {
        let mut total = Snapshot::parse(SCRAPE);
        total.add(&Snapshot::parse(SCRAPE));
        assert_eq!(total.rss_bytes, Some(62_914_560.0));
        assert_eq!(total.cpu_seconds, Some(25.0));
        assert_eq!(total.sessions_active, Some(10_000.0));
        assert_eq!(total.session_lookup["hit"][1], (0.001, 1980.0));
    }
}
