"""The projects ``tinyelf new`` writes, as Python strings (so every wheel has them).

:data:`PROJECTS` maps a language to its files: a relative path and its text,
with ``{name}`` (the project's name), ``{linker}`` (how to run tinyelf-ld) and
``{tinyelf}`` (how to run tinyelf) replaced by :func:`render`.  Neither
project holds any assembly beyond the one-instruction ``syscall`` wrappers:
tinyelf's start stub (tinyelf/arch/x86_64/asmsrc.py, ``START_STUB``) passes argc, argv
and envp to ``main`` per the SysV ABI and exits with main's return value.
"""
from __future__ import annotations

RUST_CARGO_TOML = """\
[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]

# no unwinding anywhere (a no_std program has no unwinder): a panic calls
# the #[panic_handler] in src/main.rs
[profile.dev]
panic = "abort"

# the smallest code: optimise for size, link-time optimisation across the
# crate and core, one codegen unit; tinyelf keeps no symbols or debug info
[profile.release]
opt-level = "z"
lto = true
panic = "abort"
codegen-units = 1
debug = false
"""

RUST_CARGO_CONFIG = """\
# Link with tinyelf's cc-style linker driver (pip install tinyelf), a static
# no_std executable:
# - relocation-model=static: plain absolute/PC-relative code, no GOT needed;
# - -nostartfiles, -static, -nostdlib: no crt1.o, no libc, no dynamic loader
#   (tinyelf adds the start stub that calls main).
# Without this file, `tinyelf cargo build --release` does the same.
[target.x86_64-unknown-linux-gnu]
linker = "{linker}"
rustflags = [
    "-C", "relocation-model=static",
    "-C", "link-arg=-nostartfiles",
    "-C", "link-arg=-static",
    "-C", "link-arg=-nostdlib",
]
"""

RUST_MAIN = """\
//! {name}: a no_std program for Linux x86-64, linked tiny by tinyelf.
//!
//!     cargo build --release && ./target/release/{name}
//!
//! There is no Rust standard library and no libc: the program talks to the
//! kernel through the system calls in `sys.rs`.  tinyelf adds the `_start`
//! that calls `main` with the command line and exits with its return value.
#![no_std]
#![no_main]

mod sys;

/// Called by tinyelf's start stub: `argc` arguments in `argv[0..argc]`
/// (NUL-terminated), the environment in `envp` (NULL-terminated).  The
/// return value is the exit status.
#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8, _envp: *const *const u8) -> i32 {
    sys::write(1, b"Hello, world!\\n");
    0
}

/// A panic (an index out of bounds, an overflow in a debug build, an
/// unwrap of None) ends the program with status 101, like Rust's own.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    sys::exit(101)
}
"""

RUST_SYS = """\
//! Linux x86-64 system calls: number in rax, arguments in rdi, rsi, rdx;
//! the kernel clobbers rcx and r11.  Add more the same way (numbers:
//! `man 2 syscall`, or /usr/include/asm/unistd_64.h).
#![allow(dead_code)]

use core::arch::asm;

/// read(2): bytes read into `buf`, 0 at end of file, or -errno.
pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    let ret: isize;
    unsafe {
        asm!("syscall", inlateout("rax") 0isize => ret, in("rdi") fd as isize,
             in("rsi") buf.as_mut_ptr(), in("rdx") buf.len(),
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// write(2): bytes written from `buf`, or -errno.
pub fn write(fd: i32, buf: &[u8]) -> isize {
    let ret: isize;
    unsafe {
        asm!("syscall", inlateout("rax") 1isize => ret, in("rdi") fd as isize,
             in("rsi") buf.as_ptr(), in("rdx") buf.len(),
             lateout("rcx") _, lateout("r11") _, options(nostack, readonly));
    }
    ret
}

/// exit(2): end the program with `code` (0-255) as its status.
pub fn exit(code: i32) -> ! {
    unsafe {
        asm!("syscall", in("rax") 60isize, in("rdi") code as isize, options(noreturn, nostack));
    }
}
"""

GITIGNORE_RUST = "/target\n"

C_MAIN = """\
/* {name}: a freestanding C program for Linux x86-64, linked tiny by tinyelf.
 *
 *     make && ./{name}
 *
 * No libc: the program talks to the kernel through the system calls below.
 * tinyelf adds the _start that calls main with the command line and exits
 * with its return value. */

typedef unsigned long size_t;
typedef long ssize_t;

/* Linux x86-64 system calls: number in rax, arguments in rdi, rsi, rdx; the
 * kernel clobbers rcx and r11.  Numbers: /usr/include/asm/unistd_64.h */
static ssize_t sys_read(int fd, void *buf, size_t len)
{
    ssize_t ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(0L), "D"((long)fd), "S"(buf), "d"(len)
                      : "rcx", "r11", "memory");
    return ret;
}

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
    ssize_t ret;
    __asm__ volatile ("syscall" : "=a"(ret) : "a"(1L), "D"((long)fd), "S"(buf), "d"(len)
                      : "rcx", "r11", "memory");
    return ret;
}

static __attribute__((noreturn)) void sys_exit(int code)
{
    __asm__ volatile ("syscall" : : "a"(60L), "D"((long)code) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

int main(int argc, char **argv, char **envp)
{
    static const char msg[] = "Hello, world!\\n";
    (void)argc, (void)argv, (void)envp, (void)sys_read, (void)sys_exit;
    sys_write(1, msg, sizeof msg - 1);
    return 0;
}
"""

C_MAKEFILE = """\
# {name}: `make` compiles and links main.c with tinyelf (freestanding, -Os,
# the smallest header layout that runs as an ordinary user).
TINYELF ?= {tinyelf}

{name}: main.c
\t$(TINYELF) build main.c -o $@

clean:
\trm -f {name}

.PHONY: clean
"""

GITIGNORE_C = "/{name}\n"

#: language -> ((relative path, template), ...), in the order they are written
PROJECTS = {
    "rust": (("Cargo.toml", RUST_CARGO_TOML), (".cargo/config.toml", RUST_CARGO_CONFIG),
             ("src/main.rs", RUST_MAIN), ("src/sys.rs", RUST_SYS), (".gitignore", GITIGNORE_RUST)),
    "c": (("main.c", C_MAIN), ("Makefile", C_MAKEFILE), (".gitignore", GITIGNORE_C)),
}

#: what to run next, per language (``{dir}``: the project directory as given)
NEXT = {
    "rust": "cd {dir} && cargo build --release && ./target/release/{name}",
    "c": "cd {dir} && make && ./{name}",
}


def render(lang: str, name: str, linker: str = "tinyelf-ld", tinyelf: str = "tinyelf") -> list:
    """The files of a ``lang`` project called ``name``: [(path, text)]."""
    values = {"{name}": name, "{linker}": linker, "{tinyelf}": tinyelf}
    out = []
    for path, text in PROJECTS[lang]:
        for key, value in values.items():     # not str.format: the sources are full of braces
            text = text.replace(key, value)
        out.append((path, text))
    return out
