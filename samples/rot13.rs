//! rot13: copy stdin to stdout, rotating ASCII letters by 13 places.
//!
//!     $ printf 'Hello, World!\n' | rot13   ->  "Uryyb, Jbeyq!\n"
//!
//! Reads through a 4 KiB `static mut` buffer (lands in .bss), transforms it in
//! place and writes it out; exits 0 at end of input, 1 on a read/write error.
//! Panics exit(101).  `_start` is a small global_asm! stub that calls
//! `start_rust` (no arguments needed).
//!
//! Build by hand:
//!
//!     LIB=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib
//!     rustc --edition 2021 --emit=obj -C panic=abort -C opt-level=z -C codegen-units=1 \
//!           -C relocation-model=static --crate-type bin -o rot13.o samples/rot13.rs
//!     ld -static -nostdlib -n -N -s --gc-sections --build-id=none -T linker_scripts/baseline.ld \
//!           -o rot13 rot13.o mem.o $LIB/libcore-*.rlib $LIB/libcompiler_builtins-*.rlib
//!
//! (mem.o from tests/corpus/support/mem.c, see samples/prodfactors.rs.)
#![no_std]
#![no_main]

core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym start_rust,
);

static mut BUF: [u8; 4096] = [0; 4096];

unsafe fn syscall3(n: usize, a: usize, b: *const u8, c: usize) -> isize {
    let ret: isize;
    core::arch::asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a,
        in("rsi") b, in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
    ret
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

fn rot13(c: u8) -> u8 {
    match c {
        b'a'..=b'z' => (c - b'a' + 13) % 26 + b'a',
        b'A'..=b'Z' => (c - b'A' + 13) % 26 + b'A',
        _ => c,
    }
}

extern "C" fn start_rust() -> ! {
    let buf = unsafe { &mut *(&raw mut BUF) };
    loop {
        let n = unsafe { syscall3(0, 0, buf.as_ptr(), buf.len()) };
        if n == 0 {
            sys_exit(0);
        }
        if n < 0 {
            sys_exit(1);
        }
        let n = n as usize;
        for c in buf[..n].iter_mut() {
            *c = rot13(*c);
        }
        let mut done = 0;
        while done < n {
            let w = unsafe { syscall3(1, 1, buf[done..].as_ptr(), n - done) };
            if w <= 0 {
                sys_exit(1);
            }
            done += w as usize;
        }
    }
}
