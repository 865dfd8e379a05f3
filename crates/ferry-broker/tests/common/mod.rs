//! Helpers shared by the broker's integration tests.

#![allow(dead_code, unreachable_pub)]

use ferry_broker::*;

/// What every test returns.
pub type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// A broker config on `dir`, defaults otherwise.
pub fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        ..BrokerConfig::default()
    }
}

/// A text message.
pub fn text(body: &str) -> NewMessage {
    NewMessage {
        body: Body::text(body),
        ..NewMessage::default()
    }
}

/// Receives up to `max` messages (leased, no wait).
pub async fn receive(b: &Broker, queue: &str, max: u32) -> Result<Vec<Delivery>> {
    b.receive(
        queue,
        ReceiveOptions {
            max,
            ..ReceiveOptions::default()
        },
    )
    .await
}
