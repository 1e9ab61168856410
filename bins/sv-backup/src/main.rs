use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = sv_backup::Cli::parse();
    sv_cli::main(|| sv_backup::run(cli))
}
