//! Every assertion of a hidden suite carries a message: a learner whose
//! code fails one reads it.
//!
//! A bare `assert!(bucket.try_acquire(5))` fails with `assertion failed:
//! bucket.try_acquire(5)` and the learner, who cannot see the test, does not
//! know what was set up or what was expected. So every `assert!`,
//! `assert_eq!` and `assert_ne!` of a hidden suite — its `tests/**/*.rs`,
//! and its `src/**/*.rs` outside `#[cfg(test)]` items (the suite's own unit
//! tests are never shown to a learner) — carries a message argument. The
//! files are parsed with `syn`; a macro's arguments are its tokens split at
//! top-level commas, and assertions inside other macros' tokens (a
//! `proptest!` block, say) count too.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use std::path::{Path, PathBuf};
use syn::punctuated::Punctuated;
use syn::visit::Visit;

use super::finding::Finding;

/// The assertion macros that must carry a message, with the number of
/// arguments they take before it.
const ASSERTS: [(&str, usize); 3] = [("assert", 1), ("assert_eq", 2), ("assert_ne", 2)];

/// The longest assertion quoted in a finding, in characters.
const QUOTED: usize = 70;

/// The bare assertions of the hidden suite in `suite` (an exercise's
/// `checker/hidden/<name>` directory), one finding each, named
/// `file:line` relative to `root`.
pub(crate) fn bare_asserts(root: &Path, suite: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (dir, in_src) in [("tests", false), ("src", true)] {
        for path in rust_files(&suite.join(dir)) {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    findings.push(finding(&relative, format!("cannot read it ({e})")));
                    continue;
                }
            };
            match in_source(&text, in_src) {
                Ok(bare) => findings.extend(bare.into_iter().map(|b| b.finding(&relative))),
                Err(e) => findings.push(finding(
                    &relative,
                    format!("does not parse as Rust, so its assertions are unchecked ({e})"),
                )),
            }
        }
    }
    findings
}

/// An assertion without a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bare {
    /// Its 1-based line.
    pub(crate) line: usize,
    /// The macro's name, e.g. `assert_eq`.
    pub(crate) name: String,
    /// Its arguments as written, on one line, shortened to [`QUOTED`]
    /// characters.
    pub(crate) arguments: String,
}

impl Bare {
    fn finding(&self, file: &str) -> Finding {
        finding(
            &format!("{file}:{}", self.line),
            format!(
                "`{}!({})` has no message, so a learner who fails it reads only the code it \
                 compared: say what the test set up, what it expected and what happened, in \
                 the book's terms",
                self.name, self.arguments
            ),
        )
    }
}

fn finding(file: &str, message: String) -> Finding {
    Finding {
        file: file.to_string(),
        message,
    }
}

/// The `.rs` files under `dir`, sorted (none if it does not exist).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort();
    files
}

/// The bare assertions of one source file; with `skip_cfg_test`, items
/// under `#[cfg(test)]` are not looked at.
pub(crate) fn in_source(text: &str, skip_cfg_test: bool) -> syn::Result<Vec<Bare>> {
    let file = syn::parse_file(text)?;
    let mut visitor = Visitor {
        skip_cfg_test,
        bare: Vec::new(),
    };
    visitor.visit_file(&file);
    Ok(visitor.bare)
}

struct Visitor {
    skip_cfg_test: bool,
    bare: Vec<Bare>,
}

impl Visitor {
    fn skipped(&self, attrs: &[syn::Attribute]) -> bool {
        self.skip_cfg_test && attrs.iter().any(is_cfg_test)
    }
}

impl<'ast> Visit<'ast> for Visitor {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !self.skipped(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Some(last) = mac.path.segments.last() {
            let delimited = mac.delimiter.span().join();
            check(
                &last.ident.to_string(),
                &mac.tokens,
                last.ident.span(),
                delimited,
                &mut self.bare,
            );
        }
        scan(mac.tokens.clone(), &mut self.bare);
    }
}

/// `#[cfg(test)]`, or a `cfg(all(…))` that requires `test`.
fn is_cfg_test(attr: &syn::Attribute) -> bool {
    if !attr.path().is_ident("cfg") {
        return false;
    }
    let Ok(meta) = attr.parse_args::<syn::Meta>() else {
        return false;
    };
    requires_test(&meta)
}

fn requires_test(meta: &syn::Meta) -> bool {
    match meta {
        syn::Meta::Path(p) => p.is_ident("test"),
        syn::Meta::List(list) if list.path.is_ident("all") => list
            .parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
            .is_ok_and(|inner| inner.iter().any(requires_test)),
        _ => false,
    }
}

