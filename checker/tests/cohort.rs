//! Course tests: the fixture students are real bump-allocator learners.
//!
//! A cohort, simulated: three fixture students at different stages of the
//! bump allocator are graded into one folder of JSON reports, and the
//! gradebook collects them. Plus the gradebook on folders that hold files
//! that are not reports, on empty folders and on missing ones.
//!
//! `cargo test -p checker --test cohort -- --nocapture` prints the
//! simulation's transcript.

mod common;
mod students;

use checker::cmd::gradebook;
use common::{Tree, checker, repo};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use students::{EXERCISE, grade, grade_args, partway};

/// A minimal schema-1 report of the bump allocator: the given stage scores
/// (stage ids a, b) and performance.
fn report(stages: [u32; 2], perf: Option<(u32, f64)>) -> Value {
    let score: u32 = stages.iter().sum::<u32>() + perf.map_or(0, |p| p.0);
    json!({
        "schema_version": 1,
        "checker_version": "0.1.0",
        "graded": "somewhere",
        "score": score,
        "max_score": 30,
        "passed": score == 30,
        "exercises": [{
            "name": EXERCISE,
            "title": "Bump allocator",
            "score": score,
            "max_score": 30,
            "crate_dir": "",
            "compile_error": null,
            "stages": [
                {"name": "a", "title": "A", "number": 1, "passed": stages[0] == 10, "score": stages[0],
                 "max_score": 10, "tests_passed": 0, "tests_total": 1, "section": "x.md#a"},
                {"name": "b", "title": "B", "number": 2, "passed": stages[1] == 10, "score": stages[1],
                 "max_score": 10, "tests_passed": 0, "tests_total": 1, "section": "x.md#b"},
            ],
            "tests": [],
            "performance": {
                "status": if perf.is_some() { "measured" } else { "not_run" },
                "score": perf.map_or(0, |p| p.0),
                "max_score": 10,
                "ratio_to_reference": perf.map(|p| p.1),
                "ratio_to_baselines": {},
                "reference_to_baselines": {},
                "workload_ratios": [],
                "workloads": [],
                "message": "",
            },
        }],
    })
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn the_gradebook_flags_reports_graded_differently_and_refused_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ada.json", &report([10, 10], None).to_string());
    let mut grace = report([10, 0], None);
    grace["packs"] = json!([{"name": "midterm", "dir": "/packs/midterm"}]);
    write(dir.path(), "grace.json", &grace.to_string());
    let mut linus = report([0, 0], None);
    linus["checker_version"] = json!("0.2.0");
    linus["refused"] =
        json!([{"kind": "cargo_config", "path": ".cargo/config.toml", "why": "not read"}]);
    write(dir.path(), "linus.json", &linus.to_string());

    let warnings = gradebook::load(dir.path()).unwrap().warnings();
    assert!(
        warnings.contains(
            "different checker versions, so their points do not compare: \
             checker 0.1.0 (ada, grace); checker 0.2.0 (linus)"
        ),
        "{warnings}"
    );
    assert!(
        warnings.contains(
            "different test packs, so their points do not compare: \
             no pack (ada, linus); pack midterm (grace)"
        ),
        "{warnings}"
    );
    assert!(
        warnings.contains("linus: their tree held what grading did not use (see the report's `refused`): .cargo/config.toml"),
        "{warnings}"
    );
    assert!(!warnings.contains("ada:"), "{warnings}");
}

