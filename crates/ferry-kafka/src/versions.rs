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
    /// Lowest version accepted.
    pub min: i16,
    /// Highest version accepted.
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> Supported {
    Supported { key, min, max }
}

/// Every API Ferry serves, with its version range.
pub const SUPPORTED: &[Supported] = &[
    api(ApiKey::Produce, 3, 11),
    api(ApiKey::Fetch, 4, 12),
    api(ApiKey::ListOffsets, 1, 6),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 8),
    api(ApiKey::OffsetFetch, 1, 7),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::ListGroups, 0, 4),
    api(ApiKey::ApiVersions, 0, 3),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 4),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
];

/// The range Ferry accepts for `key`, if it serves that API at all.
pub fn supported(key: ApiKey) -> Option<Supported> {
    SUPPORTED.iter().copied().find(|s| s.key == key)
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
