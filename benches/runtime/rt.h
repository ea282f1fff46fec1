/* rt.h -- what the run-time benchmark's C programs need without a libc:
 * write/exit system calls, a hex printer, a PRNG and the _start stub.
 * Every program prints "name: checksum" and exits 0: the benchmark checks
 * that each linker's output prints the same. */
#ifndef RT_H
#define RT_H
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c)
                      : "rcx", "r11", "memory");
    return r;
}

static void put(const char *s, long n) { sys3(1, 1, (long)s, n); }

static long slen(const char *s) { long n = 0; while (s[n]) n++; return n; }

static void put_result(const char *name, u64 v)
{
    char buf[64];
    long n = 0;
    const char *p = name;
    while (*p) buf[n++] = *p++;
    buf[n++] = ':';
    buf[n++] = ' ';
    for (int i = 60; i >= 0; i -= 4)
        buf[n++] = "0123456789abcdef"[(v >> i) & 15];
    buf[n++] = '\n';
    put(buf, n);
}

__attribute__((noreturn)) static void sys_exit(long code)
{
    __asm__ volatile ("syscall" : : "a"(60L), "D"(code) : "rcx", "r11", "memory");
    __builtin_unreachable();
}

static u64 rng_state;
static inline u64 rng(void)
{
    /* xorshift64* */
    u64 x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DUL;
}

/* _start: argc decides nothing but keeps the compiler from folding the work */
#define BENCH_MAIN(NAME, FN)                                                    \
    __asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"           \
            "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n"            \
            "  call bench_start\n  hlt\n");                                     \
    __attribute__((used, noreturn)) void bench_start(long *sp)                  \
    {                                                                           \
        u64 seed = 0x9E3779B97F4A7C15UL + (u64)sp[0];                           \
        put_result(NAME, FN(seed));                                             \
        sys_exit(0);                                                            \
    }
#endif
