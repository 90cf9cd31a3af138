//! Why a flow-dataset row could not be used, with the offending column and value.

use crate::format::{RejectReason, Rejection};

/// Longest excerpt of an offending value quoted in a rejection detail, in bytes.
const MAX_EXCERPT_BYTES: usize = 64;

/// A row-level failure; its message becomes the [`Rejection::detail`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RowError {
    /// The line holds a NUL byte.
    #[error("NUL byte at byte {position} of the line")]
    Binary { position: usize },
    /// The line is not UTF-8.
    #[error("invalid UTF-8 at byte {position} of the line")]
    NotUtf8 { position: usize },
    /// A quoted cell is never closed on its line.
    #[error("quoted cell in column {column} is never closed")]
    UnterminatedQuote { column: usize },
    /// The row has the wrong number of cells.
    #[error("expected {expected} columns, found {found}")]
    WrongColumnCount { expected: usize, found: usize },
    /// A last line without newline that stops short of a full row.
    #[error("input ends inside a row: {found} of {expected} columns")]
    Truncated { expected: usize, found: usize },
    /// A header lacks columns the format needs, or a required cell is empty.
    #[error("{what}")]
    Missing { what: String },
    /// A cell that should be a number is not one, or is out of range for its use.
    #[error("column {column}: {value:?} {problem}")]
    InvalidNumber {
        column: String,
        value: String,
        problem: &'static str,
    },
    /// An address cell that does not parse.
    #[error("column {column}: {value:?} is not an IP address")]
    InvalidIp { column: String, value: String },
    /// A port cell that is not a number in 0..=65535.
    #[error("column {column}: port {value:?} {problem}")]
    InvalidPort {
        column: String,
        value: String,
        problem: &'static str,
    },
    /// A timestamp cell that does not parse or does not exist.
    #[error("column {column}: timestamp {value:?} {problem}")]
    InvalidTimestamp {
        column: String,
        value: String,
        problem: &'static str,
    },
}

impl RowError {
    /// A number error for `value` in `column`, quoting at most [`MAX_EXCERPT_BYTES`] of it.
    pub(crate) fn number(column: &str, value: &str, problem: &'static str) -> RowError {
        RowError::InvalidNumber {
            column: column.to_string(),
            value: excerpt(value),
            problem,
        }
    }

    /// The summary key this failure is counted under.
    pub(crate) fn reason(&self) -> RejectReason {
        match self {
            RowError::Binary { .. } => RejectReason::BinaryData,
            RowError::NotUtf8 { .. } => RejectReason::NotUtf8,
            RowError::UnterminatedQuote { .. } | RowError::WrongColumnCount { .. } => {
                RejectReason::WrongColumnCount
            }
            RowError::Truncated { .. } => RejectReason::TruncatedRecord,
            RowError::Missing { .. } => RejectReason::MissingField,
            RowError::InvalidNumber { .. } => RejectReason::InvalidNumber,
            RowError::InvalidIp { .. } => RejectReason::InvalidIp,
            RowError::InvalidPort { .. } => RejectReason::InvalidPort,
            RowError::InvalidTimestamp { .. } => RejectReason::InvalidTimestamp,
        }
    }

    /// The rejection of the row that starts at `offset`.
    pub(crate) fn into_rejection(self, offset: u64) -> Rejection {
        Rejection {
            reason: self.reason(),
            offset,
            detail: self.to_string(),
        }
    }
}

/// At most [`MAX_EXCERPT_BYTES`] of `value`, cut at a character boundary, so that one huge
/// cell cannot blow up logs and summaries.
pub(crate) fn excerpt(value: &str) -> String {
    if value.len() <= MAX_EXCERPT_BYTES {
        return value.to_string();
    }
    let mut end = MAX_EXCERPT_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.len() <= MAX_EXCERPT_BYTES + 3, "{cut}");
        assert!(cut.ends_with("..."));
        assert_eq!(excerpt("12x"), "12x");
    }

    #[test]
    fn details_name_column_and_value() {
        let err = RowError::number("sbytes", "12x", "is not a number");
        assert_eq!(err.reason(), RejectReason::InvalidNumber);
        let rejection = err.into_rejection(42);
        assert_eq!(rejection.offset, 42);
        assert_eq!(rejection.detail, "column sbytes: \"12x\" is not a number");
    }
}
