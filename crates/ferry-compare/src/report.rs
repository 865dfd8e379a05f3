//! Results: one [`RunRecord`] per run, medians per system and workload, and the Markdown
//! table and SVG chart the script writes next to the JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::queue::QueueOutcome;
use crate::stats::median;
use crate::stream::StreamOutcome;

/// One run of one workload against one system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The system as labelled in the table (`ferry`, `redis`, `nats`, `nats-sync-always`…).
    pub system: String,
    /// Whether a confirmed publish had been fsynced (false for NATS with its default sync).
    pub durable_per_publish: bool,
    /// `W1` … `W4`.
    pub workload: String,
    /// 1-based repetition.
    pub repetition: u32,
    /// Queue workloads' figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueOutcome>,
    /// The stream workload's figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamOutcome>,
    /// Why the run failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Medians over the repetitions of one system on one workload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Median {
    /// Repetitions that completed.
    pub runs: usize,
    /// Repetitions that failed.
    pub failed: usize,
    /// W1–W3: messages received per second (end to end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_per_s: Option<f64>,
    /// W1–W3: end-to-end p50, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p50_ms: Option<f64>,
    /// W1–W3: end-to-end p99, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p99_ms: Option<f64>,
    /// W1–W3: end-to-end p99.9, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p999_ms: Option<f64>,
    /// W4: records appended per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appended_per_s: Option<f64>,
    /// W4: records read per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_per_s: Option<f64>,
    /// Lost messages, summed over the repetitions.
    pub lost: u64,
    /// Duplicated messages, summed over the repetitions.
    pub duplicated: u64,
}

/// Medians keyed by system, then workload.
pub type Medians = BTreeMap<String, BTreeMap<String, Median>>;

/// The medians of every (system, workload) pair in `runs`.
pub fn medians(runs: &[RunRecord]) -> Medians {
    let mut groups: BTreeMap<(&str, &str), Vec<&RunRecord>> = BTreeMap::new();
    for run in runs {
        groups
            .entry((&run.system, &run.workload))
            .or_default()
            .push(run);
    }
    let mut out = Medians::new();
    for ((system, workload), group) in groups {
        let ok: Vec<&&RunRecord> = group.iter().filter(|r| r.error.is_none()).collect();
        let queues: Vec<&QueueOutcome> = ok.iter().filter_map(|r| r.queue.as_ref()).collect();
        let streams: Vec<&StreamOutcome> = ok.iter().filter_map(|r| r.stream.as_ref()).collect();
        let of_queues =
            |f: fn(&QueueOutcome) -> f64| median(&queues.iter().map(|q| f(q)).collect::<Vec<_>>());
        let of_streams = |f: fn(&StreamOutcome) -> f64| {
            median(&streams.iter().map(|s| f(s)).collect::<Vec<_>>())
        };
        let verdicts = queues
            .iter()
            .map(|q| q.verification)
            .chain(streams.iter().map(|s| s.verification));
        let (lost, duplicated) = verdicts.fold((0, 0), |(l, d), v| (l + v.lost, d + v.duplicated));
        let entry = Median {
            runs: ok.len(),
            failed: group.len() - ok.len(),
            received_per_s: of_queues(|q| q.received_per_s),
            e2e_p50_ms: of_queues(|q| q.e2e.p50_ms),
            e2e_p99_ms: of_queues(|q| q.e2e.p99_ms),
            e2e_p999_ms: of_queues(|q| q.e2e.p999_ms),
            appended_per_s: of_streams(|s| s.appended_per_s),
            read_per_s: of_streams(|s| s.read_per_s),
            lost,
            duplicated,
        };
        out.entry(system.to_owned())
            .or_default()
            .insert(workload.to_owned(), entry);
    }
    out
}

fn rate(value: Option<f64>) -> String {
    match value {
        Some(v) => group_thousands(v.round() as u64),
        None => "–".to_owned(),
    }
}

fn ms(value: Option<f64>) -> String {
    match value {
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.1}"),
        None => "–".to_owned(),
    }
}

/// `1234567` → `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The Markdown table of the medians, one row per system; `durable` says which
/// systems fsync before confirming a publish.
pub fn markdown(medians: &Medians, durable: &BTreeMap<String, bool>) -> String {
    let mut out = String::from(
        "| system | durable per publish | W1 msgs/s (p99 ms) | W2 msgs/s (p99 ms) | W3 e2e p50 / p99 / p99.9 ms | W4 append rec/s | W4 read rec/s | lost / duplicated | failed runs |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (system, by_workload) in medians {
        let get = |w: &str| by_workload.get(w).cloned().unwrap_or_default();
        let (w1, w2, w3, w4) = (get("W1"), get("W2"), get("W3"), get("W4"));
        let lost: u64 = by_workload.values().map(|m| m.lost).sum();
        let duplicated: u64 = by_workload.values().map(|m| m.duplicated).sum();
        let failed: usize = by_workload.values().map(|m| m.failed).sum();
        let durable = match durable.get(system) {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "?",
        };
        let _ = writeln!(
            out,
            "| {system} | {durable} | {} ({}) | {} ({}) | {} / {} / {} | {} | {} | {lost} / {duplicated} | {failed} |",
            rate(w1.received_per_s),
            ms(w1.e2e_p99_ms),
            rate(w2.received_per_s),
            ms(w2.e2e_p99_ms),
            ms(w3.e2e_p50_ms),
            ms(w3.e2e_p99_ms),
            ms(w3.e2e_p999_ms),
            rate(w4.appended_per_s),
            rate(w4.read_per_s),
        );
    }
    out
}

