//! The stream routes of [`Client`]: management, appends, partition reads and consumer groups.

use crate::client::Client;
use crate::error::Error;
use crate::sse::RecordEvents;
use ferry_api::time::format_rfc3339;
use ferry_api::{
    AppendRequest, AppendResponse, AppendedRecord, CommitRequest, CommitResponse, CompactResponse,
    GroupDetails, GroupEventsQuery, GroupList, GroupSummary, HeartbeatRequest, HeartbeatResponse,
    JoinRequest, JoinResponse, LeaveRequest, OffsetForTime, OffsetSpec, PartitionInfo,
    PartitionOffset, PollRequest, PollResponse, ReadQuery, ReadResponse, ResetRequest,
    ResetResponse, StreamConfig, StreamDetails, StreamEntry, StreamList, Timestamp,
};
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};

/// The `Accept` of event-stream requests.
const EVENT_STREAM: &str = "text/event-stream";

/// What [`Client::put_stream`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPutOutcome {
    /// Whether the stream was new (201) rather than updated (200).
    pub created: bool,
    /// The stream's name and config as stored.
    pub stream: StreamEntry,
}

impl Client {
    /// Creates the stream or replaces its whole config (`PUT /v1/streams/{s}`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `invalid_name` or `invalid_config`; transport errors.
    pub async fn put_stream(
        &self,
        name: &str,
        config: &StreamConfig,
    ) -> Result<StreamPutOutcome, Error> {
        let request = self
            .request(Method::PUT, &["v1", "streams", name])?
            .json(config);
        let (status, stream) = self.call::<StreamEntry>(request).await?;
        Ok(StreamPutOutcome {
            created: status == StatusCode::CREATED,
            stream,
        })
    }

    /// Every stream with its config (`GET /v1/streams`).
    ///
    /// # Errors
    /// Transport errors, or an invalid reply.
    pub async fn list_streams(&self) -> Result<Vec<StreamEntry>, Error> {
        let request = self.request(Method::GET, &["v1", "streams"])?;
        Ok(self.call::<StreamList>(request).await?.1.streams)
    }

    /// A stream's config, partitions and groups (`GET /v1/streams/{s}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found`; transport errors.
    pub async fn stream_info(&self, name: &str) -> Result<StreamDetails, Error> {
        let request = self.request(Method::GET, &["v1", "streams", name])?;
        Ok(self.call(request).await?.1)
    }

    /// Deletes the stream, its records and its groups (`DELETE /v1/streams/{s}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found`; transport errors.
    pub async fn delete_stream(&self, name: &str) -> Result<(), Error> {
        let request = self.request(Method::DELETE, &["v1", "streams", name])?;
        self.call_no_content(request).await
    }

    /// Runs key compaction now (`POST /v1/streams/{s}/compact`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found`; transport errors.
    pub async fn compact_stream(&self, name: &str) -> Result<CompactResponse, Error> {
        let request = self.request(Method::POST, &["v1", "streams", name, "compact"])?;
        Ok(self.call(request).await?.1)
    }

    /// Appends a batch, all or nothing; answers once durable with where each record went
    /// (`POST /v1/streams/{s}/records`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `invalid_request`, `record_too_large`, or `offset_mismatch`
    /// (whose [`Error::next_offset`] is the partition's actual next offset).
    pub async fn append(
        &self,
        stream: &str,
        request: &AppendRequest,
    ) -> Result<Vec<AppendedRecord>, Error> {
        let request = self
            .request(Method::POST, &["v1", "streams", stream, "records"])?
            .json(request);
        Ok(self.call::<AppendResponse>(request).await?.1.records)
    }

    /// Where a partition begins and ends (`GET /v1/streams/{s}/partitions/{p}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found` or `partition_not_found`.
    pub async fn partition_info(
        &self,
        stream: &str,
        partition: u32,
    ) -> Result<PartitionInfo, Error> {
        let partition = partition.to_string();
        let request = self.request(
            Method::GET,
            &["v1", "streams", stream, "partitions", &partition],
        )?;
        Ok(self.call(request).await?.1)
    }

    /// Reads records of one partition, long-polling up to `wait_ms`
    /// (`GET /v1/streams/{s}/partitions/{p}/records`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `offset_out_of_range` (an offset past the end) or
    /// `partition_not_found`.
    pub async fn read(
        &self,
        stream: &str,
        partition: u32,
        query: &ReadQuery,
    ) -> Result<ReadResponse, Error> {
        let request = self
            .partition_request(stream, partition, "records")?
            .query(query);
        Ok(self.call(request).await?.1)
    }

