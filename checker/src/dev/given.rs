//! Given code: the parts of an exercise stub a learner does not write. Every
//! item of the stub whose body holds no `todo!()` (a type, a constant, a
//! helper, a trait impl) ships as it is and must be the same in the reference
//! solution, or the hidden tests grade the reference against a different
//! crate from the one the learner gets. Items are compared as token
//! streams: comments, doc comments and `#[inline]` (a reference may add it
//! for speed, as `.ci/mutants` allows) do not count, and the solution's crate
//! name `<lib>_solution` reads as `<lib>`.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::ToTokens;
use std::collections::BTreeMap;

/// One item of a source file.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// What names it in its file, e.g. `fn align_up`, `impl Display for
    /// AlignError: fn fmt`, `mod tests: fn works`.
    pub(crate) key: String,
    /// Its tokens, normalised (see the module's documentation).
    pub(crate) tokens: String,
    /// Whether it is a blank: code the learner writes (see the module's
    /// documentation).
    pub(crate) blank: bool,
    /// Whether it is a public field of a struct (part of the crate's API,
    /// which stub and solution share).
    pub(crate) public_field: bool,
}

/// The items of a file, nested ones (in impls, traits and inline modules)
/// each on their own. `rename` reads one identifier as another.
pub(crate) fn items(source: &str, rename: Option<(&str, &str)>) -> syn::Result<Vec<Item>> {
    let file = syn::parse_file(source)?;
    let mut out = Vec::new();
    collect(&file.items, "", rename, &mut out);
    Ok(out)
}

fn collect(items: &[syn::Item], prefix: &str, rename: Option<(&str, &str)>, out: &mut Vec<Item>) {
    let mut invocations = 0;
    for item in items {
        let named =
            |kind: &str, name: &dyn ToString| format!("{prefix}{kind} {}", name.to_string());
        let key = match item {
            syn::Item::Use(_) | syn::Item::ExternCrate(_) | syn::Item::Verbatim(_) => continue,
            syn::Item::Mod(m) => match &m.content {
                // A module in a file of its own: compared where it lives.
                None => continue,
                Some((_, inner)) => {
                    collect(inner, &format!("{prefix}mod {}: ", m.ident), rename, out);
                    continue;
                }
            },
            syn::Item::Impl(imp) if !imp.items.is_empty() => {
                collect_impl(imp, prefix, rename, out);
                continue;
            }
            syn::Item::Trait(t) if !t.items.is_empty() => {
                collect_trait(t, prefix, rename, out);
                continue;
            }
            syn::Item::Impl(imp) => format!("{prefix}{}", impl_header(imp)),
            syn::Item::Trait(t) => named("trait", &t.ident),
            syn::Item::Fn(f) => named("fn", &f.sig.ident),
            syn::Item::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => {
                collect_struct(s, &named("struct", &s.ident), rename, out);
                continue;
            }
            syn::Item::Struct(s) => named("struct", &s.ident),
            syn::Item::Enum(e) => named("enum", &e.ident),
            syn::Item::Union(u) => named("union", &u.ident),
            syn::Item::Const(c) => named("const", &c.ident),
            syn::Item::Static(s) => named("static", &s.ident),
            syn::Item::Type(t) => named("type", &t.ident),
            syn::Item::TraitAlias(t) => named("trait", &t.ident),
            syn::Item::Macro(m) => match &m.ident {
                Some(ident) => named("macro", ident),
                None => {
                    invocations += 1;
                    format!(
                        "{prefix}{}! (invocation {invocations})",
                        tokens_of(&m.mac.path, None)
                    )
                }
            },
            syn::Item::ForeignMod(_) => {
                invocations += 1;
                format!("{prefix}extern block {invocations}")
            }
            other => format!("{prefix}item {}", tokens_of(other, None)),
        };
        let empty = matches!(item, syn::Item::Fn(f) if f.block.stmts.is_empty());
        out.push(item_of(key, item, rename, empty));
    }
}

/// The items of an `impl` block, one by one.
fn collect_impl(
    imp: &syn::ItemImpl,
    prefix: &str,
    rename: Option<(&str, &str)>,
    out: &mut Vec<Item>,
) {
    let header = impl_header(imp);
    for inner in &imp.items {
        let name = match inner {
            syn::ImplItem::Fn(f) => format!("fn {}", f.sig.ident),
            syn::ImplItem::Const(c) => format!("const {}", c.ident),
            syn::ImplItem::Type(t) => format!("type {}", t.ident),
            other => format!("item {}", tokens_of(other, None)),
        };
        let empty = matches!(inner, syn::ImplItem::Fn(f) if f.block.stmts.is_empty());
        out.push(item_of(
            format!("{prefix}{header}: {name}"),
            inner,
            rename,
            empty,
        ));
    }
}

