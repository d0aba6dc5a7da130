//! One scrape of one instance: every sample by its series (name + labels),
//! with the wall-clock time it was taken.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A metric name and its labels, sorted by label name: two series are the
/// same when both are equal, whatever order the exposition printed them in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// Builds a series, sorting the labels.
    pub fn new(name: impl Into<String>, labels: &[(&str, &str)]) -> Self {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
            .collect();
        labels.sort();
        Self {
            name: name.into(),
            labels,
        }
    }

    /// The value of one label, if the series has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// The samples of one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the scrape answered (the poller's clock).
    pub at: SystemTime,
    pub samples: BTreeMap<Series, f64>,
}

impl Snapshot {
    /// Every series of the metric `name`, in label order.
    pub fn select<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a Series, f64)> + 'a {
        let start = Series {
            name: name.to_string(),
            labels: Vec::new(),
        };
        self.samples
            .range(start..)
            .take_while(move |(series, _)| series.name == name)
            .map(|(series, value)| (series, *value))
    }

    /// The value of the one series of `name` whose labels include `labels`
    /// (the first in label order when several match).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.select(name)
            .find(|(series, _)| {
                labels
                    .iter()
                    .all(|(key, value)| series.label(key) == Some(*value))
            })
            .map(|(_, value)| value)
    }

    /// The sum over every series of `name` that `keep` accepts; `None` when
    /// there is none (an absent metric is not zero).
    pub fn sum(&self, name: &str, keep: impl Fn(&Series) -> bool) -> Option<f64> {
        self.select(name)
            .filter(|(series, _)| keep(series))
            .map(|(_, value)| value)
            .reduce(|a, b| a + b)
    }

    /// The value of `label` on the first series of `name`.
    pub fn label_of(&self, name: &str, label: &str) -> Option<String> {
        self.select(name)
            .find_map(|(series, _)| series.label(label).map(ToString::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(samples: &[(Series, f64)]) -> Snapshot {
        Snapshot {
            at: SystemTime::UNIX_EPOCH,
            samples: samples.iter().cloned().collect(),
        }
    }

    #[test]
    fn labels_are_sorted_so_their_order_does_not_matter() {
        assert_eq!(
            Series::new("m", &[("b", "2"), ("a", "1")]),
            Series::new("m", &[("a", "1"), ("b", "2")])
        );
    }

    #[test]
    fn select_returns_only_series_of_that_exact_name() {
        let snap = snapshot(&[
            (Series::new("m", &[("a", "1")]), 1.0),
            (Series::new("m", &[("a", "2")]), 2.0),
            (Series::new("m_total", &[]), 3.0),
            (Series::new("l", &[]), 4.0),
        ]);
        let values: Vec<f64> = snap.select("m").map(|(_, value)| value).collect();
        assert_eq!(values, vec![1.0, 2.0]);
        assert_eq!(snap.sum("m", |_| true), Some(3.0));
        assert_eq!(snap.sum("absent", |_| true), None);
        assert_eq!(snap.get("m", &[("a", "2")]), Some(2.0));
        assert_eq!(snap.get("m", &[("a", "3")]), None);
    }
}