#[test]
fn the_gradebook_skips_what_is_not_a_report_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "zoe.json",
        &report([10, 10], Some((5, 2.5))).to_string(),
    );
    write(dir.path(), "amir.json", &report([10, 0], None).to_string());
    write(dir.path(), "notes.txt", "not a .json file: never read");
    write(dir.path(), "broken.json", "{ \"schema_version\": 1, ");
    let mut future = report([0, 0], None);
    future["schema_version"] = json!(2);
    write(dir.path(), "future.json", &future.to_string());
    write(dir.path(), "package.json", "{\"name\": \"left-over\"}");
    let mut partial = report([0, 0], None);
    partial.as_object_mut().unwrap().remove("exercises");
    write(dir.path(), "partial.json", &partial.to_string());

    let book = gradebook::load(dir.path()).unwrap();
    let names: Vec<&str> = book.students.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["amir", "zoe"], "sorted by name");
    let skipped: Vec<(String, &str)> = book
        .skipped
        .iter()
        .map(|s| {
            let file = s.file.file_name().unwrap().to_string_lossy().into_owned();
            (file, s.reason.as_str())
        })
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert_eq!(skipped[0].0, "broken.json");
    assert!(skipped[0].1.starts_with("not JSON"), "{skipped:?}");
    assert_eq!(skipped[1].0, "future.json");
    assert!(skipped[1].1.contains("schema version 2"), "{skipped:?}");
    assert_eq!(skipped[2].0, "package.json");
    assert!(skipped[2].1.contains("no `schema_version`"), "{skipped:?}");
    assert_eq!(skipped[3].0, "partial.json");
    assert!(skipped[3].1.contains("exercises"), "{skipped:?}");

    assert_eq!(
        book.csv_header(),
        [
            "student",
            "bump-allocator/a",
            "bump-allocator/b",
            "bump-allocator/performance",
            "bump-allocator/total",
            "bump-allocator/max",
            "bump-allocator/perf_ratio",
            "total",
            "max"
        ]
    );
    assert_eq!(
        book.csv_rows(),
        [
            ["amir", "10", "0", "0", "10", "30", "", "10", "30"],
            ["zoe", "10", "10", "5", "25", "30", "2.5000", "25", "30"],
        ]
    );
    let table = book.table();
    assert!(
        table.starts_with("Bump allocator (bump-allocator)\n"),
        "{table}"
    );
    let lines: Vec<&str> = table.lines().collect();
    let cells = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        cells(lines[1]),
        ["student", "a", "b", "perf", "total", "perf", "ratio"]
    );
    assert_eq!(cells(lines[3]), ["amir", "10", "0", "0", "10/30", "-"]);
    assert_eq!(cells(lines[4]), ["zoe", "10", "10", "5", "25/30", "2.50"]);
    assert_eq!(cells(lines[5]), ["(of)", "/10", "/10", "/10"]);

    // The command: tables on stdout, one warning per skipped file on
    // stderr, the CSV written, exit status 1 because files were skipped.
    let csv = dir.path().join("out").with_extension("csv");
    let run = checker(
        &[
            "gradebook",
            dir.path().to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(
        run.stdout.trim_end().lines().last().unwrap(),
        format!("Wrote {} (2 students).", csv.display())
    );
    assert!(run.stdout.starts_with(&table), "{}", run.stdout);
    for file in ["broken.json", "future.json", "package.json", "partial.json"] {
        let line = format!("skipped {}: ", dir.path().join(file).display());
        assert!(run.stderr.contains(&line), "{line} not in\n{}", run.stderr);
    }
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    assert_eq!(rows, book.csv_rows());
}

#[test]
fn the_gradebook_explains_a_folder_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let err = gradebook::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("has no .json files"), "{err}");
    assert!(
        err.contains("--format json >"),
        "says how to make one: {err}"
    );

    write(dir.path(), "junk.json", "[]");
    let err = format!("{:#}", gradebook::load(dir.path()).unwrap_err());
    assert!(err.contains("no file in"), "{err}");
    assert!(err.contains("junk.json: not an oslings report"), "{err}");

    let missing = dir.path().join("nowhere");
    let run = checker(
        &["gradebook", missing.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("nowhere: no such directory"),
        "{}",
        run.stderr
    );
}

/// The stage scores of `student` in the CSV rows, by column name.
fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let index = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
    &row[index]
}

