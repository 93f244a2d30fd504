//! Property tests: the tokenizer against a model that works backwards.
//!
//! Instead of a second tokenizer, the model starts from the answer: it draws
//! a list of tokens, writes each one out the way a person might type it
//! (quoted this way or that, glued to its neighbours or spaced out, with
//! `$NAME` expansions), and expects `tokenize` to give the same list back.
//! Arbitrary text must never make it (or the parser after it) panic.
//! `PROPTEST_CASES=5000 cargo test -p shell-solution --test properties`
//! runs them longer.

use proptest::prelude::*;
use shell_solution::{SyntaxError, Token, parse, tokenize};

/// The variables the lines may expand, and what they hold (`UNSET` is not set).
const VARS: [(&str, Option<&str>); 6] = [
    ("A", Some("apple")),
    ("V_2", Some("digits")),
    ("SPACED", Some(" two  words ")),
    ("EMPTY", Some("")),
    ("UNSET", None),
    ("?", Some("127")),
];

fn lookup(name: &str) -> Option<String> {
    VARS.iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.map(str::to_string))
}

/// How a piece of literal text is written.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// `'text'`.
    Single,
    /// `"text"`, with `"`, `\` and `$` escaped.
    Double,
    /// `"text"`, with a backslash escaped only where it must be (before
    /// `"`, `\`, `$` or the closing quote): `"a\b"` is `a\b`.
    DoubleLazy,
    /// Every character escaped: `\t\e\x\t`.
    Escaped,
    /// As is (only when every character is harmless).
    Bare,
}

/// Part of a word: literal text, or a `$NAME` expansion (quoted or not).
#[derive(Debug, Clone)]
enum Piece {
    Text(String, Style),
    Var(usize, bool),
}

/// A token as the model draws it: a word made of pieces, or an operator.
#[derive(Debug, Clone)]
enum Drawn {
    Word(Vec<Piece>),
    Op(Token),
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Single),
        Just(Style::Double),
        Just(Style::DoubleLazy),
        Just(Style::Escaped),
        Just(Style::Bare)
    ]
}

/// Text for a piece: usually plain, often with the characters that matter.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_./$-]{0,6}",
        "[a2]{1,3}",
        "[ a-z2'\"\\\\$|&<>?\t]{0,6}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (text(), style()).prop_map(|(t, s)| Piece::Text(t, s)),
        1 => (0..VARS.len(), any::<bool>()).prop_map(|(v, q)| Piece::Var(v, q)),
    ]
}

fn operator() -> impl Strategy<Value = Token> {
    prop_oneof![
        Just(Token::Pipe),
        Just(Token::Background),
        Just(Token::RedirectIn),
        Just(Token::RedirectOut),
        Just(Token::RedirectOut),
        Just(Token::RedirectAppend),
        Just(Token::RedirectErr),
        Just(Token::ErrToOut),
    ]
}

fn drawn() -> impl Strategy<Value = Drawn> {
    prop_oneof![
        3 => prop::collection::vec(piece(), 1..4).prop_map(Drawn::Word),
        1 => operator().prop_map(Drawn::Op),
    ]
}

fn is_harmless(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:,+=@%^~".contains(c)
}

/// Whether `text` reads as itself unquoted: harmless characters, and `$`
/// only before a character that cannot start a name (a literal `$`).
fn may_go_bare(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().all(|(i, &c)| {
        is_harmless(c)
            || (c == '$'
                && chars
                    .get(i + 1)
                    .is_some_and(|&next| next.is_ascii_digit() || "-./:,+=@%^~".contains(next)))
    })
}

