//! std twin of samples/exit.rs, for the size table.
fn main() {
    std::process::exit(42);
}
