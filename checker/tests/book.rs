//! Course tests: they read the real book and course (no grading).
//!
//! Checks that keep the book honest: every `{{#include}}` resolves to a real
//! file and a non-empty anchor (mdBook only logs a missing one), every page in
//! SUMMARY.md exists, every stage the checker links to is a real heading, and
//! every internal link reaches a page and a heading. And the rules of the
//! second edition: code blocks fit in 80 columns, every Rust block is compiled
//! (by `mdbook test` or as included code), figures exist, have alt text and
//! are well-formed SVG, and every chapter ends with a summary and a quiz.

mod common;

use checker::course::manifest::load_course;
use checker::dev::book::{Block, heading_ids, headings, prose_lines, scan};
use common::repo;
use std::path::{Path, PathBuf};

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.unwrap().into_path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// The `{{#include …}}` directives of a page: (path, optional anchor).
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    include_directives(text)
        .into_iter()
        .map(|(path, selector)| {
            let anchor = selector.filter(|s| !s.starts_with(|c: char| c.is_ascii_digit()));
            (path, anchor)
        })
        .collect()
}

/// The `{{#include …}}` directives of a page: (path, what follows it after
/// a `:`, an anchor or a line range, if anything).
fn include_directives(text: &str) -> Vec<(String, Option<String>)> {
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
            Some((path, selector)) => found.push((path.to_string(), Some(selector.to_string()))),
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

/// The pages of the book (book/*.md, SUMMARY.md left out), with their names
/// as the messages give them (`book/page.md`).
fn pages() -> Vec<(String, String)> {
    let book = repo().join("book");
    markdown_files(&book)
        .into_iter()
        .filter(|page| page.file_name().is_some_and(|n| n != "SUMMARY.md"))
        .map(|page| {
            let name = Path::new("book")
                .join(page.strip_prefix(&book).unwrap())
                .display()
                .to_string();
            (name, std::fs::read_to_string(&page).unwrap())
        })
        .collect()
}

/// The widest a line in a code block may be. The text column of a page is
/// about 88 monospace columns wide at 1280 px; 80 leaves room for the
/// scrollbar and for a reader's larger font, and is what a terminal shows.
const MAX_COLUMNS: usize = 80;

/// Whether a line of a code block is replaced by mdBook before a reader
/// sees it: an `{{#include}}`-like directive (what it includes is checked
/// where it lives), or a hidden line of a Rust block (`# ` or `#` alone).
fn is_not_shown(block: &Block<'_>, line: &str) -> bool {
    let trimmed = line.trim();
    if trimmed.starts_with("{{#") && trimmed.ends_with("}}") {
        return true;
    }
    is_rust(block) && (line == "#" || line.starts_with("# "))
}

/// Whether a block is Rust: an info string starting with `rust`
/// (`rust`, `rust,ignore`, `rust,no_run`, `rust,compile_fail`, ...).
fn is_rust(block: &Block<'_>) -> bool {
    block.info.starts_with("rust")
}

#[test]
fn text_blocks_fit_in_80_columns() {
    let mut wide = Vec::new();
    let mut checked = 0;
    for (name, text) in pages() {
        for block in scan(&text).1 {
            for (number, line) in &block.lines {
                if is_not_shown(&block, line) {
                    continue;
                }
                checked += 1;
                let columns = line.trim_end().chars().count();
                if columns > MAX_COLUMNS {
                    wide.push(format!("{name}:{number} ({columns} columns)"));
                }
            }
        }
    }
    assert!(
        wide.is_empty(),
        "{} line(s) of code blocks are wider than {MAX_COLUMNS} columns, and are cut off \
         or scroll on a phone. Re-flow or shorten them, or draw a wide diagram as a \
         figure (book/figures/*.svg):\n{}",
        wide.len(),
        wide.join("\n")
    );
    assert!(checked > 0, "the book has no code blocks at all");
}

/// The widest an included line may be: the text column of a page at
/// 1280 px. Included code is formatted by rustfmt (100 columns) where it
/// lives, so it gets the page's whole width rather than the 80 of code
/// written in the book; a wider line is cut off on the page.
const MAX_INCLUDED_COLUMNS: usize = 88;

/// The lines an `{{#include}}` of `source` shows, as mdBook picks them:
/// (1-based line in `source`, text). `selector` is what follows the path:
/// nothing (the whole file), an anchor (the lines between `ANCHOR: name`
/// and `ANCHOR_END: name`, without any anchor lines), or a line range
/// (`N`, `N:M`, `N:` or `:M`, 1-based and inclusive).
fn included_lines<'a>(source: &'a str, selector: Option<&str>) -> Vec<(usize, &'a str)> {
    let numbered = source.lines().enumerate().map(|(i, l)| (i + 1, l));
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return numbered.collect();
    };
    if selector.starts_with(|c: char| c.is_ascii_digit() || c == ':') {
        let (from, to) = selector.split_once(':').unwrap_or((selector, selector));
        let from = from.parse().unwrap_or(1);
        let to = to.parse().unwrap_or(usize::MAX);
        return numbered.filter(|(n, _)| (from..=to).contains(n)).collect();
    }
    let is_anchor = |line: &str, tag: &str| {
        line.split_once(tag)
            .is_some_and(|(_, name)| name.trim().trim_end_matches("-->").trim() == selector)
    };
    numbered
        .skip_while(|(_, l)| !is_anchor(l, "ANCHOR:"))
        .skip(1)
        .take_while(|(_, l)| !is_anchor(l, "ANCHOR_END:"))
        .filter(|(_, l)| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .collect()
}

