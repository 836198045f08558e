//! `prompter`: the service binary; all logic lives in the library.
use clap::Parser;

/// mimalloc returns freed memory to the system; see the `mimalloc` feature in `Cargo.toml`.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let code = prompter::cli::run(prompter::cli::Cli::parse()).await;
    std::process::exit(code);
}
