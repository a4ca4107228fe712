//! gradc-data: loading the CSV columns a model reads (LANGUAGE.md §6), with every problem
//! reported by row and column before a run starts.
//!
//! The result is column-major (`columns[flat input index][row]`): a kernel that reads input `k`
//! for consecutive rows streams through one contiguous array, and a mini-batch gathers rows by
//! index from the same arrays. Only the columns the model uses are parsed and kept.
#![forbid(unsafe_code)]

use gradc_graph::interp::Data;
use gradc_graph::{ColumnSource, InputInfo};
use std::fmt;
use std::path::Path;

/// How many problems are listed before the report stops (the run does not start anyway).
pub const MAX_REPORTED: usize = 20;

/// One problem in a data file. Rows are file lines, counting the header as line 1, so that a
/// user can go to them in an editor; columns are named by header and 1-based position.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DataProblem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("the file is empty: a header row is needed")]
    Empty,
    #[error("the file has a header but no data rows")]
    NoRows,
    #[error("line {line}: not valid CSV: {message}")]
    Malformed { line: u64, message: String },
    #[error("no column named \"{name}\" (for input `{input}`); the columns are: {available}")]
    MissingColumn {
        input: String,
        name: String,
        available: String,
    },
    #[error("input `{input}` reads column {position} (0-based) but the file has {width} columns")]
    ColumnOutOfRange {
        input: String,
        position: usize,
        width: usize,
    },
    #[error(
        "the header \"{name}\" (for input `{input}`) names more than one column: columns {positions}"
    )]
    AmbiguousColumn {
        input: String,
        name: String,
        /// The 1-based positions, as `2 and 5`.
        positions: String,
    },
    #[error("line {line} is longer than {limit} bytes: not a CSV file a model can read")]
    LineTooLong { line: u64, limit: usize },
    #[error("line {line}: {found} cells, but the header has {expected}")]
    Ragged {
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("line {line}, column {column}: empty cell")]
    EmptyCell { line: u64, column: ColumnName },
    #[error("line {line}, column {column}: \"{text}\" is not a number")]
    NotANumber {
        line: u64,
        column: ColumnName,
        text: String,
    },
}

impl DataProblem {
    /// The input a problem is about, when it is about how the model names its columns.
    pub fn input(&self) -> Option<&str> {
        match self {
            DataProblem::MissingColumn { input, .. }
            | DataProblem::ColumnOutOfRange { input, .. }
            | DataProblem::AmbiguousColumn { input, .. } => Some(input),
            _ => None,
        }
    }
}

/// A column as the user knows it: its header and 1-based position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnName {
    pub header: String,
    pub position: usize,
}

impl fmt::Display for ColumnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" ({})", self.header, self.position)
    }
}

/// Everything wrong with a data file (up to [`MAX_REPORTED`] problems), for one report.
#[derive(Clone, Debug, PartialEq)]
pub struct DataError {
    pub file: String,
    pub problems: Vec<DataProblem>,
    /// More problems were found than are listed.
    pub truncated: bool,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {problem}", self.file)?;
        }
        if self.truncated {
            write!(f, "\n{}: (more problems not shown)", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}

/// The longest line a data file may have. A header of a million columns fits; reading a
/// device such as `/dev/zero`, which never ends a line, stops here instead of taking all memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Loads the columns of `inputs` from a CSV file.
pub fn load(path: &Path, inputs: &[InputInfo]) -> Result<Data, DataError> {
    let file = path.display().to_string();
    let text = read_bounded(path, MAX_LINE_BYTES).map_err(|problem| DataError {
        file: file.clone(),
        problems: vec![problem],
        truncated: false,
    })?;
    parse(&file, &text, inputs)
}

/// Reads a whole file, refusing one with a line longer than `limit` bytes.
fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>, DataProblem> {
    use std::io::Read;
    let io = |e: std::io::Error| DataProblem::Io(e.to_string());
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut text = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    // Bytes since the last newline, and the newlines seen (for the line number).
    let (mut line_bytes, mut newlines) = (0usize, 0u64);
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => return Ok(text),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        let read = &chunk[..n];
        let too_long = |line: u64| DataProblem::LineTooLong { line, limit };
        let mut start = 0;
        for end in read
            .iter()
            .enumerate()
            .filter_map(|(i, &b)| (b == b'\n').then_some(i))
        {
            if line_bytes + (end - start) > limit {
                return Err(too_long(newlines + 1));
            }
            newlines += 1;
            line_bytes = 0;
            start = end + 1;
        }
        line_bytes += n - start;
        if line_bytes > limit {
            return Err(too_long(newlines + 1));
        }
        text.extend_from_slice(read);
    }
}