#[test]
fn included_lines_fit_in_88_columns() {
    let book = repo().join("book");
    let root = repo();
    let mut wide = Vec::new();
    let mut checked = 0;
    for (name, text) in pages() {
        for (path, selector) in include_directives(&text) {
            let file = book.join(&path);
            let Ok(source) = std::fs::read_to_string(&file) else {
                continue; // every_include_names_a_real_file_and_a_non_empty_anchor says so
            };
            let shown = file.canonicalize().unwrap_or(file);
            let shown = shown.strip_prefix(&root).unwrap_or(&shown).display();
            for (number, line) in included_lines(&source, selector.as_deref()) {
                checked += 1;
                let columns = line.trim_end().chars().count();
                if columns > MAX_INCLUDED_COLUMNS {
                    let directive = match &selector {
                        Some(selector) => format!("{path}:{selector}"),
                        None => path.clone(),
                    };
                    wide.push(format!(
                        "{name} includes {directive}: {shown}:{number} is {columns} columns"
                    ));
                }
            }
        }
    }
    assert!(
        wide.is_empty(),
        "{} included line(s) are wider than {MAX_INCLUDED_COLUMNS} columns, and are cut off \
         on the page at 1280 px. Rewrap them where they live (shorter names, a binding, a \
         line break that rustfmt keeps), not with rustfmt::skip:\n{}",
        wide.len(),
        wide.join("\n")
    );
    assert!(checked > 0, "the book includes no lines at all");
}

#[test]
fn includes_are_cut_like_mdbook() {
    let source = "a\n// ANCHOR: x\nb\n// ANCHOR: y\nc\n// ANCHOR_END: y\n// ANCHOR_END: x\nd\n";
    let lines = |selector| {
        included_lines(source, selector)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(Some("x")), [3, 5]);
    assert_eq!(lines(Some("y")), [5]);
    assert_eq!(lines(None).len(), 8);
    assert_eq!(lines(Some("2:3")), [2, 3]);
    assert_eq!(lines(Some("7:")), [7, 8]);
    assert_eq!(lines(Some(":1")), [1]);
    assert_eq!(lines(Some("8")), [8]);
    let page = "{{#include ../a.rs:x}} {{#include ../b.rs:3:5}} {{#include ../c.yml}}";
    let owned = |s: &str| s.to_string();
    assert_eq!(
        include_directives(page),
        [
            (owned("../a.rs"), Some(owned("x"))),
            (owned("../b.rs"), Some(owned("3:5"))),
            (owned("../c.yml"), None),
        ]
    );
    assert_eq!(includes(page)[1], (owned("../b.rs"), None));
}

#[test]
fn every_rust_block_is_compiled() {
    let mut uncompiled = Vec::new();
    let mut rust_blocks = 0;
    for (name, text) in pages() {
        for block in scan(&text).1 {
            if !is_rust(&block) {
                continue;
            }
            rust_blocks += 1;
            let included = block.lines.iter().any(|(_, line)| {
                line.contains("{{#include") || line.contains("{{#rustdoc_include")
            });
            let ignored = block
                .info
                .split(|c: char| c == ',' || c.is_whitespace())
                .any(|attribute| attribute == "ignore");
            if ignored && !included {
                uncompiled.push(format!("{name}:{} (```{})", block.line, block.info));
            }
        }
    }
    assert!(
        uncompiled.is_empty(),
        "{} Rust block(s) are compiled by nothing: `ignore` keeps them out of \
         `mdbook test` and they include no code. Move each lab or snippet to \
         tools/book-labs/examples/<chapter>-<lab>.rs and include it by anchor \
         (`{{{{#include ../tools/book-labs/examples/NAME.rs:anchor}}}}`), or drop `ignore` \
         so `mdbook test` compiles it (```rust,compile_fail for code that must not compile):\n{}",
        uncompiled.len(),
        uncompiled.join("\n")
    );
    assert!(rust_blocks > 0, "the book has no Rust blocks at all");
}

