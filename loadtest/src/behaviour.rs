//! What a virtual user does when its turn comes: the [`Workload`] the
//! driver runs against the tenk API. Picking (which user, which action,
//! which post) happens on the scheduling loop; performing happens in the
//! request's own task and keeps the user's state (tokens, own post) current.
//!
//! Two substitutions keep every request valid: a login or refresh while the
//! same user already has one open becomes a profile read (single-use refresh
//! tokens must not race), and an update by a user who has no post yet
//! becomes that user's first post. Reports count the action performed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use rand::Rng;
use rand::rngs::StdRng;

use crate::api::Api;
use crate::classes::Population;
use crate::dispatch::Workload;
use crate::mix::{Action, Mix};
use crate::stats::Status;
use crate::user::{PASSWORD, VirtualUser};

/// Post ids that reads pick from; the oldest give way past `capacity`.
#[derive(Debug)]
pub struct PostCatalog {
    ids: RwLock<Vec<String>>,
    capacity: usize,
    /// Counts replacements once full: slot `n % capacity` is the oldest.
    replaced: AtomicU64,
}

impl PostCatalog {
    pub fn new(ids: Vec<String>, capacity: usize) -> Self {
        Self {
            replaced: AtomicU64::new(0),
            ids: RwLock::new(ids),
            capacity: capacity.max(1),
        }
    }

    pub fn add(&self, id: String) {
        let mut ids = self.ids.write().unwrap_or_else(PoisonError::into_inner);
        if ids.len() < self.capacity {
            ids.push(id);
        } else {
            let slot = self.replaced.fetch_add(1, Ordering::Relaxed) as usize % self.capacity;
            ids[slot] = id;
        }
    }

    pub fn random(&self, rng: &mut impl Rng) -> Option<String> {
        let ids = self.ids.read().unwrap_or_else(PoisonError::into_inner);
        (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())].clone())
    }

    pub fn len(&self) -> usize {
        self.ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who makes the next request.
#[derive(Debug, Clone)]
pub enum Picker {
    /// Weighted by the seed's class rates (seed-mix).
    Classes(Population),
    /// Any seeded user, uniformly (capacity).
    Uniform,
}

/// A picked request.
#[derive(Debug)]
pub struct Job {
    user: usize,
    action: Action,
    post: Option<String>,
}

/// The seeded users doing `mix` against `api`.
#[derive(Debug)]
pub struct ApiWorkload {
    pub api: Api,
    pub users: Vec<Arc<VirtualUser>>,
    pub picker: Picker,
    pub mix: Mix,
    pub posts: PostCatalog,
    written: AtomicU64,
}

impl ApiWorkload {
    pub fn new(
        api: Api,
        users: Vec<Arc<VirtualUser>>,
        picker: Picker,
        mix: Mix,
        posts: PostCatalog,
    ) -> Self {
        Self {
            api,
            users,
            picker,
            mix,
            posts,
            written: AtomicU64::new(0),
        }
    }

    async fn create(&self, user: &VirtualUser, token: &str) -> Status {
        let n = self.written.fetch_add(1, Ordering::Relaxed);
        let title = format!("Load test post {n}");
        let body = "A post written by tenk-loadtest: a paragraph of ordinary length, so list \
                    pages and reads carry a realistic amount of text rather than a few bytes.";
        let (status, post) = self.api.create_post(token, &title, body).await;
        if let Some(post) = post {
            if user.own_post().is_none() {
                user.set_own_post(post.id.clone());
            }
            self.posts.add(post.id);
        }
        status
    }

    async fn rotate(&self, user: &VirtualUser, action: Action) -> (Action, Status) {
        let Some(_guard) = user.begin_rotation() else {
            return (
                Action::Profile,
                self.api.profile(&user.access_token()).await,
            );
        };
        let (status, tokens) = if action == Action::Login {
            self.api.login(&user.email, PASSWORD).await
        } else {
            self.api.refresh(&user.refresh_token()).await
        };
        if let Some(tokens) = tokens {
            user.set_tokens(tokens);
        }
        (action, status)
    }
}

impl Workload for ApiWorkload {
    type Job = Job;

    fn pick(&self, rng: &mut StdRng) -> (Action, Job) {
        let user = match &self.picker {
            Picker::Classes(population) => population.pick(rng),
            Picker::Uniform => rng.random_range(0..self.users.len().max(1)),
        };
        let mut action = self.mix.pick(rng);
        let post = if action == Action::ReadPost {
            self.posts.random(rng)
        } else {
            None
        };
        if action == Action::ReadPost && post.is_none() {
            action = Action::ListPosts;
        }
        (action, Job { user, action, post })
    }

    async fn perform(self: Arc<Self>, job: Job) -> (Action, Status) {
        let Some(user) = self.users.get(job.user) else {
            return (job.action, Status::Dropped);
        };
        let token = user.access_token();
        let api = &self.api;
        match job.action {
            Action::Profile => (job.action, api.profile(&token).await),
            Action::Sessions => (job.action, api.sessions(&token).await),
            Action::ListPosts => (job.action, api.list_posts(&token).await),
            Action::ReadPost => {
                let id = job.post.unwrap_or_default();
                (job.action, api.read_post(&token, &id).await)
            }
            Action::CreatePost => (job.action, self.create(user, &token).await),
            Action::UpdatePost => match user.own_post() {
                Some(id) => {
                    let n = self.written.fetch_add(1, Ordering::Relaxed);
                    let title = format!("Load test post {n} (edited)");
                    (job.action, api.update_post(&token, &id, &title).await)
                }
                None => (Action::CreatePost, self.create(user, &token).await),
            },
            Action::Login | Action::Refresh => self.rotate(user, job.action).await,
            Action::Health => (job.action, api.health().await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_catalog_keeps_at_most_its_capacity_replacing_the_oldest() {
        let catalog = PostCatalog::new(vec!["a".into(), "b".into()], 3);
        catalog.add("c".into());
        catalog.add("d".into());
        assert_eq!(catalog.len(), 3);
        let mut rng = StdRng::seed_from_u64(2);
        let seen: std::collections::BTreeSet<String> =
            (0..200).filter_map(|_| catalog.random(&mut rng)).collect();
        let expected: std::collections::BTreeSet<String> =
            ["b", "c", "d"].into_iter().map(String::from).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn an_empty_catalog_has_nothing_to_read() {
        let catalog = PostCatalog::new(Vec::new(), 10);
        assert!(catalog.is_empty());
        assert_eq!(catalog.random(&mut StdRng::seed_from_u64(1)), None);
    }
}
