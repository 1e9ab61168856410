//! Pure rendering helpers every report uses, whatever crate it lives in: [`Styles`] (colour
//! that is a no-op when off), the [`Render`] trait (human + Markdown; JSON comes from
//! `Serialize`), and Markdown escaping that keeps hostile names from breaking a PR comment.
//! No I/O and no CLI types here, so planners and checkers stay pure.

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// A report that can be shown in every format.
pub trait Render: Serialize {
    /// Text for a terminal or a log; use `styles` for emphasis so `--no-color` works.
    fn human(&self, styles: &Styles) -> String;
    /// GitHub-flavoured Markdown.
    fn markdown(&self) -> String;
}

/// Styling that is a no-op when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Styles {
    enabled: bool,
}

impl Styles {
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    /// No colour: what tests and snapshots use.
    pub fn plain() -> Self {
        Self::new(false)
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn paint(&self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(Style::new().bold(), text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint(Style::new().dimmed(), text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }
    pub fn cyan(&self, text: &str) -> String {
        self.paint(AnsiColor::Cyan.on_default(), text)
    }
}

/// Escapes text for a Markdown table cell or inline text: specials become literal and
/// newlines and pipes cannot break the table.
pub fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Wraps `body` in a collapsible `<details>` block with a plain-text summary.
pub fn details(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{}</summary>\n\n{}\n\n</details>\n",
        html_escape(summary),
        body.trim_end()
    )
}

/// Escapes text placed inside HTML (e.g. a `<summary>`).
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A fenced code block whose fence is longer than any backtick run inside `body`, so
/// content can never close it early.
pub fn code_block(lang: &str, body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}\n", body.trim_end_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escape_neutralises_specials() {
        assert_eq!(
            markdown_escape("a|b *c* <x>\n`d`"),
            r"a\|b \*c\* \<x\> \`d\`"
        );
    }

    #[test]
    fn code_block_fence_outgrows_content() {
        assert_eq!(code_block("", "a ``` b"), "````\na ``` b\n````\n");
        assert_eq!(code_block("diff", "x\n"), "```diff\nx\n```\n");
    }

    #[test]
    fn details_escapes_summary() {
        assert_eq!(
            details("<b>x</b>", "body\n"),
            "<details><summary>&lt;b&gt;x&lt;/b&gt;</summary>\n\nbody\n\n</details>\n"
        );
    }

    #[test]
    fn styles_are_plain_when_disabled() {
        assert_eq!(Styles::plain().red("x"), "x");
        assert_ne!(Styles::new(true).red("x"), "x");
    }
}
