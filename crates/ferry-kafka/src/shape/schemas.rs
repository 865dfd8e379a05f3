//! The request schemas, transcribed from Kafka's message specs
//! (`clients/src/main/resources/common/message/<Name>Request.json`, apache/kafka trunk of
//! October 2024). Each `Field` is one spec entry: its name in snake case, its type, "versions",
//! "nullableVersions" and, for tagged fields, "tag". Fields of versions Ferry does not serve are
//! kept where the spec has them, so a wider range only needs `versions` changed.
//!
//! Struct types are named after the spec's (`ProduceRequest`'s `TopicProduceData` is
//! `PRODUCE_TOPIC_DATA`).

use super::{Field, Kind, Schema, ShapeError, Versions};

/// "N+".
const fn from(min: i16) -> Versions {
    Versions::from(min)
}

/// "N-M".
const fn range(min: i16, max: i16) -> Versions {
    Versions::range(min, max)
}

/// "0+".
const ALL: Versions = Versions::from(0);

/// A field in `versions`.
const fn field(name: &'static str, kind: Kind, versions: Versions) -> Field {
    Field::new(name, kind, versions)
}

const STRING: Kind = Kind::String;
const BYTES: Kind = Kind::Bytes;
const INT8: Kind = Kind::Int8;
const INT16: Kind = Kind::Int16;
const INT32: Kind = Kind::Int32;
const INT64: Kind = Kind::Int64;
const BOOL: Kind = Kind::Bool;
const UUID: Kind = Kind::Uuid;
/// `[]int32`.
const INT32S: Kind = Kind::ScalarArray(&Kind::Int32);
/// `[]string`.
const STRINGS: Kind = Kind::ScalarArray(&Kind::String);

/// Every request schema Ferry checks.
pub(super) static REQUESTS: &[&Schema] = &[
    &PRODUCE,
    &FETCH,
    &LIST_OFFSETS,
    &METADATA,
    &OFFSET_COMMIT,
    &OFFSET_FETCH,
    &FIND_COORDINATOR,
    &JOIN_GROUP,
    &HEARTBEAT,
    &LEAVE_GROUP,
    &SYNC_GROUP,
    &DESCRIBE_GROUPS,
    &LIST_GROUPS,
    &API_VERSIONS,
    &CREATE_TOPICS,
    &DELETE_TOPICS,
    &DELETE_RECORDS,
    &INIT_PRODUCER_ID,
    &DESCRIBE_CONFIGS,
    &ALTER_CONFIGS,
    &CREATE_PARTITIONS,
    &INCREMENTAL_ALTER_CONFIGS,
    &OFFSET_DELETE,
];

/// The schema of `version` of `api_key`.
///
/// # Errors
/// [`ShapeError::Unsupported`] if there is none (or Ferry does not serve that version).
pub(super) fn request(api_key: i16, version: i16) -> Result<&'static Schema, ShapeError> {
    REQUESTS
        .iter()
        .copied()
        .find(|schema| schema.api_key == api_key && schema.versions.contains(version))
        .ok_or(ShapeError::Unsupported { api_key, version })
}

/// RequestHeader.json. v1 for requests that are not flexible, v2 (tagged fields) for those that
/// are; v0 (no client id) is only for ControlledShutdown v0, which Ferry does not serve.
pub(super) static HEADER: Schema = Schema {
    api_key: -1,
    versions: range(1, 2),
    flexible: from(2),
    fields: &[
        field("request_api_key", INT16, ALL),
        field("request_api_version", INT16, ALL),
        field("correlation_id", INT32, ALL),
        // Never compact, so any broker can read an ApiVersions header of any version.
        field("client_id", STRING, from(1))
            .nullable(from(1))
            .flexible(Versions::NONE),
    ],
};

