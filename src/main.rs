//! The `callplan` binary: parse the command line, run it, exit with its code.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = callplan::cli::Cli::parse();
    let code = callplan::cli::run(cli, &mut std::io::stdout().lock());
    std::process::ExitCode::from(code as u8)
}
