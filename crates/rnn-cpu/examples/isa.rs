//! Prints the path the kernels run on this CPU (`avx512`, `avx2`, `neon` or `scalar`).
//!
//! `cargo run -p rnn-cpu --example isa` prints it; with `--check`, it exits 1 instead when the
//! `BURN_RNN_ISA` environment variable names a path this CPU cannot run (2 for an unknown
//! name), which scripts use to skip such a path.

use rnn_cpu::{Isa, ISA_ENV};

fn main() {
    if std::env::args().skip(1).any(|a| a == "--check") {
        if let Ok(name) = std::env::var(ISA_ENV) {
            match name.parse::<Isa>() {
                Ok(isa) if isa.available() => {}
                Ok(isa) => {
                    eprintln!("{ISA_ENV}={name}: this CPU cannot run the `{isa}` path");
                    std::process::exit(1);
                }
                Err(e) => {
                    eprintln!("{ISA_ENV}: {e}");
                    std::process::exit(2);
                }
            }
        }
    }
    println!("{}", rnn_cpu::isa());
}