/// ProduceRequest.json.
static PRODUCE: Schema = Schema {
    api_key: 0,
    versions: range(3, 11),
    flexible: from(9),
    fields: &[
        field("transactional_id", STRING, from(3)).nullable(from(3)),
        field("acks", INT16, ALL),
        field("timeout_ms", INT32, ALL),
        field("topic_data", Kind::Array(PRODUCE_TOPIC_DATA), ALL),
    ],
};
static PRODUCE_TOPIC_DATA: &[Field] = &[
    field("name", STRING, ALL),
    field("partition_data", Kind::Array(PRODUCE_PARTITION_DATA), ALL),
];
static PRODUCE_PARTITION_DATA: &[Field] = &[
    field("index", INT32, ALL),
    field("records", Kind::Records, ALL).nullable(ALL),
];

/// FetchRequest.json.
static FETCH: Schema = Schema {
    api_key: 1,
    versions: range(4, 12),
    flexible: from(12),
    fields: &[
        field("cluster_id", STRING, from(12))
            .nullable(from(12))
            .tagged(0),
        field("replica_id", INT32, range(0, 14)),
        field("replica_state", Kind::Struct(FETCH_REPLICA_STATE), from(15)).tagged(1),
        field("max_wait_ms", INT32, ALL),
        field("min_bytes", INT32, ALL),
        field("max_bytes", INT32, from(3)),
        field("isolation_level", INT8, from(4)),
        field("session_id", INT32, from(7)),
        field("session_epoch", INT32, from(7)),
        field("topics", Kind::Array(FETCH_TOPIC), ALL),
        field(
            "forgotten_topics_data",
            Kind::Array(FETCH_FORGOTTEN_TOPIC),
            from(7),
        ),
        field("rack_id", STRING, from(11)),
    ],
};
static FETCH_REPLICA_STATE: &[Field] = &[
    field("replica_id", INT32, from(15)),
    field("replica_epoch", INT64, from(15)),
];
static FETCH_TOPIC: &[Field] = &[
    field("topic", STRING, range(0, 12)),
    field("topic_id", UUID, from(13)),
    field("partitions", Kind::Array(FETCH_PARTITION), ALL),
];
static FETCH_PARTITION: &[Field] = &[
    field("partition", INT32, ALL),
    field("current_leader_epoch", INT32, from(9)),
    field("fetch_offset", INT64, ALL),
    field("last_fetched_epoch", INT32, from(12)),
    field("log_start_offset", INT64, from(5)),
    field("partition_max_bytes", INT32, ALL),
    field("replica_directory_id", UUID, from(17)).tagged(0),
];
static FETCH_FORGOTTEN_TOPIC: &[Field] = &[
    field("topic", STRING, range(7, 12)),
    field("topic_id", UUID, from(13)),
    field("partitions", INT32S, from(7)),
];

/// ListOffsetsRequest.json.
static LIST_OFFSETS: Schema = Schema {
    api_key: 2,
    versions: range(1, 7),
    flexible: from(6),
    fields: &[
        field("replica_id", INT32, ALL),
        field("isolation_level", INT8, from(2)),
        field("topics", Kind::Array(LIST_OFFSETS_TOPIC), ALL),
        field("timeout_ms", INT32, from(10)),
    ],
};
static LIST_OFFSETS_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("partitions", Kind::Array(LIST_OFFSETS_PARTITION), ALL),
];
static LIST_OFFSETS_PARTITION: &[Field] = &[
    field("partition_index", INT32, ALL),
    field("current_leader_epoch", INT32, from(4)),
    field("timestamp", INT64, ALL),
    field("max_num_offsets", INT32, Versions::only(0)),
];

/// MetadataRequest.json.
static METADATA: Schema = Schema {
    api_key: 3,
    versions: range(0, 12),
    flexible: from(9),
    fields: &[
        field("topics", Kind::Array(METADATA_TOPIC), ALL).nullable(from(1)),
        field("allow_auto_topic_creation", BOOL, from(4)),
        field("include_cluster_authorized_operations", BOOL, range(8, 10)),
        field("include_topic_authorized_operations", BOOL, from(8)),
    ],
};
static METADATA_TOPIC: &[Field] = &[
    field("topic_id", UUID, from(10)),
    field("name", STRING, ALL).nullable(from(10)),
];

