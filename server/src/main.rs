//! The `tenk-server` binary: reads the settings, then serves, migrates, or
//! checks the configuration.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenk_server::config::Settings;
use tenk_server::{admin, db, startup::Application, telemetry};

#[derive(Parser)]
#[command(name = "tenk-server", version, about = "The tenk API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create the database if needed, apply migrations, and exit.
    Migrate,
    /// Print the effective settings (secrets redacted); exit non-zero on a bad one.
    CheckConfig,
    /// Create an admin account (or promote an existing one). The password is
    /// read from TENK_ADMIN_PASSWORD or standard input, never from arguments.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Display name for a new account.
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
}

// jemalloc by default: its background threads return freed memory to the
// system after a load (BENCHMARKS.md, "Memory under overload").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("tenk-server: cannot read .env: {error}");
        return ExitCode::from(2);
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tenk-server: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::CheckConfig = command {
        for (name, value) in settings.describe() {
            println!("{name}={value}");
        }
        return ExitCode::SUCCESS;
    }
    // Two rustls providers are linked (ring through sqlx and lettre,
    // aws-lc-rs through Sentry's reqwest), so rustls cannot pick one by
    // itself, and sqlx's DB_SSL_MODE=verify-ca would panic at connect.
    // Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Err(error) = telemetry::init(&settings.log, std::io::stdout) {
        eprintln!("tenk-server: {error:#}");
        return ExitCode::FAILURE;
    }
    // Reports internal errors and panics when SENTRY_DSN is set; dropped
    // (and flushed) after the runtime stops.
    let _error_tracking = tenk_server::error_tracking::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.http.workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tenk-server: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            Command::Migrate => db::connect_and_migrate(&settings.database)
                .await
                .map(|pool| {
                    tracing::info!("migrations applied");
                    drop(pool);
                }),
            Command::CreateAdmin { email, name } => create_admin(settings, &email, &name).await,
            Command::Serve | Command::CheckConfig => serve(settings).await,
        }
    });
    // Tasks of connections cut at SHUTDOWN_TIMEOUT are dropped, not awaited.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "tenk-server stopped");
            eprintln!("tenk-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let pool = if settings.database.migrate_on_start {
        db::connect_and_migrate(&settings.database).await?
    } else {
        // Behind PgBouncer in transaction mode migrations run apart
        // (`tenk-server migrate` against the database itself).
        db::connect(&settings.database).await?
    };
    let application = Application::build(settings, pool).await?;
    let address = format!(
        "{}:{}",
        application.state().settings.http.host,
        application.port()
    );
    tracing::info!(addr = %address, "listening");
    application.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

async fn create_admin(settings: Settings, email: &str, name: &str) -> anyhow::Result<()> {
    let password = match std::env::var("TENK_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let pool = db::connect_and_migrate(&settings.database).await?;
    let outcome = admin::create_admin(&pool, &settings.auth, email, name, password).await?;
    println!("{outcome}");
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
