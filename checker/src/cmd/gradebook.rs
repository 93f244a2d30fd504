//! The gradebook (`checker gradebook DIR`): a folder of JSON reports, one per
//! student (the file stem names the student), collected into one table per
//! exercise and one CSV with a row per student.
//!
//! A file that is not a schema-1 report is skipped with the reason, and the
//! rest are still read. Students are sorted by name; exercises and stages
//! keep the course order the reports list them in.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::report::model::{ExerciseReport, Report, SCHEMA_VERSION};

/// One student's report.
#[derive(Debug, Clone)]
pub struct Student {
    /// The report's file stem.
    pub name: String,
    /// The report.
    pub report: Report,
}

/// A file in the folder that was not used, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file.
    pub file: PathBuf,
    /// Why, for a person.
    pub reason: String,
}

/// The columns of one exercise: its stages in order.
#[derive(Debug, Clone)]
pub struct Column {
    /// Exercise directory name.
    pub exercise: String,
    /// Exercise title.
    pub title: String,
    /// Stage identifiers, in order.
    pub stages: Vec<String>,
    /// Whether any report has a performance stage for it.
    pub performance: bool,
}

/// Every report of a folder.
#[derive(Debug, Clone)]
pub struct Gradebook {
    /// Sorted by name.
    pub students: Vec<Student>,
    /// Files that were not schema-1 reports.
    pub skipped: Vec<Skipped>,
    /// The exercises, in course order.
    pub columns: Vec<Column>,
}

/// Reads every `*.json` file of `dir`.
pub fn load(dir: &Path) -> Result<Gradebook> {
    if !dir.is_dir() {
        bail!(
            "{}: no such directory; give the folder that holds the students' JSON reports \
             (one `<student>.json` each, written by `cargo run -p checker -- --format json`)",
            dir.display()
        );
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {} (check its permissions)", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "json") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!(
            "{} has no .json files; save one report per student there, e.g. \
             `cargo run -p checker -- --exercises-from STUDENT_DIR --format json > {}/STUDENT.json`",
            dir.display(),
            dir.display()
        );
    }
    let mut students = Vec::new();
    let mut skipped = Vec::new();
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match read_report(&file) {
            Ok(report) => students.push(Student { name, report }),
            Err(reason) => skipped.push(Skipped { file, reason }),
        }
    }
    if students.is_empty() {
        let reasons: Vec<String> = skipped
            .iter()
            .map(|s| format!("  {}: {}", s.file.display(), s.reason))
            .collect();
        bail!(
            "no file in {} is an oslings report:\n{}",
            dir.display(),
            reasons.join("\n")
        );
    }
    students.sort_by(|a, b| a.name.cmp(&b.name));
    let columns = columns(&students);
    Ok(Gradebook {
        students,
        skipped,
        columns,
    })
}

fn read_report(file: &Path) -> std::result::Result<Report, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    match value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
    {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "schema version {v}, but this checker reads version {SCHEMA_VERSION}; \
                 regrade with this checker"
            ));
        }
        None => {
            return Err(
                "not an oslings report (no `schema_version`); write reports with \
                 `--format json`"
                    .to_string(),
            );
        }
    }
    serde_json::from_value(value).map_err(|e| format!("not a complete schema-1 report: {e}"))
}

/// The union of the exercises and stages the reports list, in their order.
fn columns(students: &[Student]) -> Vec<Column> {
    let mut columns: Vec<Column> = Vec::new();
    for student in students {
        for exercise in &student.report.exercises {
            let index = match columns.iter().position(|c| c.exercise == exercise.name) {
                Some(index) => index,
                None => {
                    columns.push(Column {
                        exercise: exercise.name.clone(),
                        title: exercise.title.clone(),
                        stages: Vec::new(),
                        performance: false,
                    });
                    columns.len() - 1
                }
            };
            let column = &mut columns[index];
            for stage in &exercise.stages {
                if !column.stages.contains(&stage.name) {
                    column.stages.push(stage.name.clone());
                }
            }
            column.performance |= exercise.performance.is_some();
        }
    }
    columns
}

