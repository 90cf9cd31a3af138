//! The checkpoint: what a restart needs to continue exactly where a run stood at one event
//! boundary, and its own versioned, checksummed encoding.

use thiserror::Error;

use crate::keys::hex;

/// Everything the pipeline needs to resume at an event boundary.
///
/// The store does not look inside the parts: each stage encodes its own state (the
/// detectors' snapshots, the feature windows, the alert cooldowns) and restores it.
///
/// ```
/// use vigil_state::Checkpoint;
/// let checkpoint = Checkpoint {
///     sequence: 120_000,
///     sources: vec![("cowrie".to_owned(), 4_096u64.to_be_bytes().to_vec())],
///     features: vec![1, 2, 3],
///     pool: vec![4, 5],
///     cooldowns: vec![],
///     created_at_micros: 1_700_000_000_000_000,
/// };
/// let bytes = checkpoint.encode();
/// assert_eq!(Checkpoint::decode(&bytes)?, checkpoint);
/// assert_eq!(checkpoint.source_state("cowrie"), Some(&4_096u64.to_be_bytes()[..]));
/// # Ok::<(), vigil_state::CheckpointError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Sequence number of the last event the checkpoint covers: every event up to and
    /// including it has been scored and its alerts committed.
    pub sequence: u64,
    /// Per source (by name): where to resume reading, in the source's own encoding (for a
    /// file: its identity and the offset after the last covered line).
    pub sources: Vec<(String, Vec<u8>)>,
    /// Feature windows, as the feature stage encodes them.
    pub features: Vec<u8>,
    /// Detector pool state (models, calibrators, drift detectors, champion).
    pub pool: Vec<u8>,
    /// Open alerts' cooldowns, as the alert stage encodes them.
    pub cooldowns: Vec<u8>,
    /// Wall-clock time the checkpoint was taken, in microseconds since the Unix epoch.
    pub created_at_micros: i64,
}

/// The checkpoint encoding version this build writes and reads.
pub const CHECKPOINT_FORMAT_VERSION: u16 = 1;

const MAGIC: &[u8; 4] = b"VGCP";
const HEADER_LEN: usize = MAGIC.len() + 2;
const CRC_LEN: usize = 4;

/// Bytes that should hold an encoded [`Checkpoint`] do not.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    /// The bytes do not start with the checkpoint magic.
    #[error("not a Vigil checkpoint: it starts with {found:?} instead of \"VGCP\" (hex)")]
    NotACheckpoint {
        /// The first bytes found, in hex.
        found: String,
    },
    /// The encoding version is not one this build reads.
    #[error(
        "checkpoint encoding version {found} is not supported; this build reads version {supported}"
    )]
    UnsupportedVersion {
        /// Version found in the bytes.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The checksum over the content does not match: the bytes were damaged.
    #[error("checkpoint checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    ChecksumMismatch {
        /// CRC-32 stored at the end.
        stored: u32,
        /// CRC-32 of the content as read.
        computed: u32,
    },
    /// The bytes end inside a field.
    #[error(
        "checkpoint ends inside field `{field}`: it needs {needed} more bytes, {remaining} remain"
    )]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left.
        remaining: u64,
    },
    /// Bytes are left over after the last field.
    #[error("checkpoint has {count} unexpected bytes after its last field")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A source name is not UTF-8.
    #[error("checkpoint source name number {index} is not UTF-8 (hex {name_hex})")]
    SourceNameNotUtf8 {
        /// Position of the source in the list, from 0.
        index: u64,
        /// The name's bytes, in hex.
        name_hex: String,
    },
}

impl Checkpoint {
    /// The resume state of the source named `name`, if the checkpoint has one.
    pub fn source_state(&self, name: &str) -> Option<&[u8]> {
        self.sources
            .iter()
            .find(|(source, _)| source == name)
            .map(|(_, state)| state.as_slice())
    }

