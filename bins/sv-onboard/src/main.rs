use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = sv_onboard::Cli::parse();
    sv_cli::main(|| sv_onboard::run(cli))
}