impl Gradebook {
    fn exercise<'a>(&self, student: &'a Student, name: &str) -> Option<&'a ExerciseReport> {
        student.report.exercises.iter().find(|e| e.name == name)
    }

    /// One exercise's cells for a student: stage points, performance points,
    /// total, performance ratio. Empty when the report lacks the exercise.
    fn cells(&self, student: &Student, column: &Column) -> Vec<String> {
        let width = column.stages.len() + usize::from(column.performance) + 2;
        let Some(exercise) = self.exercise(student, &column.exercise) else {
            return vec![String::new(); width];
        };
        let mut cells: Vec<String> = column
            .stages
            .iter()
            .map(|id| {
                exercise
                    .stages
                    .iter()
                    .find(|s| &s.name == id)
                    .map(|s| s.score.to_string())
                    .unwrap_or_default()
            })
            .collect();
        if column.performance {
            cells.push(
                exercise
                    .performance
                    .as_ref()
                    .map(|p| p.score.to_string())
                    .unwrap_or_default(),
            );
        }
        let total = if exercise.compile_error.is_some() {
            format!(
                "{}/{} (does not compile)",
                exercise.score, exercise.max_score
            )
        } else {
            format!("{}/{}", exercise.score, exercise.max_score)
        };
        cells.push(total);
        cells.push(
            exercise
                .performance
                .as_ref()
                .and_then(|p| p.ratio_to_reference)
                .map(|r| format!("{r:.2}"))
                .unwrap_or_else(|| "-".to_string()),
        );
        cells
    }

    /// One text table per exercise: students as rows; stage points,
    /// performance points, total and performance ratio as columns.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for column in &self.columns {
            let mut header = vec!["student".to_string()];
            header.extend(column.stages.iter().cloned());
            if column.performance {
                header.push("perf".to_string());
            }
            header.push("total".to_string());
            header.push("perf ratio".to_string());
            let mut rows = vec![header];
            for student in &self.students {
                let mut row = vec![student.name.clone()];
                row.extend(self.cells(student, column));
                rows.push(row);
            }
            let mut maxima = vec![String::new()];
            maxima.extend(self.maxima(column));
            out.push_str(&format!("{} ({})\n", column.title, column.exercise));
            out.push_str(&aligned(&rows, &maxima));
            out.push('\n');
        }
        out
    }

    /// The points available in each stage column of `column`, from the reports.
    fn maxima(&self, column: &Column) -> Vec<String> {
        let exercises: Vec<&ExerciseReport> = self
            .students
            .iter()
            .filter_map(|s| self.exercise(s, &column.exercise))
            .collect();
        let mut maxima: Vec<String> = column
            .stages
            .iter()
            .map(|id| {
                exercises
                    .iter()
                    .flat_map(|e| &e.stages)
                    .find(|s| &s.name == id)
                    .map(|s| format!("/{}", s.max_score))
                    .unwrap_or_default()
            })
            .collect();
        if column.performance {
            maxima.push(
                exercises
                    .iter()
                    .find_map(|e| e.performance.as_ref())
                    .map(|p| format!("/{}", p.max_score))
                    .unwrap_or_default(),
            );
        }
        maxima.push(String::new());
        maxima.push(String::new());
        maxima
    }

    /// The CSV header: `student`, then for each exercise
    /// `<exercise>/<stage>`…, `<exercise>/performance`, `<exercise>/total`,
    /// `<exercise>/max`, `<exercise>/perf_ratio`; then `total`, `max`.
    pub fn csv_header(&self) -> Vec<String> {
        let mut header = vec!["student".to_string()];
        for column in &self.columns {
            for stage in &column.stages {
                header.push(format!("{}/{stage}", column.exercise));
            }
            if column.performance {
                header.push(format!("{}/performance", column.exercise));
            }
            for field in ["total", "max", "perf_ratio"] {
                header.push(format!("{}/{field}", column.exercise));
            }
        }
        header.push("total".to_string());
        header.push("max".to_string());
        header
    }

    /// The CSV rows, one per student, in [`Gradebook::csv_header`] order.
    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for student in &self.students {
            let mut row = vec![student.name.clone()];
            for column in &self.columns {
                let cells = self.cells(student, column);
                let exercise = self.exercise(student, &column.exercise);
                let points = cells.len() - 2;
                row.extend(cells[..points].iter().cloned());
                row.push(exercise.map(|e| e.score.to_string()).unwrap_or_default());
                row.push(
                    exercise
                        .map(|e| e.max_score.to_string())
                        .unwrap_or_default(),
                );
                row.push(
                    exercise
                        .and_then(|e| e.performance.as_ref())
                        .and_then(|p| p.ratio_to_reference)
                        .map(|r| format!("{r:.4}"))
                        .unwrap_or_default(),
                );
            }
            row.push(student.report.score.to_string());
            row.push(student.report.max_score.to_string());
            rows.push(row);
        }
        rows
    }

    /// Writes the CSV to `path`.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let mut writer = csv::Writer::from_path(path)
            .with_context(|| format!("cannot write the gradebook CSV to {}", path.display()))?;
        writer.write_record(self.csv_header())?;
        for row in self.csv_rows() {
            writer.write_record(row)?;
        }
        writer
            .flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// A warning per skipped file, one when the reports were graded with
    /// different checkers or packs (their points do not compare), and one
    /// per student whose tree held things grading did not use (worth a look:
    /// it is how an attempt to forge a grade shows).
    pub fn warnings(&self) -> String {
        let mut out: String = self
            .skipped
            .iter()
            .map(|s| format!("skipped {}: {}\n", s.file.display(), s.reason))
            .collect();
        let checker = |r: &Report| format!("checker {}", r.checker_version);
        let packs = |r: &Report| match r.packs.as_slice() {
            [] => "no pack".to_string(),
            packs => {
                let names: Vec<&str> = packs.iter().map(|p| p.name.as_str()).collect();
                format!("pack {}", names.join(" + "))
            }
        };
        out.push_str(&self.mixed("checker versions", checker));
        out.push_str(&self.mixed("test packs", packs));
        for student in &self.students {
            let paths: Vec<&str> = student
                .report
                .refused
                .iter()
                .map(|r| r.path.as_str())
                .collect();
            if !paths.is_empty() {
                out.push_str(&format!(
                    "{}: their tree held what grading did not use (see the report's `refused`): {}\n",
                    student.name,
                    paths.join(", ")
                ));
            }
        }
        out
    }

    /// A warning when `key` differs between reports, naming who has which.
    fn mixed(&self, what: &str, key: impl Fn(&Report) -> String) -> String {
        let mut groups: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
        for student in &self.students {
            groups
                .entry(key(&student.report))
                .or_default()
                .push(&student.name);
        }
        if groups.len() < 2 {
            return String::new();
        }
        let list: Vec<String> = groups
            .iter()
            .map(|(value, names)| format!("{value} ({})", names.join(", ")))
            .collect();
        format!(
            "the reports were graded with different {what}, so their points do not compare: {}; \
             regrade them all the same way\n",
            list.join("; ")
        )
    }
}

