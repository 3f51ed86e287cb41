//! CSV metrics: exact text written, round trips with missing values, quoting, and typed
//! errors for bad files.

use ppo::io::csv::{read_csv, CsvError, CsvWriter};
use std::path::PathBuf;

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("io-csv").join(name)
}

#[test]
fn writes_compact_rows_flushed_per_row() {
    let p = path("metrics.csv");
    let mut w = CsvWriter::create(&p, &["step", "loss", "episodic_return"]).unwrap();
    assert_eq!(w.columns(), ["step", "loss", "episodic_return"]);
    w.write_row(&[Some(512.0), Some(0.25), None]).unwrap();
    // Visible before the writer is dropped: each row is written straight to the file.
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "step,loss,episodic_return\n512,0.25,\n");
    w.write_row(&[Some(1024.0), Some(f64::NAN), Some(2.5e-4)]).unwrap();
    w.write_row(&[Some(-1e-7), Some(f64::INFINITY), Some(f64::NEG_INFINITY)]).unwrap();
    w.write_row(&[Some(0.1 + 0.2), Some(1e300), Some(-3.0)]).unwrap();
    assert_eq!(
        std::fs::read_to_string(w.path()).unwrap(),
        "step,loss,episodic_return\n512,0.25,\n1024,,0.00025\n-1e-7,inf,-inf\n0.30000000000000004,1e300,-3\n"
    );
    let (header, rows) = read_csv(&p).unwrap();
    assert_eq!(header, ["step", "loss", "episodic_return"]);
    assert_eq!(
        rows,
        [
            vec![Some(512.0), Some(0.25), None],
            vec![Some(1024.0), None, Some(2.5e-4)],
            vec![Some(-1e-7), Some(f64::INFINITY), Some(f64::NEG_INFINITY)],
            vec![Some(0.1 + 0.2), Some(1e300), Some(-3.0)],
        ]
    );
    let e = w.write_row(&[Some(1.0)]).unwrap_err();
    assert!(matches!(e, CsvError::ColumnCount { line: 0, expected: 3, found: 1 }));
    assert_eq!(e.to_string(), "CSV row has 1 values but the header has 3 columns");
}

#[test]
fn quoted_names_round_trip() {
    let p = path("quoted.csv");
    let names = ["a,b", "say \"hi\"", "plain"];
    let mut w = CsvWriter::create(&p, &names).unwrap();
    w.write_row(&[Some(1.0), None, Some(3.0)]).unwrap();
    drop(w);
    assert_eq!(std::fs::read_to_string(&p).unwrap().lines().next().unwrap(), r#""a,b","say ""hi""",plain"#);
    let (header, rows) = read_csv(&p).unwrap();
    assert_eq!(header, names);
    assert_eq!(rows, [vec![Some(1.0), None, Some(3.0)]]);
}

#[test]
fn reads_files_other_tools_write() {
    // pandas' to_csv(index=False) style: CRLF, NaN spelled out, spaces, blank lines.
    let p = path("pandas.csv");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "x,y\r\n1.5, 2\r\n\r\n2,NaN\r\n3,nan\n").unwrap();
    let (header, rows) = read_csv(&p).unwrap();
    assert_eq!(header, ["x", "y"]);
    assert_eq!(rows, [vec![Some(1.5), Some(2.0)], vec![Some(2.0), None], vec![Some(3.0), None]]);
}

#[test]
fn bad_files_are_typed_errors() {
    let dir = path("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let read = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        read_csv(&p).unwrap_err()
    };
    let e = read("empty.csv", "\n\n");
    assert!(matches!(e, CsvError::Malformed { .. }), "{e:?}");
    let e = read("count.csv", "a,b\n1,2\n3\n");
    assert!(matches!(e, CsvError::ColumnCount { line: 3, expected: 2, found: 1 }), "{e:?}");
    assert_eq!(e.to_string(), "CSV line 3 has 1 cells but the header has 2 columns");
    let e = read("word.csv", "a,b\n1,two\n");
    assert!(matches!(&e, CsvError::NotANumber { line: 2, column, text } if column == "b" && text == "two"), "{e:?}");
    assert!(e.to_string().contains("is not a number"), "{e}");
    let e = read("quote.csv", "\"a,b\n1\n");
    assert!(matches!(e, CsvError::Malformed { line: 1, .. }), "{e:?}");
    let e = read("quote2.csv", "\"a\"x,b\n1,2\n");
    assert!(matches!(e, CsvError::Malformed { line: 1, .. }), "{e:?}");
    let e = read_csv(dir.join("missing.csv")).unwrap_err();
    assert!(matches!(e, CsvError::Io(_)));
    let _: &dyn std::error::Error = &e;
}
