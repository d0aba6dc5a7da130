//! The command line, and the settings built from it and the environment;
//! the exit codes. Secrets come from the environment only (`TENK_OPS_TOKEN`,
//! `TENK_ADMIN_TOKEN`): there is no flag that could put one in `ps` output
//! or a shell history. A usage error exits 1, never 2 (the code `--once`
//! keeps for "look at this": an alert or a target down).

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

Exit status: 0 all is well; 1 a usage or configuration error (bad flag,
bad URL, unreadable thresholds file) or the cockpit failed; with --once, 2
when an alert is pending or firing or an instance does not answer.";

/// Exit codes, the same for the cockpit and `--once`.
pub mod exit {
    /// All is well (or help / version was asked for).
    pub const OK: u8 = 0;
    /// A usage or configuration error, or the run itself failed.
    pub const USAGE: u8 = 1;
    /// `--once`: an alert is pending or firing, or an instance does not answer.
    pub const ATTENTION: u8 = 2;
}

/// The exit code for a command line clap refused: 0 for `--help` and
/// `--version` (not errors), 1 for every real error (clap's own is 2).
pub fn usage_exit_code(error: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => exit::OK,
        _ => exit::USAGE,
    }
}

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

    /// Fleet mode: discover the instances from this Prometheus (up{SELECTOR}), read their numbers with PromQL and the alert states from its rule evaluation; --target is then only the admin API.
    #[arg(long, value_name = "URL", value_parser = parse_service_url)]
    pub prometheus: Option<String>,

    /// Fleet mode: the label matchers that pick the tenk instances.
    #[arg(
        long,
        value_name = "MATCHERS",
        default_value = "job=\"tenk\"",
        requires = "prometheus"
    )]
    pub selector: String,

    /// Fleet mode: the range of the rates in PromQL (e.g. 1m, 5m).
    #[arg(long, value_name = "RANGE", default_value = "1m", requires = "prometheus", value_parser = parse_range)]
    pub rate_window: String,

    /// Fleet mode: an Alertmanager, to list firing alerts and silences and to silence an alert (S).
    #[arg(long, value_name = "URL", requires = "prometheus", value_parser = parse_service_url)]
    pub alertmanager: Option<String>,

    /// Longest wait between polls of an instance that does not answer (a restart is seen within it).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval)]
    pub max_backoff: Duration,
}

/// `http(s)://host[:port][/prefix]`, without credentials, query or
/// fragment; `host:port` (no scheme) is `http://host:port`.
pub fn parse_target(text: &str) -> Result<String, String> {
    let text = text.trim();
    let owned;
    let text = if text.contains("://") {
        text
    } else {
        owned = format!("http://{text}");
        owned.as_str()
    };
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

/// The base URL of Prometheus or Alertmanager: like a target.
fn parse_service_url(text: &str) -> Result<String, String> {
    parse_target(text)
}

/// A PromQL range (`30s`, `1m`, `5m`), kept as typed.
fn parse_range(text: &str) -> Result<String, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_secs(1) {
        return Err(format!("{text:?}: a range of at least 1s"));
    }
    Ok(text.to_string())
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
        assert_eq!(settings.thresholds.len(), 7, "instance down and the six");
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

    #[test]
    fn host_and_port_without_a_scheme_is_http() {
        assert_eq!(
            parse_target("10.0.0.1:8080"),
            Ok("http://10.0.0.1:8080".into())
        );
        assert_eq!(
            parse_target("localhost:8080/"),
            Ok("http://localhost:8080".into())
        );
        assert_eq!(parse_target("api.example"), Ok("http://api.example".into()));
        assert_eq!(
            parse_target("https://api.example:443"),
            Ok("https://api.example:443".into())
        );
        let typo = parse_target("htp://10.0.0.1:8080").unwrap_err();
        assert!(typo.contains("only http:// and https://"), "{typo}");
        assert!(
            parse_target("user:pw@a:1")
                .unwrap_err()
                .contains("TENK_OPS_TOKEN")
        );
        assert!(parse_target("a:1?x=1").is_err());
    }

    #[test]
    fn usage_errors_exit_1_and_help_and_version_exit_0() {
        for args in [
            &["--target", "htp://10.0.0.1:8080"][..],
            &["--interval", "0s"],
            &["--no-such-flag"],
            &["--json"],
            &["--max-backoff", "forever"],
        ] {
            let error = cli(args).unwrap_err();
            assert_eq!(usage_exit_code(&error), exit::USAGE, "{args:?}: {error}");
        }
        for args in [&["--help"][..], &["--version"]] {
            let error = cli(args).unwrap_err();
            assert_eq!(usage_exit_code(&error), exit::OK, "{args:?}");
        }
        assert_ne!(exit::USAGE, exit::ATTENTION);
    }

    #[test]
    fn the_backoff_cap_is_a_few_seconds_by_default_and_configurable() {
        assert_eq!(cli(&[]).unwrap().max_backoff, Duration::from_secs(5));
        assert_eq!(
            cli(&["--max-backoff", "1500ms"]).unwrap().max_backoff,
            Duration::from_millis(1500)
        );
    }

    #[test]
    fn fleet_mode_takes_a_prometheus_url_a_selector_and_an_alertmanager() {
        let fleet = cli(&[
            "--prometheus",
            "127.0.0.1:9090",
            "--alertmanager",
            "http://127.0.0.1:9093/",
            "--selector",
            "job=\"api\"",
        ])
        .unwrap();
        assert_eq!(fleet.prometheus.as_deref(), Some("http://127.0.0.1:9090"));
        assert_eq!(fleet.alertmanager.as_deref(), Some("http://127.0.0.1:9093"));
        assert_eq!(fleet.selector, "job=\"api\"");
        assert_eq!(fleet.rate_window, "1m");
        let error = cli(&["--alertmanager", "http://a:9093"]).unwrap_err();
        assert_eq!(usage_exit_code(&error), exit::USAGE, "needs --prometheus");
        assert!(cli(&["--prometheus", "http://p:9090", "--rate-window", "0s"]).is_err());
    }
}
