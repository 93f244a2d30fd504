//! Checks that keep the book honest: every `{{#include}}` resolves to a real
//! file and a non-empty anchor (mdBook only logs a missing one), every page in
//! SUMMARY.md exists, every stage the checker links to is a real heading, and
//! every internal link reaches a page and a heading.

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
        let slugs = heading_ids(&text);
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

/// The lines of a page outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some(marker) if trimmed.starts_with(marker) => fence = None,
            Some(_) => {}
            None if trimmed.starts_with("```") => fence = Some("```"),
            None if trimmed.starts_with("~~~") => fence = Some("~~~"),
            None => lines.push(line),
        }
    }
    lines
}

/// The ids mdBook gives a page's headings (a repeated heading gets `-1`,
/// `-2`, ... after the first).
fn heading_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in prose_lines(text) {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let title = rest.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = slug(&title.replace('`', ""));
        let mut id = base.clone();
        let mut n = 0;
        while ids.contains(&id) {
            n += 1;
            id = format!("{base}-{n}");
        }
        ids.push(id);
    }
    ids
}

/// The targets of the Markdown links `[text](target)` of a page, outside
/// code blocks and inline code.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        // Drop inline code spans, which may contain `](` legitimately.
        let mut prose = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                prose.push_str(part);
            }
        }
        let mut rest = prose.as_str();
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.to_string());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_internal_link_resolves_to_a_page_and_a_heading() {
    let book = repo().join("book");
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in markdown_files(&book) {
        if page.file_name().is_some_and(|n| n == "SUMMARY.md") {
            continue;
        }
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(&book).unwrap().display().to_string();
        for target in link_targets(&text) {
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.is_file() {
                problems.push(format!("{name}: link to {target}: no such file"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if file.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let ids = heading_ids(&std::fs::read_to_string(&file).unwrap());
            if !ids.iter().any(|id| id == anchor) {
                problems.push(format!(
                    "{name}: link to {target}: no heading with id `{anchor}` in {path}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links in the book:\n{}",
        problems.join("\n")
    );
    assert!(checked > 0, "the book has no internal links at all");
}

#[test]
fn heading_ids_and_links_are_parsed_like_mdbook() {
    let page = "# Title\n\n## Stage 1: `new` and go\n\n```sh\n# not a heading\n```\n\n## Title\n\
                See [x](other.md#a-b), `[no](link.md)` and [y](#title-1).\n";
    assert_eq!(
        heading_ids(page),
        ["title", "stage-1-new-and-go", "title-1"]
    );
    assert_eq!(link_targets(page), ["other.md#a-b", "#title-1"]);
}
