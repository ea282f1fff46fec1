//! std twin of samples/wc.c, for the size table: "LINES WORDS BYTES\n" of stdin.
use std::io::Read;

fn main() {
    let mut data = Vec::new();
    if std::io::stdin().read_to_end(&mut data).is_err() {
        std::process::exit(1);
    }
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    let words = data.split(|b| b" \t\n\r\x0b\x0c".contains(b)).filter(|w| !w.is_empty()).count();
    println!("{} {} {}", lines, words, data.len());
}
