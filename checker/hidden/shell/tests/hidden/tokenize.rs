//! Stage 1: tokenizing a command line.

use learner::{SyntaxError, Token, tokenize};

use crate::OSH;

fn word(text: &str) -> Token {
    Token::Word(text.to_string())
}

/// Variables the tests expand: `$X` is `two words`, `$?` is `7`, `$EMPTY`
/// is empty, anything else is unset.
fn lookup(name: &str) -> Option<String> {
    match name {
        "X" => Some("two words".to_string()),
        "?" => Some("7".to_string()),
        "EMPTY" => Some(String::new()),
        "HOME" => Some("/home/me".to_string()),
        _ => None,
    }
}

#[track_caller]
fn expect_tokens(line: &str, expected: &[Token]) {
    let actual = tokenize(line, &lookup);
    assert_eq!(
        actual.as_deref(),
        Ok(expected),
        "tokenize({line:?}) (with X = \"two words\", ? = 7, EMPTY = \"\")"
    );
}

// Catches: empty words from repeated or leading/trailing blanks, tabs not treated as blanks.
#[test]
fn blanks_separate_words() {
    expect_tokens("ls", &[word("ls")]);
    expect_tokens("  ls   -l\t/tmp  ", &[word("ls"), word("-l"), word("/tmp")]);
    expect_tokens("", &[]);
    expect_tokens(" \t ", &[]);
}

// Catches: expanding `$` or interpreting backslashes and double quotes inside single quotes.
#[test]
fn single_quotes_are_literal() {
    expect_tokens(
        r#"echo 'a  $HOME \n "b" | > &'"#,
        &[word("echo"), word(r#"a  $HOME \n "b" | > &"#)],
    );
}

// Catches: a backslash in double quotes escaping every character, or `$` not expanded there.
#[test]
fn double_quotes_escape_only_some_characters() {
    expect_tokens(
        r#"echo "a \"b\" \\ \$X $X \n | >""#,
        &[word("echo"), word(r#"a "b" \ $X two words \n | >"#)],
    );
}

// Catches: quotes not removed, or a word split where a quoted piece begins or ends.
#[test]
fn quoted_and_unquoted_pieces_join_into_one_word() {
    expect_tokens(r#"a'b c'"d e"f"#, &[word("ab cd ef")]);
    expect_tokens(r#"'it'\''s'"#, &[word("it's")]);
}

// Catches: dropping empty quoted arguments (`''` and `""` are real, empty words).
#[test]
fn empty_quotes_make_empty_words() {
    expect_tokens(
        r#"printf '%s|' '' "" x"#,
        &[word("printf"), word("%s|"), word(""), word(""), word("x")],
    );
}

// Catches: a backslash outside quotes kept in the word, or an escaped operator still an operator.
#[test]
fn backslash_escapes_outside_quotes() {
    expect_tokens(
        r"a\ b \| \> \' \\",
        &[word("a b"), word("|"), word(">"), word("'"), word("\\")],
    );
    assert_eq!(
        tokenize("echo \\", &lookup),
        Err(SyntaxError::TrailingBackslash),
        "a backslash at the very end of the line has nothing to escape"
    );
}

// Catches: operators recognised only between blanks, or inside quotes; `2>` taken inside a word.
#[test]
fn operators_need_no_blanks_and_only_count_unquoted() {
    expect_tokens(
        "a|b>c>>d<e 2>f 2>&1&",
        &[
            word("a"),
            Token::Pipe,
            word("b"),
            Token::RedirectOut,
            word("c"),
            Token::RedirectAppend,
            word("d"),
            Token::RedirectIn,
            word("e"),
            Token::RedirectErr,
            word("f"),
            Token::ErrToOut,
            Token::Background,
        ],
    );
    expect_tokens(
        "echo a2>f",
        &[word("echo"), word("a2"), Token::RedirectOut, word("f")],
    );
    expect_tokens(
        "echo 2 > f",
        &[word("echo"), word("2"), Token::RedirectOut, word("f")],
    );
    expect_tokens(
        r#"echo '|' ">" '&' "2>&1""#,
        &[word("echo"), word("|"), word(">"), word("&"), word("2>&1")],
    );
}

// Catches: `$NAME` / `$?` not expanded, an expansion split into words, an empty unquoted expansion left as an empty word.
#[test]
fn dollar_expansions() {
    expect_tokens("echo $X", &[word("echo"), word("two words")]);
    expect_tokens(
        "echo $?x $X.y",
        &[word("echo"), word("7x"), word("two words.y")],
    );
    expect_tokens("echo $NOPE a", &[word("echo"), word("a")]);
    expect_tokens("echo $EMPTY", &[word("echo")]);
    expect_tokens(r#"echo "$NOPE""#, &[word("echo"), word("")]);
    expect_tokens(
        "echo a$ $ 5$",
        &[word("echo"), word("a$"), word("$"), word("5$")],
    );
    expect_tokens("echo $HOME_DIR$HOME", &[word("echo"), word("/home/me")]);
}

// Catches: an unterminated quote silently closed at the end of the line, or reported as the wrong quote.
#[test]
fn unterminated_quotes_are_errors() {
    for (line, quote) in [
        ("echo 'abc", '\''),
        ("echo \"abc", '"'),
        ("echo \"it's", '"'),
        ("echo 'say \"hi\"", '\''),
        ("echo \"a\\\"", '"'),
    ] {
        let result = tokenize(line, &lookup);
        assert_eq!(
            result,
            Err(SyntaxError::UnterminatedQuote(quote)),
            "tokenize({line:?}): the {quote} quote is never closed"
        );
        let message = result.unwrap_err().to_string();
        assert!(
            !message.is_empty(),
            "the error for {line:?} displays as an empty message"
        );
    }
}

// Catches: an unterminated quote that kills the shell (a panic, an exit) instead of an error and the next line.
#[test]
fn unterminated_quote_does_not_kill_the_shell() {
    // Only syntax errors: nothing here needs stage 2 to run a program.
    let script = "echo 'oops\necho \"again\n  \necho ok\\\n";
    let osh = hidden_shell::run_script(OSH, script);
    let messages = osh.stderr.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        osh.status == 2 && messages == 3 && osh.stdout.is_empty(),
        "the script\n{}\nhas a syntax error on each of its three non-blank lines: the shell \
         should print one message per line on standard error, read on, and exit with status \
         2 (the status of a syntax error, left in `$?`). It exited with status {} and printed \
         {messages} line(s) on standard error:\n{}",
        hidden_shell::indent(script),
        osh.status,
        hidden_shell::indent(&osh.stderr)
    );
}
