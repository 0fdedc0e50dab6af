//! Reading terminal control sequences; trust level: input is untrusted: scap's
//! output, including the output of the code it deploys.
//!
//! Three views of a line serve the redactor: [`strip`] (the characters a terminal
//! prints, without escapes or controls), [`render`] (the line as a terminal would
//! leave it after `\r`, backspace and cursor movements within the line) and
//! [`sanitize`] (what SpiderPig shows: printable text and colours only).

use crate::text::is_invisible_format;

/// Widest column a cursor movement can reach in [`render`]; wider than any browser
/// terminal, so placing text beyond it cannot assemble anything a viewer would see.
const MAX_COLUMN: usize = 4096;

/// One piece of terminal input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A character the terminal prints.
    Print(char),
    /// A C0 or C1 control character on its own.
    Control(char),
    /// A control sequence: its parameter bytes and its final character.
    Csi {
        params: &'a str,
        intermediates: &'a str,
        final_char: char,
    },
    /// ESC followed by a final character (e.g. `ESC 7`, save cursor).
    Escape(char),
    /// A string sequence (OSC, DCS, SOS, PM, APC) or a broken escape: no effect on
    /// the text. The payload is kept out of every view.
    Ignored,
}

struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// Consumes the run of printable ASCII characters at the cursor (each
    /// would be a [`Token::Print`] of a visible character); may be empty.
    fn ascii_run(&mut self) -> &'a str {
        let rest = &self.text.as_bytes()[self.pos..];
        let n = rest
            .iter()
            .position(|b| !(0x20..0x7f).contains(b))
            .unwrap_or(rest.len());
        let run = &self.text[self.pos..self.pos + n];
        self.pos += n;
        run
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes characters while `pred` holds; returns them.
    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn csi(&mut self) -> Token<'a> {
        let params = self.take_while(|c| ('\u{30}'..='\u{3f}').contains(&c));
        let intermediates = self.take_while(|c| ('\u{20}'..='\u{2f}').contains(&c));
        match self.peek() {
            Some(c @ '\u{40}'..='\u{7e}') => {
                self.bump();
                Token::Csi {
                    params,
                    intermediates,
                    final_char: c,
                }
            }
            // A parameter byte after an intermediate: like xterm, ignore everything up
            // to and including the final byte.
            Some('\u{30}'..='\u{3f}') => {
                self.take_while(|c| ('\u{20}'..='\u{3f}').contains(&c));
                if self
                    .peek()
                    .is_some_and(|c| ('\u{40}'..='\u{7e}').contains(&c))
                {
                    self.bump();
                }
                Token::Ignored
            }
            // Any other character breaks the sequence and is read on its own.
            _ => Token::Ignored,
        }
    }

    /// Skips a string sequence up to BEL, ST (`ESC \` or U+009C) or the end. An ESC
    /// that does not start ST ends the string and begins a new sequence.
    fn string(&mut self) -> Token<'a> {
        while let Some(c) = self.peek() {
            match c {
                '\u{7}' | '\u{9c}' => {
                    self.bump();
                    break;
                }
                '\u{1b}' => {
                    if self.text[self.pos..].starts_with("\u{1b}\\") {
                        self.pos += 2;
                    }
                    break;
                }
                _ => {
                    self.bump();
                }
            }
        }
        Token::Ignored
    }

    fn escape(&mut self) -> Token<'a> {
        match self.peek() {
            Some('[') => {
                self.bump();
                self.csi()
            }
            Some(']' | 'P' | 'X' | '^' | '_') => {
                self.bump();
                self.string()
            }
            Some('\u{20}'..='\u{7e}') => {
                self.take_while(|c| ('\u{20}'..='\u{2f}').contains(&c));
                match self.peek() {
                    Some(c @ '\u{30}'..='\u{7e}') => {
                        self.bump();
                        Token::Escape(c)
                    }
                    _ => Token::Ignored,
                }
            }
            _ => Token::Ignored,
        }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let c = self.bump()?;
        Some(match c {
            '\u{1b}' => self.escape(),
            '\u{9b}' => self.csi(),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => self.string(),
            c if c.is_control() => Token::Control(c),
            c => Token::Print(c),
        })
    }
}

