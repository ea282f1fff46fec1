//! std twin of samples/hello.rs and samples/hello.c, for the size table.
fn main() {
    print!("Hello, world!\n");
}