/// The items of a trait, one by one.
fn collect_trait(
    t: &syn::ItemTrait,
    prefix: &str,
    rename: Option<(&str, &str)>,
    out: &mut Vec<Item>,
) {
    for inner in &t.items {
        let name = match inner {
            syn::TraitItem::Fn(f) => format!("fn {}", f.sig.ident),
            syn::TraitItem::Const(c) => format!("const {}", c.ident),
            syn::TraitItem::Type(ty) => format!("type {}", ty.ident),
            other => format!("item {}", tokens_of(other, None)),
        };
        let empty = matches!(
            inner,
            syn::TraitItem::Fn(f) if f.default.as_ref().is_some_and(|b| b.stmts.is_empty())
        );
        out.push(item_of(
            format!("{prefix}trait {}: {name}", t.ident),
            inner,
            rename,
            empty,
        ));
    }
}

/// A struct with named fields: its header, then each field.
fn collect_struct(
    s: &syn::ItemStruct,
    key: &str,
    rename: Option<(&str, &str)>,
    out: &mut Vec<Item>,
) {
    let mut header = s.clone();
    header.fields = syn::Fields::Unit;
    out.push(item_of(key.to_string(), &header, rename, false));
    for field in &s.fields {
        let name = field
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut item = item_of(format!("{key}: field {name}"), field, rename, false);
        item.public_field = matches!(field.vis, syn::Visibility::Public(_));
        out.push(item);
    }
}

/// `impl Trait for Type` or `impl Type`, as tokens.
fn impl_header(imp: &syn::ItemImpl) -> String {
    let ty = tokens_of(&imp.self_ty, None);
    match &imp.trait_ {
        Some((bang, path, _)) => format!(
            "impl {}{} for {ty}",
            if bang.is_some() { "!" } else { "" },
            tokens_of(path, None)
        ),
        None => format!("impl {ty}"),
    }
}

fn item_of(
    key: String,
    item: &dyn ToTokens,
    rename: Option<(&str, &str)>,
    empty_body: bool,
) -> Item {
    let raw = item.to_token_stream();
    Item {
        key,
        blank: empty_body || is_blank(raw.clone()),
        tokens: normalise(raw, rename).to_string(),
        public_field: false,
    }
}

fn tokens_of(item: &dyn ToTokens, rename: Option<(&str, &str)>) -> String {
    normalise(item.to_token_stream(), rename).to_string()
}

/// Whether the tokens hold `todo!` or a string saying `still a blank`.
fn is_blank(stream: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    tokens.iter().enumerate().any(|(i, token)| match token {
        TokenTree::Ident(ident) => {
            ident == "todo"
                && matches!(tokens.get(i + 1), Some(TokenTree::Punct(p)) if p.as_char() == '!')
        }
        TokenTree::Literal(literal) => literal.to_string().contains("still a blank"),
        TokenTree::Group(group) => is_blank(group.stream()),
        _ => false,
    })
}

/// The tokens without the attributes that do not count (see
/// [`attribute_to_drop`]), with `rename` applied to identifiers.
fn normalise(stream: TokenStream, rename: Option<(&str, &str)>) -> TokenStream {
    let tokens: Vec<TokenTree> = stream.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if let Some(skip) = attribute_to_drop(&tokens[i..]) {
            i += skip;
            continue;
        }
        out.push(match &tokens[i] {
            TokenTree::Group(g) => {
                TokenTree::Group(Group::new(g.delimiter(), normalise(g.stream(), rename)))
            }
            TokenTree::Ident(ident) => match rename {
                Some((from, to)) if ident == from => {
                    TokenTree::Ident(proc_macro2::Ident::new(to, ident.span()))
                }
                _ => TokenTree::Ident(ident.clone()),
            },
            other => other.clone(),
        });
        i += 1;
    }
    out.into_iter().collect()
}

