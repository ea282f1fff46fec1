/* Freestanding riscv64 C hello world: raw syscalls (write 64, exit 93), no libc. */
static long sys3(long n, long a, long b, long c)
{
    register long a7 __asm__("a7") = n;
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    __asm__ volatile ("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
}

static const char msg[] = "Hello, world!\n";

void _start(void)
{
    sys3(64, 1, (long)msg, sizeof msg - 1);
    sys3(93, 0, 0, 0);
    __builtin_unreachable();
}
