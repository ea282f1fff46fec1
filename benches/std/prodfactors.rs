//! std twin of samples/prodfactors.rs, for the size table: the prime factors
//! of each argument, one line each; a bad argument goes to stderr, exit 1.
use std::io::Write;

fn main() {
    let out = std::io::stdout();
    let mut out = out.lock();
    for arg in std::env::args().skip(1) {
        let ok = !arg.is_empty() && arg.bytes().all(|c| c.is_ascii_digit());
        let Some(mut n) = arg.parse::<u64>().ok().filter(|_| ok) else {
            let _ = out.flush();
            eprintln!("prodfactors: not a number: {arg}");
            std::process::exit(1);
        };
        let _ = write!(out, "{}:", n);
        let mut d: u64 = 2;
        while n > 1 && d <= n / d {
            while n % d == 0 {
                let _ = write!(out, " {}", d);
                n /= d;
            }
            d += if d == 2 { 1 } else { 2 };
        }
        if n > 1 {
            let _ = write!(out, " {}", n);
        }
        let _ = writeln!(out);
    }
}
