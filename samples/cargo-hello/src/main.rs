//! cargo-hello: no_std, no_main greeting.  `_start` is ours: write the
//! greeting with the write syscall, exit(0).  Panics exit(101).
//! See Cargo.toml for how to build it.
#![no_std]
#![no_main]

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}

fn exit(code: usize) -> ! {
    unsafe {
        core::arch::asm!("syscall", in("rax") 60usize, in("rdi") code, options(noreturn, nostack));
    }
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    let msg = b"Hello from cargo!\n";
    unsafe {
        core::arch::asm!("syscall", inlateout("rax") 1usize => _, in("rdi") 1usize,
            in("rsi") msg.as_ptr(), in("rdx") msg.len(),
            lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    exit(0)
}
