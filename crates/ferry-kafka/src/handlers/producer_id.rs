//! InitProducerId: a fresh producer id for an idempotent producer (epoch 0). Transactional
//! producers are refused: Ferry does not serve transactions.

use crate::Context;
use crate::errors::{self, code};
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

pub(crate) async fn handle(
    context: &Context,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let mut response = InitProducerIdResponse::default();
    response.producer_id = ProducerId(-1);
    response.producer_epoch = -1;
    if request
        .transactional_id
        .as_ref()
        .is_some_and(|t| t.0.is_empty())
    {
        response.error_code = code::INVALID_REQUEST;
        return response;
    }
    if request.transactional_id.is_some() {
        response.error_code = code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return response;
    }
    // A producer that asks to bump its epoch (KIP-360) gets a new id instead: sequences
    // start over at 0 either way.
    match context.broker.new_producer_id().await {
        Ok(id) => {
            response.producer_id = ProducerId(id);
            response.producer_epoch = 0;
        }
        Err(e) => {
            tracing::warn!(error = %e, "kafka: cannot mint a producer id");
            response.error_code = errors::of(&e);
        }
    }
    response
}
