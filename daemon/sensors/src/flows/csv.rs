//! Splitting one CSV line into cells without allocating per cell.
//!
//! Only single-line records are supported: a quoted cell may hold commas and doubled quotes
//! (RFC 4180), but not a line break, because the reader hands the parser one line at a time.

use std::ops::Range;

use super::error::RowError;

/// Splits lines into cells, reusing its buffers from one line to the next.
///
/// Cells are byte ranges into one backing text: the line itself when it holds no quote (the
/// common case, no copy at all), or an unquoted copy of the line kept in `unquoted`.
#[derive(Debug, Default)]
pub(crate) struct CellSplitter {
    cells: Vec<Range<usize>>,
    unquoted: String,
}

/// The cells of one line, borrowed from the line or from the splitter's buffer.
#[derive(Debug)]
pub(crate) struct Cells<'a> {
    text: &'a str,
    cells: &'a [Range<usize>],
}

impl<'a> Cells<'a> {
    /// How many cells the line has.
    pub(crate) fn len(&self) -> usize {
        self.cells.len()
    }

    /// The cell at `index`, with surrounding ASCII blanks removed; empty when out of range.
    pub(crate) fn get(&self, index: usize) -> &'a str {
        match self.cells.get(index) {
            Some(range) => self.text.get(range.clone()).unwrap_or("").trim_ascii(),
            None => "",
        }
    }

    /// Every cell in order, trimmed as by [`Cells::get`].
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.cells.len()).map(|index| self.get(index))
    }
}

impl CellSplitter {
    /// Splits `line` (already stripped of its terminator) at commas outside quotes.
    pub(crate) fn split<'a>(&'a mut self, line: &'a str) -> Result<Cells<'a>, RowError> {
        self.cells.clear();
        if memchr::memchr(b'"', line.as_bytes()).is_none() {
            // Cells of flow datasets are a few bytes long: a plain scan beats a vectorised
            // search that restarts at every comma.
            let mut start = 0;
            for (position, &byte) in line.as_bytes().iter().enumerate() {
                if byte == b',' {
                    self.cells.push(start..position);
                    start = position + 1;
                }
            }
            self.cells.push(start..line.len());
            return Ok(Cells {
                text: line,
                cells: &self.cells,
            });
        }
        self.split_quoted(line)?;
        Ok(Cells {
            text: &self.unquoted,
            cells: &self.cells,
        })
    }

    /// The slow path: copies the line into `unquoted` without the quoting.
    ///
    /// Lenient like most CSV readers about text after a closing quote (`"ab"c` reads `abc`),
    /// strict about a quote that is never closed, since then the cell boundaries are unknown.
    fn split_quoted(&mut self, line: &str) -> Result<(), RowError> {
        self.unquoted.clear();
        let mut cell_start = 0;
        let mut in_quotes = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, in_quotes) {
                ('"', true) => {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        self.unquoted.push('"');
                    } else {
                        in_quotes = false;
                    }
                }
                ('"', false) => in_quotes = true,
                (',', false) => {
                    self.cells.push(cell_start..self.unquoted.len());
                    cell_start = self.unquoted.len();
                }
                (other, _) => self.unquoted.push(other),
            }
        }
        if in_quotes {
            return Err(RowError::UnterminatedQuote {
                column: self.cells.len() + 1,
            });
        }
        self.cells.push(cell_start..self.unquoted.len());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, RowError> {
        let mut splitter = CellSplitter::default();
        let cells = splitter.split(line)?;
        Ok(cells.iter().map(str::to_string).collect())
    }

    #[test]
    fn plain_cells_are_split_at_every_comma() {
        assert_eq!(split("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split("").unwrap(), [""]);
        assert_eq!(split(" 1 , 2").unwrap(), ["1", "2"]);
    }

    #[test]
    fn quoted_cells_keep_commas_and_undouble_quotes() {
        assert_eq!(
            split(r#"1,"a,b","say ""hi""",x"#).unwrap(),
            ["1", "a,b", r#"say "hi""#, "x"]
        );
        assert_eq!(split(r#""""#).unwrap(), [""]);
        assert_eq!(split(r#""ab"c,d"#).unwrap(), ["abc", "d"]);
        assert_eq!(split(r#""é,ü",1"#).unwrap(), ["é,ü", "1"]);
    }

    #[test]
    fn an_unclosed_quote_names_its_column() {
        let err = split(r#"1,2,"open"#).unwrap_err();
        assert!(
            matches!(err, RowError::UnterminatedQuote { column: 3 }),
            "{err:?}"
        );
    }

    #[test]
    fn out_of_range_cells_read_as_empty() {
        let mut splitter = CellSplitter::default();
        let cells = splitter.split("a").unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells.get(5), "");
    }
}
