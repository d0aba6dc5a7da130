//! Logging: JSON lines in production (`json_lines.rs`), a readable format
//! in development. Never put a password, token, code or full email address
//! in a field.

mod json_lines;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber writing to `sink`.
///
/// # Errors
/// A subscriber was already installed.
pub fn init<W>(settings: &LogSettings, sink: W) -> anyhow::Result<()>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&settings.level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink);
    let result = match settings.format {
        LogFormat::Json => builder.event_format(json_lines::JsonLines).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    result.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
}
