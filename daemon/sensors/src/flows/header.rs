//! Finding columns by name in a header line.

use std::sync::Arc;

use super::csv::Cells;
use super::error::RowError;

/// How many missing column names a rejection detail lists before summarising the rest.
const MISSING_NAMES_LISTED: usize = 6;

/// The position of each of `wanted` in the header `cells`, in the order of `wanted`.
///
/// Names match after trimming blanks, ignoring ASCII case, so `" Label"` finds `Label`.
/// When a name occurs twice, the first occurrence wins.
pub(crate) fn locate(
    cells: &Cells<'_>,
    wanted: &[&str],
    format_name: &str,
) -> Result<Vec<usize>, RowError> {
    let mut positions = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for name in wanted {
        match cells
            .iter()
            .position(|cell| cell.eq_ignore_ascii_case(name))
        {
            Some(position) => positions.push(position),
            None => missing.push(*name),
        }
    }
    if missing.is_empty() {
        return Ok(positions);
    }
    let mut what = format!("{format_name} header lacks column");
    if missing.len() > 1 {
        what.push('s');
    }
    what.push(' ');
    what.push_str(&missing[..missing.len().min(MISSING_NAMES_LISTED)].join(", "));
    if missing.len() > MISSING_NAMES_LISTED {
        what.push_str(&format!(
            " and {} more",
            missing.len() - MISSING_NAMES_LISTED
        ));
    }
    Err(RowError::Missing { what })
}

/// Where the columns of a format stand in the current input: learnt from its header, or fixed
/// by a format without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    /// The number of cells every data row must have.
    pub(crate) width: usize,
    /// Position of each numeric feature column, in the order of the format's numeric columns.
    pub(crate) numeric: Vec<usize>,
    /// Position of each of the format's other required columns, in the format's order.
    pub(crate) other: Vec<usize>,
    /// Position of each of the format's optional columns (CIC-IDS2017 `Flow ID`, ...), in
    /// the format's order; `None` for one the header lacks.
    pub(crate) optional: Vec<Option<usize>>,
}

impl Columns {
    /// The positions of the `numeric` and then the `other` columns in the header `cells`, as
    /// by [`locate`]: one error names every missing column.
    pub(crate) fn locate(
        cells: &Cells<'_>,
        numeric: &[&str],
        other: &[&str],
        format_name: &str,
    ) -> Result<Columns, RowError> {
        let all: Vec<&str> = numeric.iter().chain(other).copied().collect();
        let mut positions = locate(cells, &all, format_name)?;
        let other = positions.split_off(numeric.len());
        Ok(Columns {
            width: cells.len(),
            numeric: positions,
            other,
            optional: Vec::new(),
        })
    }

    /// Notes where the header `cells` has each of the `optional` columns (matched as by
    /// [`locate`]), for [`Columns::optional_cell`].
    pub(crate) fn with_optional(mut self, cells: &Cells<'_>, optional: &[&str]) -> Columns {
        self.optional = optional
            .iter()
            .map(|name| {
                cells
                    .iter()
                    .position(|cell| cell.eq_ignore_ascii_case(name))
            })
            .collect();
        self
    }

    /// The cell of the `index`-th other column.
    pub(crate) fn other<'a>(&self, cells: &Cells<'a>, index: usize) -> &'a str {
        cells.get(self.other[index])
    }

    /// The cell of the `index`-th optional column, `None` when the header lacks the column.
    pub(crate) fn optional_cell<'a>(&self, cells: &Cells<'a>, index: usize) -> Option<&'a str> {
        let position = (*self.optional.get(index)?)?;
        Some(cells.get(position))
    }
}

/// `names` as shared strings, for [`crate::RecordParser::numeric_columns`].
pub(crate) fn shared_names(names: &[&str]) -> Vec<Arc<str>> {
    names.iter().map(|name| Arc::from(*name)).collect()
}

/// The index of `name` in `names`, usable in constants so that a typo in a column list is a
/// compile error rather than a wrong field mapping.
pub(crate) const fn index_of(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return i;
        }
        i += 1;
    }
    panic!("column name missing from its own column list")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::csv::CellSplitter;
    use super::*;

    #[test]
    fn columns_are_found_by_name_in_any_order_and_case() {
        let mut splitter = CellSplitter::default();
        let cells = splitter.split("b, A ,c").unwrap();
        assert_eq!(locate(&cells, &["a", "c", "B"], "test").unwrap(), [1, 2, 0]);
    }

    #[test]
    fn missing_columns_are_all_named() {
        let mut splitter = CellSplitter::default();
        let cells = splitter.split("a,b").unwrap();
        let err = locate(&cells, &["a", "x", "y"], "UNSW-NB15").unwrap_err();
        assert_eq!(err.to_string(), "UNSW-NB15 header lacks columns x, y");
        let many: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let err = locate(&cells, &many, "CSV").unwrap_err();
        assert!(err.to_string().ends_with("c5 and 3 more"), "{err}");
    }

    #[test]
    fn const_lookup_finds_names() {
        const NAMES: [&str; 3] = ["dur", "spkts", "dpkts"];
        const DPKTS: usize = index_of(&NAMES, "dpkts");
        assert_eq!(DPKTS, 2);
    }
}
