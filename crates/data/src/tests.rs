//! Tests of CSV loading: every problem of LANGUAGE.md §6 with its message snapshotted.

use super::*;

fn input(name: &str, columns: ColumnSource, len: usize, offset: usize) -> InputInfo {
    InputInfo {
        name: name.to_string(),
        shape: if len == 1 { vec![] } else { vec![len] },
        offset,
        columns,
    }
}

fn headers(names: &[&str]) -> ColumnSource {
    ColumnSource::Headers(names.iter().map(|s| s.to_string()).collect())
}

/// The model of these tests: `input x[2] = a, "b c"` and `input y = columns 3..4`.
fn inputs() -> Vec<InputInfo> {
    vec![
        input("x", headers(&["a", "b c"]), 2, 0),
        input("y", ColumnSource::Positions { start: 3, end: 4 }, 1, 2),
    ]
}

fn check_error(csv: &str) -> String {
    match parse("data.csv", csv.as_bytes(), &inputs()) {
        Ok(data) => panic!("expected an error, got {data:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn loads_used_columns_column_major() {
    let csv = "a,\"b c\",unused,y\n1,2,x,3\n4, 5 ,,6\n\n";
    let data = parse("data.csv", csv.as_bytes(), &inputs()).expect("valid");
    assert_eq!(data.n_rows, 2);
    assert_eq!(
        data.columns,
        vec![vec![1.0, 4.0], vec![2.0, 5.0], vec![3.0, 6.0]]
    );
}

#[test]
fn numbers_in_every_notation() {
    let csv = "a,b c,u,y\n.5,1e-3,0,-2.5E+4\n";
    let data = parse("data.csv", csv.as_bytes(), &inputs()).expect("valid");
    assert_eq!(data.columns, vec![vec![0.5], vec![1e-3], vec![-2.5e4]]);
}

#[test]
fn missing_column() {
    insta::assert_snapshot!(check_error("a,b,u,y\n1,2,3,4\n"), @r#"data.csv: no column named "b c" (for input `x`); the columns are: "a", "b", "u", "y""#);
}

#[test]
fn position_beyond_the_last_column() {
    insta::assert_snapshot!(check_error("a,b c\n1,2\n"), @"data.csv: input `y` reads column 3 (0-based) but the file has 2 columns");
}

#[test]
fn empty_cell() {
    insta::assert_snapshot!(check_error("a,b c,u,y\n1,2,3,4\n1,,3,4\n"), @r#"data.csv: line 3, column "b c" (2): empty cell"#);
}

#[test]
fn non_numeric_cell() {
    insta::assert_snapshot!(check_error("a,b c,u,y\n1,2,3,four\n"), @r#"data.csv: line 2, column "y" (4): "four" is not a number"#);
}

#[test]
fn nan_and_infinity_are_refused() {
    insta::assert_snapshot!(check_error("a,b c,u,y\nnan,inf,3,4\n"), @r#"
    data.csv: line 2, column "a" (1): "nan" is not a number
    data.csv: line 2, column "b c" (2): "inf" is not a number
    "#);
}

#[test]
fn ragged_row() {
    insta::assert_snapshot!(check_error("a,b c,u,y\n1,2,3,4\n1,2,3\n"), @"data.csv: line 3: 3 cells, but the header has 4");
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(check_error(""), @"data.csv: the file is empty: a header row is needed");
}

#[test]
fn header_only() {
    insta::assert_snapshot!(check_error("a,b c,u,y\n"), @"data.csv: the file has a header but no data rows");
}

#[test]
fn unused_columns_may_hold_anything() {
    let csv = "a,b c,notes,y\n1,2,hello world,3\n";
    assert!(parse("data.csv", csv.as_bytes(), &inputs()).is_ok());
}

#[test]
fn every_problem_is_reported_up_to_a_limit() {
    let mut csv = String::from("a,b c,u,y\n");
    for _ in 0..30 {
        csv.push_str("x,2,3,4\n");
    }
    let error = parse("data.csv", csv.as_bytes(), &inputs()).expect_err("invalid");
    assert_eq!(error.problems.len(), MAX_REPORTED);
    assert!(error.truncated);
    // The report ends by saying that it is cut short.
    let message = error.to_string();
    let lines: Vec<&str> = message.lines().collect();
    insta::assert_snapshot!(lines[lines.len() - 2..].join("\n"), @r#"
    data.csv: line 21, column "a" (1): "x" is not a number
    data.csv: (more problems not shown)
    "#);
}

#[test]
fn text_that_is_not_csv() {
    // Not UTF-8 in a cell: the CSV reader's own message, at the line an editor shows.
    let error =
        parse("data.csv", b"a,b c,u,y\n1,2,3,4\n\n5,\xff,6,7\n", &inputs()).expect_err("invalid");
    insta::assert_snapshot!(error, @"data.csv: line 4: not valid CSV: cell 2 is not UTF-8 text");
}

#[test]
fn unreadable_file() {
    let error = load(Path::new("/no/such/file.csv"), &inputs()).expect_err("missing");
    assert!(matches!(error.problems[0], DataProblem::Io(_)), "{error}");
    insta::assert_snapshot!(error, @"/no/such/file.csv: cannot read the file: No such file or directory (os error 2)");
}

#[test]
fn a_validation_split_is_seeded_and_disjoint() {
    let rows: Vec<Vec<f64>> = (0..100).map(|i| vec![i as f64]).collect();
    let data = Data::from_rows(&rows);
    let crate::Split {
        training: train,
        validation: valid,
        training_rows,
        validation_rows,
    } = crate::split(&data, 0.2, 7);
    assert_eq!(train.columns[0][3], training_rows[3] as f64);
    assert_eq!(valid.columns[0][3], validation_rows[3] as f64);
    assert_eq!((train.n_rows, valid.n_rows), (80, 20));
    let mut all: Vec<f64> = train.columns[0]
        .iter()
        .chain(&valid.columns[0])
        .copied()
        .collect();
    all.sort_by(f64::total_cmp);
    assert_eq!(all, (0..100).map(|i| i as f64).collect::<Vec<_>>());
    assert_eq!(crate::split(&data, 0.2, 7).validation, valid);
    assert_ne!(crate::split(&data, 0.2, 8).validation, valid);
    let two = crate::split(&Data::from_rows(&rows[..2]), 0.01, 0);
    assert_eq!((two.training.n_rows, two.validation.n_rows), (1, 1));
}

#[test]
fn lines_count_the_blank_lines_before_a_row() {
    // The line an editor shows: blank lines (LF or CRLF) before the bad row are counted.
    insta::assert_snapshot!(
        check_error("a,b c,u,y\n1,2,3,4\n\n\n5,x,6,7\n"),
        @r#"data.csv: line 5, column "b c" (2): "x" is not a number"#
    );
    insta::assert_snapshot!(
        check_error("a,b c,u,y\r\n1,2,3,4\r\n\r\n5,6,7\r\n8,9,z,10\r\n"),
        @"data.csv: line 4: 3 cells, but the header has 4"
    );
}

#[test]
fn a_header_that_names_two_columns_is_ambiguous() {
    insta::assert_snapshot!(check_error("a,b c,a,y\n1,2,3,4\n"), @r#"data.csv: the header "a" (for input `x`) names more than one column: columns 1 and 3"#);
    // A repeated header the model does not read is no problem.
    let csv = "a,b c,u,u\n1,2,3,4\n";
    assert!(parse("data.csv", csv.as_bytes(), &inputs()).is_ok());
}

#[test]
fn a_line_without_end_is_refused_at_the_limit() {
    let dir = std::env::temp_dir().join(format!("gradc-data-long-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("long.csv");
    std::fs::write(&file, format!("a,b\n1,2\n{}\n", "9".repeat(300))).unwrap();
    let problem = read_bounded(&file, 200).unwrap_err();
    assert_eq!(
        problem,
        DataProblem::LineTooLong {
            line: 3,
            limit: 200
        }
    );
    assert!(read_bounded(&file, 400).is_ok());
    std::fs::write(&file, "9".repeat(250_000)).unwrap();
    let problem = read_bounded(&file, 100_000).unwrap_err();
    assert_eq!(
        problem,
        DataProblem::LineTooLong {
            line: 1,
            limit: 100_000
        }
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_device_that_never_ends_a_line_is_refused() {
    let error = load(Path::new("/dev/zero"), &inputs()).unwrap_err();
    insta::assert_snapshot!(error.to_string(), @"/dev/zero: line 1 is longer than 67108864 bytes: not a CSV file a model can read");
}