/// Writes one piece. `after_var` is set when the previous piece was an
/// unquoted `$NAME`, whose name must not run on into this piece.
fn write_piece(piece: &Piece, after_var: bool, out: &mut String) {
    match piece {
        Piece::Var(v, quoted) => {
            let name = VARS[*v].0;
            if *quoted {
                out.push_str(&format!("\"${name}\""));
            } else {
                out.push_str(&format!("${name}"));
            }
        }
        Piece::Text(text, style) => {
            let mut style = *style;
            // An empty piece written bare or escaped is no text at all; a
            // quote cannot hold itself; after `$NAME` a letter would extend
            // the name; only harmless characters may go bare.
            if text.is_empty() || after_var {
                style = if text.contains('\'') {
                    Style::Double
                } else {
                    Style::Single
                };
            }
            if matches!(style, Style::Single) && text.contains('\'') {
                style = Style::Double;
            }
            if matches!(style, Style::Bare) && !may_go_bare(text) {
                style = Style::Escaped;
            }
            match style {
                Style::Single => {
                    out.push('\'');
                    out.push_str(text);
                    out.push('\'');
                }
                Style::Double => {
                    out.push('"');
                    for c in text.chars() {
                        if matches!(c, '"' | '\\' | '$') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
                Style::DoubleLazy => {
                    out.push('"');
                    let chars: Vec<char> = text.chars().collect();
                    for (i, &c) in chars.iter().enumerate() {
                        let next = chars.get(i + 1);
                        let must = match c {
                            '"' | '$' => true,
                            '\\' => next.is_none_or(|n| matches!(n, '"' | '\\' | '$')),
                            _ => false,
                        };
                        if must {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
                Style::Escaped => {
                    for c in text.chars() {
                        out.push('\\');
                        out.push(c);
                    }
                }
                Style::Bare => out.push_str(text),
            }
        }
    }
}

/// The word a list of pieces stands for, or `None` when it is nothing but
/// unquoted expansions that came out empty (which makes no word at all).
fn expected_word(pieces: &[Piece]) -> Option<String> {
    let mut word = String::new();
    let mut exists = false;
    for piece in pieces {
        match piece {
            Piece::Text(text, _) => {
                word.push_str(text);
                exists = true;
            }
            Piece::Var(v, quoted) => {
                let value = VARS[*v].1.unwrap_or("");
                word.push_str(value);
                exists |= *quoted || !value.is_empty();
            }
        }
    }
    exists.then_some(word)
}

/// Whether two neighbouring tokens may be written with nothing between them
/// and still read back as two. `left_text` is how the left one was written.
fn may_touch(left: &Drawn, left_text: &str, right: &Drawn) -> bool {
    match (left, right) {
        // `2` glued to `>` would read as `2>`; `>` glued to `>` as `>>`,
        // `2>` glued to `&1` as `2>&1`: operators stay apart.
        (Drawn::Word(_), Drawn::Op(op)) => {
            left_text != "2"
                && matches!(
                    op,
                    Token::Pipe
                        | Token::Background
                        | Token::RedirectIn
                        | Token::RedirectOut
                        | Token::RedirectAppend
                )
        }
        (Drawn::Op(_), Drawn::Word(_)) => true,
        _ => false,
    }
}

/// A line that types out `tokens`, and the tokens it must read back as.
fn line_for(tokens: &[Drawn], seps: &[(bool, String)]) -> (String, Vec<Token>) {
    let mut line = String::new();
    let mut expected = Vec::new();
    let mut previous: Option<(&Drawn, String)> = None;
    for (i, token) in tokens.iter().enumerate() {
        let mut text = String::new();
        match token {
            Drawn::Word(pieces) => {
                let mut after_var = false;
                for piece in pieces {
                    write_piece(piece, after_var, &mut text);
                    after_var = matches!(piece, Piece::Var(_, false));
                }
                expected.extend(expected_word(pieces).map(Token::Word));
            }
            Drawn::Op(op) => {
                text = op.to_string();
                expected.push(op.clone());
            }
        }
        let (touch, blanks) = &seps[i % seps.len()];
        match &previous {
            Some((left, left_text)) if *touch && may_touch(left, left_text, token) => {}
            Some(_) => line.push_str(blanks),
            None => {}
        }
        // A word that reads as nothing must not glue its neighbours together.
        let vanishes = matches!(token, Drawn::Word(p) if expected_word(p).is_none());
        line.push_str(&text);
        if vanishes {
            line.push(' ');
        }
        previous = Some((token, text));
    }
    (line, expected)
}

fn separators() -> impl Strategy<Value = Vec<(bool, String)>> {
    prop::collection::vec((any::<bool>(), "[ \t\r\n]{1,3}"), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn typed_out_tokens_read_back_the_same(
        tokens in prop::collection::vec(drawn(), 0..8),
        seps in separators(),
        lead in "[ \t]{0,2}",
        trail in "[ \t]{0,2}",
    ) {
        let (line, expected) = line_for(&tokens, &seps);
        let line = format!("{lead}{line}{trail}");
        prop_assert_eq!(tokenize(&line, &lookup), Ok(expected), "line: {:?}", line);
    }

    #[test]
    fn two_greater_than_is_an_operator_only_at_the_start_of_a_word(
        before in "[a-z0-9]{1,3}|''|\"\"",
        file in "[a-z]{1,4}",
        append in any::<bool>(),
    ) {
        let op = if append { ">>" } else { ">" };
        let out = if append { Token::RedirectAppend } else { Token::RedirectOut };
        let line = format!("{before}2{op}{file}");
        let word = format!("{}2", before.trim_matches(['\'', '"']));
        prop_assert_eq!(
            tokenize(&line, &lookup),
            Ok(vec![Token::Word(word), out, Token::Word(file.clone())]),
            "line: {:?}", line
        );
        let line = format!("{before} 2>{file}");
        let before = before.trim_matches(['\'', '"']).to_string();
        prop_assert_eq!(
            tokenize(&line, &lookup),
            Ok(vec![Token::Word(before), Token::RedirectErr, Token::Word(file)]),
            "line: {:?}", line
        );
    }

    #[test]
    fn an_unclosed_quote_is_reported(
        tokens in prop::collection::vec(drawn(), 0..5),
        seps in separators(),
        quote in prop::sample::select(vec!['\'', '"']),
        rest in "[a-z $|>]{0,5}",
    ) {
        let (line, _) = line_for(&tokens, &seps);
        let line = format!("{line} {quote}{rest}");
        prop_assert_eq!(tokenize(&line, &lookup), Err(SyntaxError::UnterminatedQuote(quote)), "line: {:?}", line);
    }

    #[test]
    fn a_backslash_at_the_end_is_reported(
        tokens in prop::collection::vec(drawn(), 0..5),
        seps in separators(),
    ) {
        let (line, _) = line_for(&tokens, &seps);
        let line = format!("{line} \\");
        prop_assert_eq!(tokenize(&line, &lookup), Err(SyntaxError::TrailingBackslash), "line: {:?}", line);
    }

    #[test]
    fn any_text_is_tokens_or_a_syntax_error_never_a_panic(
        line in prop_oneof![any::<String>(), "[ a2'\"\\\\$|&<>?1_\t]{0,24}"],
    ) {
        if let Ok(tokens) = tokenize(&line, &lookup) {
            // Every token came from somewhere: the line is not all blanks.
            let blank = line.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
            prop_assert!(tokens.is_empty() || !blank, "tokens {:?} from the blank line {:?}", tokens, line);
            let _ = parse(tokens, &line);
        }
    }
}