/// Parses CSV text (with a header row) into the columns of `inputs`, in their flat order.
pub fn parse(file: &str, text: &[u8], inputs: &[InputInfo]) -> Result<Data, DataError> {
    let mut report = Report::default();
    let data = parse_into(text, inputs, &mut report);
    match data {
        Some(data) if report.problems.is_empty() => Ok(data),
        _ => Err(DataError {
            file: file.to_string(),
            problems: report.problems,
            truncated: report.truncated,
        }),
    }
}

#[derive(Default)]
struct Report {
    problems: Vec<DataProblem>,
    truncated: bool,
}

impl Report {
    fn push(&mut self, problem: DataProblem) {
        if self.problems.len() < MAX_REPORTED {
            self.problems.push(problem);
        } else {
            self.truncated = true;
        }
    }
}

fn parse_into(text: &[u8], inputs: &[InputInfo], report: &mut Report) -> Option<Data> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut records = reader.records();
    let mut lines = Lines::default();
    let header = match records.next() {
        None => {
            report.push(DataProblem::Empty);
            return None;
        }
        Some(Err(e)) => {
            report.push(malformed(text, &mut lines, &e));
            return None;
        }
        Some(Ok(record)) => record,
    };
    let header: Vec<String> = header.iter().map(str::to_string).collect();
    if header.iter().all(String::is_empty) {
        report.push(DataProblem::Empty);
        return None;
    }
    let used = resolve_columns(&header, inputs, report)?;
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); used.len()];
    let mut rows = 0usize;
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                report.push(malformed(text, &mut lines, &e));
                continue;
            }
        };
        let line = lines.of(text, record.position());
        if record.len() == 1 && record.get(0) == Some("") {
            // A blank line (often the last one): not a row.
            continue;
        }
        if record.len() != header.len() {
            report.push(DataProblem::Ragged {
                line,
                expected: header.len(),
                found: record.len(),
            });
            continue;
        }
        rows += 1;
        for (k, &c) in used.iter().enumerate() {
            let cell = record.get(c).unwrap_or("");
            let column = || ColumnName {
                header: header[c].clone(),
                position: c + 1,
            };
            match parse_number(cell) {
                Ok(value) => columns[k].push(value),
                Err(()) if cell.is_empty() => report.push(DataProblem::EmptyCell {
                    line,
                    column: column(),
                }),
                Err(()) => report.push(DataProblem::NotANumber {
                    line,
                    column: column(),
                    text: cell.to_string(),
                }),
            }
        }
    }
    if rows == 0 && report.problems.is_empty() {
        report.push(DataProblem::NoRows);
    }
    Some(Data {
        n_rows: rows,
        columns,
    })
}

fn malformed(text: &[u8], lines: &mut Lines, error: &csv::Error) -> DataProblem {
    // The reader's own message names its own record and line count (blank lines left out) and a
    // 0-based field, which would contradict the line and 1-based columns of every other problem.
    let message = match error.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("cell {} is not UTF-8 text", err.field() + 1),
        _ => error.to_string(),
    };
    DataProblem::Malformed {
        line: lines.of(text, error.position()),
        message,
    }
}

/// File lines of records, counted as the reader goes (records come in file order). The csv
/// reader's own line count leaves out the blank lines it skips, and a record's byte position
/// is where the reader started looking for it — before those blank lines.
#[derive(Default)]
struct Lines {
    /// Bytes counted so far, and the newlines among them.
    scanned: usize,
    newlines: u64,
}

