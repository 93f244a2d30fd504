//! Stage 1 visible tests: `tokenize` splits a command line into words and
//! operators, removes quotes and backslashes, expands `$NAME` and `$?`, and
//! reports an unterminated quote or a trailing backslash as an error.
//!
//! These tests call the library directly; no process is started.
//! Run only this stage with `cargo test -p shell --test stage1_tokenize`.

use rstest::rstest;
use shell::{SyntaxError, Token, tokenize};

/// The variables the tests' command lines may use.
fn lookup(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/ada".to_string()),
        "?" => Some("42".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn tokens(line: &str) -> Vec<Token> {
    match tokenize(line, &lookup) {
        Ok(tokens) => tokens,
        Err(err) => panic!("tokenize({line:?}) returned the error {err:?}, expected tokens"),
    }
}

fn words(list: &[&str]) -> Vec<Token> {
    list.iter().map(|w| Token::Word(w.to_string())).collect()
}

fn w(word: &str) -> Token {
    Token::Word(word.to_string())
}

#[rstest]
#[case::one_word("ls", &["ls"])]
#[case::spaces("ls -l /tmp", &["ls", "-l", "/tmp"])]
#[case::runs_of_blanks_and_tabs("  ls \t -l   /tmp  ", &["ls", "-l", "/tmp"])]
#[case::empty_line("", &[])]
#[case::only_blanks(" \t ", &[])]
fn blanks_separate_words(#[case] line: &str, #[case] expected: &[&str]) {
    assert_eq!(
        tokens(line),
        words(expected),
        "tokenize({line:?}): blanks separate words and are not part of any"
    );
}

#[rstest]
#[case::single_quotes_keep_blanks("echo 'a  b'", &["echo", "a  b"])]
#[case::double_quotes_keep_blanks(r#"echo "a  b""#, &["echo", "a  b"])]
#[case::pieces_glue_into_one_word(r#"echo a'b c'"d""#, &["echo", "ab cd"])]
#[case::empty_quotes_are_an_empty_word("echo '' x", &["echo", "", "x"])]
#[case::backslash_escapes_a_blank(r"echo x\ y", &["echo", "x y"])]
#[case::backslash_escapes_a_quote(r"echo \'", &["echo", "'"])]
#[case::nothing_special_in_single_quotes(r#"echo '\n "$HOME" \'"#, &["echo", r#"\n "$HOME" \"#])]
#[case::escaped_quote_in_double_quotes(r#"echo "a\"b""#, &["echo", "a\"b"])]
#[case::other_backslashes_stay_in_double_quotes(r#"echo "a\b""#, &["echo", r"a\b"])]
#[case::each_quote_inside_the_other(r#"echo "it's" '"hi"'"#, &["echo", "it's", "\"hi\""])]
fn quotes_and_backslashes(#[case] line: &str, #[case] expected: &[&str]) {
    assert_eq!(
        tokens(line),
        words(expected),
        "tokenize({line:?}): quotes and backslashes are removed, what they protect is kept"
    );
}

#[rstest]
#[case::pipe("ls|wc -l", vec![w("ls"), Token::Pipe, w("wc"), w("-l")])]
#[case::output("echo hi>out", vec![w("echo"), w("hi"), Token::RedirectOut, w("out")])]
#[case::append("echo hi >> log", vec![w("echo"), w("hi"), Token::RedirectAppend, w("log")])]
#[case::input("sort<in", vec![w("sort"), Token::RedirectIn, w("in")])]
#[case::background("sleep 1&", vec![w("sleep"), w("1"), Token::Background])]
#[case::stderr("ls 2>err", vec![w("ls"), Token::RedirectErr, w("err")])]
#[case::stderr_to_stdout("ls >f 2>&1", vec![w("ls"), Token::RedirectOut, w("f"), Token::ErrToOut])]
#[case::two_inside_a_word("echo a2>f", vec![w("echo"), w("a2"), Token::RedirectOut, w("f")])]
#[case::quoted_operators_are_words(r#"echo '|' ">" \&"#, vec![w("echo"), w("|"), w(">"), w("&")])]
fn operators_need_no_blanks(#[case] line: &str, #[case] expected: Vec<Token>) {
    assert_eq!(
        tokens(line),
        expected,
        "tokenize({line:?}): unquoted `|`, `&`, `<`, `>`, `>>`, `2>` and `2>&1` are \
         operators, blanks or not"
    );
}

#[rstest]
#[case::a_variable("echo $HOME", &["echo", "/home/ada"])]
#[case::the_last_status("echo $?", &["echo", "42"])]
#[case::glued_to_text("echo $HOME/x.txt", &["echo", "/home/ada/x.txt"])]
#[case::inside_double_quotes(r#"echo "[$HOME] $?""#, &["echo", "[/home/ada] 42"])]
#[case::not_inside_single_quotes("echo '$HOME'", &["echo", "$HOME"])]
#[case::not_after_a_backslash(r"echo \$HOME", &["echo", "$HOME"])]
#[case::a_name_runs_to_the_first_non_name_character(r#"echo "$HOME_DIR" $HOME-1"#, &["echo", "", "/home/ada-1"])]
#[case::unset_alone_is_no_word("echo $UNSET x", &["echo", "x"])]
#[case::empty_alone_is_no_word("echo $EMPTY", &["echo"])]
#[case::a_lone_dollar_is_literal("echo $ 5$", &["echo", "$", "5$"])]
fn dollar_expansion(#[case] line: &str, #[case] expected: &[&str]) {
    assert_eq!(
        tokens(line),
        words(expected),
        "tokenize({line:?}) with HOME=/home/ada, ?=42, EMPTY=\"\" and nothing else set"
    );
}

#[test]
fn an_expansion_is_never_split_or_reparsed() {
    let lookup = |name: &str| (name == "X").then(|| "a b | c".to_string());
    assert_eq!(
        tokenize("echo $X", &lookup),
        Ok(words(&["echo", "a b | c"])),
        "the value of $X is one word, even with blanks and `|` in it: expansion happens \
         after the line is split, not before"
    );
}

#[rstest]
#[case::single_quote("echo 'abc", SyntaxError::UnterminatedQuote('\''))]
#[case::double_quote(r#"echo "abc"#, SyntaxError::UnterminatedQuote('"'))]
#[case::quote_of_the_other_kind_inside(r#"echo "it's"#, SyntaxError::UnterminatedQuote('"'))]
#[case::trailing_backslash(r"echo abc\", SyntaxError::TrailingBackslash)]
fn malformed_lines_are_errors_not_panics(#[case] line: &str, #[case] expected: SyntaxError) {
    let result = std::panic::catch_unwind(|| tokenize(line, &lookup));
    match result {
        Ok(result) => assert_eq!(
            result,
            Err(expected),
            "tokenize({line:?}) should return an error (the shell prints it and reads the \
             next line)"
        ),
        Err(_) => panic!(
            "tokenize({line:?}) panicked; it should return Err(..) so that the shell can \
             report the mistake and keep running"
        ),
    }
}
