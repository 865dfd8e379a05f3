//! Representative requests, built with `kafka-protocol`'s own types and encoded by its own
//! encoder, so the shape tables are checked against an implementation written independently
//! of them. Every array has elements at every level, every field that exists at the version
//! is set to a non-default value, nullable fields are all set or all null (where the spec
//! lets them be), and every struct of a flexible version carries unknown tagged fields.
//!
//! Fields are set only in the versions the spec gives them: the encoder refuses most fields
//! set outside their versions, and silently drops the "ignorable" ones.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiVersionsRequest, BrokerId, CreatePartitionsRequest,
    CreateTopicsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest,
    IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest,
    ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, ProduceRequest, ProducerId, SyncGroupRequest,
    TopicName, TransactionalId, alter_configs_request, create_partitions_request,
    create_topics_request, delete_records_request, delete_topics_request, describe_configs_request,
    fetch_request, incremental_alter_configs_request, join_group_request, leave_group_request,
    list_offsets_request, metadata_request, offset_commit_request, offset_delete_request,
    offset_fetch_request, produce_request, sync_group_request,
};
use kafka_protocol::protocol::{Request, StrBytes};
use std::collections::BTreeMap;

/// Whether nullable fields are set or null.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Nulls {
    /// Every nullable field has a value.
    Set,
    /// Every field nullable at the version is null.
    Null,
}

/// What sample to build.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ask {
    /// The version to encode.
    pub(super) version: i16,
    /// Set or null.
    pub(super) nulls: Nulls,
}

impl Ask {
    /// Whether the version is at least `min`.
    fn from(self, min: i16) -> bool {
        self.version >= min
    }

    /// `value`, or `None` when nulls are asked for and the field is nullable from `nullable_from`.
    fn or_null<T>(self, nullable_from: i16, value: T) -> Option<T> {
        if self.nulls == Nulls::Null && self.version >= nullable_from {
            None
        } else {
            Some(value)
        }
    }
}

/// The body of a sample request of `api_key`, and the key `kafka-protocol` gives its type.
pub(super) fn encode(api_key: i16, ask: Ask) -> (i16, Bytes) {
    let version = ask.version;
    match api_key {
        0 => body(&produce(ask), version),
        1 => body(&fetch(ask), version),
        2 => body(&list_offsets(ask), version),
        3 => body(&metadata(ask), version),
        8 => body(&offset_commit(ask), version),
        9 => body(&offset_fetch(ask), version),
        10 => body(&find_coordinator(ask), version),
        11 => body(&join_group(ask), version),
        12 => body(&heartbeat(ask), version),
        13 => body(&leave_group(ask), version),
        14 => body(&sync_group(ask), version),
        15 => body(&describe_groups(ask), version),
        16 => body(&list_groups(ask), version),
        18 => body(&api_versions(ask), version),
        19 => body(&create_topics(ask), version),
        20 => body(&delete_topics(ask), version),
        21 => body(&delete_records(ask), version),
        22 => body(&init_producer_id(ask), version),
        32 => body(&describe_configs(ask), version),
        33 => body(&alter_configs(ask), version),
        37 => body(&create_partitions(ask), version),
        44 => body(&incremental_alter_configs(ask), version),
        47 => body(&offset_delete(ask), version),
        other => panic!("no sample for api key {other}"),
    }
}

/// Encodes `request` at `version` with the codec.
fn body<R: Request>(request: &R, version: i16) -> (i16, Bytes) {
    let mut buf = BytesMut::new();
    if let Err(e) = request.encode(&mut buf, version) {
        panic!(
            "kafka-protocol cannot encode api key {} v{version}: {e}",
            R::KEY
        );
    }
    (R::KEY, buf.freeze())
}

/// A string.
fn text(value: &'static str) -> StrBytes {
    StrBytes::from_static_str(value)
}

/// A topic name.
fn topic(value: &'static str) -> TopicName {
    TopicName(text(value))
}

/// A group id.
fn group(value: &'static str) -> GroupId {
    GroupId(text(value))
}

/// Unknown tagged fields: a short one and one whose tag and size take two varint bytes each.
/// Tags 0 and 1 are declared in some structs, so these stay clear of them.
fn tags() -> BTreeMap<i32, Bytes> {
    BTreeMap::from([
        (100, Bytes::from_static(b"x")),
        (9999, Bytes::from(vec![7_u8; 200])),
    ])
}

/// A record batch's worth of opaque bytes (the shape check does not look inside).
fn records() -> Bytes {
    Bytes::from(vec![0xab_u8; 70])
}

