//! no_std Rust hello world for riscv64: write(1, "Hello, world!\n") then exit(0), raw `ecall`
//! system calls only.  `tinyelf build --arch riscv64 samples/riscv64/hello.rs -o hello` (rustc
//! for riscv64gc-unknown-linux-gnu: see docs/build.md).
#![no_std]
#![no_main]
use core::panic::PanicInfo;
#[panic_handler]
fn panic(_: &PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let msg = b"Hello, world!\n";
    unsafe {
        core::arch::asm!("ecall", inlateout("a0") 1usize => _, in("a1") msg.as_ptr(), in("a2") msg.len(), in("a7") 64usize, options(nostack));
        core::arch::asm!("ecall", in("a0") 0usize, in("a7") 93usize, options(noreturn, nostack));
    }
}
