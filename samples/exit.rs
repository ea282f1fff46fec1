//! no_std Rust: exit with a constant status (42), nothing else.
#![no_std]
#![no_main]

use core::panic::PanicInfo;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    unsafe {
        core::arch::asm!("syscall", in("rax") 60usize, in("rdi") 42usize, options(noreturn, nostack));
    }
}
