//! The data layout the kernels read: row-major, one owned buffer.

use crate::error::EvalError;
use gradc_graph::interp::Data;

/// Data rows in the layout the generated code reads: **row-major**, `values[row * width + col]`.
///
/// Row-major means one row is one contiguous run of `width` values (one or two cache lines for
/// typical models), so the row loop computes one address per row and reads every input at a
/// constant offset from it; a mini-batch of scattered rows touches one run per row instead of
/// `width` scattered columns. [`Data`] (column-major) converts once with [`KernelData::from_data`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelData {
    n_rows: usize,
    width: usize,
    values: Vec<f64>,
}

impl KernelData {
    /// No rows and no columns, for models without inputs.
    pub fn empty() -> KernelData {
        KernelData::default()
    }

    /// Converts column-major [`Data`]; every column must have `data.n_rows` values.
    pub fn from_data(data: &Data) -> Result<KernelData, EvalError> {
        let width = data.columns.len();
        for (index, column) in data.columns.iter().enumerate() {
            if column.len() != data.n_rows {
                return Err(EvalError::RaggedColumn {
                    index,
                    len: column.len(),
                    n_rows: data.n_rows,
                });
            }
        }
        let mut values = Vec::with_capacity(data.n_rows * width);
        for row in 0..data.n_rows {
            values.extend(data.columns.iter().map(|c| c[row]));
        }
        Ok(KernelData {
            n_rows: data.n_rows,
            width,
            values,
        })
    }

    /// Takes a row-major buffer of `n_rows` rows of `width` values.
    pub fn from_row_major(
        n_rows: usize,
        width: usize,
        values: Vec<f64>,
    ) -> Result<KernelData, EvalError> {
        if n_rows.checked_mul(width) != Some(values.len()) {
            return Err(EvalError::BufferShape {
                len: values.len(),
                n_rows,
                width,
            });
        }
        Ok(KernelData {
            n_rows,
            width,
            values,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The number of columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The row-major values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// One row's values.
    pub fn row(&self, row: usize) -> &[f64] {
        &self.values[row * self.width..(row + 1) * self.width]
    }
}

impl TryFrom<&Data> for KernelData {
    type Error = EvalError;

    fn try_from(data: &Data) -> Result<KernelData, EvalError> {
        KernelData::from_data(data)
    }
}

/// Which rows a row reduction runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowSet<'a> {
    /// Every row: `mean` is the mean over N rows, `sum` the plain sum.
    All,
    /// A mini-batch of B row indices (repeats allowed): `mean` is the mean over the B rows, `sum`
    /// the batch sum scaled by N/B (unscaled when B = N), exactly as the interpreter does.
    Subset(&'a [usize]),
}

impl<'a> RowSet<'a> {
    pub(crate) fn as_option(self) -> Option<&'a [usize]> {
        match self {
            RowSet::All => None,
            RowSet::Subset(rows) => Some(rows),
        }
    }
}
