//! The live progress line on stderr: received out of total, sent and acked, with rates.

use crate::options::QueueBench;
use crate::shared::{Counters, Shared};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the line is redrawn.
const REFRESH: Duration = Duration::from_millis(200);

/// Whether to draw the progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Display {
    /// On stderr.
    Stderr,
    /// Not at all (`--json`, or stderr is not a terminal).
    Hidden,
}

impl Display {
    /// Stderr when it is a terminal and the report is not JSON.
    pub(crate) fn for_options(options: &QueueBench) -> Display {
        if options.json || !std::io::stderr().is_terminal() {
            Display::Hidden
        } else {
            Display::Stderr
        }
    }
}

/// A running progress line; [`Progress::finish`] clears it.
#[derive(Debug)]
pub(crate) struct Progress {
    bar: ProgressBar,
    ticker: JoinHandle<()>,
}

impl Progress {
    /// Starts redrawing; `total` is the message count of a counted run.
    pub(crate) fn start(shared: Arc<Shared>, total: Option<u64>, display: Display) -> Progress {
        let target = match display {
            Display::Stderr => ProgressDrawTarget::stderr(),
            Display::Hidden => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let template = match total {
            Some(_) => "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} received  {msg}",
            None => "{spinner} {elapsed_precise} {pos} received  {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let ticker = tokio::spawn(redraw(shared, bar.clone()));
        Progress { bar, ticker }
    }

    /// Stops redrawing and clears the line.
    pub(crate) fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

async fn redraw(shared: Arc<Shared>, bar: ProgressBar) {
    let mut interval = tokio::time::interval(REFRESH);
    loop {
        interval.tick().await;
        let counters = &shared.counters;
        let (sent, received, acked) = (
            Counters::get(&counters.sent),
            Counters::get(&counters.received),
            Counters::get(&counters.acked),
        );
        let seconds = shared.now().as_secs_f64().max(1e-3);
        bar.set_position(received);
        bar.set_message(format!(
            "({:.0}/s)  sent {sent} ({:.0}/s)  acked {acked}",
            received as f64 / seconds,
            sent as f64 / seconds
        ));
    }
}
