use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = sv_deploy::Cli::parse();
    sv_cli::main(|| sv_deploy::run(cli))
}
