//! Metrics as CSV ([RFC 4180](https://www.rfc-editor.org/rfc/rfc4180)): one header row
//! of column names, then one row of numbers per call.
//!
//! A missing value, or NaN, is an empty cell, so a column that is only logged sometimes
//! (episode returns) leaves gaps that pandas reads as NaN. Numbers use the shortest form
//! that parses back to the same `f64` (`0.00025`, `512`, `1e-7`); infinities are `inf`
//! and `-inf`, which Python's `float()` accepts. Each row is written with a single
//! `write` call, straight to the file, so a crash loses at most the row being written
//! and another process can plot the file while training runs.
//!
//! Names that contain `,`, `"` or a line break are quoted, with `"` doubled, as RFC 4180
//! says; the reader undoes that.
//!
//! ```no_run
//! use ppo::io::csv::{read_csv, CsvWriter};
//! let mut w = CsvWriter::create("runs/x/metrics.csv", &["step", "loss", "episodic_return"]).unwrap();
//! w.write_row(&[Some(512.0), Some(0.25), None]).unwrap();
//! let (header, rows) = read_csv("runs/x/metrics.csv").unwrap();
//! assert_eq!(rows[0], [Some(512.0), Some(0.25), None]);
//! ```

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What went wrong writing or reading a CSV file.
#[derive(Debug)]
pub enum CsvError {
    /// Creating, writing or reading the file failed.
    Io(std::io::Error),
    /// A row has a different number of cells than the header.
    ColumnCount {
        /// 1-based line number (0 for a row passed to [`CsvWriter::write_row`]).
        line: usize,
        /// Number of header columns.
        expected: usize,
        /// Number of cells in the row.
        found: usize,
    },
    /// A cell is neither empty nor a number.
    NotANumber {
        /// 1-based line number.
        line: usize,
        /// The column's name.
        column: String,
        /// The cell's text.
        text: String,
    },
    /// The file has no header row, or a quoted cell is malformed.
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CsvError::Io(e) => write!(f, "CSV I/O error: {e}"),
            CsvError::ColumnCount { line: 0, expected, found } => {
                write!(f, "CSV row has {found} values but the header has {expected} columns")
            }
            CsvError::ColumnCount { line, expected, found } => {
                write!(f, "CSV line {line} has {found} cells but the header has {expected} columns")
            }
            CsvError::NotANumber { line, column, text } => write!(
                f,
                "CSV line {line}, column {column:?}: {text:?} is not a number \
                 (cells must be numbers, or empty for a missing value)"
            ),
            CsvError::Malformed { line, reason } => write!(f, "CSV line {line}: {reason}"),
        }
    }
}

impl std::error::Error for CsvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CsvError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for CsvError {
    fn from(e: std::io::Error) -> Self {
        CsvError::Io(e)
    }
}

/// What [`read_csv`] returns: the column names, and one `Vec` of cells per row
/// (`None` for an empty or NaN cell).
pub type Table = (Vec<String>, Vec<Vec<Option<f64>>>);

/// A CSV file of text read back: the column names, and each data row's 1-based line number
/// and cells.
pub type TextTable = (Vec<String>, Vec<(usize, Vec<String>)>);

/// Writes a header row at creation, then one row of numbers per [`CsvWriter::write_row`].
#[derive(Debug)]
pub struct CsvWriter {
    file: File,
    path: PathBuf,
    columns: Vec<String>,
    /// Reused for each row, so writing allocates nothing in steady state.
    line: String,
}

impl CsvWriter {
    /// Creates (or truncates) `path`, creating its parent directory if needed, and writes
    /// the header row.
    pub fn create(path: impl AsRef<Path>, columns: &[&str]) -> Result<CsvWriter, CsvError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = File::create(path)?;
        let header: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        file.write_all(format!("{}\n", header.join(",")).as_bytes())?;
        Ok(CsvWriter {
            file,
            path: path.to_path_buf(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            line: String::new(),
        })
    }

    /// Opens an existing `path` to append rows; its header must be `columns`.
    pub fn append(path: impl AsRef<Path>, columns: &[&str]) -> Result<CsvWriter, CsvError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let header: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        if text.lines().next() != Some(header.join(",").as_str()) {
            return Err(CsvError::Malformed { line: 1, reason: format!("the header is not {}", header.join(",")) });
        }
        let file = File::options().append(true).open(path)?;
        Ok(CsvWriter {
            file,
            path: path.to_path_buf(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            line: String::new(),
        })
    }

    /// The column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the rows written so far to the disk (`fsync`): a run calls it before it
    /// writes its state, so that a crash never leaves a state ahead of its metrics.
    pub fn sync(&self) -> Result<(), CsvError> {
        self.file.sync_data()?;
        Ok(())
    }

