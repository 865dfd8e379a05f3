//! `POST /v1/streams/{s}/records` (append) and `GET /v1/streams/{s}/partitions/{p}/records`
//! (read), and the encoding of stored records shared with group polls and events.

use crate::error::ApiError;
use crate::extract::{JsonBody, PathParams, QueryParams};
use crate::native::streams::partition_param;
use crate::reply::{self, SizedJson};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use ferry_api::{
    AppendRecord, AppendRequest, AppendResponse, AppendedRecord, DataError, NEXT_OFFSET_HEADER,
    OffsetSpec, ReadEncoding, ReadQuery, ReadRecord, ReadResponse, RecordHeader, Timestamp,
};
use ferry_broker::{NewRecord, ReadOptions, StartOffset, StoredRecord};
use std::time::Duration;

/// Records a read returns when `max_records` is not given.
pub(crate) const DEFAULT_MAX_RECORDS: u32 = 1000;
/// Most records one read or poll may ask for.
pub(crate) const MAX_MAX_RECORDS: u32 = 10_000;
/// Bytes a read returns at most when `max_bytes` is not given: 1 MiB.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
/// Most bytes one read or poll may ask for: 64 MiB (at least one record is always returned,
/// whatever its size).
pub(crate) const MAX_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Appends a batch, all or nothing; answers once it is durable.
pub(crate) async fn append(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    JsonBody(request): JsonBody<AppendRequest>,
) -> Result<Json<AppendResponse>, ApiError> {
    let records = append_decode(request.records)?;
    let placed = state
        .broker
        .append(&name, records, request.expected_offset)
        .await?;
    Ok(Json(AppendResponse {
        records: placed
            .into_iter()
            .map(|r| AppendedRecord {
                partition: r.partition,
                offset: r.offset,
            })
            .collect(),
    }))
}

/// Decodes the whole batch before anything is appended, naming the first bad record.
pub(super) fn append_decode(records: Vec<AppendRecord>) -> Result<Vec<NewRecord>, ApiError> {
    if records.is_empty() {
        return Err(ApiError::invalid_request("records must not be empty"));
    }
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            append_decode_record(record)
                .map_err(|e| ApiError::invalid_request(format!("records[{i}]: {e}")))
        })
        .collect()
}

fn append_decode_record(record: AppendRecord) -> Result<NewRecord, DataError> {
    let key = record.decode_key()?;
    let value = record.decode_value()?;
    let headers = record
        .headers
        .into_iter()
        .map(|h| {
            let value = h.decode_value()?;
            Ok((h.name, value))
        })
        .collect::<Result<_, DataError>>()?;
    Ok(NewRecord {
        partition: record.partition,
        timestamp: record.timestamp,
        key,
        value,
        headers,
    })
}

/// Reads records of one partition, long-polling up to `wait_ms` at its end. The next offset
/// also travels in a header ([`NEXT_OFFSET_HEADER`]), so a reader can ask for what follows
/// while it is still taking this reply in.
pub(crate) async fn read(
    State(state): State<AppState>,
    PathParams((name, partition)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<([(HeaderName, HeaderValue); 1], SizedJson<ReadResponse>), ApiError> {
    let partition = partition_param(&partition)?;
    let options = read_options(&query)?;
    let outcome = state.broker.read(&name, partition, options).await?;
    let encoding = query.encoding.unwrap_or_default();
    let payload: usize = outcome.records.iter().map(record_payload_bytes).sum();
    let size = reply::estimate(outcome.records.len(), payload);
    let response = ReadResponse {
        records: outcome
            .records
            .into_iter()
            .map(|r| record_encode(r, None, encoding))
            .collect(),
        next_offset: outcome.next_offset,
        start_offset: outcome.start_offset,
        end_offset: outcome.end_offset,
        skipped_to: outcome.skipped_to,
    };
    let next = [(
        HeaderName::from_static(NEXT_OFFSET_HEADER),
        HeaderValue::from(response.next_offset),
    )];
    Ok((next, SizedJson(response, size)))
}

/// Bytes of a record's key, value and headers, for sizing its reply.
fn record_payload_bytes(stored: &StoredRecord) -> usize {
    let r = &stored.record;
    let headers: usize = r
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.as_ref().map_or(0, Vec::len) + 32)
        .sum();
    r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len) + headers
}

/// The broker's read options for a query, its limits checked.
fn read_options(query: &ReadQuery) -> Result<ReadOptions, ApiError> {
    Ok(ReadOptions {
        from: start_offset(query.offset.unwrap_or(OffsetSpec::Earliest)),
        max_records: max_records(query.max_records)?,
        max_bytes: max_bytes(query.max_bytes)?,
        wait: Duration::from_millis(query.wait_ms.unwrap_or(0)),
    })
}

/// Where a read starts, in the broker's terms.
pub(crate) fn start_offset(spec: OffsetSpec) -> StartOffset {
    match spec {
        OffsetSpec::Earliest => StartOffset::Earliest,
        OffsetSpec::Latest => StartOffset::Latest,
        OffsetSpec::At(offset) => StartOffset::At(offset),
    }
}

/// `max_records`: 1 to [`MAX_MAX_RECORDS`], default [`DEFAULT_MAX_RECORDS`].
pub(crate) fn max_records(given: Option<u32>) -> Result<u32, ApiError> {
    let n = given.unwrap_or(DEFAULT_MAX_RECORDS);
    if !(1..=MAX_MAX_RECORDS).contains(&n) {
        return Err(ApiError::invalid_request(format!(
            "max_records must be between 1 and {MAX_MAX_RECORDS}, not {n}"
        )));
    }
    Ok(n)
}

