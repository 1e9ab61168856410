//! `completions SHELL`: shell completion scripts, generated from the binary's own parser so
//! they never drift from its flags.

use std::io::{self, Write};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Example: sv-plan completions bash > ~/.local/share/bash-completion/completions/sv-plan"
)]
pub struct CompletionsArgs {
    /// Shell to generate completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

impl CompletionsArgs {
    /// Writes the completion script for the binary whose parser is `C` to stdout.
    pub fn print<C: CommandFactory>(&self) -> io::Result<()> {
        let mut cmd = C::command();
        let name = cmd.get_name().to_owned();
        let mut out = io::stdout().lock();
        clap_complete::generate(self.shell, &mut cmd, name, &mut out);
        out.flush()
    }
}
