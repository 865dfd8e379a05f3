//! Human output: aligned tables and one-line bodies.

use ferry_api::time::format_rfc3339;
use ferry_api::{Body, BodyEncoding, Timestamp};
use std::fmt::Write as _;

/// A table with a header row, printed with columns padded to their widest cell.
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub(crate) fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, the last column unpadded.
    pub(crate) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let width = widths.get(c).copied().unwrap_or(0);
                    let _ = write!(line, "{cell:<width$}  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A body on one line: text with control characters escaped, binary as `base64:…`.
pub(crate) fn body_line(body: &Body) -> String {
    match (body.encoding, std::str::from_utf8(&body.bytes)) {
        (BodyEncoding::Text, Ok(text)) => text
            .chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect(),
        _ => format!("base64:{}", ferry_api::body::to_base64(&body.bytes)),
    }
}

/// A time for people (RFC 3339, UTC).
pub(crate) fn time(t: Timestamp) -> String {
    format_rfc3339(t)
}

/// An optional value, or `-`.
pub(crate) fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["NAME", "FIFO", "DLQ"]);
        t.row(vec!["orders".into(), "no".into(), "-".into()]);
        t.row(vec!["a".into(), "yes".into(), "orders-dlq".into()]);
        assert_eq!(
            t.render(),
            "NAME    FIFO  DLQ\norders  no    -\na       yes   orders-dlq\n"
        );
    }

    #[test]
    fn bodies_fit_on_one_line() {
        assert_eq!(body_line(&Body::text("a\nb\tc")), "a\\nb\\tc");
        assert_eq!(body_line(&Body::binary(vec![0, 255])), "base64:AP8=");
    }
}