/// The images of a page, outside code blocks and inline code:
/// (line, alt text, path). Both `![alt](path "title")` and
/// `<img src="path" alt="alt">`.
fn images(text: &str) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    for (number, line) in scan(text).0 {
        let mut prose = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                prose.push_str(part);
            }
        }
        let mut rest = prose.as_str();
        while let Some(open) = rest.find("![") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("](") else { break };
            let alt = &after[..close];
            let target = &after[close + 2..];
            let end = target.find(')').unwrap_or(target.len());
            let path = target[..end].split_whitespace().next().unwrap_or("");
            found.push((number, alt.trim().to_string(), path.to_string()));
            rest = &target[end..];
        }
        let mut rest = prose.as_str();
        while let Some(open) = rest.find("<img") {
            let after = &rest[open + 4..];
            let end = after.find('>').unwrap_or(after.len());
            let tag = &after[..end];
            let src = html_attribute(tag, "src").unwrap_or_default();
            let alt = html_attribute(tag, "alt").unwrap_or_default();
            found.push((number, alt.trim().to_string(), src));
            rest = &after[end..];
        }
    }
    found
}

/// The value of `name="..."` (or `'...'`) in the inside of an HTML tag.
fn html_attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if let (true, Some(value)) = (before_ok, after.strip_prefix('=')) {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &value[1..];
                return Some(value[..value.find(quote)?].to_string());
            }
            let end = value.find(char::is_whitespace).unwrap_or(value.len());
            return Some(value[..end].to_string());
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// Alt text shorter than this cannot say what a figure shows.
const MIN_ALT: usize = 20;

/// The number in an SVG length or font size (`14`, `14px`, `13.5`).
fn number_prefix(value: &str) -> Option<f64> {
    let value = value.trim();
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(value.len());
    value[..end].parse().ok()
}

/// What is wrong with one figure, as the rules for figures say
/// (book/*.md's figures: a title, a viewBox 560–760 wide, no text below 12,
/// nothing loaded from elsewhere).
fn figure_problems(source: &str) -> Vec<String> {
    let document = match roxmltree::Document::parse(source) {
        Ok(document) => document,
        Err(error) => return vec![format!("is not valid XML: {error}")],
    };
    let mut problems = Vec::new();
    let svg = document.root_element();
    if svg.tag_name().name() != "svg" {
        problems.push(format!(
            "its root element is <{}>, not <svg>",
            svg.tag_name().name()
        ));
    }
    let title = svg
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "title");
    match title.map(|t| t.text().unwrap_or("").trim()) {
        None => problems.push(
            "has no <title> (a child of <svg>: what the figure shows, for screen readers)"
                .to_string(),
        ),
        Some("") => problems.push("has an empty <title>".to_string()),
        Some(_) => {}
    }
    match svg.attribute("viewBox") {
        None => problems
            .push("has no viewBox (`viewBox=\"0 0 W H\"`, so it scales to the page)".to_string()),
        Some(view_box) => {
            let numbers: Vec<f64> = view_box
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect();
            match numbers[..] {
                [_, _, width, height] if height > 0.0 => {
                    if !(560.0..=760.0).contains(&width) {
                        problems.push(format!(
                            "is {width} wide (viewBox); draw figures 560 to 760 wide, \
                             so their text is the size of the page's"
                        ));
                    }
                }
                _ => problems.push(format!("has a malformed viewBox `{view_box}`")),
            }
        }
    }
    for node in document.descendants().filter(|n| n.is_element()) {
        let tag = node.tag_name().name();
        if tag == "script" || tag == "foreignObject" {
            problems.push(format!("has a <{tag}> (figures are plain drawings)"));
        }
        for attribute in node.attributes() {
            let value = attribute.value();
            if attribute.name() == "href" && !value.starts_with('#') {
                problems.push(format!(
                    "<{tag}> refers to `{value}` (figures load nothing from elsewhere)"
                ));
            }
            let size = match attribute.name() {
                "font-size" => number_prefix(value),
                "style" => value
                    .split(';')
                    .filter_map(|d| d.split_once(':'))
                    .find(|(p, _)| p.trim() == "font-size")
                    .and_then(|(_, v)| number_prefix(v)),
                _ => None,
            };
            if let Some(size) = size.filter(|s| *s < 12.0) {
                let line = document.text_pos_at(node.range().start).row;
                problems.push(format!(
                    "line {line}: font-size {size} (never below 12: it must read at phone width)"
                ));
            }
        }
    }
    if source.contains("@import") || source.contains("url(http") {
        problems.push("loads a style or font from elsewhere".to_string());
    }
    problems
}

