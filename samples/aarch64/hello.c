/* Freestanding aarch64 C hello world: raw syscalls (write 64, exit 93), no libc. */
static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile ("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

static const char msg[] = "Hello, world!\n";

void _start(void)
{
    sys3(64, 1, (long)msg, sizeof msg - 1);
    sys3(93, 0, 0, 0);
    __builtin_unreachable();
}
