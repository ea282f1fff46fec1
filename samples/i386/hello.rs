//! no_std Rust hello world for i386: write(1, "Hello, world!\n") then exit(0), raw `int 0x80`
//! system calls only.  `tinyelf build --arch i386 samples/i386/hello.rs -o hello` (rustc for
//! i686-unknown-linux-gnu: see docs/build.md).
#![no_std]
#![no_main]
use core::panic::PanicInfo;
#[panic_handler]
fn panic(_: &PanicInfo) -> ! { loop {} }
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let msg = b"Hello, world!\n";
    unsafe {
        core::arch::asm!("int 0x80", inlateout("eax") 4usize => _, in("ebx") 1usize, in("ecx") msg.as_ptr(), in("edx") msg.len(), options(nostack));
        core::arch::asm!("int 0x80", in("eax") 1usize, in("ebx") 0usize, options(noreturn, nostack));
    }
}