/// OffsetCommitRequest.json.
static OFFSET_COMMIT: Schema = Schema {
    api_key: 8,
    versions: range(2, 8),
    flexible: from(8),
    fields: &[
        field("group_id", STRING, ALL),
        field("generation_id_or_member_epoch", INT32, from(1)),
        field("member_id", STRING, from(1)),
        field("group_instance_id", STRING, from(7)).nullable(from(7)),
        field("retention_time_ms", INT64, range(2, 4)),
        field("topics", Kind::Array(OFFSET_COMMIT_TOPIC), ALL),
    ],
};
static OFFSET_COMMIT_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("partitions", Kind::Array(OFFSET_COMMIT_PARTITION), ALL),
];
static OFFSET_COMMIT_PARTITION: &[Field] = &[
    field("partition_index", INT32, ALL),
    field("committed_offset", INT64, ALL),
    field("committed_leader_epoch", INT32, from(6)),
    field("commit_timestamp", INT64, Versions::only(1)),
    field("committed_metadata", STRING, ALL).nullable(ALL),
];

/// OffsetFetchRequest.json.
static OFFSET_FETCH: Schema = Schema {
    api_key: 9,
    versions: range(1, 7),
    flexible: from(6),
    fields: &[
        field("group_id", STRING, range(0, 7)),
        field("topics", Kind::Array(OFFSET_FETCH_TOPIC), range(0, 7)).nullable(range(2, 7)),
        field("groups", Kind::Array(OFFSET_FETCH_GROUP), from(8)),
        field("require_stable", BOOL, from(7)),
    ],
};
static OFFSET_FETCH_TOPIC: &[Field] = &[
    field("name", STRING, range(0, 7)),
    field("partition_indexes", INT32S, range(0, 7)),
];
static OFFSET_FETCH_GROUP: &[Field] = &[
    field("group_id", STRING, from(8)),
    field("member_id", STRING, from(9)).nullable(from(9)),
    field("member_epoch", INT32, from(9)),
    field("topics", Kind::Array(OFFSET_FETCH_GROUP_TOPIC), from(8)).nullable(from(8)),
];
static OFFSET_FETCH_GROUP_TOPIC: &[Field] = &[
    field("name", STRING, from(8)),
    field("partition_indexes", INT32S, from(8)),
];

/// FindCoordinatorRequest.json.
static FIND_COORDINATOR: Schema = Schema {
    api_key: 10,
    versions: range(0, 4),
    flexible: from(3),
    fields: &[
        field("key", STRING, range(0, 3)),
        field("key_type", INT8, from(1)),
        field("coordinator_keys", STRINGS, from(4)),
    ],
};

/// JoinGroupRequest.json.
static JOIN_GROUP: Schema = Schema {
    api_key: 11,
    versions: range(0, 9),
    flexible: from(6),
    fields: &[
        field("group_id", STRING, ALL),
        field("session_timeout_ms", INT32, ALL),
        field("rebalance_timeout_ms", INT32, from(1)),
        field("member_id", STRING, ALL),
        field("group_instance_id", STRING, from(5)).nullable(from(5)),
        field("protocol_type", STRING, ALL),
        field("protocols", Kind::Array(JOIN_GROUP_PROTOCOL), ALL),
        field("reason", STRING, from(8)).nullable(from(8)),
    ],
};
static JOIN_GROUP_PROTOCOL: &[Field] = &[field("name", STRING, ALL), field("metadata", BYTES, ALL)];

/// HeartbeatRequest.json.
static HEARTBEAT: Schema = Schema {
    api_key: 12,
    versions: range(0, 4),
    flexible: from(4),
    fields: &[
        field("group_id", STRING, ALL),
        field("generation_id", INT32, ALL),
        field("member_id", STRING, ALL),
        field("group_instance_id", STRING, from(3)).nullable(from(3)),
    ],
};

/// LeaveGroupRequest.json.
static LEAVE_GROUP: Schema = Schema {
    api_key: 13,
    versions: range(0, 5),
    flexible: from(4),
    fields: &[
        field("group_id", STRING, ALL),
        field("member_id", STRING, range(0, 2)),
        field("members", Kind::Array(LEAVE_GROUP_MEMBER), from(3)),
    ],
};
static LEAVE_GROUP_MEMBER: &[Field] = &[
    field("member_id", STRING, from(3)),
    field("group_instance_id", STRING, from(3)).nullable(from(3)),
    field("reason", STRING, from(5)).nullable(from(5)),
];