/// Records the macro `name!(tokens)` if it is an assertion without a
/// message: `at` is where its name is, `delimited` its arguments with their
/// delimiters, quoted as written.
fn check(name: &str, tokens: &TokenStream, at: Span, delimited: Span, bare: &mut Vec<Bare>) {
    let Some(&(_, needed)) = ASSERTS.iter().find(|(n, _)| *n == name) else {
        return;
    };
    if arguments(tokens) > needed {
        return;
    }
    let written = delimited
        .source_text()
        .map(|text| {
            let mut chars = text.chars();
            chars.next();
            chars.next_back();
            chars
                .as_str()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| tokens.to_string());
    let arguments = if written.chars().count() > QUOTED {
        written.chars().take(QUOTED).collect::<String>() + "…"
    } else {
        written
    };
    bare.push(Bare {
        line: at.start().line,
        name: name.to_string(),
        arguments,
    });
}

/// How many arguments a macro's tokens hold: expressions separated by
/// commas (so `HashMap::<u8, u8>::new()` is one), or, if they are not
/// expressions, the non-empty pieces between top-level commas.
fn arguments(tokens: &TokenStream) -> usize {
    let parser = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
    if let Ok(exprs) = syn::parse::Parser::parse2(parser, tokens.clone()) {
        return exprs.len();
    }
    let mut count = 0;
    let mut empty = true;
    for tree in tokens.clone() {
        match tree {
            TokenTree::Punct(p) if p.as_char() == ',' && p.spacing() == Spacing::Alone => {
                if !empty {
                    count += 1;
                }
                empty = true;
            }
            _ => empty = false,
        }
    }
    count + usize::from(!empty)
}

/// Finds assertions written inside another macro's tokens (`name ! (…)`),
/// at any depth.
fn scan(tokens: TokenStream, bare: &mut Vec<Bare>) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Ident(ident) => {
                if let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(group))) =
                    (trees.get(i + 1), trees.get(i + 2))
                    && bang.as_char() == '!'
                    && group.delimiter() != Delimiter::None
                {
                    check(
                        &ident.to_string(),
                        &group.stream(),
                        ident.span(),
                        group.span(),
                        bare,
                    );
                }
            }
            TokenTree::Group(group) => scan(group.stream(), bare),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, skip_cfg_test: bool) -> Vec<(usize, String)> {
        in_source(text, skip_cfg_test)
            .unwrap()
            .into_iter()
            .map(|b| (b.line, b.name))
            .collect()
    }

    #[test]
    fn a_bare_assertion_is_found_with_its_line_and_macro() {
        let text = "#[test]\nfn t() {\n    assert!(ok());\n    assert_eq!(1, two(), );\n    \
                    assert_ne!(a, b);\n}\n";
        assert_eq!(
            names(text, false),
            [
                (3, "assert".to_string()),
                (4, "assert_eq".to_string()),
                (5, "assert_ne".to_string())
            ]
        );
    }

    #[test]
    fn an_assertion_with_a_message_is_not_a_finding() {
        let text = r#"
            fn t() {
                assert!(ok(), "expected ok");
                assert_eq!(HashMap::<u8, u8>::new(), m, "map {m:?}");
                assert_ne!(a, b, "{} vs {}", a, b);
                std::assert!(x.iter().all(|(a, b)| a < b), "sorted");
            }
        "#;
        assert_eq!(names(text, false), []);
    }

    #[test]
    fn generic_commas_are_not_arguments() {
        let text = "fn t() { assert_eq!(HashMap::<u8, u8>::new(), m); }";
        assert_eq!(names(text, false), [(1, "assert_eq".to_string())]);
    }

    #[test]
    fn assertions_inside_other_macros_and_closures_are_found() {
        let text = "fn t() {\n    proptest! {\n        fn p(x in 0..9u8) { assert!(x < 9); }\n    \
                    }\n    std::thread::scope(|s| { s.spawn(|| assert_eq!(f(), 1)); });\n}\n";
        assert_eq!(
            names(text, false),
            [(3, "assert".to_string()), (5, "assert_eq".to_string())]
        );
    }

    #[test]
    fn cfg_test_modules_are_skipped_in_src_only() {
        let text = "pub fn helper() { assert!(ok()); }\n#[cfg(test)]\nmod tests {\n    \
                    fn t() { assert!(inner()); }\n}\n#[cfg(all(unix, test))]\nfn u() { \
                    assert!(x); }\n";
        assert_eq!(names(text, true), [(1, "assert".to_string())]);
        assert_eq!(
            names(text, false).len(),
            3,
            "without skipping, all three count"
        );
    }

    #[test]
    fn a_finding_names_file_line_and_macro() {
        let bare = &in_source("fn t() {\n assert!(bucket.try_acquire(5));\n}", false).unwrap()[0];
        let finding = bare.finding("checker/hidden/x/tests/hidden/a.rs");
        assert_eq!(finding.file, "checker/hidden/x/tests/hidden/a.rs:2");
        assert!(
            finding
                .message
                .starts_with("`assert!(bucket.try_acquire(5))` has no message"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn a_suite_is_walked_in_tests_and_src() {
        let root = tempfile::tempdir().unwrap();
        let suite = root.path().join("checker/hidden/x");
        std::fs::create_dir_all(suite.join("tests/hidden")).unwrap();
        std::fs::create_dir_all(suite.join("src")).unwrap();
        std::fs::write(suite.join("tests/hidden/a.rs"), "fn t() { assert!(a); }").unwrap();
        std::fs::write(
            suite.join("src/lib.rs"),
            "#[cfg(test)]\nmod tests { fn t() { assert!(b); } }\npub fn h() { assert!(c, \"c\"); }",
        )
        .unwrap();
        let found = bare_asserts(root.path(), &suite);
        let files: Vec<&str> = found.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(files, ["checker/hidden/x/tests/hidden/a.rs:1"]);
    }
}
