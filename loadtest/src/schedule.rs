//! Arrival schedules for the open-loop generator: when each request is due,
//! as an offset from the start of a run. The clock decides, never a reply,
//! so a slow server cannot slow the offered load down (no coordinated
//! omission).
//!
//! Two shapes: a constant rate (evenly spaced, for capacity steps) and a
//! Poisson process (exponential gaps, for the seed's users, whose requests
//! arrive independently). Both are pure iterators, seeded for repeatability.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How arrivals are spread over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exactly `1 / rate` apart.
    Constant,
    /// Exponentially distributed gaps with mean `1 / rate`.
    Poisson,
}

/// The due offsets of a run at `rate` requests per second, ending before `length`.
#[derive(Debug)]
pub struct Schedule {
    shape: Shape,
    rate: f64,
    length: Duration,
    index: u64,
    elapsed: f64,
    rng: StdRng,
}

impl Schedule {
    /// A schedule of `rate` arrivals per second for `length`. A rate that is
    /// not a positive finite number yields no arrivals.
    pub fn new(shape: Shape, rate: f64, length: Duration, seed: u64) -> Self {
        Self {
            shape,
            rate,
            length,
            index: 0,
            elapsed: 0.0,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The number of arrivals a constant schedule makes (a Poisson one makes
    /// this many on average).
    pub fn expected_count(rate: f64, length: Duration) -> u64 {
        if rate.is_finite() && rate > 0.0 {
            // Arrivals at 0, 1/rate, 2/rate ... strictly before the end.
            (rate * length.as_secs_f64()).ceil() as u64
        } else {
            0
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return None;
        }
        let seconds = match self.shape {
            // Computed from the index, not accumulated, so rounding never drifts.
            Shape::Constant => self.index as f64 / self.rate,
            Shape::Poisson => {
                // 1 - u is in (0, 1], so the logarithm is finite.
                let u: f64 = self.rng.random();
                self.elapsed += -(1.0 - u).ln() / self.rate;
                self.elapsed
            }
        };
        let due = Duration::from_secs_f64(seconds);
        if due >= self.length {
            return None;
        }
        self.index += 1;
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_schedule_spaces_arrivals_evenly_and_stops_at_the_end() {
        let due: Vec<Duration> =
            Schedule::new(Shape::Constant, 4.0, Duration::from_secs(2), 1).collect();
        assert_eq!(due.len(), 8);
        assert_eq!(due[0], Duration::ZERO);
        assert_eq!(due[1], Duration::from_millis(250));
        assert_eq!(due[7], Duration::from_millis(1750));
        assert_eq!(Schedule::expected_count(4.0, Duration::from_secs(2)), 8);
    }

    #[test]
    fn a_poisson_schedule_keeps_its_mean_rate() {
        let length = Duration::from_secs(100);
        let count = Schedule::new(Shape::Poisson, 500.0, length, 7).count() as f64;
        // 50,000 expected; the standard deviation is about 224.
        assert!((count - 50_000.0).abs() < 1_500.0, "{count}");
    }

    #[test]
    fn poisson_gaps_are_exponential() {
        let due: Vec<f64> = Schedule::new(Shape::Poisson, 1000.0, Duration::from_secs(50), 3)
            .map(|d| d.as_secs_f64())
            .collect();
        let gaps: Vec<f64> = due.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        // An exponential distribution's share of gaps above its mean is 1/e.
        let above = gaps.iter().filter(|gap| **gap > mean).count() as f64 / gaps.len() as f64;
        assert!((mean - 0.001).abs() < 0.000_05, "{mean}");
        assert!((above - (-1.0f64).exp()).abs() < 0.01, "{above}");
    }

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        let a: Vec<Duration> =
            Schedule::new(Shape::Poisson, 50.0, Duration::from_secs(5), 9).collect();
        let b: Vec<Duration> =
            Schedule::new(Shape::Poisson, 50.0, Duration::from_secs(5), 9).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn a_zero_or_invalid_rate_makes_no_arrivals() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                Schedule::new(Shape::Constant, rate, Duration::from_secs(1), 0).count(),
                0
            );
        }
    }
}
