//! One way to render a report: every report is `Serialize` data with a human and a Markdown
//! renderer, and [`Output`] picks one by `--format`. Colour is decided once, here.
#![allow(clippy::print_stdout)] // this module is where reports reach stdout

use std::io::{self, Write};

use serde::Serialize;
pub use sv_report::{Render, Styles, markdown_escape};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Text for people, coloured on a terminal
    Human,
    /// Stable, documented JSON for scripts and workflow outputs
    Json,
    /// GitHub-flavoured Markdown for PR comments and job summaries
    Markdown,
}

/// Where and how reports are written.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub format: Format,
    pub styles: Styles,
}

impl Output {
    pub fn new(format: Format, color: bool) -> Self {
        Self {
            format,
            styles: Styles::new(color && format == Format::Human),
        }
    }

    /// Renders `report` in the chosen format, ending with one newline.
    pub fn render<R: Render>(&self, report: &R) -> Result<String, serde_json::Error> {
        let mut text = match self.format {
            Format::Human => report.human(&self.styles),
            Format::Json => serde_json::to_string_pretty(report)?,
            Format::Markdown => report.markdown(),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Ok(text)
    }

    /// Renders and writes `report` to stdout.
    pub fn print<R: Render>(&self, report: &R) -> io::Result<()> {
        let text = self.render(report).map_err(io::Error::other)?;
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Report {
        healthy: u32,
        failed: Vec<String>,
    }

    impl Render for Report {
        fn human(&self, s: &Styles) -> String {
            format!(
                "{} healthy, {} failed",
                s.green(&self.healthy.to_string()),
                s.red(&self.failed.len().to_string())
            )
        }
        fn markdown(&self) -> String {
            format!("**{}** healthy", self.healthy)
        }
    }

    #[test]
    fn renders_each_format() {
        let r = Report {
            healthy: 3,
            failed: vec!["api".into()],
        };
        let human = Output::new(Format::Human, false).render(&r).unwrap();
        assert_eq!(human, "3 healthy, 1 failed\n");
        let coloured = Output::new(Format::Human, true).render(&r).unwrap();
        assert!(coloured.contains("\u{1b}["), "{coloured:?}");
        // JSON and Markdown are never coloured.
        let json = Output::new(Format::Json, true).render(&r).unwrap();
        insta::assert_snapshot!(json, @r#"
        {
          "healthy": 3,
          "failed": [
            "api"
          ]
        }
        "#);
        assert_eq!(
            Output::new(Format::Markdown, true).render(&r).unwrap(),
            "**3** healthy\n"
        );
    }
}