/// SyncGroupRequest.json.
static SYNC_GROUP: Schema = Schema {
    api_key: 14,
    versions: range(0, 5),
    flexible: from(4),
    fields: &[
        field("group_id", STRING, ALL),
        field("generation_id", INT32, ALL),
        field("member_id", STRING, ALL),
        field("group_instance_id", STRING, from(3)).nullable(from(3)),
        field("protocol_type", STRING, from(5)).nullable(from(5)),
        field("protocol_name", STRING, from(5)).nullable(from(5)),
        field("assignments", Kind::Array(SYNC_GROUP_ASSIGNMENT), ALL),
    ],
};
static SYNC_GROUP_ASSIGNMENT: &[Field] = &[
    field("member_id", STRING, ALL),
    field("assignment", BYTES, ALL),
];

/// DescribeGroupsRequest.json.
static DESCRIBE_GROUPS: Schema = Schema {
    api_key: 15,
    versions: range(0, 5),
    flexible: from(5),
    fields: &[
        field("groups", STRINGS, ALL),
        field("include_authorized_operations", BOOL, from(3)),
    ],
};

/// ListGroupsRequest.json.
static LIST_GROUPS: Schema = Schema {
    api_key: 16,
    versions: range(0, 4),
    flexible: from(3),
    fields: &[
        field("states_filter", STRINGS, from(4)),
        field("types_filter", STRINGS, from(5)),
    ],
};

/// ApiVersionsRequest.json.
static API_VERSIONS: Schema = Schema {
    api_key: 18,
    versions: range(0, 3),
    flexible: from(3),
    fields: &[
        field("client_software_name", STRING, from(3)),
        field("client_software_version", STRING, from(3)),
    ],
};

/// CreateTopicsRequest.json.
static CREATE_TOPICS: Schema = Schema {
    api_key: 19,
    versions: range(2, 7),
    flexible: from(5),
    fields: &[
        field("topics", Kind::Array(CREATE_TOPICS_TOPIC), ALL),
        field("timeout_ms", INT32, ALL),
        field("validate_only", BOOL, from(1)),
    ],
};
static CREATE_TOPICS_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("num_partitions", INT32, ALL),
    field("replication_factor", INT16, ALL),
    field("assignments", Kind::Array(CREATE_TOPICS_ASSIGNMENT), ALL),
    field("configs", Kind::Array(CREATE_TOPICS_CONFIG), ALL),
];
static CREATE_TOPICS_ASSIGNMENT: &[Field] = &[
    field("partition_index", INT32, ALL),
    field("broker_ids", INT32S, ALL),
];
static CREATE_TOPICS_CONFIG: &[Field] = &[
    field("name", STRING, ALL),
    field("value", STRING, ALL).nullable(ALL),
];

/// DeleteTopicsRequest.json.
static DELETE_TOPICS: Schema = Schema {
    api_key: 20,
    versions: range(1, 6),
    flexible: from(4),
    fields: &[
        field("topics", Kind::Array(DELETE_TOPICS_STATE), from(6)),
        field("topic_names", STRINGS, range(0, 5)),
        field("timeout_ms", INT32, ALL),
    ],
};
static DELETE_TOPICS_STATE: &[Field] = &[
    field("name", STRING, from(6)).nullable(from(6)),
    field("topic_id", UUID, from(6)),
];

/// DeleteRecordsRequest.json.
static DELETE_RECORDS: Schema = Schema {
    api_key: 21,
    versions: range(0, 2),
    flexible: from(2),
    fields: &[
        field("topics", Kind::Array(DELETE_RECORDS_TOPIC), ALL),
        field("timeout_ms", INT32, ALL),
    ],
};
static DELETE_RECORDS_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("partitions", Kind::Array(DELETE_RECORDS_PARTITION), ALL),
];
static DELETE_RECORDS_PARTITION: &[Field] = &[
    field("partition_index", INT32, ALL),
    field("offset", INT64, ALL),
];

