//! `tenk-tui`: parse the command line, open the log file, then either the
//! interactive cockpit or one headless report (`--once`). Exit codes are
//! in [`tenk_tui::cli::exit`]: 0 ok, 1 usage or configuration error, 2 an
//! alert or a target down (`--once`).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser as _;
use tenk_tui::cli::{Cli, Settings, exit, usage_exit_code};
use tenk_tui::{headless, logging, runtime};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout, errors to stderr; the code is
            // ours (1), not clap's (2, which `--once` uses for alerts).
            let _ = error.print();
            return ExitCode::from(usage_exit_code(&error));
        }
    };
    let env = |name: &str| std::env::var(name).ok();
    let settings = match Settings::new(cli, env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tenk-tui: {error}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let log = logging::log_path(settings.cli.log_file.as_deref(), env);
    if let Err(error) = logging::init(&log) {
        eprintln!("tenk-tui: {error:#}");
        return ExitCode::from(exit::USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tenk-tui: starting the runtime: {error}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if settings.cli.once && settings.cli.prometheus.is_some() {
        return runtime.block_on(fleet_once(&settings));
    }
    if settings.cli.once {
        return runtime.block_on(once(&settings));
    }
    match runtime.block_on(runtime::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "cockpit failed");
            eprintln!("tenk-tui: {error:#} (log: {})", log.display());
            ExitCode::from(exit::USAGE)
        }
    }
}

/// `--once`: 0 when all is well, 2 when an alert is pending or firing or an
/// instance does not answer, 1 when the run itself failed.
async fn once(settings: &Settings) -> ExitCode {
    let report = match headless::run_once(settings).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("tenk-tui: {error:#}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let text = if settings.cli.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("tenk-tui: {error}");
                return ExitCode::from(exit::USAGE);
            }
        }
    } else {
        report.to_text()
    };
    // A closed pipe (`| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::from(report.exit_code())
}

/// `--once --prometheus URL`: the fleet as Prometheus sees it.
async fn fleet_once(settings: &Settings) -> ExitCode {
    let report = match headless::run_fleet_once(settings).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("tenk-tui: {error:#}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let text = if settings.cli.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("tenk-tui: {error}");
                return ExitCode::from(exit::USAGE);
            }
        }
    } else {
        report.to_text()
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::from(report.exit_code())
}
