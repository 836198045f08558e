//! `prompter`: the service binary; all logic lives in the library.
use clap::Parser;

#[tokio::main]
async fn main() {
    let code = prompter::cli::run(prompter::cli::Cli::parse()).await;
    std::process::exit(code);
}