/// InitProducerIdRequest.json.
static INIT_PRODUCER_ID: Schema = Schema {
    api_key: 22,
    versions: range(0, 4),
    flexible: from(2),
    fields: &[
        field("transactional_id", STRING, ALL).nullable(ALL),
        field("transaction_timeout_ms", INT32, ALL),
        field("producer_id", INT64, from(3)),
        field("producer_epoch", INT16, from(3)),
    ],
};

/// DescribeConfigsRequest.json.
static DESCRIBE_CONFIGS: Schema = Schema {
    api_key: 32,
    versions: range(1, 4),
    flexible: from(4),
    fields: &[
        field("resources", Kind::Array(DESCRIBE_CONFIGS_RESOURCE), ALL),
        field("include_synonyms", BOOL, from(1)),
        field("include_documentation", BOOL, from(3)),
    ],
};
static DESCRIBE_CONFIGS_RESOURCE: &[Field] = &[
    field("resource_type", INT8, ALL),
    field("resource_name", STRING, ALL),
    field("configuration_keys", STRINGS, ALL).nullable(ALL),
];

/// AlterConfigsRequest.json.
static ALTER_CONFIGS: Schema = Schema {
    api_key: 33,
    versions: range(0, 2),
    flexible: from(2),
    fields: &[
        field("resources", Kind::Array(ALTER_CONFIGS_RESOURCE), ALL),
        field("validate_only", BOOL, ALL),
    ],
};
static ALTER_CONFIGS_RESOURCE: &[Field] = &[
    field("resource_type", INT8, ALL),
    field("resource_name", STRING, ALL),
    field("configs", Kind::Array(ALTER_CONFIGS_CONFIG), ALL),
];
static ALTER_CONFIGS_CONFIG: &[Field] = &[
    field("name", STRING, ALL),
    field("value", STRING, ALL).nullable(ALL),
];

/// CreatePartitionsRequest.json.
static CREATE_PARTITIONS: Schema = Schema {
    api_key: 37,
    versions: range(0, 3),
    flexible: from(2),
    fields: &[
        field("topics", Kind::Array(CREATE_PARTITIONS_TOPIC), ALL),
        field("timeout_ms", INT32, ALL),
        field("validate_only", BOOL, ALL),
    ],
};
static CREATE_PARTITIONS_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("count", INT32, ALL),
    field(
        "assignments",
        Kind::Array(CREATE_PARTITIONS_ASSIGNMENT),
        ALL,
    )
    .nullable(ALL),
];
static CREATE_PARTITIONS_ASSIGNMENT: &[Field] = &[field("broker_ids", INT32S, ALL)];

/// IncrementalAlterConfigsRequest.json.
static INCREMENTAL_ALTER_CONFIGS: Schema = Schema {
    api_key: 44,
    versions: range(0, 1),
    flexible: from(1),
    fields: &[
        field(
            "resources",
            Kind::Array(INCREMENTAL_ALTER_CONFIGS_RESOURCE),
            ALL,
        ),
        field("validate_only", BOOL, ALL),
    ],
};
static INCREMENTAL_ALTER_CONFIGS_RESOURCE: &[Field] = &[
    field("resource_type", INT8, ALL),
    field("resource_name", STRING, ALL),
    field(
        "configs",
        Kind::Array(INCREMENTAL_ALTER_CONFIGS_CONFIG),
        ALL,
    ),
];
static INCREMENTAL_ALTER_CONFIGS_CONFIG: &[Field] = &[
    field("name", STRING, ALL),
    field("config_operation", INT8, ALL),
    field("value", STRING, ALL).nullable(ALL),
];

/// OffsetDeleteRequest.json (never flexible).
static OFFSET_DELETE: Schema = Schema {
    api_key: 47,
    versions: Versions::only(0),
    flexible: Versions::NONE,
    fields: &[
        field("group_id", STRING, ALL),
        field("topics", Kind::Array(OFFSET_DELETE_TOPIC), ALL),
    ],
};
static OFFSET_DELETE_TOPIC: &[Field] = &[
    field("name", STRING, ALL),
    field("partitions", Kind::Array(OFFSET_DELETE_PARTITION), ALL),
];
static OFFSET_DELETE_PARTITION: &[Field] = &[field("partition_index", INT32, ALL)];