/// `rows` as left-aligned columns (numbers right-aligned), with a rule under
/// the header and a last line of the points available.
fn aligned(rows: &[Vec<String>], maxima: &[String]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows.iter().chain(std::iter::once(&maxima.to_vec())) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |row: &[String]| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == 0 {
                    format!("{cell:<w$}", w = widths[i])
                } else {
                    format!("{cell:>w$}", w = widths[i])
                }
            })
            .collect();
        format!("  {}\n", cells.join("  ").trim_end())
    };
    let mut out = line(&rows[0]);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for row in &rows[1..] {
        out.push_str(&line(row));
    }
    if maxima.iter().any(|m| !m.is_empty()) {
        let mut last = maxima.to_vec();
        last[0] = "(of)".to_string();
        out.push_str(&line(&last));
    }
    out
}

/// `gradebook DIR [--csv FILE]` on the terminal: fails (exit status 1)
/// when some file was not a report.
pub fn command(dir: &Path, csv: Option<&Path>) -> Result<ExitCode> {
    let complete = run(dir, csv, &mut anstream::stdout(), &mut anstream::stderr())?;
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `checker gradebook DIR [--csv FILE]`: prints the tables to `out`, a
/// warning per skipped file to `err`, writes the CSV; returns whether every
/// file was a report.
pub fn run(
    dir: &Path,
    csv: Option<&Path>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<bool> {
    let book = load(dir)?;
    write!(err, "{}", book.warnings())?;
    write!(out, "{}", book.table())?;
    if let Some(path) = csv {
        book.write_csv(path)?;
        writeln!(
            out,
            "Wrote {} ({} students).",
            path.display(),
            book.students.len()
        )?;
    }
    Ok(book.skipped.is_empty())
}
