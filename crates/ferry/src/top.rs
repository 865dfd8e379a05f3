//! `ferry top`: a live terminal view of every queue and stream (ratatui on crossterm),
//! refreshed every second. Depths and offsets are current; rates are computed here from the
//! totals of successive refreshes (falling back to the server's last history sample on the
//! first one); latency percentiles and consumer lag come from the server's history. `q`, Esc
//! or Ctrl-C quits.

use crate::cli::TopArgs;
use crate::failure::Failure;
use crate::stats::{self, HEADER, Row, STREAM_HEADER, Snapshot, StreamRow};
use ferry_client::Client;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style, Stylize as _};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

/// What one refresh shows.
struct Screen {
    url: String,
    snapshot: Snapshot,
    error: Option<String>,
    updated: String,
}

/// Replaces the rates of `now` by those measured between `before` and `now`, `seconds` apart
/// (queues new since `before`, or whose totals went back, keep the server's rates).
pub(crate) fn with_measured_rates(before: &[Row], mut now: Vec<Row>, seconds: f64) -> Vec<Row> {
    if seconds <= 0.0 {
        return now;
    }
    for row in &mut now {
        let Some(b) = before.iter().find(|b| b.name == row.name) else {
            continue;
        };
        if row.enqueued_total >= b.enqueued_total && row.acked_total >= b.acked_total {
            row.enqueued_per_s = Some((row.enqueued_total - b.enqueued_total) as f64 / seconds);
            row.acked_per_s = Some((row.acked_total - b.acked_total) as f64 / seconds);
        }
    }
    now
}

/// Replaces the append rates of `now` by those measured between `before` and `now`.
pub(crate) fn with_measured_append_rates(
    before: &[StreamRow],
    mut now: Vec<StreamRow>,
    seconds: f64,
) -> Vec<StreamRow> {
    if seconds <= 0.0 {
        return now;
    }
    for row in &mut now {
        if let Some(b) = before.iter().find(|b| b.name == row.name)
            && row.appended_total >= b.appended_total
        {
            row.appended_per_s = Some((row.appended_total - b.appended_total) as f64 / seconds);
        }
    }
    now
}

/// A table with a bold header row and a titled border.
fn table<'a>(
    title: &'a str,
    header: &'a [&'a str],
    rows: impl Iterator<Item = Vec<String>> + 'a,
) -> Table<'a> {
    let header_row = TableRow::new(header.iter().map(|h| Cell::from(*h)))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED));
    let mut widths = vec![Constraint::Fill(3)];
    widths.extend(std::iter::repeat_n(
        Constraint::Fill(1),
        header.len().saturating_sub(1),
    ));
    Table::new(rows.map(TableRow::new), widths)
        .header(header_row)
        .block(Block::bordered().title(title))
}

fn draw(terminal: &mut DefaultTerminal, screen: &Screen) -> std::io::Result<()> {
    terminal.draw(|frame| {
        let streams = &screen.snapshot.streams;
        let stream_height = if streams.is_empty() {
            0
        } else {
            u16::try_from(streams.len() + 3).unwrap_or(u16::MAX)
        };
        let [title, body, stream_body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Max(stream_height),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        let queues = &screen.snapshot.queues;
        let depth: u64 = queues
            .iter()
            .map(|r| r.visible + r.delayed + r.in_flight)
            .sum();
        let heading = format!(
            " ferry top · {} · {} queues · {} messages · {} streams · {}",
            screen.url,
            queues.len(),
            depth,
            streams.len(),
            screen.updated
        );
        frame.render_widget(Paragraph::new(heading).bold(), title);
        let queue_table = table(" queues ", &HEADER, queues.iter().map(stats::cells));
        frame.render_widget(queue_table, body);
        if !streams.is_empty() {
            let stream_table = table(
                " streams ",
                &STREAM_HEADER,
                streams.iter().map(stats::stream_cells),
            );
            frame.render_widget(stream_table, stream_body);
        }
        let status = match &screen.error {
            Some(e) => Line::from(format!(" error: {e}")).red(),
            None => Line::from(
                " q quit · rates measured between refreshes · p99 from the last server sample",
            ),
        };
        frame.render_widget(Paragraph::new(status), footer);
    })?;
    Ok(())
}

/// Whether a key asks to quit; waits at most `timeout` for one.
fn quit_requested(timeout: Duration) -> std::io::Result<bool> {
    if !event::poll(timeout)? {
        return Ok(false);
    }
    if let Event::Key(key) = event::read()? {
        let ctrl_c =
            key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        return Ok(key.kind == KeyEventKind::Press
            && (ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc)));
    }
    Ok(false)
}

