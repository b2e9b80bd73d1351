//! The `callplan` binary: parse the command line, run it, exit with its code.

use clap::Parser as _;

// Checking a large plan allocates millions of small strings and maps; mimalloc makes that
// markedly cheaper than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = callplan::cli::Cli::parse();
    let code = callplan::cli::run(cli, &mut std::io::stdout().lock());
    std::process::ExitCode::from(code.code())
}