fn produce(ask: Ask) -> ProduceRequest {
    let partition = |index| {
        produce_request::PartitionProduceData::default()
            .with_index(index)
            .with_records(ask.or_null(0, records()))
            .with_unknown_tagged_fields(tags())
    };
    let topic_data = produce_request::TopicProduceData::default()
        .with_name(topic("orders"))
        .with_partition_data(vec![partition(0), partition(1)])
        .with_unknown_tagged_fields(tags());
    ProduceRequest::default()
        .with_transactional_id(ask.or_null(3, TransactionalId(text("tx"))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            topic_data.clone(),
            topic_data.with_name(topic("audit")),
        ])
        .with_unknown_tagged_fields(tags())
}

fn fetch(ask: Ask) -> FetchRequest {
    let mut partition = fetch_request::FetchPartition::default()
        .with_partition(3)
        .with_current_leader_epoch(5)
        .with_fetch_offset(1_000)
        .with_log_start_offset(10)
        .with_partition_max_bytes(1 << 20)
        .with_unknown_tagged_fields(tags());
    if ask.from(12) {
        partition = partition.with_last_fetched_epoch(4);
    }
    let topic_entry = fetch_request::FetchTopic::default()
        .with_topic(topic("orders"))
        .with_partitions(vec![partition.clone(), partition.with_partition(4)])
        .with_unknown_tagged_fields(tags());
    let mut request = FetchRequest::default()
        .with_cluster_id(ask.or_null(12, text("cluster-a")))
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_isolation_level(1)
        .with_session_id(7)
        .with_session_epoch(2)
        .with_topics(vec![topic_entry])
        .with_rack_id(text("rack-1"))
        .with_unknown_tagged_fields(tags());
    if ask.from(7) {
        let forgotten = fetch_request::ForgottenTopic::default()
            .with_topic(topic("old"))
            .with_partitions(vec![0, 1, 2])
            .with_unknown_tagged_fields(tags());
        request = request.with_forgotten_topics_data(vec![forgotten]);
    }
    request
}

fn list_offsets(ask: Ask) -> ListOffsetsRequest {
    let partition = list_offsets_request::ListOffsetsPartition::default()
        .with_partition_index(2)
        .with_current_leader_epoch(9)
        .with_timestamp(-1)
        .with_unknown_tagged_fields(tags());
    let topic_entry = list_offsets_request::ListOffsetsTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition.with_partition_index(3)])
        .with_unknown_tagged_fields(tags());
    let mut request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![topic_entry])
        .with_unknown_tagged_fields(tags());
    if ask.from(2) {
        request = request.with_isolation_level(1);
    }
    request
}

fn metadata(ask: Ask) -> MetadataRequest {
    let topic_entry = |name| {
        metadata_request::MetadataRequestTopic::default()
            .with_name(ask.or_null(10, topic(name)))
            .with_unknown_tagged_fields(tags())
    };
    let mut request = MetadataRequest::default()
        .with_topics(ask.or_null(1, vec![topic_entry("orders"), topic_entry("audit")]))
        .with_unknown_tagged_fields(tags());
    if ask.from(4) {
        request = request.with_allow_auto_topic_creation(false);
    }
    if (8..=10).contains(&ask.version) {
        request = request.with_include_cluster_authorized_operations(true);
    }
    if ask.from(8) {
        request = request.with_include_topic_authorized_operations(true);
    }
    request
}

fn offset_commit(ask: Ask) -> OffsetCommitRequest {
    let partition = offset_commit_request::OffsetCommitRequestPartition::default()
        .with_partition_index(1)
        .with_committed_offset(42)
        .with_committed_leader_epoch(3)
        .with_committed_metadata(ask.or_null(0, text("meta")))
        .with_unknown_tagged_fields(tags());
    let topic_entry = offset_commit_request::OffsetCommitRequestTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition.with_partition_index(2)])
        .with_unknown_tagged_fields(tags());
    let mut request = OffsetCommitRequest::default()
        .with_group_id(group("g"))
        .with_generation_id_or_member_epoch(4)
        .with_member_id(text("member-1"))
        .with_retention_time_ms(60_000)
        .with_topics(vec![topic_entry])
        .with_unknown_tagged_fields(tags());
    if ask.from(7) {
        request = request.with_group_instance_id(ask.or_null(7, text("instance")));
    }
    request
}

fn offset_fetch(ask: Ask) -> OffsetFetchRequest {
    let topic_entry = offset_fetch_request::OffsetFetchRequestTopic::default()
        .with_name(topic("orders"))
        .with_partition_indexes(vec![0, 1, 2])
        .with_unknown_tagged_fields(tags());
    let mut request = OffsetFetchRequest::default()
        .with_group_id(group("g"))
        .with_topics(ask.or_null(2, vec![topic_entry]))
        .with_unknown_tagged_fields(tags());
    if ask.from(7) {
        request = request.with_require_stable(true);
    }
    request
}