impl Lines {
    /// The 1-based line on which the record at `position` starts.
    fn of(&mut self, text: &[u8], position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return 0;
        };
        let mut start = (position.byte() as usize).min(text.len());
        while start < text.len() && matches!(text[start], b'\n' | b'\r') {
            start += 1;
        }
        if start < self.scanned {
            // Not in file order after all: count from the beginning.
            self.scanned = 0;
            self.newlines = 0;
        }
        self.newlines += text[self.scanned..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.scanned = start;
        1 + self.newlines
    }
}

/// A finite number. `nan` and `inf` are refused: a model cannot be fitted to them, and in a
/// CSV they almost always mark a missing value.
fn parse_number(cell: &str) -> Result<f64, ()> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(()),
    }
}

/// The file column of each flat input element, in flat order.
fn resolve_columns(
    header: &[String],
    inputs: &[InputInfo],
    report: &mut Report,
) -> Option<Vec<usize>> {
    let mut used = Vec::new();
    let mut ok = true;
    for input in inputs {
        match &input.columns {
            ColumnSource::Headers(names) => {
                for name in names {
                    let matching: Vec<usize> =
                        (0..header.len()).filter(|&c| header[c] == *name).collect();
                    match matching.as_slice() {
                        [c] => used.push(*c),
                        [_, ..] => {
                            ok = false;
                            let positions: Vec<String> =
                                matching.iter().map(|c| (c + 1).to_string()).collect();
                            report.push(DataProblem::AmbiguousColumn {
                                input: input.name.clone(),
                                name: name.clone(),
                                positions: positions.join(" and "),
                            });
                        }
                        [] => {
                            ok = false;
                            report.push(DataProblem::MissingColumn {
                                input: input.name.clone(),
                                name: name.clone(),
                                available: header
                                    .iter()
                                    .map(|h| format!("\"{h}\""))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            });
                        }
                    }
                }
            }
            ColumnSource::Positions { start, end } => {
                for position in *start..*end {
                    if position < header.len() {
                        used.push(position);
                    } else {
                        ok = false;
                        report.push(DataProblem::ColumnOutOfRange {
                            input: input.name.clone(),
                            position,
                            width: header.len(),
                        });
                        break;
                    }
                }
            }
        }
    }
    ok.then_some(used)
}

/// The rows of `data` at `rows`, in that order.
pub fn gather(data: &Data, rows: &[usize]) -> Data {
    Data {
        n_rows: rows.len(),
        columns: data
            .columns
            .iter()
            .map(|column| rows.iter().map(|&r| column[r]).collect())
            .collect(),
    }
}

/// A training / validation split of the rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub training: Data,
    /// The file row (0-based, after the header) of each training row.
    pub training_rows: Vec<usize>,
    pub validation: Data,
    pub validation_rows: Vec<usize>,
}

/// Splits the rows into a training and a validation part (`--validate FRACTION`): a seeded
/// shuffle (the same seed gives the same split), then the first `round(fraction · N)` shuffled
/// rows are held out. Each part keeps the rows in file order. At least one row stays in each
/// part when there are two or more rows.
pub fn split(data: &Data, fraction: f64, seed: u64) -> Split {
    let n = data.n_rows;
    let mut order: Vec<usize> = (0..n).collect();
    // The mini-batch shuffles use `seed` itself; the split uses a derived stream.
    let mut rng = gradc_graph::random::SplitMix::new(seed ^ 0x5641_4c49_4441_5445);
    for i in (1..n).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    let held =
        ((fraction * n as f64).round() as usize).clamp(usize::from(n >= 2), n.saturating_sub(1));
    let mut validation: Vec<usize> = order[..held].to_vec();
    let mut training: Vec<usize> = order[held..].to_vec();
    validation.sort_unstable();
    training.sort_unstable();
    Split {
        training: gather(data, &training),
        validation: gather(data, &validation),
        training_rows: training,
        validation_rows: validation,
    }
}

#[cfg(test)]
mod tests;
