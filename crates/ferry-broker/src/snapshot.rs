//! Snapshots of a queue's state, so that recovery replays only the log written since.
//!
//! File `snapshot` in the queue's directory: `b"FSNP"`, version `u32`, the log offset the
//! snapshot covers up to (exclusive) `u64`, CRC32C of the body `u32`, then the state (postcard).
//! All little-endian. Version 2 stores the config as JSON text and the resequencer's state;
//! a version 1 snapshot cannot be read, and is usable only if the log it covers is still all
//! there (see [`read`]). Written to a temporary file, fsynced, renamed over the old one, and the
//! directory fsynced, so a crash leaves either the old snapshot or the new one, never a mix.

use crate::error::{Error, ErrorKind, Result};
use ferry_core::queue::QueueState;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 4] = b"FSNP";
const VERSION: u32 = 2;
const FILE: &str = "snapshot";
const HEADER_BYTES: usize = 4 + 4 + 8 + 4;

fn io(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, format!("snapshot {what}: {e}"))
}

/// Writes `state`, which covers the log up to `offset` (exclusive), durably.
pub(crate) fn write(dir: &Path, state: &QueueState, offset: u64) -> Result<()> {
    let body = postcard::to_allocvec(state).map_err(|e| io("encode", e))?;
    let mut bytes = Vec::with_capacity(HEADER_BYTES + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&offset.to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let tmp = dir.join("snapshot.tmp");
    let mut file = File::create(&tmp).map_err(|e| io("create", e))?;
    file.write_all(&bytes).map_err(|e| io("write", e))?;
    file.sync_all().map_err(|e| io("sync", e))?;
    fs::rename(&tmp, dir.join(FILE)).map_err(|e| io("rename", e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("sync dir", e))
}

/// What a queue directory's snapshot file holds.
#[derive(Debug)]
pub(crate) enum Found {
    /// No snapshot (or a damaged one, reported): replay the whole log.
    Nothing,
    /// A valid snapshot: the state and the log offset it covers up to.
    State(Box<QueueState>, u64),
    /// A snapshot in an older format covering the log up to this offset: usable only if the
    /// log still starts at 0, as replaying all of it rebuilds the same state.
    Outdated(u64),
}

/// Reads the snapshot. A damaged one is reported and ignored (recovery then replays the log).
pub(crate) fn read(dir: &Path) -> Found {
    let Ok(bytes) = fs::read(dir.join(FILE)) else {
        return Found::Nothing;
    };
    match decode(&bytes) {
        Ok(found) => found,
        Err(reason) => {
            tracing::warn!(dir = %dir.display(), %reason, "ignoring damaged queue snapshot");
            Found::Nothing
        }
    }
}

fn decode(bytes: &[u8]) -> std::result::Result<Found, String> {
    let header = bytes.get(..HEADER_BYTES).ok_or("too short")?;
    if header.get(..4) != Some(MAGIC.as_slice()) {
        return Err("bad magic".into());
    }
    let field =
        |range: std::ops::Range<usize>| header.get(range).ok_or_else(|| "short header".to_string());
    let version = u32::from_le_bytes(field(4..8)?.try_into().map_err(|_| "version")?);
    let offset = u64::from_le_bytes(field(8..16)?.try_into().map_err(|_| "offset")?);
    if version < VERSION {
        return Ok(Found::Outdated(offset));
    }
    if version != VERSION {
        return Err(format!("unknown version {version}"));
    }
    let crc = u32::from_le_bytes(field(16..20)?.try_into().map_err(|_| "crc")?);
    let body = bytes.get(HEADER_BYTES..).unwrap_or_default();
    if crc32c::crc32c(body) != crc {
        return Err("checksum mismatch".into());
    }
    let state = postcard::from_bytes(body).map_err(|e| e.to_string())?;
    Ok(Found::State(Box::new(state), offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_core::queue::QueueConfig;

    #[test]
    fn round_trips_and_rejects_damage() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let state = QueueState::new(5, QueueConfig::default());
        write(dir.path(), &state, 77)?;
        let Found::State(back, offset) = read(dir.path()) else {
            return Err("no snapshot".into());
        };
        assert_eq!((back.uid(), offset), (5, 77));
        let path = dir.path().join(FILE);
        let mut bytes = fs::read(&path)?;
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, &bytes)?;
        assert!(matches!(read(dir.path()), Found::Nothing));
        bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
        fs::write(&path, &bytes)?;
        assert!(matches!(read(dir.path()), Found::Outdated(77)));
        Ok(())
    }
}
