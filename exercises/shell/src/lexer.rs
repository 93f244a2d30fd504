//! Stage 1: from a line of text to a list of tokens.
//!
//! The rules are those of the POSIX shell, cut down:
//!
//! - blanks (spaces and tabs) separate words; a word may be made of several
//!   quoted and unquoted pieces glued together (`a'b c'"d"` is one word, `ab cd`);
//! - inside single quotes every character is literal, up to the next `'`;
//! - inside double quotes a backslash escapes only `"`, `\` and `$` (before any
//!   other character it stays a backslash), and `$NAME` / `$?` are expanded;
//! - outside quotes a backslash makes the next character literal;
//! - `|`, `&`, `<`, `>`, `>>`, `2>` and `2>&1` are operators when unquoted
//!   (`2>` and `2>&1` only at the start of a word: `a2>f` is the word `a2`
//!   then `>`), and need no blanks around them;
//! - `$NAME` (a letter or `_`, then letters, digits and `_`) and `$?` are
//!   replaced by what `lookup` returns for `NAME` or `?` (nothing if `None`);
//!   a `$` followed by anything else is a literal `$`.
//!
//! One difference from `sh`, on purpose: the value of `$NAME` is never split
//! into several words, nor matched against file names. `X="a b"; ls $X`
//! passes one argument `a b` here, two in `sh`. An unquoted expansion that
//! is empty, with nothing else in its word, makes no word at all (as in `sh`).

use std::fmt;

// ANCHOR: token
/// One token of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word, with its quotes and escapes removed and `$` expanded.
    Word(String),
    /// `|`: connects the output of one command to the input of the next.
    Pipe,
    /// `&`: runs the job in the background.
    Background,
    /// `<`: the next word is the file to read standard input from.
    RedirectIn,
    /// `>`: the next word is the file to write standard output to (truncated).
    RedirectOut,
    /// `>>`: the next word is the file to append standard output to.
    RedirectAppend,
    /// `2>`: the next word is the file to write standard error to (truncated).
    RedirectErr,
    /// `2>&1`: standard error goes where standard output goes at this point.
    ErrToOut,
}
// ANCHOR_END: token

impl fmt::Display for Token {
    /// Writes the token as it would be typed (a word unquoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(word) => f.write_str(word),
            Token::Pipe => f.write_str("|"),
            Token::Background => f.write_str("&"),
            Token::RedirectIn => f.write_str("<"),
            Token::RedirectOut => f.write_str(">"),
            Token::RedirectAppend => f.write_str(">>"),
            Token::RedirectErr => f.write_str("2>"),
            Token::ErrToOut => f.write_str("2>&1"),
        }
    }
}

// ANCHOR: syntax_error
/// Why a line cannot be run. The shell prints it as `osh: <message>`, sets
/// `$?` to 2 and reads the next line: a typo never kills the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    /// A `'` or `"` that is never closed; holds the quote character.
    UnterminatedQuote(char),
    /// A backslash at the very end of the line, with nothing to escape.
    TrailingBackslash,
    /// An operator where a command should start (`| ls`, `ls | | wc`, `& ls`).
    UnexpectedToken(Token),
    /// A redirection operator without a file name after it (`ls >`); holds
    /// the operator.
    MissingRedirectTarget(Token),
    /// A pipeline that ends with `|` (`ls |`).
    TrailingPipe,
}
// ANCHOR_END: syntax_error

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::UnterminatedQuote('\'') => {
                f.write_str("syntax error: unterminated single quote")
            }
            SyntaxError::UnterminatedQuote(_) => {
                f.write_str("syntax error: unterminated double quote")
            }
            SyntaxError::TrailingBackslash => {
                f.write_str("syntax error: nothing to escape after `\\` at the end of the line")
            }
            SyntaxError::UnexpectedToken(token) => {
                write!(f, "syntax error near unexpected `{token}`")
            }
            SyntaxError::MissingRedirectTarget(op) => {
                write!(f, "syntax error: `{op}` needs a file name after it")
            }
            SyntaxError::TrailingPipe => {
                f.write_str("syntax error: a pipeline cannot end with `|`")
            }
        }
    }
}

impl std::error::Error for SyntaxError {}

/// Whether `c` may start a variable name (`$NAME`).
pub fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// Whether `c` may continue a variable name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `c` separates words.
pub fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// ANCHOR: tokenize
/// Splits `line` into tokens (see the module documentation for the rules),
/// expanding `$NAME` and `$?` with `lookup` (`lookup("HOME")`,
/// `lookup("?")`; `None` expands to nothing).
///
/// ```
/// # use shell::{tokenize, Token};
/// let lookup = |name: &str| (name == "?").then(|| "0".to_string());
/// let tokens = tokenize(r#"echo 'a  b'"$?" x\ y|wc>out"#, &lookup).unwrap();
/// assert_eq!(tokens, [
///     Token::Word("echo".into()), Token::Word("a  b0".into()),
///     Token::Word("x y".into()), Token::Pipe,
///     Token::Word("wc".into()), Token::RedirectOut, Token::Word("out".into()),
/// ]);
/// ```
pub fn tokenize(
    line: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Token>, SyntaxError> {
    let _ = lookup;
    todo!("stage 1: split {line:?} into words and operators")
}
// ANCHOR_END: tokenize