#[test]
fn figures_exist_and_say_what_they_show() {
    let book = repo().join("book");
    let mut problems = Vec::new();
    let mut shown = Vec::new();
    for (name, text) in pages() {
        let dir = repo().join(&name).parent().unwrap().to_path_buf();
        for (line, alt, path) in images(&text) {
            if path.contains("://") {
                problems.push(format!(
                    "{name}:{line}: image {path} is on another site; put it in book/figures/"
                ));
                continue;
            }
            let file = dir.join(&path);
            if file.is_file() {
                shown.push(file.canonicalize().unwrap());
            } else {
                problems.push(format!("{name}:{line}: image {path} does not exist"));
            }
            let length = alt.chars().count();
            if length < MIN_ALT {
                problems.push(format!(
                    "{name}:{line}: image {path} has {} alt text: say what the figure \
                     shows, fully enough to replace it (at least {MIN_ALT} characters)",
                    if alt.is_empty() {
                        "no".to_string()
                    } else {
                        format!("{length}-character")
                    }
                ));
            }
        }
    }
    let figures = book.join("figures");
    let mut svgs: Vec<PathBuf> = std::fs::read_dir(&figures)
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    svgs.retain(|p| p.extension().is_some_and(|e| e == "svg"));
    svgs.sort();
    for svg in &svgs {
        let name = svg.strip_prefix(repo()).unwrap().display().to_string();
        let source = std::fs::read_to_string(svg).unwrap();
        for problem in figure_problems(&source) {
            problems.push(format!("{name}: {problem}"));
        }
        if !shown.contains(&svg.canonicalize().unwrap()) {
            problems.push(format!(
                "{name}: no page shows it; show it with `![alt text](figures/{})` or delete it",
                svg.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the book's figures:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Pages of the numbered parts that are not chapters to be summarised: the
/// gauntlet is itself a list of questions with answers, and the key numbers
/// are a table measured on the reader's machine.
const NOT_QUIZZED: [&str; 2] = ["interview-gauntlet.md", "key-numbers.md"];

/// The fewest questions a chapter's `## Check yourself` holds.
const MIN_QUESTIONS: usize = 4;

/// The chapters of SUMMARY.md's numbered parts (`- [Title](page.md)`).
fn numbered_chapters() -> Vec<String> {
    let summary = std::fs::read_to_string(repo().join("book/SUMMARY.md")).unwrap();
    summary
        .lines()
        .filter_map(|line| {
            let item = line.trim_start();
            let item = item
                .strip_prefix("- ")
                .or_else(|| item.strip_prefix("* "))?;
            let target = &item[item.find("](")? + 2..];
            let target = &target[..target.find(')')?];
            (!target.is_empty()).then(|| target.to_string())
        })
        .collect()
}

/// What is wrong with the end of a chapter: it must end with `## Summary`
/// and then `## Check yourself`, the last `##` heading, with its answers in
/// `<details>`.
fn ending_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let sections: Vec<(usize, &str)> = headings(text)
        .into_iter()
        .filter(|(_, level, _)| *level <= 2)
        .map(|(line, _, title)| (line, title))
        .collect();
    let summary = sections.iter().position(|(_, t)| *t == "Summary");
    let quiz = sections.iter().position(|(_, t)| *t == "Check yourself");
    const SUMMARY: &str = "`## Summary` (5–9 bullets: the ideas a reader must keep)";
    const QUIZ: &str = "`## Check yourself` (4–6 questions, each answer in \
                        `<details><summary>Answer</summary>` … `</details>`)";
    let Some(quiz) = quiz else {
        problems.push(match summary {
            None => format!(
                "has no {SUMMARY} and no {QUIZ}: end the chapter with both, \
                 in that order, after everything else"
            ),
            Some(_) => format!("has no {QUIZ}: the chapter's last section, after the summary"),
        });
        return problems;
    };
    if summary.is_none() {
        problems.push(format!(
            "has no {SUMMARY}: put it just before `## Check yourself`"
        ));
    }
    let (quiz_line, _) = sections[quiz];
    if let Some(summary) = summary.filter(|s| *s > quiz) {
        problems.push(format!(
            ":{}: `## Summary` comes after `## Check yourself` (line {quiz_line}); \
             put the summary first",
            sections[summary].0
        ));
    }
    if let Some((line, title)) = sections.get(quiz + 1) {
        problems.push(format!(
            ":{line}: `## {title}` comes after `## Check yourself` (line {quiz_line}); \
             the quiz must be the chapter's last section"
        ));
    }
    let end = sections.get(quiz + 1).map_or(usize::MAX, |(line, _)| *line);
    let quiz_text: Vec<&str> = scan(text)
        .0
        .into_iter()
        .filter(|(n, _)| *n > quiz_line && *n < end)
        .map(|(_, line)| line)
        .collect();
    let opened = quiz_text
        .iter()
        .map(|l| l.matches("<details").count())
        .sum::<usize>();
    let closed = quiz_text
        .iter()
        .map(|l| l.matches("</details>").count())
        .sum::<usize>();
    let summaries = quiz_text
        .iter()
        .map(|l| l.matches("<summary").count())
        .sum::<usize>();
    if opened < MIN_QUESTIONS {
        problems.push(format!(
            ":{quiz_line}: `## Check yourself` holds {opened} answer(s) in <details>; \
             ask at least {MIN_QUESTIONS} questions, each answered in \
             `<details><summary>Answer</summary>` … `</details>`"
        ));
    }
    if opened != closed || summaries < opened {
        problems.push(format!(
            ":{quiz_line}: `## Check yourself` has {opened} <details>, {closed} </details> \
             and {summaries} <summary>: each answer is \
             `<details><summary>Answer</summary>` … `</details>`"
        ));
    }
    problems
}

#[test]
fn chapters_end_with_a_summary_and_a_quiz() {
    let chapters = numbered_chapters();
    assert!(chapters.len() > 5, "SUMMARY.md lists {chapters:?}");
    let mut problems = Vec::new();
    for chapter in &chapters {
        if NOT_QUIZZED.contains(&chapter.as_str()) {
            continue;
        }
        let name = format!("book/{chapter}");
        let Ok(text) = std::fs::read_to_string(repo().join(&name)) else {
            continue; // every_page_in_the_summary_exists says so
        };
        for problem in ending_problems(&text) {
            // A problem at a line is `:LINE: ...`; the others are sentences.
            let separator = if problem.starts_with(':') { "" } else { ": " };
            problems.push(format!("{name}{separator}{problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) with the chapters' endings:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn code_blocks_images_and_endings_are_parsed_like_mdbook() {
    let page = "# T\n\n  ```console\n  $ ls\n  ```\n\n````md\n```rust\nnot a fence\n```\n````\n\
                ```rust,ignore\n# hidden\n{{#include ../x.rs:a}}\nfn main() {}\n```\n\
                Inline ```code``` and ![A figure of three boxes](figures/x.svg \"t\").\n\
                <img alt=\"two boxes and an arrow\" src='figures/y.svg'>\n\
                ## Summary\n\n- one\n\n## Check yourself\n\n\
                <details><summary>Answer</summary>\n\nYes.\n\n</details>\n";
    let (prose, blocks) = scan(page);
    let infos: Vec<&str> = blocks.iter().map(|b| b.info).collect();
    assert_eq!(infos, ["console", "md", "rust,ignore"]);
    assert_eq!(blocks[0].lines, [(4, "  $ ls")]);
    assert_eq!(blocks[1].lines.len(), 3);
    assert!(is_rust(&blocks[2]) && is_not_shown(&blocks[2], "# hidden"));
    assert!(is_not_shown(&blocks[2], "{{#include ../x.rs:a}}"));
    assert!(!is_not_shown(&blocks[2], "fn main() {}"));
    assert!(!is_not_shown(&blocks[0], "# a root prompt"));
    assert!(
        prose
            .iter()
            .any(|(n, l)| *n == 17 && l.starts_with("Inline"))
    );
    assert_eq!(
        images(page),
        [
            (
                17,
                "A figure of three boxes".to_string(),
                "figures/x.svg".to_string()
            ),
            (
                18,
                "two boxes and an arrow".to_string(),
                "figures/y.svg".to_string()
            ),
        ]
    );
    let problems = ending_problems(page);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("holds 1 answer"), "{problems:?}");
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 200\">\
               <title>A box</title><text font-size=\"11\">x</text></svg>";
    let problems = figure_problems(svg);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("font-size 11"), "{problems:?}");
    assert_eq!(figure_problems("<svg>").len(), 1);
}