    /// The offset of a partition's first record at or after `timestamp`, `None` if there is
    /// none (`GET /v1/streams/{s}/partitions/{p}/offsets?timestamp=`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found` or `partition_not_found`.
    pub async fn offset_for_time(
        &self,
        stream: &str,
        partition: u32,
        timestamp: Timestamp,
    ) -> Result<Option<u64>, Error> {
        let request = self
            .partition_request(stream, partition, "offsets")?
            .query(&[("timestamp", format_rfc3339(timestamp))]);
        Ok(self.call::<OffsetForTime>(request).await?.1.offset)
    }

    /// Follows a partition from `from` as server-sent events
    /// (`GET /v1/streams/{s}/partitions/{p}/events?offset=`). To resume after a record, start
    /// from its offset plus one.
    ///
    /// # Errors
    /// [`Error::Api`] when the server refuses the request; transport errors.
    pub async fn stream_events(
        &self,
        stream: &str,
        partition: u32,
        from: OffsetSpec,
    ) -> Result<RecordEvents, Error> {
        let request = self
            .partition_request(stream, partition, "events")?
            .query(&[("offset", from.to_string())])
            .header(ACCEPT, HeaderValue::from_static(EVENT_STREAM));
        RecordEvents::open(request.send().await?).await
    }

    /// The stream's consumer groups (`GET /v1/streams/{s}/groups`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found`.
    pub async fn list_groups(&self, stream: &str) -> Result<Vec<GroupSummary>, Error> {
        let request = self.request(Method::GET, &["v1", "streams", stream, "groups"])?;
        Ok(self.call::<GroupList>(request).await?.1.groups)
    }

    /// A group's members, committed offsets and lag (`GET /v1/streams/{s}/groups/{g}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stream_not_found` or `group_not_found`.
    pub async fn group_info(&self, stream: &str, group: &str) -> Result<GroupDetails, Error> {
        let request = self.request(Method::GET, &["v1", "streams", stream, "groups", group])?;
        Ok(self.call(request).await?.1)
    }

    /// Deletes a group and its committed offsets (`DELETE /v1/streams/{s}/groups/{g}`).
    ///
    /// # Errors
    /// [`Error::Api`] with `group_not_found`, or `conflict` while it has members.
    pub async fn delete_group(&self, stream: &str, group: &str) -> Result<(), Error> {
        let request = self.request(Method::DELETE, &["v1", "streams", stream, "groups", group])?;
        self.call_no_content(request).await
    }

    /// Joins a group (creating it if needed); the reply names the member and its partitions
    /// (`POST …/groups/{g}/join`).
    ///
    /// # Errors
    /// [`Error::Api`] with e.g. `stream_not_found` or `invalid_request`.
    pub async fn join_group(
        &self,
        stream: &str,
        group: &str,
        request: &JoinRequest,
    ) -> Result<JoinResponse, Error> {
        let request = self.group_request(stream, group, "join")?.json(request);
        Ok(self.call(request).await?.1)
    }

    /// Fetches records of the member's partitions from the group's positions, long-polling up
    /// to `wait_ms`; also a heartbeat (`POST …/groups/{g}/poll`).
    ///
    /// # Errors
    /// [`Error::Api`] with `unknown_member` (the session expired: join again).
    pub async fn poll_group(
        &self,
        stream: &str,
        group: &str,
        request: &PollRequest,
    ) -> Result<PollResponse, Error> {
        let request = self.group_request(stream, group, "poll")?.json(request);
        Ok(self.call(request).await?.1)
    }

