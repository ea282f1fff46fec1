//! std twin of samples/rot13.rs, for the size table: stdin to stdout with
//! ASCII letters rotated by 13 places.
use std::io::{Read, Write};

fn main() {
    let mut buf = [0u8; 4096];
    let (mut inp, mut out) = (std::io::stdin().lock(), std::io::stdout().lock());
    loop {
        let n = match inp.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(_) => std::process::exit(1),
        };
        for b in &mut buf[..n] {
            *b = match *b {
                b'a'..=b'z' => (*b - b'a' + 13) % 26 + b'a',
                b'A'..=b'Z' => (*b - b'A' + 13) % 26 + b'A',
                c => c,
            };
        }
        if out.write_all(&buf[..n]).is_err() {
            std::process::exit(1);
        }
    }
}
