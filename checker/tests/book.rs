//! Checks that keep the book honest: every `{{#include}}` resolves to a real
//! file and a non-empty anchor (mdBook only logs a missing one), every page in
//! SUMMARY.md exists, and every stage the checker links to is a real heading.

mod common;

use checker::manifest::load_course;
use common::repo;
use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(markdown_files(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The `{{#include …}}` directives of a page: (path, optional anchor).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let directive = after[..end].trim();
        rest = &after[end..];
        let Some(arg) = directive
            .strip_prefix("include ")
            .or_else(|| directive.strip_prefix("rustdoc_include "))
        else {
            continue;
        };
        let arg = arg.trim();
        match arg.split_once(':') {
            Some((path, anchor)) if !anchor.chars().next().unwrap_or('0').is_ascii_digit() => {
                found.push((path.to_string(), Some(anchor.to_string())))
            }
            Some((path, _lines)) => found.push((path.to_string(), None)),
            None => found.push((arg.to_string(), None)),
        }
    }
    found
}

#[test]
fn every_include_names_a_real_file_and_a_non_empty_anchor() {
    let book = repo().join("book");
    let mut problems = Vec::new();
    let mut count = 0;
    for page in markdown_files(&book) {
        let text = std::fs::read_to_string(&page).unwrap();
        for (path, anchor) in includes(&text) {
            count += 1;
            let file = page.parent().unwrap().join(&path);
            let Ok(source) = std::fs::read_to_string(&file) else {
                problems.push(format!(
                    "{}: includes {path}, which does not exist",
                    page.display()
                ));
                continue;
            };
            let Some(anchor) = anchor else { continue };
            let begin = format!("ANCHOR: {anchor}");
            let end = format!("ANCHOR_END: {anchor}");
            match (source.find(&begin), source.find(&end)) {
                (Some(b), Some(e)) if e > b => {
                    let body = &source[b + begin.len()..e];
                    let lines = body.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
                    if lines < 2 {
                        problems.push(format!("{}: anchor `{anchor}` in {path} is empty", page.display()));
                    }
                }
                _ => problems.push(format!(
                    "{}: anchor `{anchor}` is not in {path} (needs `ANCHOR: {anchor}` and `ANCHOR_END: {anchor}`)",
                    page.display()
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
    assert!(count > 0, "the book includes no code at all");
}

#[test]
fn every_page_in_the_summary_exists() {
    let book = repo().join("book");
    let summary = std::fs::read_to_string(book.join("SUMMARY.md")).unwrap();
    let mut missing = Vec::new();
    for line in summary.lines() {
        let Some(open) = line.find("](") else {
            continue;
        };
        let target = &line[open + 2..];
        let target = &target[..target.find(')').unwrap_or(target.len())];
        if target.is_empty() {
            continue; // a draft chapter
        }
        if !book.join(target).is_file() {
            missing.push(target.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "SUMMARY.md links to missing pages: {missing:?}"
    );
}

/// mdBook's heading id: lowercase, alphanumerics kept, spaces to dashes.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn every_stage_section_the_checker_links_to_is_a_heading() {
    let course = load_course(&repo().join("checker/hidden")).unwrap();
    assert!(!course.is_empty());
    let mut problems = Vec::new();
    for exercise in &course {
        let chapter = repo().join("book").join(&exercise.chapter);
        let Ok(text) = std::fs::read_to_string(&chapter) else {
            problems.push(format!(
                "{}: chapter {} is missing",
                exercise.name,
                chapter.display()
            ));
            continue;
        };
        let slugs: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(|l| slug(l.trim_start_matches('#')))
            .collect();
        let sections = exercise
            .stages
            .iter()
            .map(|s| &s.section)
            .chain(exercise.perf.iter().map(|p| &p.section));
        for section in sections {
            if !slugs.contains(section) {
                problems.push(format!(
                    "{}: no heading with id `{section}` in {}",
                    exercise.name, exercise.chapter
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
