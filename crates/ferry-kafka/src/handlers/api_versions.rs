//! ApiVersions: what Ferry speaks. (At an unknown version, `conn` answers in v0.)

use crate::versions::SUPPORTED;
use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

/// Every supported API with its version range.
pub(crate) fn advertised() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|s| {
            let mut v = ApiVersion::default();
            v.api_key = s.key as i16;
            v.min_version = s.min;
            v.max_version = s.max;
            v
        })
        .collect()
}

pub(crate) fn handle(_request: &ApiVersionsRequest) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.api_keys = advertised();
    response
}
