//! How mdBook reads a page, as far as the course needs it: fenced code
//! blocks, ATX headings and the ids mdBook gives them. `checker dev check`
//! and the book's tests (`checker/tests/book.rs`) share these, so a stage's
//! `section` is checked against the same ids the book test computes.

/// mdBook's heading id: lowercase, alphanumerics kept, spaces to dashes.
pub fn slug(heading: &str) -> String {
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

/// A fenced code block of a page.
#[derive(Debug)]
pub struct Block<'a> {
    /// The 1-based line of its opening fence.
    pub line: usize,
    /// Its info string (`rust,ignore`, `console`, or empty).
    pub info: &'a str,
    /// Its lines, each with its 1-based line number.
    pub lines: Vec<(usize, &'a str)>,
}

/// Splits a page into its prose lines (numbered, outside fenced code blocks)
/// and its fenced code blocks, as CommonMark does: a fence is three or more
/// backticks or tildes, closed by a run of the same character at least as
/// long. An unclosed block runs to the end of the page.
pub fn scan(text: &str) -> (Vec<(usize, &str)>, Vec<Block<'_>>) {
    let mut prose = Vec::new();
    let mut blocks = Vec::new();
    // The open block and its fence (character, length).
    let mut open: Option<(Block<'_>, char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let trimmed = line.trim_start();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match &mut open {
            Some((block, c, len)) => {
                if fence_char == Some(*c) && run >= *len && trimmed[run..].trim().is_empty() {
                    blocks.push(open.take().unwrap().0);
                } else {
                    block.lines.push((number, line));
                }
            }
            None if run >= 3 => {
                let c = fence_char.unwrap();
                let info = trimmed[run..].trim();
                if c == '`' && info.contains('`') {
                    // ```inline code``` on one line, not a fence.
                    prose.push((number, line));
                    continue;
                }
                let block = Block {
                    line: number,
                    info,
                    lines: Vec::new(),
                };
                open = Some((block, c, run));
            }
            None => prose.push((number, line)),
        }
    }
    if let Some((block, _, _)) = open {
        blocks.push(block);
    }
    (prose, blocks)
}

/// The lines of a page outside fenced code blocks.
pub fn prose_lines(text: &str) -> Vec<&str> {
    scan(text).0.into_iter().map(|(_, line)| line).collect()
}

/// The ATX headings of a page outside code blocks: (line, level, title).
pub fn headings(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    for (number, line) in scan(text).0 {
        let level = line.chars().take_while(|c| *c == '#').count();
        if level == 0 || level > 6 {
            continue;
        }
        let title = &line[level..];
        if !title.starts_with(' ') {
            continue;
        }
        found.push((number, level, title.trim()));
    }
    found
}

/// The ids mdBook gives a page's headings (a repeated heading gets `-1`,
/// `-2`, ... after the first).
pub fn heading_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, _, title) in headings(text) {
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