    /// Appends one row, one value per column; `None` and NaN are written as empty cells.
    pub fn write_row(&mut self, values: &[Option<f64>]) -> Result<(), CsvError> {
        if values.len() != self.columns.len() {
            return Err(CsvError::ColumnCount { line: 0, expected: self.columns.len(), found: values.len() });
        }
        self.line.clear();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            match v {
                Some(x) if x.is_nan() => {}
                Some(x) if x.is_infinite() => self.line.push_str(if *x > 0.0 { "inf" } else { "-inf" }),
                Some(x) => self.line.push_str(&super::format_f64(*x)),
                None => {}
            }
        }
        self.line.push('\n');
        // One write per row, unbuffered: the row is in the file when this returns.
        self.file.write_all(self.line.as_bytes())?;
        Ok(())
    }
}

/// A cell, quoted if it contains a comma, a quote or a line break.
fn quote(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// Splits one line into cells, undoing RFC 4180 quoting. `line_no` is for errors.
fn split_line(line: &str, line_no: usize) -> Result<Vec<String>, CsvError> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    // `at_start` is true at the beginning of each cell, the only place a quote may open.
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',')) {
                        return Err(CsvError::Malformed {
                            line: line_no,
                            reason: "a closing quote must end the cell".into(),
                        });
                    }
                }
            }
            '"' if at_start => quoted = true,
            ',' if !quoted => {
                cells.push(std::mem::take(&mut cell));
                at_start = true;
                continue;
            }
            c => cell.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(CsvError::Malformed {
            line: line_no,
            reason: "a quoted cell is not closed (line breaks inside cells are not supported)".into(),
        });
    }
    cells.push(cell);
    Ok(cells)
}

/// Reads a CSV file of numbers: the header row's column names, and each row's cells as
/// `Some(value)`, or `None` where the cell is empty or NaN. Blank lines are skipped;
/// `\r\n` line endings and a leading byte-order mark are accepted, and a last line cut off
/// mid-row (no final newline, and it does not read) is dropped.
pub fn read_csv(path: impl AsRef<Path>) -> Result<Table, CsvError> {
    let text = std::fs::read_to_string(path)?;
    // A byte-order mark (spreadsheets write one) is not part of the first column's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // A file that does not end in a newline may have been cut off mid-row (a crash while
    // writing): if its last line does not read, it is dropped and the rows before it kept.
    let torn = !text.ends_with('\n');
    let last_line = text.lines().count();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let Some((header_no, header)) = lines.next() else {
        return Err(CsvError::Malformed {
            line: 1,
            reason: "the file is empty; it must start with a header row of column names".into(),
        });
    };
    let header = split_line(header, header_no)?;
    let mut rows = Vec::new();
    for (line_no, line) in lines {
        match read_row(line, line_no, &header) {
            Ok(row) => rows.push(row),
            Err(_) if torn && line_no == last_line && line_no > header_no => break,
            Err(e) => return Err(e),
        }
    }
    Ok((header, rows))
}

/// Reads a CSV file of text cells (a table of results, say): the header row's column names
/// and each data row's 1-based line number and cells, each row as many cells as the header.
/// Blank lines are skipped; `\r\n` line endings and a leading byte-order mark are accepted.
pub fn read_csv_text(path: impl AsRef<Path>) -> Result<TextTable, CsvError> {
    let text = std::fs::read_to_string(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l)).filter(|(_, l)| !l.trim().is_empty());
    let Some((header_no, header)) = lines.next() else {
        return Err(CsvError::Malformed {
            line: 1,
            reason: "the file is empty; it must start with a header row of column names".into(),
        });
    };
    let header: Vec<String> = split_line(header, header_no)?.into_iter().map(|h| h.trim().to_string()).collect();
    let mut rows = Vec::new();
    for (line_no, line) in lines {
        let cells = split_line(line, line_no)?;
        if cells.len() != header.len() {
            return Err(CsvError::ColumnCount { line: line_no, expected: header.len(), found: cells.len() });
        }
        rows.push((line_no, cells.into_iter().map(|c| c.trim().to_string()).collect()));
    }
    Ok((header, rows))
}

/// One data row: as many cells as the header has columns, each a number or empty.
fn read_row(line: &str, line_no: usize, header: &[String]) -> Result<Vec<Option<f64>>, CsvError> {
    let cells = split_line(line, line_no)?;
    if cells.len() != header.len() {
        return Err(CsvError::ColumnCount { line: line_no, expected: header.len(), found: cells.len() });
    }
    let row = cells
        .iter()
        .zip(header)
        .map(|(cell, column)| {
            let cell = cell.trim();
            if cell.is_empty() {
                return Ok(None);
            }
            match cell.parse::<f64>() {
                Ok(x) if x.is_nan() => Ok(None),
                Ok(x) => Ok(Some(x)),
                Err(_) => Err(CsvError::NotANumber { line: line_no, column: column.clone(), text: cell.to_string() }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(row)
}
