//! std twin of samples/echo.rs, for the size table: the arguments separated
//! by spaces; an argument `$NAME` is replaced by that environment variable.
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

fn main() {
    let mut line = Vec::new();
    for (i, arg) in std::env::args_os().skip(1).enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        let a = arg.as_bytes();
        if a.len() > 1 && a[0] == b'$' {
            let name = std::ffi::OsStr::from_bytes(&a[1..]);
            line.extend_from_slice(std::env::var_os(name).unwrap_or_default().as_bytes());
        } else {
            line.extend_from_slice(a);
        }
    }
    line.push(b'\n');
    let _ = std::io::stdout().write_all(&line);
}