/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One horizontal bar chart: a title and (label, value) bars, drawn from `top`.
fn bars(out: &mut String, top: f64, title: &str, unit: &str, rows: &[(String, f64)]) -> f64 {
    const LEFT: f64 = 190.0;
    const WIDTH: f64 = 480.0;
    const ROW: f64 = 22.0;
    let _ = writeln!(
        out,
        r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
        top + 16.0,
        xml(title)
    );
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max);
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = top + 28.0 + i as f64 * ROW;
        let w = if max > 0.0 { value / max * WIDTH } else { 0.0 };
        let shown = if *value >= 100.0 {
            group_thousands(value.round() as u64)
        } else {
            format!("{value:.2}")
        };
        let _ = writeln!(
            out,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{LEFT}" y="{:.0}" width="{w:.1}" height="16" fill="{}"/><text x="{:.0}" y="{:.0}">{} {}</text>"##,
            LEFT - 8.0,
            y + 13.0,
            xml(label),
            y,
            if label.starts_with("ferry") {
                "#1f6feb"
            } else {
                "#8b949e"
            },
            LEFT + w + 6.0,
            y + 13.0,
            shown,
            xml(unit)
        );
    }
    top + 36.0 + rows.len() as f64 * ROW
}

/// One panel of the chart: workload, title, unit, and the figure it plots.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Median) -> Option<f64>,
);

/// The chart: end-to-end throughput on W1 and W2, stream rates on W4, p99 on W3. Systems
/// whose publishes are not fsynced (`durable` false) are marked "(no fsync)".
pub fn svg(medians: &Medians, durable: &BTreeMap<String, bool>, subtitle: &str) -> String {
    let mut body = String::new();
    let mut y = 40.0;
    let series: [Series; 5] = [
        (
            "W1",
            "W1 work queue 1P/1C: msgs/s (higher is better)",
            "msgs/s",
            |m| m.received_per_s,
        ),
        (
            "W2",
            "W2 work queue 4P/4C: msgs/s (higher is better)",
            "msgs/s",
            |m| m.received_per_s,
        ),
        (
            "W3",
            "W3 at 2,000 msgs/s: end-to-end p99 (lower is better)",
            "ms",
            |m| m.e2e_p99_ms,
        ),
        (
            "W4",
            "W4 stream append: records/s (higher is better)",
            "rec/s",
            |m| m.appended_per_s,
        ),
        (
            "W4",
            "W4 stream read from start: records/s (higher is better)",
            "rec/s",
            |m| m.read_per_s,
        ),
    ];
    for (workload, title, unit, pick) in series {
        let rows: Vec<(String, f64)> = medians
            .iter()
            .filter_map(|(system, w)| {
                let label = match durable.get(system) {
                    Some(false) => format!("{system} (no fsync)"),
                    _ => system.clone(),
                };
                Some((label, pick(w.get(workload)?)?))
            })
            .collect();
        if !rows.is_empty() {
            y = bars(&mut body, y, title, unit, &rows);
        }
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="820" height="{:.0}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="22" font-size="14" font-weight="bold">Ferry vs Redis, NATS JetStream, RabbitMQ — medians ({})</text>
{body}</svg>
"#,
        y + 10.0,
        xml(subtitle)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Verification;
    use crate::stats::Latency;

    fn run(system: &str, workload: &str, per_s: f64, p99: f64) -> RunRecord {
        RunRecord {
            system: system.into(),
            durable_per_publish: true,
            workload: workload.into(),
            repetition: 1,
            queue: Some(QueueOutcome {
                received_per_s: per_s,
                e2e: Latency {
                    p99_ms: p99,
                    ..Latency::default()
                },
                verification: Verification {
                    sent: 10,
                    ..Verification::default()
                },
                ..QueueOutcome::default()
            }),
            stream: None,
            error: None,
        }
    }

    #[test]
    fn medians_per_system_and_workload() {
        let mut runs = vec![
            run("ferry", "W1", 100.0, 3.0),
            run("ferry", "W1", 300.0, 1.0),
            run("ferry", "W1", 200.0, 2.0),
            run("redis", "W1", 50.0, 9.0),
        ];
        runs[3].error = Some("boom".into());
        let medians = medians(&runs);
        let ferry = &medians["ferry"]["W1"];
        assert_eq!(ferry.received_per_s, Some(200.0));
        assert_eq!(ferry.e2e_p99_ms, Some(2.0));
        assert_eq!(ferry.runs, 3);
        let redis = &medians["redis"]["W1"];
        assert_eq!(
            (redis.runs, redis.failed, redis.received_per_s),
            (0, 1, None)
        );
    }

    #[test]
    fn table_and_chart_name_every_system() {
        let runs = vec![
            run("ferry", "W1", 1234.0, 1.0),
            run("nats", "W1", 99.0, 2.0),
        ];
        let medians = medians(&runs);
        let durable = BTreeMap::from([("ferry".to_owned(), true), ("nats".to_owned(), false)]);
        let table = markdown(&medians, &durable);
        assert!(table.contains("| ferry | yes | 1,234 (1.00)"));
        assert!(table.contains("| nats | **no** |"));
        let chart = svg(&medians, &durable, "test");
        assert!(chart.starts_with("<svg"));
        assert!(chart.contains(">ferry<") && chart.contains(">nats (no fsync)<"));
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
