//! The APIs and versions Ferry speaks, as ApiVersions advertises them.
//!
//! The ranges stop where a later version would need something Ferry does not have: Produce
//! and Fetch stop before v13 (topics named by id), ListOffsets before v7 (the max-timestamp
//! query), OffsetFetch before v8 (several groups in one request). Transactions, quotas, ACLs
//! and the KRaft controller APIs are not advertised.

use kafka_protocol::messages::ApiKey;

/// One API and the versions Ferry accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Supported {
    /// The API.
    pub key: ApiKey,
    /// Its name, as Kafka's protocol guide writes it (also the `api` label of metrics).
    pub name: &'static str,
    /// Lowest version accepted.
    pub min: i16,
    /// Highest version accepted.
    pub max: i16,
}

const fn api(key: ApiKey, name: &'static str, min: i16, max: i16) -> Supported {
    Supported {
        key,
        name,
        min,
        max,
    }
}

/// Every API Ferry serves, with its version range.
pub const SUPPORTED: &[Supported] = &[
    api(ApiKey::Produce, "Produce", 3, 11),
    api(ApiKey::Fetch, "Fetch", 4, 12),
    api(ApiKey::ListOffsets, "ListOffsets", 1, 6),
    api(ApiKey::Metadata, "Metadata", 0, 12),
    api(ApiKey::OffsetCommit, "OffsetCommit", 2, 8),
    api(ApiKey::OffsetFetch, "OffsetFetch", 1, 7),
    api(ApiKey::FindCoordinator, "FindCoordinator", 0, 4),
    api(ApiKey::JoinGroup, "JoinGroup", 0, 9),
    api(ApiKey::Heartbeat, "Heartbeat", 0, 4),
    api(ApiKey::LeaveGroup, "LeaveGroup", 0, 5),
    api(ApiKey::SyncGroup, "SyncGroup", 0, 5),
    api(ApiKey::DescribeGroups, "DescribeGroups", 0, 5),
    api(ApiKey::ListGroups, "ListGroups", 0, 4),
    api(ApiKey::ApiVersions, "ApiVersions", 0, 3),
    api(ApiKey::CreateTopics, "CreateTopics", 2, 7),
    api(ApiKey::DeleteTopics, "DeleteTopics", 1, 6),
    api(ApiKey::DeleteRecords, "DeleteRecords", 0, 2),
    api(ApiKey::InitProducerId, "InitProducerId", 0, 4),
    api(ApiKey::DescribeConfigs, "DescribeConfigs", 1, 4),
    api(ApiKey::AlterConfigs, "AlterConfigs", 0, 2),
    api(ApiKey::CreatePartitions, "CreatePartitions", 0, 3),
    api(
        ApiKey::IncrementalAlterConfigs,
        "IncrementalAlterConfigs",
        0,
        1,
    ),
];

/// The range Ferry accepts for `key`, if it serves that API at all.
pub fn supported(key: ApiKey) -> Option<Supported> {
    SUPPORTED.iter().copied().find(|s| s.key == key)
}

/// The name of an API Ferry serves (`other` for any other).
pub fn name(key: ApiKey) -> &'static str {
    supported(key).map_or("other", |s| s.name)
}

/// Whether Ferry accepts `version` of `key`.
pub fn accepts(key: ApiKey, version: i16) -> bool {
    supported(key).is_some_and(|s| (s.min..=s.max).contains(&version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_advertised_range_is_one_the_codec_can_read_and_write() {
        for s in SUPPORTED {
            let codec = s.key.valid_versions();
            assert!(s.min <= s.max, "{:?}", s.key);
            assert_eq!(format!("{:?}", s.key), s.name);
            assert!(
                codec.min <= s.min && s.max <= codec.max,
                "{:?}: Ferry advertises {}..={} but the codec knows {codec}",
                s.key,
                s.min,
                s.max
            );
        }
    }

    #[test]
    fn unsupported_versions_and_apis_are_refused() {
        assert!(accepts(ApiKey::Fetch, 12));
        assert!(!accepts(ApiKey::Fetch, 13));
        assert!(!accepts(ApiKey::Produce, 2));
        assert!(!accepts(ApiKey::EndTxn, 0));
    }
}
