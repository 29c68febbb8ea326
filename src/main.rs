//! The `celprint` binary: everything lives in the library; `cli` wires arguments to it.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
