//! The `tokenizer` target: random lines through `shell_solution::tokenize`
//! and a reference lexer written from the rules in the lexer's module
//! documentation, then through `parse`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use shell_solution::{SyntaxError, Token, parse, tokenize};

use crate::runner::{Tally, panic_message};

/// How the lines fell, for the report.
static SEEN: Tally<3> = Tally::new(["tokens", "syntax error", "parsed to a job"]);

/// A line for the report: how the lines tried so far fell.
pub(crate) fn stats() -> String {
    format!("lines: {}", SEEN.summary())
}

/// The variables a line may expand (`UNSET` is not set).
const VARS: [(&str, &str); 4] = [
    ("A", "apple"),
    ("V_2", "two words"),
    ("EMPTY", ""),
    ("?", "0"),
];

fn lookup(name: &str) -> Option<String> {
    VARS.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// Characters that mean something to the lexer, and a few that do not.
const ALPHABET: &[char] = &[
    ' ', '\t', '\n', '\'', '"', '\\', '$', '|', '&', '<', '>', '2', '1', '?', 'A', 'V', '_', 'E',
    'M', 'P', 'T', 'Y', 'a', 'x', '#', 'é', '\u{0}',
];

/// A line for case `seed`: mostly short lines of meaningful characters and
/// fragments, sometimes arbitrary bytes read as UTF-8, sometimes long.
fn line(rng: &mut fastrand::Rng) -> String {
    const FRAGMENTS: &[&str] = &[
        "2>", "2>&1", ">>", "$A", "$V_2", "$EMPTY", "$UNSET", "$?", "\"$A\"", "''", "\"\"", "\\\\",
        "\\\"", "\\$", "'a b'", "\"a\\b\"", "echo", " | ", " & ", "2>&", "$", "a2>",
    ];
    let len = match rng.u8(..100) {
        0..=89 => rng.usize(0..=24),
        90..=97 => rng.usize(0..=200),
        _ => rng.usize(0..=4096),
    };
    match rng.u8(..10) {
        0..=1 => {
            let bytes: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        2..=5 => (0..len)
            .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
            .collect(),
        _ => {
            let mut s = String::new();
            while s.len() < len {
                if rng.bool() {
                    s.push_str(FRAGMENTS[rng.usize(..FRAGMENTS.len())]);
                } else {
                    s.push(ALPHABET[rng.usize(..ALPHABET.len())]);
                }
            }
            s
        }
    }
}

/// The reference lexer: the rules of `shell_solution::lexer`, one by one,
/// over a vector of characters with an explicit position.
fn reference(line: &str) -> Result<Vec<Token>, SyntaxError> {
    let s: Vec<char> = line.chars().collect();
    let at = |i: usize| s.get(i).copied();
    let mut out = Vec::new();
    let mut word = String::new();
    // Whether the current word has begun: a character, a quote, or an
    // expansion that produced something (a literal `$` counts).
    let mut begun = false;
    let mut i = 0;
    // `$` at `s[i]`: the expansion's text (`None` for an unset or empty
    // variable) and the position after it.
    let dollar = |i: usize| -> (Option<String>, usize) {
        match at(i + 1) {
            Some('?') => (lookup("?"), i + 2),
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while at(j).is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                    j += 1;
                }
                (lookup(&s[i + 1..j].iter().collect::<String>()), j)
            }
            _ => (Some("$".into()), i + 1),
        }
    };
    while i < s.len() {
        let c = s[i];
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if begun {
                out.push(Token::Word(std::mem::take(&mut word)));
                begun = false;
            }
            i += 1;
        } else if c == '\'' {
            let Some(close) = s[i + 1..].iter().position(|&c| c == '\'') else {
                return Err(SyntaxError::UnterminatedQuote('\''));
            };
            word.extend(&s[i + 1..i + 1 + close]);
            begun = true;
            i += close + 2;
        } else if c == '"' {
            begun = true;
            i += 1;
            loop {
                match at(i) {
                    None => return Err(SyntaxError::UnterminatedQuote('"')),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') if matches!(at(i + 1), Some('"' | '\\' | '$')) => {
                        word.push(s[i + 1]);
                        i += 2;
                    }
                    Some('$') => {
                        let (value, next) = dollar(i);
                        word.push_str(&value.unwrap_or_default());
                        i = next;
                    }
                    Some(c) => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
        } else if c == '\\' {
            let Some(next) = at(i + 1) else {
                return Err(SyntaxError::TrailingBackslash);
            };
            word.push(next);
            begun = true;
            i += 2;
        } else if c == '$' {
            let (value, next) = dollar(i);
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                word.push_str(&v);
                begun = true;
            }
            i = next;
        } else if matches!(c, '|' | '&' | '<' | '>')
            || (c == '2' && !begun && at(i + 1) == Some('>'))
        {
            if begun && c != '2' {
                out.push(Token::Word(std::mem::take(&mut word)));
                begun = false;
            }
            let rest: String = s[i..s.len().min(i + 4)].iter().collect();
            let (token, len) = if rest.starts_with("2>&1") {
                (Token::ErrToOut, 4)
            } else if rest.starts_with("2>") {
                (Token::RedirectErr, 2)
            } else if rest.starts_with(">>") {
                (Token::RedirectAppend, 2)
            } else {
                let token = match c {
                    '|' => Token::Pipe,
                    '&' => Token::Background,
                    '<' => Token::RedirectIn,
                    _ => Token::RedirectOut,
                };
                (token, 1)
            };
            out.push(token);
            i += len;
        } else {
            word.push(c);
            begun = true;
            i += 1;
        }
    }
    if begun {
        out.push(Token::Word(word));
    }
    Ok(out)
}

