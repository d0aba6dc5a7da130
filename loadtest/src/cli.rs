//! The command line: `seed-mix`, `capacity` and `overload`, with the options
//! they share.
//! Every target must be a loopback address: this tool only ever loads a
//! server on the same machine. The ops token for `/metrics` comes from the
//! environment (`TENK_OPS_TOKEN`), never from an argument.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::mix::MixName;

#[derive(Debug, Parser)]
#[command(
    name = "tenk-loadtest",
    version,
    about = "Open-loop load tests of tenk: the seed's 10K-user mix, a capacity search and an overload run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The seed's users (10 % at 10 req/min, 50 % at 2, 40 % at 0.5), each
    /// with its own account and session, for a fixed time.
    SeedMix(SeedMixArgs),
    /// Constant-rate steps, rising until p95 or the error rate passes its
    /// limit; reports the highest rate that held.
    Capacity(CapacityArgs),
    /// One constant rate (typically past capacity) for a fixed time, then
    /// no load while the server's memory is watched: goodput, admitted and
    /// shed latency, timeouts, RSS before / peak / after.
    Overload(OverloadArgs),
}

#[derive(Debug, Args)]
pub struct SeedMixArgs {
    /// Virtual users, split into the seed's three classes.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub users: u32,
    /// Multiplies every user's rate (the seed's peak is 2).
    #[arg(long, default_value_t = 1.0, value_parser = positive_factor)]
    pub peak: f64,
    /// How long the users run (30s, 2m, 500ms; a bare number is seconds).
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub duration: Duration,
    #[arg(long, value_enum, default_value_t = MixName::Full)]
    pub mix: MixName,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// Seeded users the requests are spread over (uniformly).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub users: u32,
    #[arg(long, value_enum, default_value_t = MixName::Read)]
    pub mix: MixName,
    /// The first step's rate, in requests per second.
    #[arg(long, default_value_t = 1_000.0, value_parser = positive_rate)]
    pub start_rate: f64,
    /// Each step's rate is the previous one times this.
    #[arg(long, default_value_t = 1.5, value_parser = step_factor)]
    pub factor: f64,
    /// No step goes above this rate.
    #[arg(long, default_value_t = 100_000.0, value_parser = positive_rate)]
    pub max_rate: f64,
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_steps: u32,
    /// Length of each step.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub step_duration: Duration,
    /// Before the first step, the mix at the first step's rate for this
    /// long, not judged as a step (`0` for none): cold caches and a cold JIT
    /// must not decide the first step.
    #[arg(long, default_value = "10s", value_parser = duration_or_zero)]
    pub warmup: Duration,
    /// A step holds while its p95 stays at or under this (milliseconds).
    #[arg(long, default_value_t = 100.0, value_parser = positive_factor)]
    pub max_p95_ms: f64,
    /// ... and its share of failed requests at or under this (0.01 is 1 %).
    #[arg(long, default_value_t = 0.01, value_parser = fraction)]
    pub max_error_rate: f64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct OverloadArgs {
    /// Seeded users the requests are spread over (uniformly).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub users: u32,
    #[arg(long, value_enum, default_value_t = MixName::Hot)]
    pub mix: MixName,
    /// The offered rate, requests per second (say, twice the rate `capacity` held).
    #[arg(long, value_parser = positive_rate)]
    pub rate: f64,
    /// How long the rate is offered.
    #[arg(long, default_value = "30s", value_parser = duration)]
    pub duration: Duration,
    /// After the load, how long the server's memory is still watched (`0` for
    /// not at all).
    #[arg(long, default_value = "30s", value_parser = duration_or_zero)]
    pub after: Duration,
    /// Before the load, the mix at `--warmup-rate` for this long, not
    /// reported with the run (`0` for none); "RSS before" is read after it.
    #[arg(long, default_value = "0", value_parser = duration_or_zero)]
    pub warmup: Duration,
    /// The warm-up's rate (default: half of `--rate`).
    #[arg(long, value_parser = positive_rate)]
    pub warmup_rate: Option<f64>,
    /// How often the server's `/metrics` is scraped for its RSS.
    #[arg(long, default_value = "500ms", value_parser = duration)]
    pub sample_every: Duration,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct Common {
    /// The server under load (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = loopback_url)]
    pub target: String,
    /// Where accounts are registered and logged in (default: --target). Set
    /// it to tenk when --target is a peer that only serves the hot path.
    #[arg(long, value_parser = loopback_url)]
    pub auth_target: Option<String>,
    /// The server's Prometheus endpoint(s), scraped before and after (default:
    /// TARGET/metrics). Repeat for a multi-process server: the values add up.
    #[arg(long = "metrics-url", value_parser = loopback_url)]
    pub metrics_urls: Vec<String>,
    /// Do not scrape metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Load-test accounts are PREFIX-N@loadtest.example.com.
    #[arg(long, default_value = "loadtest", value_parser = account_prefix)]
    pub prefix: String,
    /// Seeding requests in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub seed_concurrency: u32,
    /// Users that write a post while seeding (reads pick among these and later ones).
    #[arg(long, default_value_t = 200)]
    pub posts: u32,
    /// A request still open after this is a `timeout` error.
    #[arg(long, default_value = "10s", value_parser = duration)]
    pub timeout: Duration,
    /// Open requests allowed at once; arrivals past it are `dropped` errors.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight: u32,
    /// Seed of the random choices (arrivals, users, actions).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON report to this file (`-` for standard output, the
    /// human summary then goes to standard error).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Exit with status 1 when any request failed.
    #[arg(long)]
    pub fail_on_errors: bool,
    /// Worker threads of the generator (default: every core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: Option<u16>,
}

/// `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds; at most one hour.
pub fn duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{raw}: expected a duration such as 30s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{raw}: the unit must be ms, s, m or h")),
    };
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(format!("{raw}: must be more than 0 and at most 1h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// As [`duration`], and also `0` (bare or with a unit) for none.
pub fn duration_or_zero(raw: &str) -> Result<Duration, String> {
    let trimmed = raw.trim();
    let number = trimmed.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &trimmed[number.len()..];
    let zero = number.parse::<f64>().is_ok_and(|value| value == 0.0);
    if zero && ["", "s", "ms", "m", "h"].contains(&unit) {
        return Ok(Duration::ZERO);
    }
    duration(raw)
}

fn bounded(raw: &str, low: f64, high: f64, what: &str) -> Result<f64, String> {
    let value: f64 = raw.parse().map_err(|_| format!("{raw}: not a number"))?;
    if value > low && value <= high {
        Ok(value)
    } else {
        Err(format!("{raw}: {what}"))
    }
}

fn positive_factor(raw: &str) -> Result<f64, String> {
    bounded(raw, 0.0, 1000.0, "must be more than 0 and at most 1000")
}

fn positive_rate(raw: &str) -> Result<f64, String> {
    bounded(
        raw,
        0.0,
        1_000_000.0,
        "must be more than 0 and at most 1,000,000 per second",
    )
}

fn step_factor(raw: &str) -> Result<f64, String> {
    bounded(raw, 1.0, 10.0, "must be more than 1 and at most 10")
}

fn fraction(raw: &str) -> Result<f64, String> {
    let value: f64 = raw.parse().map_err(|_| format!("{raw}: not a number"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{raw}: must be from 0 to 1"))
    }
}

fn account_prefix(raw: &str) -> Result<String, String> {
    let valid = !raw.is_empty()
        && raw.len() <= 40
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(raw.to_string())
    } else {
        Err(format!("{raw}: 1 to 40 letters, digits, '-' or '_'"))
    }
}

/// An http URL whose host is a loopback address: the only kind of target.
pub fn loopback_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{raw}: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!("{raw}: only http:// targets (a loopback server)"));
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(format!(
            "{raw}: not a loopback address; tenk-loadtest only loads a server on this machine"
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units_and_are_bounded() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("3"), Ok(Duration::from_secs(3)));
        assert!(duration("0s").is_err());
        assert!(duration("2h").is_err());
        assert!(duration("ten").is_err());
        assert!(duration("5d").is_err());
    }

    #[test]
    fn zero_durations_mean_none_where_allowed() {
        for zero in ["0", "0s", "0ms", "0.0"] {
            assert_eq!(duration_or_zero(zero), Ok(Duration::ZERO), "{zero}");
        }
        assert_eq!(duration_or_zero("10s"), Ok(Duration::from_secs(10)));
        assert!(duration_or_zero("0d").is_err());
        assert!(duration_or_zero("-1s").is_err());
        assert!(duration_or_zero("2h").is_err());
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tenk-loadtest").chain(args.iter().copied()))
    }

    #[test]
    fn capacity_warms_up_for_ten_seconds_unless_told_otherwise() {
        let warmup = |args: &[&str]| match parse(args).map(|cli| cli.command) {
            Ok(Command::Capacity(args)) => Ok(args.warmup),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(error.kind()),
        };
        assert_eq!(warmup(&["capacity"]), Ok(Duration::from_secs(10)));
        assert_eq!(warmup(&["capacity", "--warmup", "0"]), Ok(Duration::ZERO));
        assert_eq!(
            warmup(&["capacity", "--warmup", "2500ms"]),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(
            warmup(&["capacity", "--warmup", "soon"]),
            Err(clap::error::ErrorKind::ValueValidation)
        );
    }

    #[test]
    fn overload_needs_a_rate_and_defaults_to_thirty_plus_thirty_seconds() {
        assert_eq!(
            parse(&["overload"]).map(|_| ()).map_err(|e| e.kind()),
            Err(clap::error::ErrorKind::MissingRequiredArgument)
        );
        let Ok(Command::Overload(args)) = parse(&["overload", "--rate", "9000"]).map(|c| c.command)
        else {
            panic!("overload --rate 9000 did not parse");
        };
        assert_eq!(args.rate, 9000.0);
        assert_eq!(args.duration, Duration::from_secs(30));
        assert_eq!(args.after, Duration::from_secs(30));
        assert_eq!(args.warmup, Duration::ZERO);
        assert_eq!(args.warmup_rate, None);
        assert_eq!(args.sample_every, Duration::from_millis(500));
        assert_eq!(args.mix, MixName::Hot);
        let Ok(Command::Overload(args)) = parse(&[
            "overload",
            "--rate",
            "100",
            "--after",
            "0",
            "--warmup",
            "5s",
            "--warmup-rate",
            "40",
        ])
        .map(|c| c.command) else {
            panic!("overload with every option did not parse");
        };
        assert_eq!(
            (args.after, args.warmup),
            (Duration::ZERO, Duration::from_secs(5))
        );
        assert_eq!(args.warmup_rate, Some(40.0));
        assert!(parse(&["overload", "--rate", "0"]).is_err());
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        for good in [
            "http://127.0.0.1:8080",
            "http://localhost:3000/",
            "http://[::1]:80",
            "http://127.9.9.9",
        ] {
            assert!(loopback_url(good).is_ok(), "{good}");
        }
        for bad in [
            "http://10.0.0.1:8080",
            "http://example.com",
            "https://127.0.0.1",
            "http://192.168.1.2",
            "not a url",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            loopback_url("http://127.0.0.1:8080/").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
