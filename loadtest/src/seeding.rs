//! Bulk seeding: every virtual user gets its own account and session before
//! the clock starts, through the public API (register, then log in), a few
//! of them also a first post. Each user logs in first and registers only
//! when that fails, so a second run over the same database only logs in.
//!
//! Speed comes from the server, not from a side door: a development server
//! started with `PASSWORD_HASH=bcrypt BCRYPT_ROUNDS=4` hashes in well under a
//! millisecond, so 10,000 accounts register and log in in about 30 s on
//! the project's 2-core machine (10-15 s when they exist already).
//! Cost 4 is refused in production (tenk requires at least 10); it exists
//! for load tests only. With the default argon2id the same seeding takes
//! minutes. Requests run `concurrency` at a
//! time, below the server's hashing queue (32 jobs per core), and a 503
//! "busy" is retried after a short pause.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::{Api, Tokens};
use crate::error::Error;
use crate::stats::Status;
use crate::user::{PASSWORD, VirtualUser, email};

const ATTEMPTS: u32 = 10;

/// What to create.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub prefix: String,
    pub users: usize,
    /// The first this many users write a post, so reads have something to read.
    pub posts: usize,
    pub concurrency: usize,
}

/// How seeding went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeedingReport {
    pub accounts: usize,
    pub registered: usize,
    pub already_existed: usize,
    pub sessions: usize,
    pub posts: usize,
    pub seconds: f64,
    pub accounts_per_second: f64,
}

/// The seeded users and the posts they wrote.
#[derive(Debug)]
pub struct Seeded {
    pub users: Vec<Arc<VirtualUser>>,
    pub posts: Vec<String>,
    pub report: SeedingReport,
}

struct One {
    index: usize,
    registered: bool,
    tokens: Tokens,
    post: Option<String>,
}

fn refused(what: &str, status: Status) -> Error {
    let hint = match status {
        Status::Http(429) => {
            ": the server rate-limits this load; start it with RATE_LIMIT_ENABLED=false \
             (or RATE_LIMIT_AUTH and RATE_LIMIT_API far above the load)"
        }
        Status::Http(401) => {
            ": the account exists with another password (a different --prefix helps)"
        }
        Status::Connection => ": is the server running at --target / --auth-target?",
        _ => "",
    };
    Error::new(format!("seeding: {what} answered {}{hint}", status.key()))
}

/// Retries `call` while the server answers 503 (its hashing queue is full).
async fn retrying<T, F, Fut>(mut call: F) -> (Status, Option<T>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = (Status, Option<T>)>,
{
    let mut attempt = 0;
    loop {
        let (status, value) = call().await;
        attempt += 1;
        if status != Status::Http(503) || attempt >= ATTEMPTS {
            return (status, value);
        }
        tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
    }
}

async fn seed_one(api: Api, plan: Arc<SeedPlan>, index: usize) -> Result<One, Error> {
    let address = email(&plan.prefix, index);
    let name = format!("Load test user {index}");
    // Log in first: on a second run over the same database that is all it
    // takes. A 401 means the account is not there yet.
    let (mut status, mut tokens) = retrying(|| api.login(&address, PASSWORD)).await;
    let registered = status == Status::Http(401);
    if registered {
        let (registration, _) =
            retrying(|| async { (api.register(&address, PASSWORD, &name).await, Some(())) }).await;
        if registration != Status::Http(201) {
            return Err(refused("register", registration));
        }
        (status, tokens) = retrying(|| api.login(&address, PASSWORD)).await;
    }
    let tokens = tokens.ok_or_else(|| refused("login", status))?;
    let post = if index < plan.posts {
        let body = "The first post of a load-test account.";
        let title = format!("Seed post {index}");
        let (status, post) = api.create_post(&tokens.access_token, &title, body).await;
        Some(post.ok_or_else(|| refused("create post", status))?.id)
    } else {
        None
    };
    Ok(One {
        index,
        registered,
        tokens,
        post,
    })
}

/// Creates (or logs in) `plan.users` accounts through `api`.
///
/// # Errors
/// Any account could not be registered, logged in or given its post; the
/// message names the status and, for a 429, how to start the server.
pub async fn seed(api: &Api, plan: SeedPlan, progress: &ProgressBar) -> Result<Seeded, Error> {
    let started = Instant::now();
    let plan = Arc::new(plan);
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for index in 0..plan.users {
        let (api, plan, permits) = (api.clone(), plan.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| Error::new("seeding was cancelled"))?;
            seed_one(api, plan, index).await
        });
    }
    let mut seeded: Vec<Option<One>> = (0..plan.users).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let one = joined.map_err(|e| Error::new(format!("seeding task failed: {e}")))??;
        progress.inc(1);
        let index = one.index;
        seeded[index] = Some(one);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut report = SeedingReport {
        accounts: plan.users,
        registered: 0,
        already_existed: 0,
        sessions: 0,
        posts: 0,
        seconds: (seconds * 1000.0).round() / 1000.0,
        accounts_per_second: (plan.users as f64 / seconds.max(1e-9)).round(),
    };
    let mut users = Vec::with_capacity(plan.users);
    let mut posts = Vec::new();
    for one in seeded.into_iter().flatten() {
        if one.registered {
            report.registered += 1;
        } else {
            report.already_existed += 1;
        }
        report.sessions += 1;
        if let Some(post) = &one.post {
            posts.push(post.clone());
            report.posts += 1;
        }
        let address = email(&plan.prefix, one.index);
        users.push(Arc::new(VirtualUser::new(address, one.tokens, one.post)));
    }
    Ok(Seeded {
        users,
        posts,
        report,
    })
}