/// `max_bytes`: 1 to [`MAX_MAX_BYTES`], default [`DEFAULT_MAX_BYTES`].
pub(crate) fn max_bytes(given: Option<u64>) -> Result<u32, ApiError> {
    let n = given.unwrap_or(DEFAULT_MAX_BYTES);
    if !(1..=MAX_MAX_BYTES).contains(&n) {
        return Err(ApiError::invalid_request(format!(
            "max_bytes must be between 1 and {MAX_MAX_BYTES}, not {n}"
        )));
    }
    u32::try_from(n).map_err(|_| ApiError::invalid_request("max_bytes is too large"))
}

/// A stored record on the wire; `partition` is set where records of several partitions come
/// together (group polls and events).
pub(crate) fn record_encode(
    stored: StoredRecord,
    partition: Option<u32>,
    encoding: ReadEncoding,
) -> ReadRecord {
    let record = stored.record;
    let (key, key_base64) = ferry_api::encode_data(record.key, encoding);
    let (value, value_base64) = ferry_api::encode_data(record.value, encoding);
    ReadRecord {
        partition,
        offset: stored.offset,
        key,
        key_base64,
        value,
        value_base64,
        headers: record
            .headers
            .into_iter()
            .map(|(name, value)| RecordHeader::encode(name, value, encoding))
            .collect(),
        timestamp: Timestamp(record.timestamp_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::AppendHeader;
    use ferry_broker::StreamRecord;

    fn error_of(records: Vec<AppendRecord>) -> String {
        append_decode(records)
            .err()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default()
    }

    #[test]
    fn bad_records_are_named_by_index() {
        assert!(error_of(vec![]).contains("records must not be empty"));
        let both = AppendRecord {
            key: Some("k".into()),
            key_base64: Some("aw==".into()),
            ..AppendRecord::text("v")
        };
        assert!(
            error_of(vec![AppendRecord::text("ok"), both])
                .contains("records[1]: give either key or key_base64, not both")
        );
        let bad_value = AppendRecord {
            value_base64: Some("%%".into()),
            ..AppendRecord::default()
        };
        assert!(error_of(vec![bad_value]).contains("records[0]: value_base64 is not valid base64"));
        let bad_header = AppendRecord::text("v").with_header(AppendHeader {
            name: "h".into(),
            value: None,
            value_base64: Some("!".into()),
        });
        assert!(
            error_of(vec![
                AppendRecord::text("a"),
                AppendRecord::text("b"),
                bad_header
            ])
            .contains("records[2]: headers[].value_base64 is not valid base64")
        );
    }

    #[test]
    fn records_decode_to_bytes_and_tombstones() {
        let records = vec![
            AppendRecord::binary(&[0, 255])
                .with_key("k")
                .with_partition(3)
                .with_header(AppendHeader::text("a", "1"))
                .with_header(AppendHeader {
                    name: "null".into(),
                    value: None,
                    value_base64: None,
                }),
            AppendRecord::tombstone("gone"),
        ];
        let decoded = append_decode(records).unwrap_or_default();
        assert_eq!(decoded.len(), 2);
        let first = decoded.first().cloned().unwrap_or_default();
        assert_eq!(
            (first.partition, first.key, first.value),
            (Some(3), Some(b"k".to_vec()), Some(vec![0, 255]))
        );
        assert_eq!(
            first.headers,
            vec![
                ("a".to_owned(), Some(b"1".to_vec())),
                ("null".to_owned(), None)
            ]
        );
        assert_eq!(decoded.get(1).and_then(|r| r.value.clone()), None);
    }

    #[test]
    fn read_limits_are_bounded_with_defaults() {
        let options = read_options(&ReadQuery::default()).ok();
        assert_eq!(
            options,
            Some(ReadOptions {
                from: StartOffset::Earliest,
                max_records: 1000,
                max_bytes: 1024 * 1024,
                wait: Duration::ZERO,
            })
        );
        for bad in [
            ReadQuery {
                max_records: Some(0),
                ..ReadQuery::default()
            },
            ReadQuery {
                max_records: Some(10_001),
                ..ReadQuery::default()
            },
            ReadQuery {
                max_bytes: Some(0),
                ..ReadQuery::default()
            },
            ReadQuery {
                max_bytes: Some(MAX_MAX_BYTES + 1),
                ..ReadQuery::default()
            },
        ] {
            assert!(read_options(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn records_encode_as_text_or_base64() {
        let stored = StoredRecord {
            offset: 7,
            record: StreamRecord {
                timestamp_ms: 1_000,
                key: Some(b"k".to_vec()),
                value: Some(vec![0xff]),
                headers: vec![("h".into(), Some(b"v".to_vec())), ("n".into(), None)],
            },
        };
        let auto = record_encode(stored.clone(), Some(2), ReadEncoding::Auto);
        assert_eq!(
            (auto.partition, auto.offset, auto.key.as_deref()),
            (Some(2), 7, Some("k"))
        );
        assert_eq!(
            (auto.value, auto.value_base64.as_deref()),
            (None, Some("/w=="))
        );
        assert_eq!(
            auto.headers.first().and_then(|h| h.value.as_deref()),
            Some("v")
        );
        assert_eq!(
            auto.headers
                .get(1)
                .map(|h| (h.value.is_none(), h.value_base64.is_none())),
            Some((true, true))
        );
        let b64 = record_encode(stored, None, ReadEncoding::Base64);
        assert_eq!((b64.key, b64.key_base64.as_deref()), (None, Some("aw==")));
        assert_eq!(
            b64.headers.first().and_then(|h| h.value_base64.as_deref()),
            Some("dg==")
        );
        assert_eq!(b64.timestamp, Timestamp(1_000));
    }
}
