//! FindCoordinator: this one node coordinates every group. Transactions have no
//! coordinator (Ferry does not serve them).

use crate::Context;
use crate::errors::code;
use crate::handlers::text;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

/// Key type of a consumer group (1 is a transactional id).
const GROUP_KEY: i8 = 0;

pub(crate) fn handle(
    context: &Context,
    version: i16,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let host = text(context.config.advertised_host.clone());
    let port = i32::from(context.config.advertised_port);
    let (error_code, error_message, node) = if request.key_type == GROUP_KEY {
        (code::NONE, None, BrokerId(0))
    } else {
        (
            code::COORDINATOR_NOT_AVAILABLE,
            Some(text("Ferry does not serve transactions")),
            BrokerId(-1),
        )
    };
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key: StrBytes| {
                let mut c = Coordinator::default();
                c.key = key;
                c.node_id = node;
                c.host = host.clone();
                c.port = port;
                c.error_code = error_code;
                c.error_message = error_message.clone();
                c
            })
            .collect();
    } else {
        response.error_code = error_code;
        response.error_message = error_message;
        response.node_id = node;
        response.host = host;
        response.port = port;
    }
    response
}