/// Whether `text` holds anything but plain printable characters (so its views may
/// differ from it).
pub(super) fn has_controls(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || is_invisible_format(c))
}

/// The printed characters of `text`: escape sequences (7-bit and 8-bit forms), their
/// payloads, control characters (`\r`, BEL, backspace, tab...) and invisible format
/// characters removed.
pub fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut tokens = Tokens::new(text);
    loop {
        out.push_str(tokens.ascii_run());
        match tokens.next() {
            None => return out,
            Some(Token::Print(c)) if !is_invisible_format(c) => out.push(c),
            Some(_) => {}
        }
    }
}

/// What the redactor needs of a line with controls, from one reading of its
/// tokens.
pub(super) struct Views {
    /// [`strip`] of the line.
    pub stripped: String,
    /// [`sanitize`] of the line.
    pub sanitized: String,
    /// The line holds only printed characters and colour sequences (SGR,
    /// `ESC [ ... m`), which move no cursor: [`render`] of it is `stripped`
    /// without trailing whitespace.
    pub flat: bool,
}

/// [`strip`], [`sanitize`] and whether [`render`] can be skipped, in one pass.
pub(super) fn views(text: &str) -> Views {
    let mut v = Views {
        stripped: String::with_capacity(text.len()),
        sanitized: String::with_capacity(text.len()),
        flat: true,
    };
    let mut styled = false;
    let mut tokens = Tokens::new(text);
    loop {
        let run = tokens.ascii_run();
        v.stripped.push_str(run);
        v.sanitized.push_str(run);
        let Some(token) = tokens.next() else {
            end_style(&mut v.sanitized, styled);
            return v;
        };
        match token {
            Token::Print(c) => {
                if !is_invisible_format(c) {
                    v.stripped.push(c);
                    v.sanitized.push(c);
                }
            }
            Token::Csi {
                params,
                intermediates: "",
                final_char: 'm',
            } => styled |= push_sgr(&mut v.sanitized, params),
            Token::Control('\t') => {
                v.sanitized.push('\t');
                v.flat = false;
            }
            _ => v.flat = false,
        }
    }
}

/// `text` without control characters and invisible characters, but with the
/// payloads of escape sequences (such as an OSC 8 link's URL) left in place.
pub(super) fn without_controls(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .collect()
}

