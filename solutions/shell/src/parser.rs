//! Given: from tokens to a job (a pipeline of commands, each with its
//! redirections), the structure the rest of the shell runs.
//!
//! The grammar, in the notation of the POSIX standard:
//!
//! ```text
//! job      := pipeline [ '&' ]
//! pipeline := command ( '|' command )*
//! command  := ( WORD | redirect )+          (at least one WORD)
//! redirect := '<' WORD | '>' WORD | '>>' WORD | '2>' WORD | '2>&1'
//! ```
//!
//! Redirections may appear anywhere among a command's words
//! (`> out echo hi` is `echo hi > out`); they are kept in the order written,
//! because that order matters: `cmd > f 2>&1` sends both outputs to `f`,
//! `cmd 2>&1 > f` sends only standard output there.

use crate::lexer::{SyntaxError, Token};

// ANCHOR: redirect
/// One redirection of a command, applied in the child before exec (or
/// around a builtin), in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `< file`: standard input from `file` (opened read-only).
    Input(String),
    /// `> file`: standard output to `file` (created or truncated).
    Output(String),
    /// `>> file`: standard output appended to `file` (created if missing).
    Append(String),
    /// `2> file`: standard error to `file` (created or truncated).
    Error(String),
    /// `2>&1`: standard error becomes a copy of standard output, as it is
    /// at this point of the list.
    ErrorToOutput,
}
// ANCHOR_END: redirect

// ANCHOR: command
/// One simple command: a program (or builtin) with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// The program name then its arguments; never empty after parsing.
    pub argv: Vec<String>,
    /// Its redirections, in the order written.
    pub redirects: Vec<Redirect>,
}

/// What one line asks for: a pipeline of one or more commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The commands, left to right; the output of each feeds the next.
    pub commands: Vec<Command>,
    /// Whether the line ended with `&` (do not wait for the job).
    pub background: bool,
    /// The line as typed, trimmed (shown by `jobs`, `fg` and `bg`).
    pub text: String,
}
// ANCHOR_END: command

/// Builds a job from `tokens` (the tokens of `text`). An empty line (no
/// tokens) is `Ok(None)`.
///
/// Errors: an operator where a command should start (`| wc`, `ls | | wc`,
/// `&` alone, `ls & wc`) is [`SyntaxError::UnexpectedToken`]; a redirection
/// without its file name is [`SyntaxError::MissingRedirectTarget`]; `ls |`
/// is [`SyntaxError::TrailingPipe`].
pub fn parse(tokens: Vec<Token>, text: &str) -> Result<Option<Job>, SyntaxError> {
    if tokens.is_empty() {
        return Ok(None);
    }
    let mut commands = Vec::new();
    let mut current = Command::default();
    let mut background = false;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        if background {
            // Nothing may follow the `&`.
            return Err(SyntaxError::UnexpectedToken(token));
        }
        match token {
            Token::Word(word) => current.argv.push(word),
            Token::Pipe | Token::Background => {
                if current.argv.is_empty() {
                    return Err(SyntaxError::UnexpectedToken(token));
                }
                commands.push(std::mem::take(&mut current));
                if token == Token::Background {
                    background = true;
                } else if tokens.peek().is_none() {
                    return Err(SyntaxError::TrailingPipe);
                }
            }
            Token::ErrToOut => current.redirects.push(Redirect::ErrorToOutput),
            op @ (Token::RedirectIn
            | Token::RedirectOut
            | Token::RedirectAppend
            | Token::RedirectErr) => {
                let Some(Token::Word(target)) = tokens.next() else {
                    return Err(SyntaxError::MissingRedirectTarget(op));
                };
                current.redirects.push(match op {
                    Token::RedirectIn => Redirect::Input(target),
                    Token::RedirectOut => Redirect::Output(target),
                    Token::RedirectAppend => Redirect::Append(target),
                    _ => Redirect::Error(target),
                });
            }
        }
    }
    if !background {
        if current.argv.is_empty() {
            // Only redirections (`> f`): sh would create the file and run
            // nothing; this shell asks for a command.
            return Err(SyntaxError::UnexpectedToken(
                tokens_of(&current).unwrap_or(Token::Pipe),
            ));
        }
        commands.push(current);
    }
    Ok(Some(Job {
        commands,
        background,
        text: text.trim().to_string(),
    }))
}

/// The first redirection of a command without words, as a token, for the error message.
fn tokens_of(command: &Command) -> Option<Token> {
    command.redirects.first().map(|r| match r {
        Redirect::Input(_) => Token::RedirectIn,
        Redirect::Output(_) => Token::RedirectOut,
        Redirect::Append(_) => Token::RedirectAppend,
        Redirect::Error(_) => Token::RedirectErr,
        Redirect::ErrorToOutput => Token::ErrToOut,
    })
}