#[test]
fn three_students_at_three_stages_make_one_gradebook() {
    let cohort = [
        ("ada", Tree::completed(EXERCISE), "finished every stage"),
        (
            "grace",
            partway(&["align.rs", "layout.rs"]),
            "finished stages 1 and 2",
        ),
        ("linus", Tree::pristine(), "has not started"),
    ];
    let reports = tempfile::Builder::new()
        .prefix("oslings-cohort-")
        .tempdir()
        .unwrap();
    let mut transcript = String::new();
    for (name, tree, what) in &cohort {
        let run = grade(tree.path());
        let file = reports.path().join(format!("{name}.json"));
        std::fs::write(&file, &run.stdout).unwrap();
        transcript.push_str(&format!(
            "# {name} {what}\n$ cargo run -p checker -- {} > reports/{name}.json   (exit {}, {:.0?})\n",
            grade_args(Path::new("<fork>")).join(" "),
            run.code.unwrap(),
            run.elapsed
        ));
    }
    let csv = reports.path().join("gradebook.csv");
    let run = checker(
        &[
            "gradebook",
            reports.path().to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    transcript.push_str(&format!(
        "$ cargo run -p checker -- gradebook reports --csv reports/gradebook.csv   (exit {})\n{}",
        run.code.unwrap(),
        run.stdout
            .replace(&reports.path().display().to_string(), "reports")
    ));
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    transcript.push_str(&format!("$ cat reports/gradebook.csv\n{csv_text}"));
    println!("{transcript}");

    assert_eq!(run.code, Some(0), "every file is a report: {run:?}");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let students: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(students, ["ada", "grace", "linus"]);

    // The course's own stages and points, from its manifest.
    let manifest: toml::Table = std::fs::read_to_string(
        repo()
            .join("checker/hidden")
            .join(EXERCISE)
            .join("exercise.toml"),
    )
    .unwrap()
    .parse()
    .unwrap();
    let stages: Vec<(String, u64)> = manifest["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s.get("points")
                    .and_then(toml::Value::as_integer)
                    .unwrap_or(10) as u64,
            )
        })
        .collect();
    let correctness: u64 = stages.iter().map(|s| s.1).sum();
    for (row, done) in rows.iter().zip([stages.len(), 2, 0]) {
        for (index, (stage, points)) in stages.iter().enumerate() {
            let expected = if index < done { *points } else { 0 };
            let cell = column(&header, row, &format!("{EXERCISE}/{stage}"));
            assert_eq!(cell, expected.to_string(), "{} stage {stage}", row[0]);
        }
    }
    // ada's performance is measured (its points depend on the machine's
    // load); the others' is not run.
    let ada = &rows[0];
    let perf: u64 = column(&header, ada, &format!("{EXERCISE}/performance"))
        .parse()
        .unwrap();
    let ratio: f64 = column(&header, ada, &format!("{EXERCISE}/perf_ratio"))
        .parse()
        .unwrap();
    assert!(ratio > 0.0);
    assert_eq!(
        column(&header, ada, "total"),
        (correctness + perf).to_string()
    );
    for (row, total) in rows[1..].iter().zip([stages[0].1 + stages[1].1, 0]) {
        assert_eq!(
            column(&header, row, &format!("{EXERCISE}/performance")),
            "0"
        );
        assert_eq!(column(&header, row, &format!("{EXERCISE}/perf_ratio")), "");
        assert_eq!(column(&header, row, "total"), total.to_string());
    }
    // The table shows the same numbers, one line per student.
    let table: Vec<&str> = run.stdout.lines().collect();
    let line = |student: &str| {
        table
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{student} ")))
            .unwrap_or_else(|| panic!("no line for {student} in\n{}", run.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let grace: Vec<String> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if i < 2 {
                s.1.to_string()
            } else {
                "0".to_string()
            }
        })
        .collect();
    assert_eq!(line("grace")[1..=stages.len()], grace);
    assert_eq!(line("grace").last(), Some(&"-"));
    let perf_points = manifest["perf"]["points"].as_integer().unwrap() as u64;
    assert_eq!(
        line("linus")[stages.len() + 2],
        format!("0/{}", correctness + perf_points)
    );
}
