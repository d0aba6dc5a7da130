//! The seed's user classes: of 10,000 active users, 1,000 make 10 requests a
//! minute, 5,000 make 2 and 4,000 make 0.5, which is 22,000 requests a minute
//! (367 a second), twice that at peak. Any user count keeps those shares.
//!
//! Each virtual user is a Poisson process at its class's rate. The sum of
//! independent Poisson processes is one Poisson process at the summed rate
//! whose arrivals belong to each user in proportion to that user's rate, so
//! the generator draws one aggregate schedule and picks a user per arrival
//! (see [`Population::pick`]) instead of running 10,000 timers.

use rand::Rng;
use serde::Serialize;

/// One class of the seed's users.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Class {
    pub name: &'static str,
    /// Its share of the users, in parts per 10,000 (the seed's population).
    pub per_10k: u64,
    pub requests_per_minute: f64,
}

/// The seed's three classes, in its order.
pub const SEED_CLASSES: [Class; 3] = [
    Class {
        name: "heavy",
        per_10k: 1_000,
        requests_per_minute: 10.0,
    },
    Class {
        name: "moderate",
        per_10k: 5_000,
        requests_per_minute: 2.0,
    },
    Class {
        name: "light",
        per_10k: 4_000,
        requests_per_minute: 0.5,
    },
];

/// A class's share of a concrete population.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub class: &'static str,
    pub users: usize,
    /// Per user, with the peak factor applied.
    pub requests_per_minute: f64,
    /// First user index of the group; users are numbered group after group.
    #[serde(skip)]
    pub first: usize,
}

/// `users` virtual users split into the seed's classes at `peak` times their rates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Population {
    pub users: usize,
    pub peak: f64,
    pub groups: Vec<Group>,
}

impl Population {
    /// Splits `users` by the seed's shares; the last class takes the rounding
    /// remainder so the groups always add up to `users`.
    pub fn seed(users: usize, peak: f64) -> Self {
        let mut groups = Vec::with_capacity(SEED_CLASSES.len());
        let mut first = 0;
        for (index, class) in SEED_CLASSES.iter().enumerate() {
            let size = if index + 1 == SEED_CLASSES.len() {
                users - first
            } else {
                usize::try_from(users as u64 * class.per_10k / 10_000).unwrap_or(0)
            };
            groups.push(Group {
                class: class.name,
                users: size,
                requests_per_minute: class.requests_per_minute * peak,
                first,
            });
            first += size;
        }
        Self {
            users,
            peak,
            groups,
        }
    }

    /// The summed rate of every user, in requests per second.
    pub fn rate_per_second(&self) -> f64 {
        self.groups
            .iter()
            .map(|group| group.users as f64 * group.requests_per_minute / 60.0)
            .sum()
    }

    /// The user an arrival of the aggregate process belongs to: a group with
    /// probability proportional to its summed rate, then a user of it uniformly.
    pub fn pick(&self, rng: &mut impl Rng) -> usize {
        let total = self.rate_per_second();
        let mut point = rng.random::<f64>() * total;
        for group in self.groups.iter().filter(|group| group.users > 0) {
            let weight = group.users as f64 * group.requests_per_minute / 60.0;
            if point < weight {
                return group.first + rng.random_range(0..group.users);
            }
            point -= weight;
        }
        // Only reachable through rounding at the very top of the range.
        self.users.saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ten_thousand_seed_users_make_367_requests_a_second_and_734_at_peak() {
        let normal = Population::seed(10_000, 1.0);
        let sizes: Vec<usize> = normal.groups.iter().map(|g| g.users).collect();
        assert_eq!(sizes, vec![1_000, 5_000, 4_000]);
        assert!((normal.rate_per_second() - 22_000.0 / 60.0).abs() < 1e-9);
        assert_eq!(normal.rate_per_second().round(), 367.0);
        let peak = Population::seed(10_000, 2.0);
        assert_eq!(peak.rate_per_second().round(), 733.0);
        // The seed rounds 366.67 up and doubles the rounded figure: 734.
        assert!((peak.rate_per_second() - 733.33).abs() < 0.01);
    }

    #[test]
    fn odd_user_counts_still_add_up() {
        let population = Population::seed(57, 1.0);
        let total: usize = population.groups.iter().map(|g| g.users).sum();
        assert_eq!(total, 57);
        assert_eq!(population.groups[0].users, 5);
        assert_eq!(population.groups[1].users, 28);
    }

    #[test]
    fn picks_follow_each_users_rate() {
        let population = Population::seed(10_000, 1.0);
        let mut rng = StdRng::seed_from_u64(11);
        let mut by_group = [0u32; 3];
        let draws = 220_000;
        for _ in 0..draws {
            let user = population.pick(&mut rng);
            let group = population
                .groups
                .iter()
                .rposition(|g| g.first <= user)
                .unwrap();
            by_group[group] += 1;
        }
        // Heavy users make 10,000 of every 22,000 requests, moderate 10,000, light 2,000.
        let expected = [100_000.0, 100_000.0, 20_000.0];
        for (got, want) in by_group.iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < want * 0.02, "{by_group:?}");
        }
    }

    #[test]
    fn an_empty_population_offers_no_load() {
        let population = Population::seed(0, 1.0);
        assert_eq!(population.rate_per_second(), 0.0);
    }
}