async fn run_loop(
    terminal: &mut DefaultTerminal,
    client: &Client,
    interval: Duration,
) -> Result<(), Failure> {
    let mut previous: Option<(Instant, Snapshot)> = None;
    let mut screen = Screen {
        url: client.base_url().to_string(),
        snapshot: Snapshot::default(),
        error: None,
        updated: String::new(),
    };
    loop {
        let started = Instant::now();
        match stats::fetch(client).await {
            Ok(snapshot) => {
                let snapshot = match &previous {
                    Some((at, before)) => {
                        let seconds = at.elapsed().as_secs_f64();
                        Snapshot {
                            queues: with_measured_rates(&before.queues, snapshot.queues, seconds),
                            streams: with_measured_append_rates(
                                &before.streams,
                                snapshot.streams,
                                seconds,
                            ),
                        }
                    }
                    None => snapshot,
                };
                previous = Some((Instant::now(), snapshot.clone()));
                screen.snapshot = snapshot;
                screen.error = None;
                screen.updated = ferry_api::time::format_rfc3339(ferry_api::Timestamp(
                    u64::try_from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis()),
                    )
                    .unwrap_or(0),
                ));
            }
            Err(e) => screen.error = Some(e.to_string()),
        }
        draw(terminal, &screen)?;
        let wait = interval
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(50));
        if quit_requested(wait)? {
            return Ok(());
        }
    }
}

/// Runs `ferry top` until the user quits.
///
/// # Errors
/// When stdout is not a terminal, or the terminal fails.
pub(crate) async fn run(args: TopArgs) -> Result<(), Failure> {
    if !std::io::stdout().is_terminal() {
        return Err(Failure::new(
            "invalid_request",
            "ferry top needs a terminal; use `ferry stats` (or `--json`) in scripts",
        ));
    }
    let client = Client::new(&args.url)?;
    let mut terminal = ratatui::init();
    let result = run_loop(
        &mut terminal,
        &client,
        Duration::from_millis(args.interval_ms.max(100)),
    )
    .await;
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, enqueued: u64, acked: u64) -> Row {
        Row {
            name: name.into(),
            enqueued_total: enqueued,
            acked_total: acked,
            enqueued_per_s: Some(99.0),
            ..Row::default()
        }
    }

    #[test]
    fn rates_are_measured_between_refreshes() {
        let before = [row("a", 100, 10)];
        let now = with_measured_rates(&before, vec![row("a", 300, 60), row("b", 5, 0)], 2.0);
        assert_eq!(now[0].enqueued_per_s, Some(100.0));
        assert_eq!(now[0].acked_per_s, Some(25.0));
        assert_eq!(
            now[1].enqueued_per_s,
            Some(99.0),
            "new queue: the server's rate"
        );
        let reset = with_measured_rates(&[row("a", 500, 0)], vec![row("a", 1, 0)], 1.0);
        assert_eq!(
            reset[0].enqueued_per_s,
            Some(99.0),
            "re-created queue: no negative rate"
        );
    }

    #[test]
    fn append_rates_are_measured_between_refreshes() {
        let stream = |appended| StreamRow {
            name: "s".into(),
            appended_total: appended,
            appended_per_s: Some(7.0),
            ..StreamRow::default()
        };
        let now = with_measured_append_rates(&[stream(100)], vec![stream(400)], 3.0);
        assert_eq!(now[0].appended_per_s, Some(100.0));
        let reset = with_measured_append_rates(&[stream(100)], vec![stream(5)], 3.0);
        assert_eq!(
            reset[0].appended_per_s,
            Some(7.0),
            "re-created: the server's rate"
        );
    }
}