    /// The versioned encoding: magic `VGCP`, version (u16), the fields (integers
    /// big-endian, byte strings prefixed by a u64 length), then a CRC-32 of all of it.
    pub fn encode(&self) -> Vec<u8> {
        let parts_len: usize = self
            .sources
            .iter()
            .map(|(name, state)| 16 + name.len() + state.len())
            .sum::<usize>()
            + self.features.len()
            + self.pool.len()
            + self.cooldowns.len();
        let mut out = Vec::with_capacity(HEADER_LEN + 8 * 6 + parts_len + CRC_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CHECKPOINT_FORMAT_VERSION.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.created_at_micros.to_be_bytes());
        out.extend_from_slice(&(self.sources.len() as u64).to_be_bytes());
        for (name, state) in &self.sources {
            put_bytes(&mut out, name.as_bytes());
            put_bytes(&mut out, state);
        }
        put_bytes(&mut out, &self.features);
        put_bytes(&mut out, &self.pool);
        put_bytes(&mut out, &self.cooldowns);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Reads bytes written by [`Checkpoint::encode`], checking magic, version, checksum
    /// and every length.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let magic = bytes.get(..MAGIC.len());
        if magic != Some(&MAGIC[..]) {
            return Err(CheckpointError::NotACheckpoint {
                found: hex(&bytes[..bytes.len().min(MAGIC.len())]),
            });
        }
        let mut reader = Reader {
            rest: &bytes[MAGIC.len()..],
        };
        let version = u16::from_be_bytes(reader.array("version")?);
        if version != CHECKPOINT_FORMAT_VERSION {
            return Err(CheckpointError::UnsupportedVersion {
                found: version,
                supported: CHECKPOINT_FORMAT_VERSION,
            });
        }
        if bytes.len() < HEADER_LEN + CRC_LEN {
            return Err(CheckpointError::Truncated {
                field: "checksum",
                needed: CRC_LEN as u64,
                remaining: (bytes.len() - HEADER_LEN) as u64,
            });
        }
        let (content, crc_bytes) = bytes.split_at(bytes.len() - CRC_LEN);
        let stored = u32::from_be_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let computed = crc32fast::hash(content);
        if stored != computed {
            return Err(CheckpointError::ChecksumMismatch { stored, computed });
        }

        let mut reader = Reader {
            rest: &content[HEADER_LEN..],
        };
        let sequence = u64::from_be_bytes(reader.array("sequence")?);
        let created_at_micros = i64::from_be_bytes(reader.array("created_at_micros")?);
        let source_count = u64::from_be_bytes(reader.array("source count")?);
        // Each source takes at least its two length prefixes, so a count larger than that
        // allows is caught here instead of by an allocation.
        let most_sources = reader.rest.len() as u64 / 16;
        if source_count > most_sources {
            return Err(CheckpointError::Truncated {
                field: "sources",
                needed: source_count.saturating_mul(16),
                remaining: reader.rest.len() as u64,
            });
        }
        let mut sources = Vec::with_capacity(source_count as usize);
        for index in 0..source_count {
            let name = reader.bytes("source name")?;
            let name = String::from_utf8(name.to_vec()).map_err(|_| {
                CheckpointError::SourceNameNotUtf8 {
                    index,
                    name_hex: hex(name),
                }
            })?;
            let state = reader.bytes("source state")?.to_vec();
            sources.push((name, state));
        }
        let features = reader.bytes("features")?.to_vec();
        let pool = reader.bytes("pool")?.to_vec();
        let cooldowns = reader.bytes("cooldowns")?.to_vec();
        if !reader.rest.is_empty() {
            return Err(CheckpointError::TrailingBytes {
                count: reader.rest.len(),
            });
        }
        Ok(Checkpoint {
            sequence,
            sources,
            features,
            pool,
            cooldowns,
            created_at_micros,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, len: u64) -> Result<&'a [u8], CheckpointError> {
        let remaining = self.rest.len() as u64;
        if len > remaining {
            return Err(CheckpointError::Truncated {
                field,
                needed: len,
                remaining,
            });
        }
        let (taken, rest) = self.rest.split_at(len as usize);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], CheckpointError> {
        let taken = self.take(field, N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(taken);
        Ok(out)
    }

    fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], CheckpointError> {
        let len = u64::from_be_bytes(self.array(field)?);
        self.take(field, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            sequence: 7,
            sources: vec![
                ("cowrie".to_owned(), vec![0, 0, 1]),
                ("dionaea".to_owned(), vec![]),
            ],
            features: vec![9; 100],
            pool: vec![8; 3],
            cooldowns: vec![7],
            created_at_micros: -3,
        }
    }

    /// Rewrites the trailing CRC so a test can reach the checks behind it.
    fn reseal(mut bytes: Vec<u8>) -> Vec<u8> {
        let content_len = bytes.len() - CRC_LEN;
        let crc = crc32fast::hash(&bytes[..content_len]);
        bytes[content_len..].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let checkpoint = sample();
        assert_eq!(Checkpoint::decode(&checkpoint.encode()), Ok(checkpoint));
        let empty = Checkpoint::default();
        assert_eq!(Checkpoint::decode(&empty.encode()), Ok(empty));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = sample().encode();
        for position in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0x10;
            assert!(
                Checkpoint::decode(&damaged).is_err(),
                "flip at byte {position} went unnoticed"
            );
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Checkpoint::decode(&bytes[..len]).is_err(), "length {len}");
        }
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(
            Checkpoint::decode(b"JUNKJUNK"),
            Err(CheckpointError::NotACheckpoint {
                found: "4a554e4b".to_owned()
            })
        );
        let mut future = sample().encode();
        future[4..6].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            Checkpoint::decode(&reseal(future)),
            Err(CheckpointError::UnsupportedVersion {
                found: 2,
                supported: 1
            })
        );
        // A source count far beyond what the bytes can hold must not allocate for it.
        let mut huge = sample().encode();
        let count_at = HEADER_LEN + 16;
        huge[count_at..count_at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        let error = Checkpoint::decode(&reseal(huge));
        assert!(
            matches!(
                error,
                Err(CheckpointError::Truncated {
                    field: "sources",
                    ..
                })
            ),
            "{error:?}"
        );
        let mut trailing = sample().encode();
        trailing.splice(trailing.len() - CRC_LEN..trailing.len() - CRC_LEN, [1, 2]);
        assert_eq!(
            Checkpoint::decode(&reseal(trailing)),
            Err(CheckpointError::TrailingBytes { count: 2 })
        );
        let mut bad_name = sample().encode();
        let name_at = HEADER_LEN + 24 + 8;
        bad_name[name_at] = 0xff;
        assert!(matches!(
            Checkpoint::decode(&reseal(bad_name)),
            Err(CheckpointError::SourceNameNotUtf8 { index: 0, .. })
        ));
    }
}
