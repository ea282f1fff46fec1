//! no_std Rust hello world: write(1, "Hello, world!\n") then exit(0), raw syscalls only.
#![no_std]
#![no_main]
use core::panic::PanicInfo;
#[panic_handler]
fn panic(_: &PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let msg = b"Hello, world!\n";
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize, in("rsi") msg.as_ptr(), in("rdx") msg.len(), lateout("rcx") _, lateout("r11") _, options(nostack));
        core::arch::asm!("syscall", in("rax") 60usize, in("rdi") 0usize, options(noreturn, nostack));
    }
}
