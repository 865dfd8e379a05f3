//! `peek`, `cancel`, `purge` and `redrive`.

use crate::failure::Failure;
use crate::output::{Table, body_line, or_dash, time};
use crate::queue::print_json;
use ferry_api::{MessageId, PeekResponse, RedriveRequest};
use ferry_client::Client;

pub(super) async fn peek(
    client: &Client,
    name: &str,
    limit: usize,
    json: bool,
) -> Result<(), Failure> {
    let messages = client.peek(name, Some(limit)).await?;
    if json {
        print_json(&PeekResponse { messages });
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID",
        "STATE",
        "RECEIVES",
        "ENQUEUED_AT",
        "VISIBLE_AT",
        "LEASED_BY",
        "BODY",
    ]);
    for m in &messages {
        let body = m
            .decode_body()
            .map(|b| body_line(&b))
            .unwrap_or_else(|e| format!("<{e}>"));
        let lease = m.lease.as_ref().map(|l| {
            if l.consumer.is_empty() {
                "?".to_owned()
            } else {
                l.consumer.clone()
            }
        });
        let state = serde_json::to_value(m.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        table.row(vec![
            m.id.to_string(),
            state,
            m.receive_count.to_string(),
            time(m.enqueued_at),
            time(m.visible_at),
            or_dash(lease),
            body,
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) async fn cancel(client: &Client, name: &str, id: &str) -> Result<(), Failure> {
    let Some(parsed) = MessageId::parse(id) else {
        return Err(Failure::new(
            "invalid_argument",
            format!("invalid message id {id:?}: expected 32 hex digits"),
        ));
    };
    client.cancel(name, parsed).await?;
    println!("cancelled {parsed}");
    Ok(())
}

pub(super) async fn purge(client: &Client, name: &str) -> Result<(), Failure> {
    let purged = client.purge(name).await?;
    println!(
        "purged {purged} message{} from {name}",
        if purged == 1 { "" } else { "s" }
    );
    Ok(())
}

pub(super) async fn redrive(
    client: &Client,
    name: &str,
    max: Option<u64>,
    rate_per_s: Option<f64>,
) -> Result<(), Failure> {
    let moved = client
        .redrive(name, &RedriveRequest { max, rate_per_s })
        .await?;
    println!(
        "moved {moved} message{} from {name} back to their source queues",
        if moved == 1 { "" } else { "s" }
    );
    Ok(())
}
