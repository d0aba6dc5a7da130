//! Progress bars (indicatif) on standard error: one counting seeded
//! accounts, one showing a run's time, replies and errors. Hidden with
//! `--quiet`, and by indicatif itself when standard error is not a terminal.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::Recorder;

const TICK: Duration = Duration::from_millis(200);

fn bar(length: u64, template: &str, quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(length)
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A bar counting `length` items (seeded accounts).
pub fn counter(length: u64, label: &str, quiet: bool) -> ProgressBar {
    let template = format!("{label:<10} [{{bar:40}}] {{pos}}/{{len}} {{per_sec}} {{elapsed}}");
    bar(length, &template, quiet)
}

/// A bar over a run's length that shows replies and errors as they come.
pub struct RunBar {
    bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl RunBar {
    pub fn start(label: &str, length: Duration, recorder: Arc<Recorder>, quiet: bool) -> Self {
        let millis = u64::try_from(length.as_millis()).unwrap_or(u64::MAX);
        let template = format!("{label:<10} [{{bar:40}}] {{elapsed}} {{msg}}");
        let bar = bar(millis, &template, quiet);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            // Ends when `finish` aborts it (or the bar is finished).
            while !shown.is_finished() {
                let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                shown.set_position(elapsed.min(millis));
                shown.set_message(format!(
                    "{} replies, {} errors",
                    recorder.completed(),
                    recorder.errors()
                ));
                tokio::time::sleep(TICK).await;
            }
        });
        Self { bar, ticker }
    }

    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
