use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = sv_health::Cli::parse();
    sv_cli::main(|| sv_health::run(cli))
}
