//! `prompter`: the service binary; all logic lives in the library.

fn main() {
    std::process::exit(prompter::cli::main());
}
