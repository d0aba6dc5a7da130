//! `histogram_quantile` exactly as Prometheus computes it (promql/quantile.go,
//! `BucketQuantile`) from cumulative bucket counts or rates: linear
//! interpolation inside the bucket where the rank falls, the lower bound of
//! the first bucket taken as 0, and the `+Inf` bucket answered with the upper
//! bound of the bucket below it.

/// One cumulative bucket: observations (or their rate) at or below `le`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub le: f64,
    pub count: f64,
}

/// Prometheus's tolerance for bucket counts that decrease by float noise.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// The `q` quantile of `buckets` (any order); `None` where PromQL gives NaN:
/// no `+Inf` bucket, fewer than two buckets, or no observations.
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    if q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let mut buckets = coalesce(buckets);
    if buckets.last().is_none_or(|last| last.le != f64::INFINITY) {
        return None;
    }
    ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return None;
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return None;
    }
    let mut rank = q * observations;
    // First bucket (the +Inf one excluded) whose count reaches the rank.
    let index = buckets[..buckets.len() - 1]
        .iter()
        .position(|bucket| bucket.count >= rank)
        .unwrap_or(buckets.len() - 1);
    if index == buckets.len() - 1 {
        return Some(buckets[buckets.len() - 2].le);
    }
    if index == 0 && buckets[0].le <= 0.0 {
        return Some(buckets[0].le);
    }
    let end = buckets[index].le;
    let mut count = buckets[index].count;
    let mut start = 0.0;
    if index > 0 {
        start = buckets[index - 1].le;
        count -= buckets[index - 1].count;
        rank -= buckets[index - 1].count;
    }
    Some(start + (end - start) * (rank / count))
}

/// Sorts by upper bound and merges buckets with the same bound (summing).
fn coalesce(buckets: &[Bucket]) -> Vec<Bucket> {
    let mut sorted: Vec<Bucket> = buckets.to_vec();
    sorted.sort_by(|a, b| a.le.total_cmp(&b.le));
    let mut merged: Vec<Bucket> = Vec::with_capacity(sorted.len());
    for bucket in sorted {
        match merged.last_mut() {
            Some(last) if last.le == bucket.le => last.count += bucket.count,
            _ => merged.push(bucket),
        }
    }
    merged
}

/// Cumulative counts never decrease. As PromQL does, a count within a
/// relative 1e-12 of the one below it is set equal to it (float noise in
/// either direction), and a lower count is lifted to the one below it.
fn ensure_monotonic(buckets: &mut [Bucket]) {
    let Some(first) = buckets.first() else {
        return;
    };
    let mut previous = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) || current < previous {
            bucket.count = previous;
            continue;
        }
        previous = current;
    }
}

/// Go's `almostEqual` from Prometheus: relative difference below `epsilon`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(le, count)| Bucket { le, count })
            .collect()
    }

    #[test]
    fn interpolates_inside_the_bucket_where_the_rank_falls() {
        // 100 observations: 50 at or below 0.1, 100 at or below 0.2.
        let b = buckets(&[(0.1, 50.0), (0.2, 100.0), (f64::INFINITY, 100.0)]);
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1));
        let p95 = histogram_quantile(0.95, &b).unwrap();
        assert!((p95 - 0.19).abs() < 1e-12, "{p95}");
        // The first bucket's lower bound is 0.
        let p25 = histogram_quantile(0.25, &b).unwrap();
        assert!((p25 - 0.05).abs() < 1e-12, "{p25}");
    }

    #[test]
    fn a_rank_in_the_inf_bucket_answers_the_highest_finite_bound() {
        let b = buckets(&[(0.1, 1.0), (0.2, 2.0), (f64::INFINITY, 100.0)]);
        assert_eq!(histogram_quantile(0.99, &b), Some(0.2));
    }

    #[test]
    fn no_observations_or_no_inf_bucket_is_nan_in_promql() {
        assert_eq!(
            histogram_quantile(0.5, &buckets(&[(0.1, 0.0), (f64::INFINITY, 0.0)])),
            None
        );
        assert_eq!(
            histogram_quantile(0.5, &buckets(&[(0.1, 1.0), (0.2, 2.0)])),
            None
        );
        assert_eq!(
            histogram_quantile(0.5, &buckets(&[(f64::INFINITY, 2.0)])),
            None
        );
        assert_eq!(histogram_quantile(0.5, &[]), None);
    }

    #[test]
    fn out_of_range_quantiles_are_infinite_like_promql() {
        let b = buckets(&[(0.1, 1.0), (f64::INFINITY, 1.0)]);
        assert_eq!(histogram_quantile(-0.1, &b), Some(f64::NEG_INFINITY));
        assert_eq!(histogram_quantile(1.1, &b), Some(f64::INFINITY));
        assert_eq!(histogram_quantile(f64::NAN, &b), None);
    }

    #[test]
    fn order_and_duplicate_bounds_do_not_matter() {
        // Buckets of two routes with the same bounds, unsorted: summed by `le`.
        let b = buckets(&[
            (f64::INFINITY, 50.0),
            (0.2, 50.0),
            (0.1, 25.0),
            (0.1, 25.0),
            (0.2, 50.0),
            (f64::INFINITY, 50.0),
        ]);
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1));
    }

    #[test]
    fn non_monotonic_counts_are_lifted_as_promql_does() {
        let b = buckets(&[(0.1, 10.0), (0.2, 9.0), (f64::INFINITY, 10.0)]);
        assert_eq!(histogram_quantile(0.5, &b), Some(0.05));
        // Float noise upwards is flattened too.
        let noisy = buckets(&[
            (0.1, 10.0),
            (0.2, 10.000_000_000_000_002),
            (f64::INFINITY, 20.0),
        ]);
        assert_eq!(histogram_quantile(0.5, &noisy), Some(0.1));
    }

    #[test]
    fn with_a_bucket_edge_at_200ms_p95_is_exact_at_the_threshold() {
        // 95 of 100 at or below 0.2 s: p95 is exactly 0.2, not above it.
        let at = buckets(&[
            (0.1, 0.0),
            (0.2, 95.0),
            (0.5, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        assert_eq!(histogram_quantile(0.95, &at), Some(0.2));
        // One more slow request moves the rank past 0.2 by interpolation.
        let above = buckets(&[
            (0.1, 0.0),
            (0.2, 94.0),
            (0.5, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        assert!(histogram_quantile(0.95, &above).unwrap() > 0.2);
    }
}