/// How many tokens a `#[doc …]`, `#[inline …]`, `#[allow …]` or
/// `#[expect …]` attribute (outer or inner) at the start of `tokens` takes,
/// if one is there.
fn attribute_to_drop(tokens: &[TokenTree]) -> Option<usize> {
    let TokenTree::Punct(hash) = tokens.first()? else {
        return None;
    };
    if hash.as_char() != '#' {
        return None;
    }
    let bang = matches!(tokens.get(1), Some(TokenTree::Punct(b)) if b.as_char() == '!');
    let at = 1 + usize::from(bang);
    let TokenTree::Group(group) = tokens.get(at)? else {
        return None;
    };
    let dropped = group.delimiter() == proc_macro2::Delimiter::Bracket
        && matches!(
            group.stream().into_iter().next(),
            Some(TokenTree::Ident(ident))
                if ident == "doc" || ident == "inline" || ident == "allow" || ident == "expect"
        );
    dropped.then_some(at + 1)
}

/// What differs between a stub file and the solution's file of the same
/// path: given items missing or changed in the solution, and learner items
/// (with `todo!`) the solution does not have at all.
pub(crate) fn compare(stub: &[Item], solution: &[Item]) -> Vec<String> {
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for item in solution {
        by_key.entry(&item.key).or_default().push(&item.tokens);
    }
    let mut problems = Vec::new();
    for item in solution {
        if item.public_field && !stub.iter().any(|s| s.key == item.key) {
            problems.push(format!(
                "`{}` is a public field of the solution that the stub lacks (the two crates share one API)",
                item.key
            ));
        }
    }
    for item in stub {
        match by_key.get(item.key.as_str()) {
            None if item.blank => problems.push(format!(
                "`{}` (a blank for the learner) has no counterpart in the solution",
                item.key
            )),
            None => problems.push(format!(
                "`{}` is given code in the stub but missing from the solution",
                item.key
            )),
            Some(_) if item.blank => {}
            Some(versions) if versions.contains(&item.tokens.as_str()) => {}
            Some(_) => problems.push(format!(
                "`{}` is given code (no `todo!()`) but differs between stub and solution",
                item.key
            )),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_comments_and_inline_do_not_count_but_code_does() {
        let stub = "/// Doc.\npub fn a(x: u8) -> u8 { x + 1 } // note\n\
                    pub fn b() { todo!(\"stage 1\") }\n\
                    impl Foo { pub fn c(&self) -> u8 { 1 } }\n\
                    pub const K: usize = 4;\nuse std::fmt;\n";
        let solution = "#[inline]\npub fn a(x: u8) -> u8 {\n    x + 1\n}\n\
                        pub fn b() { let _ = 1; }\n\
                        impl Foo { pub fn c(&self) -> u8 { 2 } }\n\
                        pub const K: usize = 4;\nfn helper() {}\n";
        let stub = items(stub, None).unwrap();
        let solution = items(solution, None).unwrap();
        assert!(stub.iter().any(|i| i.key == "fn b" && i.blank));
        assert_eq!(
            compare(&stub, &solution),
            ["`impl Foo: fn c` is given code (no `todo!()`) but differs between stub and solution"]
        );
    }

    #[test]
    fn blanks_lints_and_private_fields_are_the_learner_s() {
        let stub = "pub struct S {\n    #[allow(dead_code)] // until alloc reads it\n    next: usize,\n    pub size: usize,\n}\n\
                    impl Drop for S { fn drop(&mut self) { /* stage 2 */ } }\n\
                    pub const SCRIPT: &str = \"-- still a blank\";\n";
        let solution = "pub struct S {\n    next: usize,\n    pub size: usize,\n    sleeping: usize,\n}\n\
                        impl Drop for S { fn drop(&mut self) { self.next = 0; } }\n\
                        pub const SCRIPT: &str = \"return 1\";\n";
        let stub = items(stub, None).unwrap();
        assert!(compare(&stub, &items(solution, None).unwrap()).is_empty());
        let public = solution.replace("    sleeping", "    pub sleeping");
        assert_eq!(
            compare(&stub, &items(&public, None).unwrap()),
            [
                "`struct S: field sleeping` is a public field of the solution that the stub lacks (the two crates share one API)"
            ]
        );
    }

    #[test]
    fn the_solution_crate_name_reads_as_the_exercise_s() {
        let stub = items("pub fn a() -> u8 { shell::X }", None).unwrap();
        let solution = items(
            "pub fn a() -> u8 { shell_solution::X }",
            Some(("shell_solution", "shell")),
        )
        .unwrap();
        assert!(compare(&stub, &solution).is_empty());
    }
}
