//! `PUT`/`GET`/`DELETE /v1/streams/{s}`, `GET /v1/streams`, `POST /v1/streams/{s}/compact`,
//! and a partition's extent and offset-by-time lookup
//! (`GET /v1/streams/{s}/partitions/{p}` and `…/offsets?timestamp=`).

use crate::error::ApiError;
use crate::extract::{OptionalJsonBody, PathParams, QueryParams};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferry_api::{
    CompactResponse, OffsetForTime, OffsetForTimeQuery, PartitionInfo, StreamConfig, StreamDetails,
    StreamEntry, StreamList,
};
use ferry_broker::Upsert;

/// Creates a stream (201) or replaces its config (200); an empty body means all defaults.
pub(crate) async fn put_stream(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    OptionalJsonBody(config): OptionalJsonBody<StreamConfig>,
) -> Result<(StatusCode, Json<StreamEntry>), ApiError> {
    let upsert = state.broker.put_stream(&name, config.clone()).await?;
    let status = match upsert {
        Upsert::Created => StatusCode::CREATED,
        Upsert::Updated => StatusCode::OK,
    };
    Ok((status, Json(StreamEntry { name, config })))
}

/// Every stream with its config.
pub(crate) async fn list_streams(
    State(state): State<AppState>,
) -> Result<Json<StreamList>, ApiError> {
    let streams = state.broker.list_streams()?;
    Ok(Json(StreamList {
        streams: streams
            .into_iter()
            .map(|s| StreamEntry {
                name: s.name,
                config: s.config,
            })
            .collect(),
    }))
}

/// One stream's config, partitions and groups.
pub(crate) async fn get_stream(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<StreamDetails>, ApiError> {
    let info = state.broker.stream_info(&name).await?;
    Ok(Json(StreamDetails {
        name: info.name,
        config: info.config,
        created_at: info.created_at,
        updated_at: info.updated_at,
        partitions: info.partitions.into_iter().map(partition_encode).collect(),
        groups: info.groups,
    }))
}

/// Deletes a stream, its records and its groups' offsets.
pub(crate) async fn delete_stream(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    state.broker.delete_stream(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs key compaction of a compacted stream now.
pub(crate) async fn compact(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<CompactResponse>, ApiError> {
    let outcome = state.broker.compact_stream(&name).await?;
    Ok(Json(CompactResponse {
        segments_rewritten: u64::from(outcome.segments_rewritten),
        records_removed: outcome.records_removed,
    }))
}

/// Where one partition's records begin and end.
pub(crate) async fn get_partition(
    State(state): State<AppState>,
    PathParams((name, partition)): PathParams<(String, String)>,
) -> Result<Json<PartitionInfo>, ApiError> {
    let partition = partition_param(&partition)?;
    let info = state.broker.partition_info(&name, partition).await?;
    Ok(Json(partition_encode(info)))
}

/// The offset of a partition's first record at or after `timestamp` (`null` if none).
pub(crate) async fn offset_for_time(
    State(state): State<AppState>,
    PathParams((name, partition)): PathParams<(String, String)>,
    QueryParams(query): QueryParams<OffsetForTimeQuery>,
) -> Result<Json<OffsetForTime>, ApiError> {
    let partition = partition_param(&partition)?;
    let offset = state
        .broker
        .offset_for_timestamp(&name, partition, query.timestamp)
        .await?;
    Ok(Json(OffsetForTime { partition, offset }))
}

/// The `{p}` of a path: a partition number.
pub(crate) fn partition_param(raw: &str) -> Result<u32, ApiError> {
    raw.parse().map_err(|_| {
        let shown: String = raw.chars().take(64).collect();
        ApiError::invalid_request(format!(
            "invalid partition {shown:?}: expected a partition number (0, 1, …)"
        ))
    })
}

fn partition_encode(info: ferry_broker::PartitionInfo) -> PartitionInfo {
    PartitionInfo {
        partition: info.partition,
        start_offset: info.start_offset,
        end_offset: info.end_offset,
        bytes: info.bytes,
        segments: u64::from(info.segments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_numbers() {
        assert!(matches!(partition_param("0"), Ok(0)));
        assert!(matches!(partition_param("1023"), Ok(1023)));
        for bad in ["", "-1", "x", "1.5", "4294967296"] {
            let e = partition_param(bad).err().map(|e| format!("{e:?}"));
            assert!(
                e.as_deref()
                    .is_some_and(|e| e.contains("invalid partition")),
                "{bad}: {e:?}"
            );
        }
    }
}