fn find_coordinator(ask: Ask) -> FindCoordinatorRequest {
    let mut request = FindCoordinatorRequest::default().with_unknown_tagged_fields(tags());
    if ask.version <= 3 {
        request = request.with_key(text("g"));
    } else {
        request = request.with_coordinator_keys(vec![text("g"), text("h")]);
    }
    if ask.from(1) {
        request = request.with_key_type(1);
    }
    request
}

fn join_group(ask: Ask) -> JoinGroupRequest {
    let protocol = |name| {
        join_group_request::JoinGroupRequestProtocol::default()
            .with_name(text(name))
            .with_metadata(Bytes::from_static(b"subscription"))
            .with_unknown_tagged_fields(tags())
    };
    let mut request = JoinGroupRequest::default()
        .with_group_id(group("g"))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(text("member-1"))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![protocol("range"), protocol("roundrobin")])
        .with_reason(ask.or_null(8, text("joining")))
        .with_unknown_tagged_fields(tags());
    if ask.from(5) {
        request = request.with_group_instance_id(ask.or_null(5, text("instance")));
    }
    request
}

fn heartbeat(ask: Ask) -> HeartbeatRequest {
    let mut request = HeartbeatRequest::default()
        .with_group_id(group("g"))
        .with_generation_id(3)
        .with_member_id(text("member-1"))
        .with_unknown_tagged_fields(tags());
    if ask.from(3) {
        request = request.with_group_instance_id(ask.or_null(3, text("instance")));
    }
    request
}

fn leave_group(ask: Ask) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default()
        .with_group_id(group("g"))
        .with_unknown_tagged_fields(tags());
    if !ask.from(3) {
        return request.with_member_id(text("member-1"));
    }
    let member = |id| {
        leave_group_request::MemberIdentity::default()
            .with_member_id(text(id))
            .with_group_instance_id(ask.or_null(3, text("instance")))
            .with_reason(ask.or_null(5, text("leaving")))
            .with_unknown_tagged_fields(tags())
    };
    request.with_members(vec![member("member-1"), member("member-2")])
}

fn sync_group(ask: Ask) -> SyncGroupRequest {
    let assignment = |id| {
        sync_group_request::SyncGroupRequestAssignment::default()
            .with_member_id(text(id))
            .with_assignment(Bytes::from_static(b"assignment"))
            .with_unknown_tagged_fields(tags())
    };
    let mut request = SyncGroupRequest::default()
        .with_group_id(group("g"))
        .with_generation_id(3)
        .with_member_id(text("member-1"))
        .with_protocol_type(ask.or_null(5, text("consumer")))
        .with_protocol_name(ask.or_null(5, text("range")))
        .with_assignments(vec![assignment("member-1"), assignment("member-2")])
        .with_unknown_tagged_fields(tags());
    if ask.from(3) {
        request = request.with_group_instance_id(ask.or_null(3, text("instance")));
    }
    request
}

fn describe_groups(ask: Ask) -> DescribeGroupsRequest {
    let mut request = DescribeGroupsRequest::default()
        .with_groups(vec![group("g"), group("h")])
        .with_unknown_tagged_fields(tags());
    if ask.from(3) {
        request = request.with_include_authorized_operations(true);
    }
    request
}

fn list_groups(ask: Ask) -> ListGroupsRequest {
    let mut request = ListGroupsRequest::default().with_unknown_tagged_fields(tags());
    if ask.from(4) {
        request = request.with_states_filter(vec![text("Stable"), text("Empty")]);
    }
    if ask.from(5) {
        request = request.with_types_filter(vec![text("classic")]);
    }
    request
}

fn api_versions(_ask: Ask) -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(text("ferry-test"))
        .with_client_software_version(text("1.0"))
        .with_unknown_tagged_fields(tags())
}

fn create_topics(ask: Ask) -> CreateTopicsRequest {
    let assignment = create_topics_request::CreatableReplicaAssignment::default()
        .with_partition_index(0)
        .with_broker_ids(vec![BrokerId(1), BrokerId(2)])
        .with_unknown_tagged_fields(tags());
    let config = |name| {
        create_topics_request::CreatableTopicConfig::default()
            .with_name(text(name))
            .with_value(ask.or_null(0, text("1")))
            .with_unknown_tagged_fields(tags())
    };
    let topic_entry = create_topics_request::CreatableTopic::default()
        .with_name(topic("orders"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![assignment.clone(), assignment.with_partition_index(1)])
        .with_configs(vec![config("retention.ms"), config("cleanup.policy")])
        .with_unknown_tagged_fields(tags());
    CreateTopicsRequest::default()
        .with_topics(vec![topic_entry])
        .with_timeout_ms(5_000)
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags())
}

