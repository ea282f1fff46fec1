/* Freestanding aarch64 C exit(42): one raw syscall (exit 93), no libc. */
void _start(void)
{
    register long x8 __asm__("x8") = 93;
    register long x0 __asm__("x0") = 42;
    __asm__ volatile ("svc #0" : : "r"(x8), "r"(x0));
    __builtin_unreachable();
}
