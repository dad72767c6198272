//! The `cqcfab` binary: see `cqcfab --help`.

fn main() -> std::process::ExitCode {
    cqcfab::cli::main()
}
