//! echo: print the command-line arguments separated by spaces, then a newline.
//!
//!     $ echo a b 'c d'      ->  "a b c d\n"
//!     $ HOME=/root echo '$HOME' x   ->  "/root x\n"
//!
//! Reads argc, argv and envp from the initial process stack (argc at [rsp],
//! argv[] from rsp+8, a NULL, then envp[] ending in NULL).  As a small twist to
//! exercise envp, an argument of the form `$NAME` is replaced by the value of
//! the environment variable NAME (empty if unset).  No core::fmt; output is
//! gathered in a stack buffer and written with one write syscall per 256 bytes.
//! Exits 0.  Panics exit(101).
//!
//! `_start` is a global_asm! stub passing the initial stack pointer to `start_rust`.
//!
//! Build by hand:
//!
//!     LIB=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib
//!     rustc --edition 2021 --emit=obj -C panic=abort -C opt-level=z -C codegen-units=1 \
//!           -C relocation-model=static --crate-type bin -o echo.o samples/echo.rs
//!     ld -static -nostdlib -n -N -s --gc-sections --build-id=none -T linker_scripts/baseline.ld \
//!           -o echo echo.o mem.o $LIB/libcore-*.rlib $LIB/libcompiler_builtins-*.rlib
//!
//! (mem.o from tests/corpus/support/mem.c, see samples/prodfactors.rs.)
#![no_std]
#![no_main]

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

struct Out {
    len: usize,
    buf: [u8; 256],
}

impl Out {
    fn put(&mut self, s: &[u8]) {
        for &b in s {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
    }
    fn flush(&mut self) {
        sys_write(1, &self.buf[..self.len]);
        self.len = 0;
    }
}

unsafe fn c_bytes<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    core::slice::from_raw_parts(p, n)
}

/// Look NAME up in envp (a NULL-terminated array of "NAME=value" strings).
unsafe fn getenv<'a>(mut envp: *const *const u8, name: &[u8]) -> &'a [u8] {
    while !(*envp).is_null() {
        let entry = c_bytes(*envp);
        if entry.len() > name.len() && entry[name.len()] == b'=' && &entry[..name.len()] == name {
            return &entry[name.len() + 1..];
        }
        envp = envp.add(1);
    }
    &[]
}

unsafe extern "C" fn start_rust(sp: *const usize) -> ! {
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let envp = argv.add(argc + 1);
    let mut out = Out { len: 0, buf: [0; 256] };
    for i in 1..argc {
        if i > 1 {
            out.put(b" ");
        }
        let arg = c_bytes(*argv.add(i));
        if arg.len() > 1 && arg[0] == b'$' {
            out.put(getenv(envp, &arg[1..]));
        } else {
            out.put(arg);
        }
    }
    out.put(b"\n");
    out.flush();
    sys_exit(0)
}
