//! Greets each argument ("Hello, world!" without any); exits with their count.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};

// The kernel starts _start with rsp at argc, then the argv pointers: pass that
// address to Rust and realign the stack to 16 bytes, as a Rust function expects.
global_asm!(".globl _start", "_start:", "mov rdi, rsp", "and rsp, -16",
            "call main_with_args", "ud2");

#[no_mangle]
extern "C" fn main_with_args(stack: *const usize) -> ! {
    let argc = unsafe { *stack };
    let argv = unsafe { stack.add(1) as *const *const u8 };
    if argc < 2 {
        greet(b"world");
    }
    for i in 1..argc {
        let arg = unsafe { *argv.add(i) };
        let len = unsafe { strlen(arg) };
        greet(unsafe { core::slice::from_raw_parts(arg, len) });
    }
    exit(argc - 1)
}

fn greet(name: &[u8]) {
    write(b"Hello, ");
    write(name);
    write(b"!\n");
}

unsafe fn strlen(s: *const u8) -> usize {
    (0..).take_while(|&n| *s.add(n) != 0).count()
}

fn write(bytes: &[u8]) {
    unsafe {
        asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize,
             in("rsi") bytes.as_ptr(), in("rdx") bytes.len(),
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
}

fn exit(code: usize) -> ! {
    unsafe {
        asm!("syscall", in("rax") 60usize, in("rdi") code, options(noreturn, nostack));
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}