/// One case: the line for `seed` must tokenize without panicking, exactly
/// as the reference lexer does, and its tokens must parse without panicking.
pub(crate) fn case(seed: u64, verbose: bool) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let line = line(&mut rng);
    if verbose {
        println!("line: {line:?}");
    }
    let got = catch_unwind(AssertUnwindSafe(|| tokenize(&line, &lookup)))
        .map_err(|p| format!("tokenize panicked on {line:?}: {}", panic_message(&*p)))?;
    let expected = reference(&line);
    if verbose {
        println!("tokenize:  {got:?}\nreference: {expected:?}");
    }
    if got != expected {
        return Err(format!(
            "tokenize and the reference lexer disagree on {line:?}\n  tokenize:  {got:?}\n  reference: {expected:?}"
        ));
    }
    SEEN.add(if got.is_ok() { 0 } else { 1 });
    if let Ok(tokens) = got {
        let parsed = catch_unwind(AssertUnwindSafe(|| parse(tokens, &line))).map_err(|p| {
            format!(
                "parse panicked on the tokens of {line:?}: {}",
                panic_message(&*p)
            )
        })?;
        if verbose {
            println!("parse: {parsed:?}");
        }
        if matches!(parsed, Ok(Some(_))) {
            SEEN.add(2);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str) -> Token {
        Token::Word(s.into())
    }

    #[test]
    fn the_reference_follows_the_documented_rules() {
        use Token::*;
        let cases: &[(&str, Result<Vec<Token>, SyntaxError>)] = &[
            (
                r#"echo 'a  b'"$?" x\ y|wc>out"#,
                Ok(vec![
                    word("echo"),
                    word("a  b0"),
                    word("x y"),
                    Pipe,
                    word("wc"),
                    RedirectOut,
                    word("out"),
                ]),
            ),
            (
                "a2>f 2>&1 2>>g",
                Ok(vec![
                    word("a2"),
                    RedirectOut,
                    word("f"),
                    ErrToOut,
                    RedirectErr,
                    RedirectOut,
                    word("g"),
                ]),
            ),
            ("$EMPTY $UNSET '' \"$EMPTY\"", Ok(vec![word(""), word("")])),
            (
                "\"a\\b\\$A\" $A$ $1",
                Ok(vec![word("a\\b$A"), word("apple$"), word("$1")]),
            ),
            ("echo 'open", Err(SyntaxError::UnterminatedQuote('\''))),
            ("echo \"open\\\"", Err(SyntaxError::UnterminatedQuote('"'))),
            ("echo \\", Err(SyntaxError::TrailingBackslash)),
        ];
        for (line, expected) in cases {
            assert_eq!(&reference(line), expected, "reference({line:?})");
            assert_eq!(&tokenize(line, &lookup), expected, "tokenize({line:?})");
        }
    }
}