    /// Keeps a member alive without fetching (`POST …/groups/{g}/heartbeat`).
    ///
    /// # Errors
    /// [`Error::Api`] with `unknown_member`.
    pub async fn heartbeat(
        &self,
        stream: &str,
        group: &str,
        request: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, Error> {
        let request = self
            .group_request(stream, group, "heartbeat")?
            .json(request);
        Ok(self.call(request).await?.1)
    }

    /// Commits offsets (each the *next* offset to read); returns how many
    /// (`POST …/groups/{g}/commit`).
    ///
    /// # Errors
    /// [`Error::Api`] with `stale_generation` (409: the group rebalanced; poll to learn the new
    /// assignment) or `unknown_member` (404).
    pub async fn commit_offsets(
        &self,
        stream: &str,
        group: &str,
        request: &CommitRequest,
    ) -> Result<u32, Error> {
        let request = self.group_request(stream, group, "commit")?.json(request);
        Ok(self.call::<CommitResponse>(request).await?.1.committed)
    }

    /// Leaves a group; its partitions move to the other members at once
    /// (`POST …/groups/{g}/leave`).
    ///
    /// # Errors
    /// [`Error::Api`] with `unknown_member`.
    pub async fn leave_group(
        &self,
        stream: &str,
        group: &str,
        member_id: &str,
    ) -> Result<(), Error> {
        let body = LeaveRequest {
            member_id: member_id.to_owned(),
        };
        let request = self.group_request(stream, group, "leave")?.json(&body);
        self.call_no_content(request).await
    }

    /// Moves a group's committed offsets while it has no members; returns them afterwards
    /// (`POST …/groups/{g}/reset`).
    ///
    /// # Errors
    /// [`Error::Api`] with `conflict` while the group has members.
    pub async fn reset_offsets(
        &self,
        stream: &str,
        group: &str,
        request: &ResetRequest,
    ) -> Result<Vec<PartitionOffset>, Error> {
        let request = self.group_request(stream, group, "reset")?.json(request);
        Ok(self.call::<ResetResponse>(request).await?.1.offsets)
    }

    /// Consumes as a group member for as long as the returned events are read
    /// (`GET …/groups/{g}/events`). Give the [`RecordEvents::last_event_id`] of an earlier
    /// connection as `last_event_id` to commit that position and resume from it.
    ///
    /// # Errors
    /// [`Error::Api`] when the server refuses the request; transport errors.
    pub async fn group_events(
        &self,
        stream: &str,
        group: &str,
        query: &GroupEventsQuery,
        last_event_id: Option<&str>,
    ) -> Result<RecordEvents, Error> {
        let mut request = self
            .group_request(stream, group, "events")?
            .query(query)
            .header(ACCEPT, HeaderValue::from_static(EVENT_STREAM));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        RecordEvents::open(request.send().await?).await
    }

    pub(crate) fn partition_request(
        &self,
        stream: &str,
        partition: u32,
        route: &str,
    ) -> Result<RequestBuilder, Error> {
        let partition = partition.to_string();
        let path = ["v1", "streams", stream, "partitions", &partition, route];
        self.request(Method::GET, &path)
    }

    fn group_request(
        &self,
        stream: &str,
        group: &str,
        route: &str,
    ) -> Result<RequestBuilder, Error> {
        let path = ["v1", "streams", stream, "groups", group, route];
        let method = if route == "events" {
            Method::GET
        } else {
            Method::POST
        };
        self.request(method, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(request: Result<RequestBuilder, Error>) -> (String, String) {
        request
            .ok()
            .and_then(|r| r.build().ok())
            .map(|r| (r.method().to_string(), r.url().to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn stream_routes_are_built_from_escaped_segments() {
        let client = Client::new("http://h:1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url(client
                .partition_request("s/1", 3, "records")
                .map(|r| r.query(&ReadQuery {
                    offset: Some(OffsetSpec::Latest),
                    max_records: Some(5),
                    ..ReadQuery::default()
                }))),
            (
                "GET".to_owned(),
                "http://h:1/v1/streams/s%2F1/partitions/3/records?offset=latest&max_records=5"
                    .to_owned()
            )
        );
        assert_eq!(
            url(client
                .partition_request("s", 0, "records")
                .map(|r| r.query(&ReadQuery {
                    offset: Some(OffsetSpec::At(12)),
                    ..ReadQuery::default()
                }))),
            (
                "GET".to_owned(),
                "http://h:1/v1/streams/s/partitions/0/records?offset=12".to_owned()
            )
        );
        assert_eq!(
            url(client.group_request("s", "g 1", "commit")),
            (
                "POST".to_owned(),
                "http://h:1/v1/streams/s/groups/g%201/commit".to_owned()
            )
        );
        assert_eq!(
            url(client.group_request("s", "g", "events")).0,
            "GET".to_owned()
        );
    }

    #[test]
    fn offset_mismatch_errors_carry_the_next_offset() {
        let body = br#"{"error":{"code":"offset_mismatch","message":"m","next_offset":42}}"#;
        let err = crate::client::error_reply(StatusCode::CONFLICT, body);
        assert_eq!(
            (err.code(), err.status(), err.next_offset()),
            ("offset_mismatch", Some(409), Some(42))
        );
        let plain = br#"{"error":{"code":"stream_not_found","message":"m"}}"#;
        let err = crate::client::error_reply(StatusCode::NOT_FOUND, plain);
        assert_eq!(err.next_offset(), None);
    }
}
