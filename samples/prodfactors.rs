//! prodfactors: print the prime factors of each number given on the command line.
//!
//!     $ prodfactors 600851475143 12
//!     600851475143: 71 839 1471 6857
//!     12: 2 2 3
//!
//! One line per argument, factors in ascending order, formatted with core::fmt
//! (`write!` into a `fmt::Write` impl that buffers on the stack and flushes with
//! the write syscall).  A non-numeric (or empty, or > u64::MAX) argument prints
//! "prodfactors: not a number: ARG" to stderr and exits 1; 0 and 1 print no
//! factors.  Panics exit(101).
//!
//! no_std, no_main: `_start` is a small global_asm! stub that passes the initial
//! stack pointer (argc, argv[], NULL, envp[]...) to `start_rust`.
//!
//! Build by hand (GNU ld baseline; core symbols stay undefined in the object and
//! come from the sysroot rlibs; mem.c supplies memcpy & co. if LLVM asks for them):
//!
//!     LIB=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib
//!     rustc --edition 2021 --emit=obj -C panic=abort -C opt-level=z -C codegen-units=1 \
//!           -C relocation-model=static --crate-type bin -o prodfactors.o samples/prodfactors.rs
//!     gcc -c -O2 -ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns -fno-pie \
//!           -fno-asynchronous-unwind-tables -o mem.o tests/corpus/support/mem.c
//!     ld -static -nostdlib -n -N -s --gc-sections --build-id=none -T linker_scripts/baseline.ld \
//!           -o prodfactors prodfactors.o mem.o $LIB/libcore-*.rlib $LIB/libcompiler_builtins-*.rlib
#![no_std]
#![no_main]

use core::fmt::{self, Write};

core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym start_rust,
);

fn sys_write(fd: usize, buf: &[u8]) {
    let mut rest = buf;
    while !rest.is_empty() {
        let ret: isize;
        unsafe {
            core::arch::asm!("syscall", inlateout("rax") 1isize => ret, in("rdi") fd,
                in("rsi") rest.as_ptr(), in("rdx") rest.len(),
                lateout("rcx") _, lateout("r11") _, options(nostack));
        }
        if ret <= 0 {
            return;
        }
        rest = &rest[ret as usize..];
    }
}

fn sys_exit(code: usize) -> ! {
    unsafe {
        core::arch::asm!("syscall", in("rax") 60usize, in("rdi") code, options(noreturn, nostack));
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys_exit(101)
}

/// A small stack buffer that flushes to a file descriptor when full.
struct Out {
    fd: usize,
    len: usize,
    buf: [u8; 128],
}

impl Out {
    fn new(fd: usize) -> Out {
        Out { fd, len: 0, buf: [0; 128] }
    }
    fn bytes(&mut self, s: &[u8]) {
        for &b in s {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
    fn flush(&mut self) {
        sys_write(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// The bytes of a NUL-terminated C string.
unsafe fn c_bytes<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    core::slice::from_raw_parts(p, n)
}

fn parse(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

fn factor(out: &mut Out, mut n: u64) {
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
    let _ = out.write_str("\n");
}

unsafe extern "C" fn start_rust(sp: *const usize) -> ! {
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let mut out = Out::new(1);
    let mut status = 0;
    for i in 1..argc {
        let arg = c_bytes(*argv.add(i));
        match parse(arg) {
            Some(n) => factor(&mut out, n),
            None => {
                out.flush();
                let mut err = Out::new(2);
                err.bytes(b"prodfactors: not a number: ");
                err.bytes(arg);
                err.bytes(b"\n");
                err.flush();
                status = 1;
                break;
            }
        }
    }
    out.flush();
    sys_exit(status)
}
