//! `tenk-loadtest`: parse the command line, build the runtime, run the
//! command, print the summary and write the JSON report.

use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use tenk_loadtest::cli::{Cli, Command, Common};
use tenk_loadtest::error::Error;
use tenk_loadtest::report::{Header, Machine, Report};
use tenk_loadtest::{capacity, overload, seed_mix, summary};

fn common(command: &Command) -> &Common {
    match command {
        Command::SeedMix(args) => &args.common,
        Command::Capacity(args) => &args.common,
        Command::Overload(args) => &args.common,
    }
}

fn header(command: &Command, threads: usize) -> Header {
    let common = common(command);
    Header {
        tool: "tenk-loadtest",
        version: env!("CARGO_PKG_VERSION"),
        command: match command {
            Command::SeedMix(_) => "seed-mix",
            Command::Capacity(_) => "capacity",
            Command::Overload(_) => "overload",
        },
        started_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        target: common.target.clone(),
        auth_target: common
            .auth_target
            .clone()
            .unwrap_or_else(|| common.target.clone()),
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            load_average_1m: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|text| text.split_whitespace().next()?.parse().ok()),
            generator_threads: threads,
            note: "the generator shares this machine with the server under test",
        },
    }
}

async fn execute(command: &Command, header: Header) -> Result<Report, Error> {
    match command {
        Command::SeedMix(args) => seed_mix::run(args, header).await,
        Command::Capacity(args) => capacity::run(args, header).await,
        Command::Overload(args) => overload::run(args, header).await,
    }
}

/// Prints the summary and writes the JSON where `--json` says.
fn publish(report: &Report, common: &Common) -> Result<(), Error> {
    let text = summary::render(report);
    let json = serde_json::to_string_pretty(report)?;
    match common.json.as_deref() {
        Some(path) if path.as_os_str() == "-" => {
            eprint!("{text}");
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}")?;
        }
        Some(path) => {
            std::fs::write(path, format!("{json}\n"))?;
            print!("{text}");
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = common(&cli.command);
    let threads = common.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tenk-loadtest: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let header = header(&cli.command, threads);
    let outcome = runtime
        .block_on(execute(&cli.command, header))
        .and_then(|report| publish(&report, common).map(|()| report));
    match outcome {
        Ok(report) if common.fail_on_errors && report.errors() > 0 => {
            eprintln!("tenk-loadtest: {} requests failed", report.errors());
            ExitCode::FAILURE
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenk-loadtest: {error}");
            ExitCode::FAILURE
        }
    }
}
