//! Bench input (b) until samples/prodfactors.rs lands: a no_std program that
//! formats numbers with core::fmt, so the link has to pull code out of libcore.
//! Prints the prime factors of 600851475143 and of its argument count.
#![no_std]
#![no_main]

use core::fmt::{self, Write};

struct Out {
    len: usize,
    buf: [u8; 128],
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

impl Out {
    fn flush(&mut self) {
        unsafe {
            core::arch::asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize,
                in("rsi") self.buf.as_ptr(), in("rdx") self.len,
                lateout("rcx") _, lateout("r11") _, options(nostack));
        }
        self.len = 0;
    }
}

fn exit(code: usize) -> ! {
    unsafe { core::arch::asm!("syscall", in("rax") 60usize, in("rdi") code, options(noreturn, nostack)) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}

fn factor(out: &mut Out, mut n: u64) {
    let _ = write!(out, "{}:", n);
    let mut d = 2u64;
    while n > 1 && d <= n / d {
        while n % d == 0 {
            let _ = write!(out, " {}", d);
            n /= d;
        }
        d += 1;
    }
    if n > 1 {
        let _ = write!(out, " {}", n);
    }
    let _ = out.write_str("\n");
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let mut out = Out { len: 0, buf: [0; 128] };
    factor(&mut out, core::hint::black_box(600851475143));
    out.flush();
    exit(0)
}
