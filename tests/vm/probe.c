/* A freestanding test program for tests/test_vm.py, built for x86-64, i386, aarch64 and
 * riscv64 with the system's gcc or a cross gcc (-nostdlib -static, no libc):
 *   probe hello      prints "hello", exits 0
 *   probe exit N     exits with status N
 *   probe cat        copies stdin to stdout
 *   probe args A...  prints each argument on a line of its own
 *   probe uid        prints "uid=N" (getuid)
 *   probe segv       stores to address 0
 */
#if defined(__x86_64__)
enum { SYS_read = 0, SYS_write = 1, SYS_exit = 231, SYS_getuid = 102 };
__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call cmain\n hlt\n");
#elif defined(__i386__)
enum { SYS_read = 3, SYS_write = 4, SYS_exit = 252, SYS_getuid = 199 };
__asm__(".globl _start\n_start:\n mov %esp, %eax\n and $-16, %esp\n sub $12, %esp\n"
        " push %eax\n call cmain\n hlt\n");
#elif defined(__aarch64__)
enum { SYS_read = 63, SYS_write = 64, SYS_exit = 94, SYS_getuid = 174 };
__asm__(".globl _start\n_start:\n mov x0, sp\n bl cmain\n brk #0\n");
#elif defined(__riscv) && __riscv_xlen == 64
enum { SYS_read = 63, SYS_write = 64, SYS_exit = 94, SYS_getuid = 174 };
__asm__(".globl _start\n_start:\n .option push\n .option norelax\n la gp, __global_pointer$\n"
        " .option pop\n mv a0, sp\n call cmain\n ebreak\n");
#else
#error "unknown machine"
#endif

static long sys3(long n, long a, long b, long c)
{
#if defined(__x86_64__)
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
#elif defined(__i386__)
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                  x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
#else
    register long a7 __asm__("a7") = n, a0 __asm__("a0") = a, a1 __asm__("a1") = b,
                  a2 __asm__("a2") = c;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
#endif
}

static void out(const char *s, long n) { sys3(SYS_write, 1, (long)s, n); }
static long len(const char *s) { long n = 0; while (s[n]) n++; return n; }
static int eq(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return *a == *b; }
static __attribute__((noreturn)) void quit(long status)
{
    for (;;) sys3(SYS_exit, status, 0, 0);
}

void __attribute__((noreturn, used)) cmain(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    const char *cmd = argc > 1 ? argv[1] : "hello";
    if (eq(cmd, "hello")) {
        out("hello\n", 6);
    } else if (eq(cmd, "exit") && argc > 2) {
        long n = 0;
        for (const char *p = argv[2]; *p; p++) n = n * 10 + (*p - '0');
        quit(n);
    } else if (eq(cmd, "cat")) {
        static char buf[512];
        long n;
        while ((n = sys3(SYS_read, 0, (long)buf, sizeof buf)) > 0) out(buf, n);
    } else if (eq(cmd, "args")) {
        for (long i = 2; i < argc; i++) { out(argv[i], len(argv[i])); out("\n", 1); }
    } else if (eq(cmd, "uid")) {
        char num[24], *p = num + sizeof num;
        unsigned long uid = (unsigned long)sys3(SYS_getuid, 0, 0, 0);
        *--p = '\n';
        do *--p = (char)('0' + uid % 10); while (uid /= 10);
        out("uid=", 4);
        out(p, num + sizeof num - p);
    } else if (eq(cmd, "segv")) {
        *(volatile int *)0 = 0;
    } else {
        quit(2);
    }
    quit(0);
}
