//! What the virtual users ask for: the actions and the named mixes that
//! weigh them. Pure: a mix only picks an action; `behaviour.rs` performs it.

use rand::Rng;
use serde::Serialize;

/// One kind of request a virtual user makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `GET /api/users/me`
    Profile,
    /// `GET /api/auth/sessions`
    Sessions,
    /// `GET /api/posts`
    ListPosts,
    /// `GET /api/posts/{id}`
    ReadPost,
    /// `POST /api/posts`
    CreatePost,
    /// `PATCH /api/posts/{id}` (the user's own post)
    UpdatePost,
    /// `POST /api/auth/login`
    Login,
    /// `POST /api/auth/refresh`
    Refresh,
    /// `GET /api/health`
    Health,
}

impl Action {
    pub const ALL: [Self; 9] = [
        Self::Profile,
        Self::Sessions,
        Self::ListPosts,
        Self::ReadPost,
        Self::CreatePost,
        Self::UpdatePost,
        Self::Login,
        Self::Refresh,
        Self::Health,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Sessions => "sessions",
            Self::ListPosts => "list_posts",
            Self::ReadPost => "read_post",
            Self::CreatePost => "create_post",
            Self::UpdatePost => "update_post",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Health => "health",
        }
    }

    /// Its index in [`Action::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }
}

/// A named weighting of actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MixName {
    /// The realistic API mix: reads, writes, logins, refreshes, health.
    Full,
    /// Authenticated reads only: profile, own sessions, post list and post.
    Read,
    /// The hot path both tenk and the Hono peer serve: profile and post list.
    Hot,
}

/// Weights per action, in percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    pub name: MixName,
    weights: Vec<(Action, u32)>,
}

impl Mix {
    pub fn named(name: MixName) -> Self {
        use Action::*;
        let weights = match name {
            // A read-heavy API day: most calls read the profile or posts; one
            // call in ten writes; tokens are refreshed now and then and a new
            // login is rare; monitors and pages poll the public health route.
            MixName::Full => vec![
                (Profile, 25),
                (Sessions, 5),
                (ListPosts, 22),
                (ReadPost, 20),
                (CreatePost, 5),
                (UpdatePost, 5),
                (Login, 1),
                (Refresh, 4),
                (Health, 13),
            ],
            MixName::Read => vec![
                (Profile, 35),
                (Sessions, 10),
                (ListPosts, 30),
                (ReadPost, 25),
            ],
            MixName::Hot => vec![(Profile, 50), (ListPosts, 50)],
        };
        Self { name, weights }
    }

    /// The actions this mix can pick, with their weights.
    pub fn weights(&self) -> &[(Action, u32)] {
        &self.weights
    }

    /// Picks an action with probability proportional to its weight.
    pub fn pick(&self, rng: &mut impl Rng) -> Action {
        let total: u32 = self.weights.iter().map(|(_, w)| w).sum();
        let mut point = rng.random_range(0..total.max(1));
        for (action, weight) in &self.weights {
            if point < *weight {
                return *action;
            }
            point -= weight;
        }
        Action::Profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn every_mix_weighs_one_hundred_percent() {
        for name in [MixName::Full, MixName::Read, MixName::Hot] {
            let total: u32 = Mix::named(name).weights().iter().map(|(_, w)| w).sum();
            assert_eq!(total, 100, "{name:?}");
        }
    }

    #[test]
    fn picks_follow_the_weights() {
        let mix = Mix::named(MixName::Full);
        let mut rng = StdRng::seed_from_u64(5);
        let mut counts = [0u32; Action::ALL.len()];
        for _ in 0..100_000 {
            counts[mix.pick(&mut rng).index()] += 1;
        }
        for (action, weight) in mix.weights() {
            let share = f64::from(counts[action.index()]) / 1_000.0;
            assert!(
                (share - f64::from(*weight)).abs() < 0.6,
                "{action:?} {share}"
            );
        }
    }

    #[test]
    fn the_read_and_hot_mixes_never_write_or_log_in() {
        for name in [MixName::Read, MixName::Hot] {
            let mix = Mix::named(name);
            let mut rng = StdRng::seed_from_u64(1);
            for _ in 0..10_000 {
                let action = mix.pick(&mut rng);
                assert!(
                    matches!(
                        action,
                        Action::Profile | Action::Sessions | Action::ListPosts | Action::ReadPost
                    ),
                    "{action:?}"
                );
            }
        }
    }
}