fn delete_topics(ask: Ask) -> DeleteTopicsRequest {
    let request = DeleteTopicsRequest::default()
        .with_timeout_ms(5_000)
        .with_unknown_tagged_fields(tags());
    if !ask.from(6) {
        return request.with_topic_names(vec![topic("orders"), topic("audit")]);
    }
    let state = |name| {
        delete_topics_request::DeleteTopicState::default()
            .with_name(ask.or_null(6, topic(name)))
            .with_unknown_tagged_fields(tags())
    };
    request.with_topics(vec![state("orders"), state("audit")])
}

fn delete_records(_ask: Ask) -> DeleteRecordsRequest {
    let partition = delete_records_request::DeleteRecordsPartition::default()
        .with_partition_index(0)
        .with_offset(100)
        .with_unknown_tagged_fields(tags());
    let topic_entry = delete_records_request::DeleteRecordsTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition.clone(), partition.with_partition_index(1)])
        .with_unknown_tagged_fields(tags());
    DeleteRecordsRequest::default()
        .with_topics(vec![topic_entry])
        .with_timeout_ms(5_000)
        .with_unknown_tagged_fields(tags())
}

fn init_producer_id(ask: Ask) -> InitProducerIdRequest {
    let mut request = InitProducerIdRequest::default()
        .with_transactional_id(ask.or_null(0, TransactionalId(text("tx"))))
        .with_transaction_timeout_ms(60_000)
        .with_unknown_tagged_fields(tags());
    if ask.from(3) {
        request = request
            .with_producer_id(ProducerId(77))
            .with_producer_epoch(2);
    }
    request
}

fn describe_configs(ask: Ask) -> DescribeConfigsRequest {
    let resource = describe_configs_request::DescribeConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(text("orders"))
        .with_configuration_keys(ask.or_null(0, vec![text("retention.ms")]))
        .with_unknown_tagged_fields(tags());
    let mut request = DescribeConfigsRequest::default()
        .with_resources(vec![
            resource.clone(),
            resource.with_resource_name(text("audit")),
        ])
        .with_include_synonyms(true)
        .with_unknown_tagged_fields(tags());
    if ask.from(3) {
        request = request.with_include_documentation(true);
    }
    request
}

fn alter_configs(ask: Ask) -> AlterConfigsRequest {
    let config = |name| {
        alter_configs_request::AlterableConfig::default()
            .with_name(text(name))
            .with_value(ask.or_null(0, text("delete")))
            .with_unknown_tagged_fields(tags())
    };
    let resource = alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(text("orders"))
        .with_configs(vec![config("cleanup.policy"), config("retention.ms")])
        .with_unknown_tagged_fields(tags());
    AlterConfigsRequest::default()
        .with_resources(vec![resource])
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags())
}

fn create_partitions(ask: Ask) -> CreatePartitionsRequest {
    let assignment = create_partitions_request::CreatePartitionsAssignment::default()
        .with_broker_ids(vec![BrokerId(1), BrokerId(2), BrokerId(3)])
        .with_unknown_tagged_fields(tags());
    let topic_entry = create_partitions_request::CreatePartitionsTopic::default()
        .with_name(topic("orders"))
        .with_count(6)
        .with_assignments(ask.or_null(0, vec![assignment.clone(), assignment]))
        .with_unknown_tagged_fields(tags());
    CreatePartitionsRequest::default()
        .with_topics(vec![topic_entry])
        .with_timeout_ms(5_000)
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags())
}

fn incremental_alter_configs(ask: Ask) -> IncrementalAlterConfigsRequest {
    let config = |name| {
        incremental_alter_configs_request::AlterableConfig::default()
            .with_name(text(name))
            .with_config_operation(1)
            .with_value(ask.or_null(0, text("delete")))
            .with_unknown_tagged_fields(tags())
    };
    let resource = incremental_alter_configs_request::AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(text("orders"))
        .with_configs(vec![config("cleanup.policy"), config("retention.ms")])
        .with_unknown_tagged_fields(tags());
    IncrementalAlterConfigsRequest::default()
        .with_resources(vec![resource])
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags())
}

fn offset_delete(_ask: Ask) -> OffsetDeleteRequest {
    let partition = |index| {
        offset_delete_request::OffsetDeleteRequestPartition::default().with_partition_index(index)
    };
    let topic_entry = offset_delete_request::OffsetDeleteRequestTopic::default()
        .with_name(topic("orders"))
        .with_partitions(vec![partition(0), partition(1)]);
    OffsetDeleteRequest::default()
        .with_group_id(group("g"))
        .with_topics(vec![
            topic_entry.clone(),
            topic_entry.with_name(topic("audit")),
        ])
}
