//! no_std Rust hello world for aarch64: write(1, "Hello, world!\n") then exit(0), raw `svc #0`
//! system calls only.  `tinyelf build --arch aarch64 samples/aarch64/hello.rs -o hello` (rustc
//! for aarch64-unknown-linux-gnu: see docs/build.md).
#![no_std]
#![no_main]
use core::panic::PanicInfo;
#[panic_handler]
fn panic(_: &PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let msg = b"Hello, world!\n";
    unsafe {
        core::arch::asm!("svc #0", inlateout("x0") 1usize => _, in("x1") msg.as_ptr(), in("x2") msg.len(), in("x8") 64usize, options(nostack));
        core::arch::asm!("svc #0", in("x0") 0usize, in("x8") 93usize, options(noreturn, nostack));
    }
}
