use std::collections::BTreeSet;
use std::process::Command;

use tenk_server::config::Settings;

/// Runs `tenk-server check-config` with only `vars` set (no `.env` is read:
/// the test runs in a temporary directory).
fn check_config(vars: &[(&str, &str)]) -> (bool, String, String) {
    let dir = std::env::temp_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenk-server"));
    command.arg("check-config").current_dir(dir).env_clear();
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = command.output().expect("run tenk-server");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn each_invalid_value_stops_the_start_with_one_line_naming_it() {
    let cases = [
        (
            "DB_POOL_MAX",
            "abc",
            "DB_POOL_MAX=abc: expected a whole number from 1 to 10000",
        ),
        (
            "DB_POOL_MAX",
            "0",
            "DB_POOL_MAX=0: expected a whole number from 1 to 10000",
        ),
        (
            "PORT",
            "70000",
            "PORT=70000: expected a whole number from 0 to 65535",
        ),
        (
            "DB_IDLE_TIMEOUT",
            "soon",
            "DB_IDLE_TIMEOUT=soon: expected a duration",
        ),
        (
            "DB_ACQUIRE_TIMEOUT",
            "0",
            "DB_ACQUIRE_TIMEOUT=0: expected a duration",
        ),
        (
            "DB_SSL_MODE",
            "maybe",
            "DB_SSL_MODE=maybe: expected disable, prefer, require, verify-ca or verify-full",
        ),
        (
            "APP_ENV",
            "staging",
            "APP_ENV=staging: expected development or production",
        ),
        (
            "NODE_ENV",
            "staging",
            "NODE_ENV=staging: expected development or production",
        ),
        (
            "LOG_FORMAT",
            "xml",
            "LOG_FORMAT=xml: expected json or pretty",
        ),
        (
            "ENABLE_APP_CACHE",
            "sometimes",
            "ENABLE_APP_CACHE=sometimes: expected true or false",
        ),
        (
            "REDIS_PORT",
            "-1",
            "REDIS_PORT=-1: expected a whole number from 1 to 65535",
        ),
        (
            "REDIS_URL",
            "http://x",
            "REDIS_URL=http://x: expected a URL",
        ),
        (
            "DATABASE_URL",
            "mysql://u:pw@h/db",
            "DATABASE_URL=mysql://u:***@h/db: expected a URL",
        ),
        (
            "REQUEST_BODY_LIMIT",
            "1gb",
            "REQUEST_BODY_LIMIT=1gb: expected a size",
        ),
        (
            "BCRYPT_ROUNDS",
            "99",
            "BCRYPT_ROUNDS=99: expected a whole number from 4 to 31",
        ),
        (
            "HOST",
            "localhost:80",
            "HOST=localhost:80: expected an IP address",
        ),
        (
            "JWT_SECRET",
            "short",
            "JWT_SECRET=<redacted, 5 bytes>: expected a random secret of at least 32 bytes",
        ),
    ];
    for (name, value, expected) in cases {
        let (ok, _, stderr) = check_config(&[(name, value)]);
        assert!(!ok, "{name}={value} was accepted");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line for {name}: {stderr}");
        assert!(
            lines[0].contains(expected),
            "{name}={value}: got {stderr:?}, expected {expected:?}"
        );
    }
}

#[test]
fn a_wildcard_origin_never_goes_with_credentials() {
    let (ok, _, stderr) =
        check_config(&[("CORS_ORIGINS", "*"), ("CORS_ALLOW_CREDENTIALS", "true")]);
    assert!(!ok);
    assert!(
        stderr
            .contains("CORS_ORIGINS=*: expected explicit origins when CORS_ALLOW_CREDENTIALS=true"),
        "{stderr}"
    );
    let (ok, _, stderr) = check_config(&[("CORS_ORIGINS", "*")]);
    assert!(ok, "{stderr}");
}

#[test]
fn secrets_are_never_echoed_in_errors_or_the_effective_settings() {
    let (ok, _, stderr) = check_config(&[("JWT_SECRET", "tooshort-secret")]);
    assert!(!ok);
    assert!(!stderr.contains("tooshort-secret"), "{stderr}");

    let (ok, stdout, _) = check_config(&[
        (
            "DATABASE_URL",
            "postgres://app:db-password-123@db:5432/tenk",
        ),
        ("REDIS_PASSWORD", "redis-password-456"),
        ("OPS_TOKEN", "ops-token-789-0123456789"),
        ("JWT_SECRET", "jwt-secret-0123456789-0123456789-0123456789"),
    ]);
    assert!(ok);
    for secret in [
        "db-password-123",
        "redis-password-456",
        "ops-token-789",
        "jwt-secret-0123",
    ] {
        assert!(!stdout.contains(secret), "{secret} leaked: {stdout}");
    }
    assert!(
        stdout.contains("DATABASE_URL=postgres://app:***@db:5432/tenk"),
        "{stdout}"
    );
    assert!(
        stdout.contains("DB_POOL_MAX=20"),
        "the seed's default: {stdout}"
    );
    assert!(stdout.contains("SESSION_TTL=7200s"), "{stdout}");
}

#[test]
fn production_refuses_missing_or_default_secrets() {
    let good: [(&str, &str); 6] = [
        ("APP_ENV", "production"),
        ("JWT_SECRET", "jwt-secret-0123456789-0123456789-0123456789"),
        ("DATABASE_URL", "postgres://app:pw@db:5432/tenk"),
        ("OPS_TOKEN", "ops-token-0123456789-abcdef"),
        ("OTP_SECRET", "otp-secret-0123456789-0123456789-0123456789"),
        ("SMTP_URL", "smtps://mailer:mail-pw-42@smtp.example.com:465"),
    ];
    // The good settings, with `name` removed or replaced.
    let with = |name: &str, value: Option<&'static str>| -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = good
            .iter()
            .filter(|(n, _)| *n != name)
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect();
        if let Some(value) = value {
            vars.push((name.to_string(), value.to_string()));
        }
        vars
    };
    let run = |vars: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        check_config(&pairs)
    };

    for missing in [
        "OPS_TOKEN",
        "JWT_SECRET",
        "DATABASE_URL",
        "OTP_SECRET",
        "SMTP_URL",
    ] {
        let (ok, _, stderr) = run(with(missing, None));
        assert!(!ok, "{missing} missing was accepted");
        assert!(
            stderr.contains(&format!("{missing} is not set")),
            "{stderr}"
        );
    }
    let (ok, _, stderr) = run(with(
        "JWT_SECRET",
        Some(tenk_server::config::DEV_JWT_SECRET),
    ));
    assert!(!ok);
    assert!(stderr.contains("not the development default"), "{stderr}");
    let (ok, _, stderr) = run(with(
        "OTP_SECRET",
        Some(tenk_server::config::DEV_OTP_SECRET),
    ));
    assert!(!ok);
    assert!(stderr.contains("not the development default"), "{stderr}");
    let (ok, _, stderr) = run(with("BCRYPT_ROUNDS", Some("8")));
    assert!(!ok);
    assert!(
        stderr.contains("BCRYPT_ROUNDS=8: expected a whole number from 10 to 31"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(with("MAIL_TRANSPORT", Some("log")));
    assert!(!ok, "the log transport writes codes to the log");
    assert!(
        stderr.contains("MAIL_TRANSPORT=log: expected smtp in production"),
        "{stderr}"
    );
    let mut node = with("APP_ENV", None);
    node.push(("NODE_ENV".into(), "production".into()));
    node.retain(|(n, _)| n != "OPS_TOKEN");
    let (ok, _, _) = run(node);
    assert!(!ok, "NODE_ENV is an alias of APP_ENV");

    let (ok, stdout, stderr) = run(with("NONE", None));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("LOG_FORMAT=json"));
    assert!(stdout.contains("HOST=0.0.0.0"));
    assert!(
        !stdout.contains("mail-pw-42") && stdout.contains("SMTP_URL=smtps://mailer:***@"),
        "{stdout}"
    );
}

/// `.env.example` documents exactly the declared variables, and
/// `check-config` prints a line for each one that is more than an input.
#[test]
fn env_example_and_check_config_cover_every_declared_variable() {
    let example = include_str!("../../../.env.example");
    let documented: BTreeSet<&str> = example
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .filter(|name| {
            name.starts_with(|c: char| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect();
    let variables = Settings::variables();
    let declared: BTreeSet<&str> = variables.iter().map(|v| v.name).collect();
    assert_eq!(
        declared.len(),
        variables.len(),
        "declared twice: {variables:?}"
    );
    assert_eq!(
        documented, declared,
        ".env.example against the declarations"
    );

    let (ok, stdout, stderr) = check_config(&[]);
    assert!(ok, "{stderr}");
    let printed: BTreeSet<&str> = stdout
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    for variable in variables.iter().filter(|v| v.shown) {
        assert!(
            printed.contains(variable.name),
            "no check-config line for {}: {stdout}",
            variable.name
        );
    }
}
