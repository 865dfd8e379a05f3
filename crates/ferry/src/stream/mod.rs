//! `ferry stream …`: event streams from a terminal, through `ferry-client`.

mod admin;
mod args;
mod consume;
mod format;
mod groups;
mod produce;

pub(crate) use args::StreamArgs;

use crate::failure::Failure;
use args::StreamCommand;
use ferry_client::Client;

/// Runs one stream subcommand.
pub(crate) async fn run(args: StreamArgs) -> Result<(), Failure> {
    let client = Client::new(&args.url)?;
    match args.command {
        StreamCommand::Create(create) => admin::create(&client, create).await,
        StreamCommand::List { json } => admin::list(&client, json).await,
        StreamCommand::Info { name, json } => admin::info(&client, &name, json).await,
        StreamCommand::Delete { name } => {
            client.delete_stream(&name).await?;
            format::out(&format!("deleted stream {name}\n"));
            Ok(())
        }
        StreamCommand::Compact { name } => admin::compact(&client, &name).await,
        StreamCommand::Produce(produce) => produce::run(&client, produce).await,
        StreamCommand::Consume(consume) => consume::run(&client, consume).await,
        StreamCommand::Tail(tail) => consume::tail(&client, tail).await,
        StreamCommand::Groups { name, group, json } => match group {
            Some(group) => groups::describe(&client, &name, &group, json).await,
            None => groups::list(&client, &name, json).await,
        },
        StreamCommand::ResetOffsets(reset) => groups::reset(&client, reset).await,
    }
}

#[cfg(test)]
mod tests;
