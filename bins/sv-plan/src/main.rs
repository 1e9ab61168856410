use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = sv_plan::Cli::parse();
    sv_cli::main(|| sv_plan::run(cli))
}
