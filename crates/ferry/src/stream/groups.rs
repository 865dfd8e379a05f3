//! `groups` and `reset-offsets`.

use crate::failure::Failure;
use crate::output::{Table, or_dash, time};
use crate::stream::args::ResetArgs;
use crate::stream::format::{out, out_json, partition_list};
use ferry_api::{GroupList, ResetRequest, ResetResponse};
use ferry_client::Client;

pub(super) async fn list(client: &Client, stream: &str, json: bool) -> Result<(), Failure> {
    let groups = client.list_groups(stream).await?;
    if json {
        out_json(&GroupList { groups });
        return Ok(());
    }
    let mut table = Table::new(&["GROUP", "GENERATION", "MEMBERS"]);
    for g in groups {
        table.row(vec![
            g.name,
            g.generation.to_string(),
            g.members.to_string(),
        ]);
    }
    out(&table.render());
    Ok(())
}

pub(super) async fn describe(
    client: &Client,
    stream: &str,
    group: &str,
    json: bool,
) -> Result<(), Failure> {
    let details = client.group_info(stream, group).await?;
    if json {
        out_json(&details);
        return Ok(());
    }
    out(&format!(
        "group {} of stream {stream}: generation {}, {} member{}\n",
        details.name,
        details.generation,
        details.members.len(),
        if details.members.len() == 1 { "" } else { "s" }
    ));
    if !details.members.is_empty() {
        out("\n");
        let mut members = Table::new(&["MEMBER_ID", "PARTITIONS", "LAST_SEEN_AT"]);
        for m in &details.members {
            members.row(vec![
                m.member_id.clone(),
                partition_list(&m.assignment),
                time(m.last_seen_at),
            ]);
        }
        out(&members.render());
    }
    out("\n");
    let mut partitions = Table::new(&[
        "PARTITION",
        "OWNER",
        "COMMITTED_OFFSET",
        "END_OFFSET",
        "LAG",
        "LAG_MS",
        "METADATA",
    ]);
    for p in &details.partitions {
        let owner = details
            .members
            .iter()
            .find(|m| m.assignment.contains(&p.partition))
            .map(|m| m.member_id.clone());
        partitions.row(vec![
            p.partition.to_string(),
            or_dash(owner),
            or_dash(p.committed_offset),
            p.end_offset.to_string(),
            p.lag_records.to_string(),
            p.lag_ms.to_string(),
            or_dash(p.metadata.clone()),
        ]);
    }
    out(&partitions.render());
    Ok(())
}

pub(super) async fn reset(client: &Client, args: ResetArgs) -> Result<(), Failure> {
    let request = reset_request(&args)?;
    let offsets = client
        .reset_offsets(&args.name, &args.group, &request)
        .await?;
    if args.json {
        out_json(&ResetResponse { offsets });
        return Ok(());
    }
    out(&format!(
        "reset group {} of stream {}\n",
        args.group, args.name
    ));
    let mut table = Table::new(&["PARTITION", "COMMITTED_OFFSET"]);
    for o in offsets {
        table.row(vec![o.partition.to_string(), o.offset.to_string()]);
    }
    out(&table.render());
    Ok(())
}

/// The request the flags ask for (clap lets exactly one kind through).
fn reset_request(args: &ResetArgs) -> Result<ResetRequest, Failure> {
    if args.to_earliest {
        Ok(ResetRequest::ToEarliest)
    } else if args.to_latest {
        Ok(ResetRequest::ToLatest)
    } else if let Some(t) = args.to_time {
        Ok(ResetRequest::ToTime(t))
    } else if !args.to_offset.is_empty() {
        Ok(ResetRequest::ToOffsets(args.to_offset.clone()))
    } else {
        Err(Failure::new(
            "invalid_argument",
            "give one of --to-earliest, --to-latest, --to-time or --to-offset",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::stream::args::StreamCommand;
    use clap::Parser as _;
    use ferry_api::{ResetOffset, Timestamp};

    fn reset_of(argv: &[&str]) -> Result<ResetRequest, String> {
        let mut full = vec!["ferry", "stream", "reset-offsets", "s", "g"];
        full.extend_from_slice(argv);
        let cli = Cli::try_parse_from(full).map_err(|e| e.kind().to_string())?;
        match cli.command {
            Command::Stream(s) => match s.command {
                StreamCommand::ResetOffsets(args) => reset_request(&args).map_err(|e| e.code),
                other => Err(format!("{other:?}")),
            },
            _ => Err("not a stream command".to_owned()),
        }
    }

    #[test]
    fn exactly_one_reset_target_is_taken() {
        assert_eq!(reset_of(&["--to-earliest"]), Ok(ResetRequest::ToEarliest));
        assert_eq!(reset_of(&["--to-latest"]), Ok(ResetRequest::ToLatest));
        assert_eq!(
            reset_of(&["--to-time", "2025-01-31T09:30:00.250Z"]),
            Ok(ResetRequest::ToTime(Timestamp(1_738_315_800_250)))
        );
        assert_eq!(
            reset_of(&["--to-offset", "0:5", "--to-offset", "2:0"]),
            Ok(ResetRequest::ToOffsets(vec![
                ResetOffset {
                    partition: 0,
                    offset: 5
                },
                ResetOffset {
                    partition: 2,
                    offset: 0
                }
            ]))
        );
        for bad in [
            &[][..],
            &["--to-earliest", "--to-latest"],
            &["--to-latest", "--to-offset", "0:1"],
            &["--to-time", "yesterday"],
            &["--to-offset", "5"],
        ] {
            assert!(reset_of(bad).is_err(), "{bad:?}");
        }
    }
}
