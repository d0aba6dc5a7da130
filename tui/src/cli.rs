//! The command line, and the settings built from it and the environment.
//! Secrets come from the environment only (`TENK_OPS_TOKEN`,
//! `TENK_ADMIN_TOKEN`): there is no flag that could put one in `ps` output
//! or a shell history.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::secret::Secret;
use crate::thresholds::{EMBEDDED, Threshold, parse_duration, parse_thresholds};

const AFTER_HELP: &str = "\
Environment (secrets are read from here only, never from flags):
  TENK_OPS_TOKEN     bearer token for /metrics and /api/health/detailed (the servers' OPS_TOKEN)
  TENK_ADMIN_TOKEN   an admin access token; without it, log in from the app (L)
  TENK_TUI_LOG       log file (default $XDG_STATE_HOME/tenk-tui/tenk-tui.log)
  TENK_TUI_LOG_LEVEL log filter, e.g. debug (default info)

Exit status with --once: 0 all is well, 2 an alert is pending or firing or an
instance does not answer, 1 the run itself failed.";

#[derive(Debug, Clone, Parser)]
#[command(name = "tenk-tui", version, about = "The tenk operator cockpit: live numbers, alert thresholds and session revocation for tenk instances", after_help = AFTER_HELP)]
pub struct Cli {
    /// Base URL of a tenk instance; repeat the flag for several.
    #[arg(long = "target", value_name = "URL", default_value = "http://127.0.0.1:8080", value_parser = parse_target)]
    pub targets: Vec<String>,

    /// Time between polls of each instance (e.g. 2s, 500ms, 1m; a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_interval)]
    pub interval: Duration,

    /// Thresholds file (default: alerts/thresholds.toml as built into this binary).
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,

    /// Disable every action (revocations); watching and searching still work.
    #[arg(long)]
    pub read_only: bool,

    /// Take two scrapes one interval apart, print every number and alert state, and exit.
    #[arg(long)]
    pub once: bool,

    /// With --once: print JSON instead of text.
    #[arg(long, requires = "once")]
    pub json: bool,

    /// Log file (logs never go to the screen).
    #[arg(long, value_name = "FILE", env = "TENK_TUI_LOG")]
    pub log_file: Option<PathBuf>,

    /// How long one HTTP request may take.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval)]
    pub timeout: Duration,
}

/// `http(s)://host[:port][/prefix]`, without credentials, query or fragment.
fn parse_target(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?}: only http:// and https:// targets"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials do not belong in a URL: set TENK_OPS_TOKEN instead".into());
    }
    if url.host_str().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{text:?}: give the instance's base URL, like http://127.0.0.1:8080"
        ));
    }
    Ok(text.trim_end_matches('/').to_string())
}

/// A Prometheus duration, or a bare number of seconds; 100 ms to 1 h.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let duration = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Duration::from_secs_f64(seconds),
        Ok(_) => return Err(format!("{text:?} is not a duration")),
        Err(_) => parse_duration(text)?,
    };
    if duration < Duration::from_millis(100) || duration > Duration::from_secs(3600) {
        return Err(format!("{text:?} must be between 100ms and 1h"));
    }
    Ok(duration)
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cli: Cli,
    pub thresholds: Vec<Threshold>,
    pub ops_token: Option<Secret>,
    pub admin_token: Option<Secret>,
}

impl Settings {
    /// Reads the thresholds file and the secrets from `env`.
    ///
    /// # Errors
    /// A message naming the bad file, value or duplicate target.
    pub fn new(cli: Cli, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let text = match &cli.thresholds {
            Some(path) => {
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => EMBEDDED.to_string(),
        };
        let source = cli.thresholds.as_ref().map_or_else(
            || "built-in alerts/thresholds.toml".to_string(),
            |p| p.display().to_string(),
        );
        let thresholds = parse_thresholds(&text).map_err(|e| format!("{source}: {e}"))?;
        for (i, target) in cli.targets.iter().enumerate() {
            if cli.targets[..i].contains(target) {
                return Err(format!("--target {target} is given twice"));
            }
        }
        let secret = |name: &str| {
            env(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| Secret::new(v.trim()))
        };
        Ok(Self {
            thresholds,
            ops_token: secret("TENK_OPS_TOKEN"),
            admin_token: secret("TENK_ADMIN_TOKEN"),
            cli,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tenk-tui").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_one_local_target_every_two_seconds() {
        let cli = cli(&[]).unwrap();
        assert_eq!(cli.targets, vec!["http://127.0.0.1:8080"]);
        assert_eq!(cli.interval, Duration::from_secs(2));
        assert!(!cli.read_only && !cli.once && !cli.json);
    }

    #[test]
    fn targets_repeat_and_intervals_take_units_or_seconds() {
        let cli = cli(&[
            "--target",
            "http://a:1/",
            "--target",
            "https://b",
            "--interval",
            "500ms",
        ])
        .unwrap();
        assert_eq!(cli.targets, vec!["http://a:1", "https://b"]);
        assert_eq!(cli.interval, Duration::from_millis(500));
        assert_eq!(parse_interval("3"), Ok(Duration::from_secs(3)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("2h").is_err());
    }

    #[test]
    fn bad_targets_are_refused_and_credentials_never_accepted_in_argv() {
        assert!(cli(&["--target", "ftp://a"]).is_err());
        assert!(cli(&["--target", "not a url"]).is_err());
        let error = cli(&["--target", "http://user:pw@a:1"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("TENK_OPS_TOKEN"), "{error}");
        assert!(
            cli(&["--ops-token", "x"]).is_err(),
            "no flag takes a secret"
        );
        assert!(cli(&["--admin-token", "x"]).is_err());
        assert!(cli(&["--json"]).is_err(), "--json needs --once");
    }

    #[test]
    fn secrets_come_from_the_environment_and_blank_is_none() {
        let env = |name: &str| match name {
            "TENK_OPS_TOKEN" => Some("ops-token-123".to_string()),
            "TENK_ADMIN_TOKEN" => Some("  ".to_string()),
            _ => None,
        };
        let settings = Settings::new(cli(&[]).unwrap(), env).unwrap();
        assert_eq!(
            settings.ops_token.as_ref().map(Secret::expose),
            Some("ops-token-123")
        );
        assert!(settings.admin_token.is_none());
        assert!(!format!("{settings:?}").contains("ops-token-123"));
        assert_eq!(settings.thresholds.len(), 6);
    }

    #[test]
    fn a_missing_or_bad_thresholds_file_and_duplicate_targets_are_errors() {
        let missing = cli(&["--thresholds", "/nonexistent/thresholds.toml"]).unwrap();
        assert!(
            Settings::new(missing, |_| None)
                .unwrap_err()
                .contains("/nonexistent")
        );
        let twice = cli(&["--target", "http://a:1", "--target", "http://a:1/"]).unwrap();
        assert!(
            Settings::new(twice, |_| None)
                .unwrap_err()
                .contains("twice")
        );
    }
}
