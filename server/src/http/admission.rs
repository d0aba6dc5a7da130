//! Admission control: shed what cannot be served instead of queueing it.
//!
//! At most `HTTP_MAX_IN_FLIGHT` requests are handled at once; the next one
//! is answered `503` with `Retry-After` right away, before any work is spent
//! on it, and counted in `tenk_http_requests_shed_total{bound="in_flight"}`.
//! Liveness, readiness and `/metrics` are exempt: a load balancer and
//! Prometheus must see an instance that sheds as alive and ready (it is
//! serving all it can), not pull it, which would shift its load onto the
//! others. The bound on open connections lives in `serve.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Routes that answer even while the instance sheds.
const EXEMPT: [&str; 3] = ["/api/health", "/api/health/ready", "/metrics"];

pub struct Admission {
    limit: usize,
    in_flight: AtomicUsize,
}

/// One admitted request; dropping it frees its place.
pub struct Permit<'a>(Option<&'a AtomicUsize>);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(in_flight) = self.0 {
            in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Admission {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// A place for a request to `route`, or `None`: shed it.
    pub fn admit(&self, route: &str) -> Option<Permit<'_>> {
        if EXEMPT.contains(&route) {
            return Some(Permit(None));
        }
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= self.limit {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit(Some(&self.in_flight)))
    }

    /// Requests admitted and not yet answered (exempt routes not counted).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_bound_is_shed_and_its_place_returns() {
        let admission = Admission::new(2);
        let first = admission.admit("/api/users/me");
        let second = admission.admit("/api/posts");
        assert!(first.is_some() && second.is_some());
        assert!(admission.admit("/api/users/me").is_none());
        assert!(admission.admit("/api/health/ready").is_some());
        assert_eq!(admission.in_flight(), 2);
        drop(first);
        assert!(admission.admit("/api/users/me").is_some());
        assert_eq!(admission.in_flight(), 1);
    }
}
