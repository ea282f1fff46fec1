/* startstate.c -- prints what the kernel gave the process: rdx and rsp % 16
 * at the entry, argc, argv, envp, AT_PAGESZ and AT_RANDOM's 16 bytes
 * (tests/test_compress.py: a compressed program must see the same). */
static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void out(const char *s, long n) { sys3(1, 1, (long)s, n); }

static void line(const char *tag, const char *s)
{
    long n = 0;
    while (s[n]) n++;
    out(tag, 5);
    out(s, n);
    out("\n", 1);
}

static void hex(const char *tag, unsigned long v)
{
    char b[17];
    for (int i = 15; i >= 0; i--) { b[i] = "0123456789abcdef"[v & 15]; v >>= 4; }
    b[16] = '\n';
    out(tag, 5);
    out(b, 17);
}

void cmain(long *sp, unsigned long rdx)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
    hex("rdx  ", rdx);
    hex("algn ", (unsigned long)sp & 15);
    hex("argc ", argc);
    for (long i = 0; i < argc; i++) line("argv ", argv[i]);
    while (*envp) line("envp ", *envp++);
    for (unsigned long *aux = (unsigned long *)(envp + 1); aux[0]; aux += 2) {
        if (aux[0] == 6) hex("pgsz ", aux[1]);
        if (aux[0] == 25) {
            unsigned char *r = (unsigned char *)aux[1];
            unsigned long lo = 0, hi = 0;
            for (int i = 0; i < 8; i++) { lo = lo << 8 | r[i]; hi = hi << 8 | r[8 + i]; }
            hex("rnd0 ", lo);
            hex("rnd1 ", hi);
        }
    }
    sys3(60, 0, 0, 0);
}

__asm__(".globl _start\n_start:\n mov %rsp, %rdi\n mov %rdx, %rsi\n and $-16, %rsp\n call cmain\n");
