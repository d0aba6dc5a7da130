//! Logs go to a file, never to the screen the cockpit draws on: `--log-file`
//! or `TENK_TUI_LOG`, else `$XDG_STATE_HOME/tenk-tui/tenk-tui.log`, else
//! `~/.local/state/tenk-tui/tenk-tui.log`, else `/tmp/tenk-tui.log`. Nothing
//! secret is ever logged: no token, password, code, email or URL query.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// Where the log goes, from the flag and the environment.
pub fn log_path(explicit: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    let state = env("XDG_STATE_HOME")
        .filter(|dir| Path::new(dir).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| Path::new(&home).join(".local/state"))
        });
    match state {
        Some(dir) => dir.join("tenk-tui").join("tenk-tui.log"),
        None => PathBuf::from("/tmp/tenk-tui.log"),
    }
}

/// Opens the log (appending, readable by its owner only) and installs the
/// subscriber; also logs panics before the terminal hook reports them.
///
/// # Errors
/// When the file cannot be created.
pub fn init(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening the log file {}", path.display()))?;
    let filter = EnvFilter::try_from_env("TENK_TUI_LOG_LEVEL")
        .unwrap_or_else(|_| EnvFilter::new("info,hyper=warn,reqwest=warn"));
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))?;
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(panic = %info, "panicked");
        default_hook(info);
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_goes_to_the_state_directory_or_tmp() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_string())
            }
        };
        assert_eq!(
            log_path(None, env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
            PathBuf::from("/s/tenk-tui/tenk-tui.log")
        );
        assert_eq!(
            log_path(None, env(&[("XDG_STATE_HOME", "relative"), ("HOME", "/h")])),
            PathBuf::from("/h/.local/state/tenk-tui/tenk-tui.log")
        );
        assert_eq!(log_path(None, env(&[])), PathBuf::from("/tmp/tenk-tui.log"));
        assert_eq!(
            log_path(Some(Path::new("x.log")), env(&[])),
            PathBuf::from("x.log")
        );
    }
}