/// The line as a terminal would show it: printed characters placed at the cursor,
/// which `\r`, backspace, tab and cursor sequences move within the line; erase,
/// delete and insert sequences applied.
pub(super) fn render(text: &str) -> String {
    let mut screen = Screen::default();
    for token in Tokens::new(text) {
        match token {
            Token::Print(c) if !is_invisible_format(c) => screen.put(c),
            Token::Control('\r') => screen.col = 0,
            Token::Control('\u{8}') => screen.col = screen.col.saturating_sub(1),
            Token::Control('\t') => screen.move_to((screen.col / 8 + 1) * 8),
            Token::Csi {
                params,
                intermediates: "",
                final_char,
            } => screen.csi(params, final_char),
            Token::Escape('7') => screen.saved = screen.col,
            Token::Escape('8') => screen.col = screen.saved,
            _ => {}
        }
    }
    screen
        .cells
        .into_iter()
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[derive(Default)]
struct Screen {
    cells: Vec<char>,
    col: usize,
    saved: usize,
}

impl Screen {
    fn put(&mut self, c: char) {
        self.pad_to(self.col + 1);
        self.cells[self.col] = c;
        self.col += 1;
    }

    fn move_to(&mut self, col: usize) {
        self.col = col.min(MAX_COLUMN.max(self.cells.len()));
    }

    fn pad_to(&mut self, len: usize) {
        if self.cells.len() < len {
            self.cells.resize(len, ' ');
        }
    }

    fn csi(&mut self, params: &str, final_char: char) {
        if params.starts_with(['<', '=', '>', '?']) {
            return; // private modes do not move text
        }
        let mut numbers = params.split(';').map(|p| p.parse::<usize>().unwrap_or(0));
        let first = numbers.next().unwrap_or(0);
        let n = first.clamp(1, MAX_COLUMN);
        let len = self.cells.len();
        match final_char {
            'C' | 'a' => self.move_to(self.col.saturating_add(n)),
            'D' => self.col = self.col.saturating_sub(n),
            'G' | '`' => self.move_to(n - 1),
            'H' | 'f' => self.move_to(numbers.next().unwrap_or(1).clamp(1, MAX_COLUMN) - 1),
            'E' | 'F' => self.col = 0,
            'K' | 'J' => match first {
                0 => self.cells.truncate(self.col),
                1 => self.cells[..(self.col + 1).min(len)].fill(' '),
                _ => self.cells.clear(),
            },
            'X' => self.cells[self.col.min(len)..(self.col + n).min(len)].fill(' '),
            'P' => drop(self.cells.drain(self.col.min(len)..(self.col + n).min(len))),
            '@' if self.col < len => {
                let blanks = n.min(MAX_COLUMN);
                self.cells
                    .splice(self.col..self.col, std::iter::repeat_n(' ', blanks));
                self.cells.truncate(len.max(MAX_COLUMN));
            }
            's' => self.saved = self.col,
            'u' => self.col = self.saved,
            _ => {}
        }
    }
}

/// What SpiderPig shows of a line: printable characters, tabs, and colour and style
/// sequences (SGR, `ESC [ ... m`) rewritten in their 7-bit form. Everything that
/// could move the cursor, rewrite earlier text, set a link, write the clipboard or
/// change the terminal's state is removed, so a viewer sees exactly [`strip`]'s
/// characters, in colour. Conceal (`ESC [ 8 m`) is removed too, and a line that
/// set any style ends with a reset, so no style outlives its record.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut styled = false;
    for token in Tokens::new(text) {
        match token {
            Token::Print(c) if !is_invisible_format(c) => out.push(c),
            Token::Control('\t') => out.push('\t'),
            Token::Csi {
                params,
                intermediates: "",
                final_char: 'm',
            } => styled |= push_sgr(&mut out, params),
            _ => {}
        }
    }
    end_style(&mut out, styled);
    out
}

/// The reset that ends every shown line which set a style.
const RESET: &str = "\u{1b}[0m";

/// Pushes the SGR `ESC [ params m` in its 7-bit form without conceal (8):
/// hidden text would show a viewer less than the patterns were checked
/// against. Returns whether anything was pushed. Parameters other than digits,
/// `;` and `:` drop the sequence; colour arguments (`38;5;8`) are kept whole
/// so a colour numbered 8 is not read as conceal.
fn push_sgr(out: &mut String, params: &str) -> bool {
    if !params
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b';' || b == b':')
    {
        return false;
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut parts = params.split(';');
    while let Some(part) = parts.next() {
        match part {
            "38" | "48" | "58" => {
                let (mode, args) = match parts.next() {
                    Some(mode @ "5") => (mode, 1),
                    Some(mode @ "2") => (mode, 3),
                    // An unknown colour mode colours nothing: drop it and its
                    // code rather than guess how a terminal reads what follows.
                    _ => continue,
                };
                kept.extend([part, mode]);
                kept.extend(parts.by_ref().take(args));
            }
            // `8` and `8:…` (sub-parameters) are conceal.
            _ if part.split(':').next().and_then(|p| p.parse::<u32>().ok()) == Some(8) => {}
            _ => kept.push(part),
        }
    }
    if kept.is_empty() {
        return false;
    }
    out.push_str("\u{1b}[");
    out.push_str(&kept.join(";"));
    out.push('m');
    true
}

/// Ends a line that set a style with [`RESET`], so no colour or style
/// reaches the next record (the browser terminal writes records one after
/// another into one screen).
fn end_style(out: &mut String, styled: bool) {
    if styled && !out.ends_with(RESET) && !out.ends_with("\u{1b}[m") {
        out.push_str(RESET);
    }
}

#[cfg(test)]
mod tests;
