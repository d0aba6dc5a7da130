//! The server's resident memory over a run: a task scrapes `/metrics`
//! (through [`Probe`], the same code as every other scrape) at a fixed
//! interval and keeps `process_resident_memory_bytes` with the time it was
//! read; [`MemoryReport`] turns the samples into before / peak during the
//! load / at the end. Pure apart from the sampling task.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::probe::Probe;

const MB: f64 = 1_048_576.0;

/// One scrape: when it answered (from the start of the load) and the RSS it
/// gave, `None` when the scrape failed or had no RSS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: Duration,
    pub rss_bytes: Option<f64>,
}

/// One sample as reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReportedSample {
    pub t_s: f64,
    pub rss_mb: Option<f64>,
}

/// Memory over a run with a load phase and a quiet phase after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryReport {
    /// Just before the load (after any warm-up).
    pub rss_mb_before: Option<f64>,
    /// The highest sample from the start of the load to its end (the last
    /// replies included).
    pub rss_mb_peak: Option<f64>,
    /// The last sample, at the end of the quiet phase.
    pub rss_mb_end: Option<f64>,
    /// `rss_mb_end / rss_mb_before`: 1.0 means all the load's memory came back.
    pub end_over_before: Option<f64>,
    /// Seconds from the start of the load at which the load ended.
    pub load_s: f64,
    /// Scrapes that failed or had no RSS (an overloaded server may refuse
    /// or delay its `/metrics` too).
    pub failed_samples: u64,
    pub samples: Vec<ReportedSample>,
}

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

impl MemoryReport {
    /// `before` is the RSS before the load, `samples` in the order taken
    /// (times from the start of the load), `load_end` when the load ended.
    pub fn new(before: Option<f64>, samples: &[Sample], load_end: Duration) -> Self {
        let mb = |bytes: f64| round(bytes / MB, 1);
        let peak = samples
            .iter()
            .filter(|sample| sample.at <= load_end)
            .filter_map(|sample| sample.rss_bytes)
            .reduce(f64::max);
        let end = samples.last().and_then(|sample| sample.rss_bytes);
        Self {
            rss_mb_before: before.map(mb),
            rss_mb_peak: peak.map(mb),
            rss_mb_end: end.map(mb),
            end_over_before: before
                .zip(end)
                .filter(|(before, _)| *before > 0.0)
                .map(|(before, end)| round(end / before, 3)),
            load_s: round(load_end.as_secs_f64(), 3),
            failed_samples: samples.iter().filter(|s| s.rss_bytes.is_none()).count() as u64,
            samples: samples
                .iter()
                .map(|sample| ReportedSample {
                    t_s: round(sample.at.as_secs_f64(), 3),
                    rss_mb: sample.rss_bytes.map(mb),
                })
                .collect(),
        }
    }
}

/// A running sampler; [`Sampler::finish`] stops it and hands back its samples.
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Starts scraping `probe` every `every`, times counted from `origin`.
    /// A scrape slower than `every` delays the next one rather than piling up.
    pub fn start(probe: Probe, every: Duration, origin: Instant) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticks.tick() => {}
                }
                let rss_bytes = probe.scrape().await.ok().and_then(|s| s.rss_bytes);
                samples.push(Sample {
                    at: origin.elapsed(),
                    rss_bytes,
                });
            }
            samples
        });
        Self { stop, task }
    }

    /// Stops sampling (a scrape under way is finished first) and returns
    /// every sample taken.
    pub async fn finish(self) -> Vec<Sample> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, mb: Option<f64>) -> Sample {
        Sample {
            at: Duration::from_millis(ms),
            rss_bytes: mb.map(|mb| mb * MB),
        }
    }

    #[test]
    fn the_peak_is_the_highest_sample_of_the_load_and_the_end_is_the_last() {
        let samples = [
            sample(0, Some(20.0)),
            sample(500, Some(80.0)),
            sample(1000, None),
            sample(1500, Some(140.5)),
            // Past the load's end: higher, but not the load's peak.
            sample(2500, Some(150.0)),
            sample(4000, Some(24.0)),
        ];
        let report = MemoryReport::new(Some(20.0 * MB), &samples, Duration::from_secs(2));
        assert_eq!(report.rss_mb_before, Some(20.0));
        assert_eq!(report.rss_mb_peak, Some(140.5));
        assert_eq!(report.rss_mb_end, Some(24.0));
        assert_eq!(report.end_over_before, Some(1.2));
        assert_eq!(report.failed_samples, 1);
        assert_eq!(report.load_s, 2.0);
        assert_eq!(report.samples.len(), 6);
        assert_eq!(
            report.samples[3],
            ReportedSample {
                t_s: 1.5,
                rss_mb: Some(140.5)
            }
        );
    }

    #[test]
    fn missing_scrapes_leave_the_figures_empty_not_zero() {
        let report = MemoryReport::new(None, &[sample(0, None)], Duration::from_secs(1));
        assert_eq!(report.rss_mb_before, None);
        assert_eq!(report.rss_mb_peak, None);
        assert_eq!(report.rss_mb_end, None);
        assert_eq!(report.end_over_before, None);
        assert_eq!(report.failed_samples, 1);
        let report = MemoryReport::new(Some(MB), &[], Duration::from_secs(1));
        assert_eq!((report.rss_mb_peak, report.rss_mb_end), (None, None));
    }
}
